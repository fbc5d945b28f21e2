/* cmd_import_keras.c — `stampvet import-keras`: a Keras HDF5 model to a
 * stampvet model file (keras_import.h, model_fits.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#ifdef HAVE_HDF5
#include "keras_import.h"
#include "model_fits.h"
#endif

static const char import_keras_usage[] =
    "usage: stampvet import-keras MODEL.h5 [--arch ARCH.json] --task realbogus|class|lightcurve\n"
    "                             [--classes a,b,c] [--norm l2-rows|l2|minmax|zscore|none]\n"
    "                             [--channels SCI,REF,DIFF] [--pad 1e-9] [--nan-fill 0]\n"
    "                             [--pixel-scale ARCSEC] [--features f1,f2,...]\n"
    "                             [--multilabel|--softmax] [--steps N] [--name NAME]\n"
    "                             -o MODEL.fits\n"
    "\n"
    "Import a Keras 2.x HDF5 model into a stampvet model file.\n"
    "\n"
    "  MODEL.h5            a full Keras model (model.save: architecture in the\n"
    "                      'model_config' attribute, weights under model_weights/),\n"
    "                      or a weights-only file (model.save_weights) with --arch\n"
    "  --arch FILE         the architecture JSON (model.to_json()) for a weights file\n"
    "  --task T            realbogus (one sigmoid output), class (softmax or\n"
    "                      independent sigmoid heads) or lightcurve (sequence input)\n"
    "  --classes LIST      class names in output order (class task; realbogus: 'real')\n"
    "  --norm N            stamp normalisation the model was trained with\n"
    "                      (default l2-rows = braai d6_m7; braai d6_m9 and ACAI: l2)\n"
    "  --channels LIST     channel order of the stamp input (default SCI,REF,DIFF)\n"
    "  --pad V             end-padding value for stamps smaller than the input (1e-9)\n"
    "  --nan-fill V        value for NaN/inf pixels (0)\n"
    "  --pixel-scale S     arcsec/pixel the model was trained at (0 = unknown;\n"
    "                      ZTF: 1.01)\n"
    "  --lc-prep SPEC      lightcurve task: how histories become the input\n"
    "                      (lc_prep.h), e.g. rapid = RAPID's 50 steps of 3 days\n"
    "                      over g,r fluxes; without it the model runs on\n"
    "                      prepared tensors only\n"
    "  --features LIST     names of the feature-vector input, in order (models\n"
    "                      with a second, feature input such as ACAI)\n"
    "  --multilabel        class outputs are independent sigmoid heads\n"
    "  --softmax           class outputs are one softmax (default: from the\n"
    "                      output layer's activation)\n"
    "  --steps N           time steps of a sequence input whose length the file\n"
    "                      leaves free (None); default: --lc-prep's\n"
    "  --name NAME         model name (default: the file name without extension)\n"
    "  -o, --output FILE   the stampvet model file to write\n"
    "\n"
    "The model records the source file's name and SHA-256 (SRCFILE, SRCCK).\n"
    "Files: Keras 2.2.4, tf.keras 2.x (2.2.4-tf .. 2.15) and Keras 3 HDF5; Sequential\n"
    "models saved without batch_input_shape take it from build_input_shape or the\n"
    "first layer's weights.  hard_sigmoid is the writer's: 0.2x+0.5 (Keras 2),\n"
    "x/6+0.5 (Keras 3).\n"
    "Supported layers: InputLayer, Conv2D, DepthwiseConv2D, SeparableConv2D,\n"
    "MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Dense, Flatten,\n"
    "Dropout (and SpatialDropout, Gaussian*, AlphaDropout: identity), Batch-\n"
    "Normalization, Concatenate, Activation, LeakyReLU, ReLU, Softmax,\n"
    "TimeDistributed(Dense), Conv1D (valid/same/causal, dilation or stride),\n"
    "GRU (reset_after false/true) and LSTM (sigmoid or hard_sigmoid gates),\n"
    "Masking (the GRU/LSTM layers after it keep their state at masked steps, as\n"
    "Keras), and keras-tcn's TCN as versions 3.1.2-3.4.x compute it (causal or\n"
    "same padding, dilations, stacks, skip connections, any supported activation;\n"
    "not batch/layer/weight norm, return_sequences false).  Anything else is\n"
    "refused with the layer and the option named.\n";

#ifndef HAVE_HDF5

int cmd_import_keras(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(import_keras_usage, stdout);
            printf("\nNOT AVAILABLE in this build: stampvet was built without HDF5 and jansson.\n");
            return 0;
        }
    return cli_fail("import-keras",
                    "Keras import is not available: this stampvet was built without HDF5 "
                    "and jansson (install libhdf5-dev and libjansson-dev, then configure "
                    "--with-hdf5)");
}

#else

int cmd_import_keras(int argc, char **argv)
{
    static const struct option opts[] = {
        {"arch", required_argument, NULL, 'a'},
        {"task", required_argument, NULL, 't'},
        {"classes", required_argument, NULL, 'c'},
        {"norm", required_argument, NULL, 'n'},
        {"channels", required_argument, NULL, 'C'},
        {"pad", required_argument, NULL, 'p'},
        {"nan-fill", required_argument, NULL, 'N'},
        {"pixel-scale", required_argument, NULL, 's'},
        {"features", required_argument, NULL, 'f'},
        {"lc-prep", required_argument, NULL, 'L'},
        {"multilabel", no_argument, NULL, 'M'},
        {"softmax", no_argument, NULL, 'S'},
        {"name", required_argument, NULL, 'm'},
        {"steps", required_argument, NULL, 'T'},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "import-keras";
    sv_keras_options o = sv_keras_options_defaults();
    const char *out_path = NULL;
    int have_task = 0, c;
    char *end;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a': o.arch_path = optarg; break;
        case 't':
            have_task = 1;
            if (!strcmp(optarg, "realbogus"))
                o.task = SV_TASK_REALBOGUS;
            else if (!strcmp(optarg, "class"))
                o.task = SV_TASK_CLASS;
            else if (!strcmp(optarg, "lightcurve"))
                o.task = SV_TASK_LIGHTCURVE;
            else {
                cli_fail(cmd, "--task '%s': realbogus, class or lightcurve", optarg);
                return 2;
            }
            break;
        case 'c': o.classes = optarg; break;
        case 'n':
            if (sv_norm_from_name(optarg, &o.norm)) {
                cli_fail(cmd, "--norm '%s': none, l2, l2-rows, minmax or zscore", optarg);
                return 2;
            }
            break;
        case 'C': o.channels = optarg; break;
        case 'p':
        case 'N':
        case 's': {
            double v = strtod(optarg, &end);
            if (end == optarg || *end) {
                cli_fail(cmd, "'%s' is not a number", optarg);
                return 2;
            }
            if (c == 'p')
                o.pad_value = (float)v;
            else if (c == 'N')
                o.nan_fill = (float)v;
            else
                o.pixel_scale = v;
            break;
        }
        case 'f': o.features = optarg; break;
        case 'L': o.lc_prep = optarg; break;
        case 'M': o.multilabel = 1; break;
        case 'S': o.multilabel = 0; break;
        case 'm': o.name = optarg; break;
        case 'T': {
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 1000000) {
                cli_fail(cmd, "--steps '%s': a number of time steps, 1..1000000", optarg);
                return 2;
            }
            o.steps = (int)v;
            break;
        }
        case 'o': out_path = optarg; break;
        case 'h': fputs(import_keras_usage, stdout); return 0;
        default:
            cli_fail(cmd, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        cli_fail(cmd, optind >= argc ? "no Keras HDF5 file given (see --help)"
                                     : "exactly one Keras HDF5 file expected (see --help)");
        return 2;
    }
    if (!have_task) {
        cli_fail(cmd, "--task realbogus|class|lightcurve is required");
        return 2;
    }
    if (!out_path) {
        cli_fail(cmd, "-o MODEL.fits is required");
        return 2;
    }
    const char *in_path = argv[optind];

    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    if (sv_keras_import(in_path, &o, &m, &err))
        return cli_fail(cmd, "%s", err.text);
    if (sv_model_write_fits(m, out_path, &err)) {
        sv_model_free(m);
        return cli_fail(cmd, "%s", err.text);
    }
    const nn_net *net = m->net;
    printf("imported %s -> %s\n", in_path, out_path);
    printf("  model     %s (%s, %d output%s", m->name,
           m->task == SV_TASK_REALBOGUS ? "realbogus" : m->task == SV_TASK_CLASS ? "class"
                                                                                 : "lightcurve",
           m->n_classes, m->n_classes == 1 ? "" : "s");
    if (m->task == SV_TASK_CLASS)
        printf(", %s", m->multilabel ? "multilabel" : "softmax");
    printf(")\n  network   %d layers, %zu parameters\n", net->n_layers,
           nn_net_count_params(net, 0));
    for (int i = 0; i < net->n_inputs; i++) {
        const nn_layer *I = &net->layers[net->inputs[i]];
        printf("  input %d   %s (", i, I->name);
        for (int d = 0; d < I->rank; d++)
            printf("%s%d", d ? "," : "", I->shape[d]);
        printf(")\n");
    }
    if (m->task != SV_TASK_LIGHTCURVE) {
        char ch[64] = "";
        sv_channels_format(&m->pre, ch, sizeof ch);
        printf("  stamps    %dx%d %s, norm %s, pad %g, NaN -> %g\n", m->pre.out_h, m->pre.out_w,
               ch, sv_norm_name(m->pre.norm), (double)m->pre.pad_value, (double)m->pre.nan_fill);
    }
    if (m->n_features > 0) {
        printf("  features ");
        for (int i = 0; i < m->n_features; i++)
            printf("%s%s", i ? "," : " ", m->features[i]);
        printf("\n");
    }
    const char *ck = sv_model_get_prov(m, "SRCCK");
    printf("  source    %s sha256 %s\n", sv_model_get_prov(m, "SRCFILE"), ck ? ck : "?");
    sv_model_free(m);
    return 0;
}

#endif
