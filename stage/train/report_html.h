/* report_html.h — the self-contained HTML page of `stampvet report`.
 *
 * The page is built in memory and written atomically (report.h) as one
 * file: inline CSS, no script, no external resource; every figure is
 * embedded as a PNG data: URI and also written beside the page as
 * NAME.png and NAME.pdf (plot.h), linked from its caption.  The
 * page opens offline in any browser.
 *
 * Text given to these functions is plain text (escaped here).
 *
 * Errors: building never fails visibly; an allocation failure is
 * remembered and reported by sv_html_write.  Thread safety: a page is used
 * by one thread at a time.
 */
#ifndef SV_REPORT_HTML_H
#define SV_REPORT_HTML_H

#include "train/plot.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_html sv_html;

/* A new page with a title (the <title> and the first heading).  NULL when
 * out of memory. */
sv_html *sv_html_new(const char *title);

void sv_html_free(sv_html *h);

/* A section heading (<h2>). */
void sv_html_section(sv_html *h, const char *title);

/* A paragraph of printf-formatted plain text. */
void sv_html_para(sv_html *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A table of nrows x ncols cells (row-major; row 0 is the header). */
void sv_html_table(sv_html *h, int nrows, int ncols, const char *const *cells);

/* Write the figure as dir/name.{png,pdf} and embed its PNG in the page
 * with a caption (plain text) and links to the three files.  Returns 0 or
 * a status with err naming the file. */
int sv_html_figure(sv_html *h, sv_plot *p, const char *dir, const char *name,
                   const char *caption, sv_error *err);

/* Write the page to path atomically.  Returns 0, SV_ERR_NOMEM (building
 * ran out of memory) or SV_ERR_IO, with err naming the file. */
int sv_html_write(sv_html *h, const char *path, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
