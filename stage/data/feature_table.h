/* feature_table.h — candidate features for multi-input models, by name.
 *
 * A multi-input model (stamp + feature vector, as ACAI) lists its feature
 * names in order (sv_model.features).  Scoring pre-cut triplets takes the
 * values by name, either as text ("drb=0.99,magpsf=18.2,...") or from a
 * table with one row per triplet: a CSV file (header line of column names,
 * comma-separated, RFC 4180 quoting) or a FITS BINTABLE (first table HDU).
 * Rows are matched to triplets by an identifier column (`id`, `candid`,
 * `ID`, `CANDID`, first found) when the table has one, else by order.
 *
 * A feature the model needs but the input lacks is an error that names it;
 * so is a value that is not a number.
 *
 * Thread safety: a table is read-only after sv_feature_table_read; any
 * number of threads may look rows up at once.  All functions are reentrant.
 */
#ifndef SV_FEATURE_TABLE_H
#define SV_FEATURE_TABLE_H

#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Fill vec[0..m->n_features) from "name=value,name=value,...".  Every model
 * feature must be given exactly once; an unknown name is an error too (a
 * typo would otherwise go unnoticed).  Returns 0 or SV_ERR_ARG with err
 * naming the feature. */
int sv_features_parse(const sv_model *m, const char *text, float *vec, sv_error *err);

typedef struct sv_feature_table sv_feature_table;

/* Read a FITS table (a name ending in .fits, .fit, .fts, optionally + .gz
 * or .fz; read through cfitsio) or else a CSV file.  Returns 0 with *out
 * set, or a status with err naming the file and the problem. */
int sv_feature_table_read(const char *path, sv_feature_table **out, sv_error *err);
void sv_feature_table_free(sv_feature_table *t);

long sv_feature_table_rows(const sv_feature_table *t);
/* Name of the identifier column, or NULL when the table has none. */
const char *sv_feature_table_id_column(const sv_feature_table *t);

/* Fill vec[0..m->n_features) for one triplet: the row whose identifier
 * equals `id` when the table has an identifier column (and id is non-NULL),
 * else row number `row` (0-based).  Returns 0, or SV_ERR_ARG with err naming
 * the missing column, the unmatched id or the non-numeric value. */
int sv_feature_table_get(const sv_feature_table *t, const sv_model *m, long row,
                         const char *id, float *vec, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
