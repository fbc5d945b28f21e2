/* import_opts.h — the command-line options and the summary shared by
 * `stampvet import-keras` and `stampvet import-onnx`. */
#ifndef SV_CLI_IMPORT_OPTS_H
#define SV_CLI_IMPORT_OPTS_H

#include "model/model_import.h"

/* The --help lines of the options both commands take (after MODEL and
 * import-keras's --arch). */
#define CLI_IMPORT_OPTIONS_HELP                                                          \
    "  --task T            realbogus (one sigmoid output), class (softmax or\n"           \
    "                      independent sigmoid heads) or lightcurve (sequence input)\n"  \
    "  --classes LIST      class names in output order (class task; realbogus: 'real')\n" \
    "  --norm N            stamp normalisation the model was trained with\n"             \
    "                      (default l2-rows = braai d6_m7; braai d6_m9 and ACAI: l2)\n"  \
    "  --channels LIST     channel order of the stamp input (default SCI,REF,DIFF)\n"    \
    "  --pad V             end-padding value for stamps smaller than the input (1e-9)\n" \
    "  --nan-fill V        value for NaN/inf pixels (0)\n"                                \
    "  --pixel-scale S     arcsec/pixel the model was trained at (0 = unknown;\n"        \
    "                      ZTF: 1.01)\n"                                                  \
    "  --lc-prep SPEC      lightcurve task: how histories become the input\n"            \
    "                      (lc_prep.h), e.g. rapid = RAPID's 50 steps of 3 days\n"       \
    "                      over g,r fluxes; without it the model runs on\n"              \
    "                      prepared tensors only (score --tensors)\n"                    \
    "  --features LIST     names of the feature-vector input, in order (models\n"        \
    "                      with a second, feature input such as ACAI)\n"                 \
    "  --multilabel        class outputs are independent sigmoid heads\n"                \
    "  --softmax           class outputs are one softmax (default: from the\n"           \
    "                      output layer's activation)\n"                                 \
    "  --steps N           time steps of a sequence input whose length the file\n"       \
    "                      leaves free; default: --lc-prep's\n"                          \
    "  --name NAME         model name (default: the file name without extension)\n"     \
    "  -o, --output FILE   the stampvet model file to write\n"

/* Parse argv (after the command name) into *o, the model file and -o.
 * keras: --arch is allowed.  Returns 0, -1 when --help was
 * printed (exit 0), or an exit status (2) after a message naming cmd. */
int cli_import_parse(const char *cmd, const char *usage, int keras, int argc, char **argv,
                     sv_import_options *o, const char **in_path, const char **out_path);

/* Print what was imported: the model, its network, inputs, stamps,
 * features and the source's checksum. */
void cli_import_summary(const char *in_path, const char *out_path, const sv_model *m);

#endif
