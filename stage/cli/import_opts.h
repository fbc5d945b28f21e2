/* import_opts.h — the command-line options and the summary shared by
 * `stampvet import-keras` and `stampvet import-onnx`. */
#ifndef SV_CLI_IMPORT_OPTS_H
#define SV_CLI_IMPORT_OPTS_H

#include "cli/cli_opts.h"
#include "model/model_import.h"

/* Option keys of the import commands (cli_opt.key). */
enum {
    IMP_ARCH = 256, IMP_TASK, IMP_CLASSES, IMP_NORM, IMP_CHANNELS, IMP_PAD, IMP_NANFILL,
    IMP_PIXSCALE, IMP_FEATURES, IMP_LCPREP, IMP_MULTILABEL, IMP_SOFTMAX, IMP_NAME, IMP_STEPS, IMP_VERSION
};

/* The cli_opt entries both commands take (after import-keras's --arch). */
#define CLI_IMPORT_OPTS                                                                     \
    {"task", IMP_TASK, "T", "realbogus (one sigmoid output), class (softmax or\n"          \
                            "independent sigmoid heads) or lightcurve (sequence input);\n" \
                            "required"},                                                   \
        {"classes", IMP_CLASSES, "LIST", "class names in output order (class task;\n"     \
                                         "realbogus: 'real')"},                            \
        {"norm", IMP_NORM, "N", "stamp normalisation the model was trained with: l2-rows\n" \
                                "(default; braai d6_m7), l2 (braai d6_m9, ACAI), minmax,\n" \
                                "zscore, none"},                                           \
        {"channels", IMP_CHANNELS, "LIST", "channel order of the stamp input (default\n"  \
                                           "SCI,REF,DIFF)"},                               \
        {"pad", IMP_PAD, "V", "end-padding value for stamps smaller than the input (1e-9)"}, \
        {"nan-fill", IMP_NANFILL, "V", "value for NaN/inf pixels (0)"},                    \
        {"pixel-scale", IMP_PIXSCALE, "S", "arcsec/pixel the model was trained at (0 =\n" \
                                           "unknown; ZTF: 1.01)"},                         \
        {"lc-prep", IMP_LCPREP, "SPEC", "lightcurve task: how histories become the input\n" \
                                        "(lc_prep.h), e.g. rapid = RAPID's 50 steps of 3\n" \
                                        "days over g,r fluxes; without it the model runs\n" \
                                        "on prepared tensors only (score --tensors)"},      \
        {"features", IMP_FEATURES, "LIST", "names of the feature-vector input, in order\n" \
                                           "(models with a second, feature input such as\n" \
                                           "ACAI)"},                                       \
        {"multilabel", IMP_MULTILABEL, NULL, "class outputs are independent sigmoid heads"}, \
        {"softmax", IMP_SOFTMAX, NULL, "class outputs are one softmax (default: from the\n" \
                                       "output layer's activation)"},                      \
        {"steps", IMP_STEPS, "N", "time steps of a sequence input whose length the file\n" \
                                  "leaves free, in [1, 1000000]; default: --lc-prep's"},   \
        {"name", IMP_NAME, "NAME", "model name (default: the file name without extension)"}, \
        {"version", IMP_VERSION, "V", "model version, the MODVERS card (default: the\n"   \
                                      "model name; braai's d6_m7.h5: its drbversion d6_m7)"}

/* What -o is for both commands. */
#define CLI_IMPORT_OUTPUT "the stampvet model file to write (required)"

/* Parse argv (argv[0] the command name) with c's table (cli_parse) into
 * *o, the model file and -o (*com: -q, -v).  Returns -1 when the command
 * should run, else the exit status after --help (0) or a message (2,
 * "stampvet CMD: problem (see stampvet CMD --help)"). */
int cli_import_parse(const cli_cmd *c, int argc, char **argv, sv_import_options *o,
                     const char **in_path, const char **out_path, cli_common *com);

/* Print what was imported (on stdout): the model, its network, inputs,
 * stamps, features and the source's checksum. */
void cli_import_summary(const char *in_path, const char *out_path, const sv_model *m);

#endif
