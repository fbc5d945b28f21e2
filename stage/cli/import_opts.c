/* import_opts.c — the options and the summary that import-keras and
 * import-onnx share (import_opts.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "cli/import_opts.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"

typedef struct import_parse {
    const char *cmd;
    sv_import_options o;
    int have_task;
} import_parse;

static int import_option(void *user, int key, const char *arg)
{
    import_parse *p = user;
    sv_import_options *o = &p->o;
    double v;
    long l;
    switch (key) {
    case IMP_ARCH: o->arch_path = arg; return 0;
    case IMP_STEPS:
        if (cli_parse_long(p->cmd, "steps", arg, 1, 1000000, &l))
            return CLI_USAGE;
        o->steps = (int)l;
        return 0;
    case IMP_TASK:
        p->have_task = 1;
        if (!strcmp(arg, "realbogus"))
            o->task = SV_TASK_REALBOGUS;
        else if (!strcmp(arg, "class"))
            o->task = SV_TASK_CLASS;
        else if (!strcmp(arg, "lightcurve"))
            o->task = SV_TASK_LIGHTCURVE;
        else
            return cli_usage_error(p->cmd, "--task '%s': realbogus, class or lightcurve", arg);
        return 0;
    case IMP_CLASSES: o->classes = arg; return 0;
    case IMP_NORM:
        if (sv_norm_from_name(arg, &o->norm))
            return cli_usage_error(p->cmd, "--norm '%s': none, l2, l2-rows, minmax or zscore",
                                   arg);
        return 0;
    case IMP_CHANNELS: o->channels = arg; return 0;
    case IMP_PAD:
    case IMP_NANFILL:
    case IMP_PIXSCALE:
        if (cli_parse_double(p->cmd,
                             key == IMP_PAD ? "pad" : key == IMP_NANFILL ? "nan-fill" : "pixel-scale",
                             arg, key == IMP_PIXSCALE ? 0 : -1e30, 1e30, &v))
            return CLI_USAGE;
        if (key == IMP_PAD)
            o->pad_value = (float)v;
        else if (key == IMP_NANFILL)
            o->nan_fill = (float)v;
        else
            o->pixel_scale = v;
        return 0;
    case IMP_FEATURES: o->features = arg; return 0;
    case IMP_LCPREP: o->lc_prep = arg; return 0;
    case IMP_MULTILABEL: o->multilabel = 1; return 0;
    case IMP_SOFTMAX: o->multilabel = 0; return 0;
    case IMP_NAME: o->name = arg; return 0;
    case IMP_VERSION: o->version = arg; return 0;
    default: return CLI_USAGE;
    }
}

int cli_import_parse(const cli_cmd *c, int argc, char **argv, sv_import_options *out,
                     const char **in_path_out, const char **out_path_out, cli_common *com)
{
    import_parse p = {c->name, sv_import_options_defaults(), 0};
    int first = 0;
    int st = cli_parse(c, argc, argv, com, import_option, &p, &first);
    if (st >= 0)
        return st;
    if (first != argc - 1)
        return cli_usage_error(c->name, first >= argc ? "no model file given"
                                                      : "exactly one model file expected");
    if (!p.have_task)
        return cli_usage_error(c->name, "--task realbogus|class|lightcurve is required");
    if (!com->output)
        return cli_usage_error(c->name, "-o MODEL.fits is required");
    *in_path_out = argv[first];
    *out_path_out = com->output;
    *out = p.o;
    return -1;
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
