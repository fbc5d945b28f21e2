/* import_opts.h — the command-line options and the summary shared by
 * `stampvet import-keras` and `stampvet import-onnx`. */
#ifndef SV_CLI_IMPORT_OPTS_H
#define SV_CLI_IMPORT_OPTS_H

#include "model_import.h"

/* Parse argv (after the command name) into *o, the model file and -o.
 * keras: --arch and --steps are allowed.  Returns 0, -1 when --help was
 * printed (exit 0), or an exit status (2) after a message naming cmd. */
int cli_import_parse(const char *cmd, const char *usage, int keras, int argc, char **argv,
                     sv_import_options *o, const char **in_path, const char **out_path);

/* Print what was imported: the model, its network, inputs, stamps,
 * features and the source's checksum. */
void cli_import_summary(const char *in_path, const char *out_path, const sv_model *m);

#endif
