/* scores_table.h — per-stamp scores of an evaluation (`stampvet evaluate
 * --scores-out`), the input of `stampvet report --eval`.
 *
 * One row per scored sample: its identifier (the table's ID column), its
 * row in the labelled table (0-based), its true label, the model's scores
 * and the predicted class.
 *   FITS (.fits .fit .fts [.gz]): empty primary HDU; BINTABLE EXTNAME =
 *     'SCORES' with columns ID (K), ROW (K), LABEL (J), LABELNAM (16A),
 *     then SCORE (E, P(real)) for a real/bogus model or P_<CLASS> (E, one
 *     per class, class names in upper case) for a class model, then
 *     PRED (J) and PREDNAM (16A).  Header: TASK ('realbogus' or 'class'),
 *     NCLASS, CLASS1..CLASSn (label order), THRESH (real/bogus), MODEL,
 *     MODELFIL, DATA, CREATOR, DATE; CHECKSUM/DATASUM.
 *   CSV: '# key: value' lines (task, classes as a comma list, threshold,
 *     model, model_file, data), then the header
 *     id,row,label,label_name,score|p_<class>...,predicted,predicted_name.
 * Written atomically (report.h).
 *
 * Thread safety: reentrant.
 */
#ifndef SV_SCORES_TABLE_H
#define SV_SCORES_TABLE_H

#include <stdint.h>

#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_scores {
    long n;
    int binary;                 /* 1: one score P(real); labels 0 bogus/1 real */
    int k;                      /* classes (2 for real/bogus)                 */
    int n_out;                  /* scores per sample: 1 (binary) or k         */
    char classes[SV_MAX_CLASSES][SV_LABEL_MAX];
    double threshold;           /* binary decision threshold                  */
    char model[256], model_file[1024], data[1024];
    int64_t *id;                /* n                                          */
    long *row;                  /* n, row in the data table (0-based)         */
    int *label;                 /* n, 0..k-1                                  */
    float *score;               /* n * n_out                                  */
} sv_scores;

/* Allocate the arrays for n samples (other fields untouched).  Returns 0
 * or SV_ERR_NOMEM. */
int sv_scores_alloc(sv_scores *s, long n, int n_out, sv_error *err);

void sv_scores_free(sv_scores *s);

/* Predicted class of sample i: binary score >= threshold -> 1, else the
 * first argmax of the probabilities. */
int sv_scores_pred(const sv_scores *s, long i);

/* Identifiers of the labelled-stamps table's rows rows[0..n-1] (ID column),
 * read in chunks.  Returns 0 or a status with err naming the file. */
int sv_scores_ids_from_table(const char *path, const long *rows, long n, int64_t *ids,
                             sv_error *err);

/* Write (FITS or CSV by extension) / read back.  Returns 0, SV_ERR_ARG
 * (unknown extension, bad content), SV_ERR_IO, with err naming the file,
 * the row and the problem. */
int sv_scores_write(const char *path, const sv_scores *s, sv_error *err);
int sv_scores_read(const char *path, sv_scores *s, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
