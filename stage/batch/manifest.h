/* manifest.h — the list of exposures of a night, for `stampvet batch`.
 *
 * One exposure per entry: science, reference and difference images, the
 * detection table, an optional mask, the output file, and optional
 * per-exposure key=value overrides.  Three spellings are read:
 *
 * 1. Plain text, one exposure per line, fields separated by blanks:
 *
 *        SCI REF DIFF DETECTIONS [MASK] OUTPUT [key=value ...]
 *
 *    Five positional fields mean no mask, six mean a mask ("-" also means
 *    none).  A field of the form key=value (key: a letter or '_' followed by
 *    letters, digits and '_') is an override.  Fields may be double-quoted
 *    (a path with blanks); inside quotes \" and \\ are escapes.  '#' at the
 *    start of a field starts a comment that runs to the end of the line;
 *    blank lines are ignored.
 *
 * 2. CSV (the file name ends in .csv, or the first non-comment line has a
 *    comma outside quotes): RFC 4180 fields (double quotes, "" inside).
 *    When the first field of the first row is a column name (science or
 *    sci, case-insensitive), that row is a header: columns are matched by
 *    name (science|sci, reference|ref, difference|diff, detections|det,
 *    mask, output|out, id) and every other column is an override key (its
 *    name lower-cased); an empty cell leaves that key unset for the row.
 *    Without a header, rows are positional as in the plain text form.  Lines
 *    whose first non-blank character is '#' are comments.
 *
 * 3. A FITS table (the file starts with "SIMPLE  ="): the first table HDU,
 *    with the same column names as the CSV header; numeric columns are read
 *    as text; row N is reported as line N.
 *
 * Overrides: `id=` names the exposure (default: the output's file name
 * without .fits/.fits.gz/.fz); every other key is handed to the stage as a
 * configuration key for that exposure only (e.g. band=, preset=,
 * rb_model=); batch.h checks them against the stage's parameter table.
 *
 * Relative paths are taken relative to the folder that holds the manifest,
 * so a manifest can travel with its data and be run from any directory.
 * Paths given to sv_manifest_parse_text() are relative to its basedir.
 *
 * Every error names the file and line: "night.txt:12: 4 positional fields,
 * need 5 (no mask) or 6 (with mask)".  Two exposures with the same output
 * path are an error (they would overwrite each other).
 *
 * Thread safety: reading is reentrant; a manifest is immutable once read and
 * may be shared by any number of threads.
 */
#ifndef SV_MANIFEST_H
#define SV_MANIFEST_H

#include <stddef.h>

#include "dia_stage.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_manifest_entry {
    const char *science;
    const char *reference;
    const char *difference;
    const char *detections;
    const char *mask;          /* NULL when the exposure has none           */
    const char *output;
    const char *id;            /* never NULL                                */
    const dia_kv *overrides;   /* n_overrides per-exposure key=value pairs  */
    size_t n_overrides;
    int line;                  /* 1-based line (text, CSV) or row (FITS)    */
} sv_manifest_entry;

typedef struct sv_manifest {
    char *path;                /* the file read ("<text>" when parsed)      */
    size_t n;                  /* number of exposures                       */
    sv_manifest_entry *entries;
} sv_manifest;

/* Read a manifest file in any of the three forms.  On success returns 0 and
 * sets *out (free with sv_manifest_free); an empty manifest (no exposure) is
 * an error.  On failure returns SV_ERR_IO (cannot read), SV_ERR_FORMAT
 * (a bad line, with "FILE:LINE: why") or SV_ERR_NOMEM, and *out is NULL. */
int sv_manifest_read(const char *path, sv_manifest **out, sv_error *err);

/* Parse manifest text (plain or CSV; csv != 0 forces CSV, otherwise the
 * form is detected from the first line).  `name` is used in messages;
 * relative paths are joined to `basedir` (NULL or "" keeps them as given).
 * Same returns as sv_manifest_read. */
int sv_manifest_parse_text(const char *text, size_t len, const char *name,
                           const char *basedir, int csv, sv_manifest **out,
                           sv_error *err);

/* Look up a per-exposure override; NULL when the entry does not set it. */
const char *sv_manifest_override(const sv_manifest_entry *e, const char *key);

/* Free a manifest; NULL is allowed. */
void sv_manifest_free(sv_manifest *m);

#ifdef __cplusplus
}
#endif
#endif
