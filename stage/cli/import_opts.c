/* import_opts.c — the options and the summary that import-keras and
 * import-onnx share (import_opts.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cli/import_opts.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

int cli_import_parse(const char *cmd, const char *usage, int keras, int argc, char **argv,
                     sv_import_options *out, const char **in_path_out, const char **out_path_out)
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
    sv_import_options o = sv_import_options_defaults();
    const char *out_path = NULL;
    int have_task = 0, c;
    char *end;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'a':
            if (!keras) {
                cli_fail(cmd, "%s is for Keras files (see --help)", argv[optind - 1]);
                return 2;
            }
            o.arch_path = optarg;
            break;
        case 'T': {
            long v = strtol(optarg, &end, 10);
            if (end == optarg || *end || v < 1 || v > 1000000) {
                cli_fail(cmd, "--steps '%s': a number of time steps, 1..1000000", optarg);
                return 2;
            }
            o.steps = (int)v;
            break;
        }
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
        case 'o': out_path = optarg; break;
        case 'h': fputs(usage, stdout); return -1;
        default:
            cli_fail(cmd, "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (optind != argc - 1) {
        cli_fail(cmd, optind >= argc ? "no model file given (see --help)"
                                     : "exactly one model file expected (see --help)");
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
    *in_path_out = argv[optind];
    *out_path_out = out_path;
    *out = o;
    return 0;
}

void cli_import_summary(const char *in_path, const char *out_path, const sv_model *m)
{
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
}
