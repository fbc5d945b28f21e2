/* model_describe.h — a readable summary of a stampvet model.
 *
 * Used by `stampvet inspect model.fits` and by any tool that wants to show
 * what a model is: its header facts (name, version, task, classes, input
 * stamps and preprocessing, features, file and checksum), its provenance and
 * history, and a layer table in the manner of Keras' model.summary(): each
 * layer with its kind, output shape, parameter count, producers and the
 * hyper-parameters that matter, then the total, trainable and non-trainable
 * parameter counts.
 *
 * Thread safety: reentrant (reads the model only); concurrent writers to the
 * same FILE are the caller's business.
 */
#ifndef SV_MODEL_DESCRIBE_H
#define SV_MODEL_DESCRIBE_H

#include <stdio.h>

#include "model/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Print the summary of m to out.  The model need not be valid (a partially
 * built one is described as far as it goes), but its net, if present, must
 * be finalised for shapes and parameter counts to show.  Returns 0,
 * SV_ERR_ARG for a NULL argument, or SV_ERR_IO when writing to out fails. */
int sv_model_describe(FILE *out, const sv_model *m);

/* Format n with thousands separators ("312,081") into buf (cap >= 32 is
 * always enough); returns buf. */
const char *sv_format_count(unsigned long long n, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
