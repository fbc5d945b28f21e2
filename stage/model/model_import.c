/* model_import.c — the model description and provenance around a network
 * imported from another framework (model_import.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "model/model_import.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static const char *kimp_basename(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

sv_import_options sv_import_options_defaults(void)
{
    sv_import_options o;
    memset(&o, 0, sizeof o);
    o.task = SV_TASK_REALBOGUS;
    o.multilabel = -1;
    o.norm = SV_NORM_L2_ROWS;
    o.nan_fill = 0.0f;
    o.pad_value = 1e-9f;
    return o;
}

/* Split "a,b,c" into at most max names of at most SV_LABEL_MAX-1 chars. */
static int kimp_split_names(const char *text, char (*names)[SV_LABEL_MAX], int max,
                            const char *what, sv_error *err)
{
    int n = 0;
    const char *p = text;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1]))
            len--;
        if (len == 0)
            return sv_error_set(err, SV_ERR_ARG, "%s: empty name in '%s'", what, text);
        if (len >= SV_LABEL_MAX)
            return sv_error_set(err, SV_ERR_ARG, "%s: name '%.*s' longer than %d characters",
                                what, (int)len, p, SV_LABEL_MAX - 1);
        if (n >= max)
            return sv_error_set(err, SV_ERR_ARG, "%s: more than %d names", what, max);
        memcpy(names[n], p, len);
        names[n][len] = '\0';
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], names[n]))
                return sv_error_set(err, SV_ERR_ARG, "%s: '%s' given twice", what, names[n]);
        n++;
        if (!e)
            break;
        p = e + 1;
    }
    return n;
}

static void kimp_default_name(const char *path, char *out, size_t len)
{
    const char *b = kimp_basename(path);
    snprintf(out, len, "%s", b);
    static const char *const ext[] = {".h5", ".hdf5", ".keras", ".weights", ".onnx"};
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < sizeof ext / sizeof *ext; i++) {
            size_t n = strlen(out), e = strlen(ext[i]);
            if (n > e && !strcmp(out + n - e, ext[i]))
                out[n - e] = '\0';
        }
}


/* Describe the model around the imported net. */
int sv_import_describe(sv_model *m, const sv_import_options *opt, const char *file,
                       sv_error *err)
{
    nn_net *net = m->net;
    const nn_layer *outL = &net->layers[net->output];
    int n_out = outL->rank > 0 ? outL->shape[outL->rank - 1] : 1;
    int st;

    m->task = opt->task;
    if (opt->name)
        snprintf(m->name, sizeof m->name, "%s", opt->name);
    else
        kimp_default_name(file, m->name, sizeof m->name);
    snprintf(m->version, sizeof m->version, "%s", opt->version ? opt->version : m->name);

    /* classes */
    if (opt->task == SV_TASK_REALBOGUS) {
        if (n_out != 1)
            return sv_error_set(err, SV_ERR_ARG, "%s: --task realbogus needs one output (a "
                                "sigmoid), the model has %d; use --task class", file, n_out);
        m->n_classes = 1;
        snprintf(m->classes[0], SV_LABEL_MAX, "%s", "real");
        if (opt->classes) {
            int n = kimp_split_names(opt->classes, m->classes, SV_MAX_CLASSES, "--classes", err);
            if (n < 0)
                return sv_error_prefix(err, "%s: ", file);
            if (n != 1)
                return sv_error_set(err, SV_ERR_ARG, "%s: --classes names %d classes, a "
                                    "realbogus model has one output", file, n);
        }
    } else {
        if (n_out > SV_MAX_CLASSES)
            return sv_error_set(err, SV_ERR_ARG, "%s: %d outputs, at most %d classes", file,
                                n_out, SV_MAX_CLASSES);
        if (opt->classes) {
            int n = kimp_split_names(opt->classes, m->classes, SV_MAX_CLASSES, "--classes", err);
            if (n < 0)
                return sv_error_prefix(err, "%s: ", file);
            if (n != n_out)
                return sv_error_set(err, SV_ERR_ARG, "%s: --classes names %d classes, the "
                                    "model has %d output%s", file, n, n_out,
                                    n_out == 1 ? "" : "s");
        } else {
            for (int i = 0; i < n_out; i++)
                snprintf(m->classes[i], SV_LABEL_MAX, "class%d", i);
        }
        m->n_classes = n_out;
    }
    if (opt->multilabel >= 0)
        m->multilabel = opt->multilabel;
    else
        m->multilabel = opt->task == SV_TASK_CLASS && n_out > 1 && outL->act == NN_ACT_SIGMOID;

    memset(&m->pre, 0, sizeof m->pre);
    m->n_features = 0;
    if (opt->task == SV_TASK_LIGHTCURVE) {
        /* one sequence input (T, F); --features names the F per-step values */
        const nn_layer *I = &net->layers[net->inputs[0]];
        if (net->n_inputs != 1 || I->rank != 2)
            return sv_error_set(err, SV_ERR_UNSUPPORTED, "%s: a light-curve model takes one "
                                "sequence input (time, features)", file);
        if (opt->lc_prep) { /* the declared history preprocessing (lc_prep.h) */
            if ((st = sv_lcprep_parse(opt->lc_prep, &m->lc, err)))
                return sv_error_prefix(err, "%s: --lc-prep: ", file);
            if (m->lc.mode != SV_LCMODE_NONE &&
                (m->lc.n_steps != I->shape[0] || sv_lcprep_n_features(&m->lc) != I->shape[1]))
                return sv_error_set(err, SV_ERR_ARG, "%s: --lc-prep gives (%d, %d) per sequence "
                                    "but the model's input '%s' is (%d, %d)", file,
                                    m->lc.n_steps, sv_lcprep_n_features(&m->lc), I->name,
                                    I->shape[0], I->shape[1]);
        }
        if (opt->features) {
            int n = kimp_split_names(opt->features, m->features, SV_MAX_FEATURES, "--features",
                                     err);
            if (n < 0)
                return sv_error_prefix(err, "%s: ", file);
            if (n != I->shape[1])
                return sv_error_set(err, SV_ERR_ARG, "%s: --features names %d features, the "
                                    "sequence input '%s' has %d per step", file, n, I->name,
                                    I->shape[1]);
            m->n_features = n;
        }
        return 0;
    }

    /* inputs: a stamp (rank 3) first, a feature vector (rank 1) second */
    int stamp = -1, feat = -1;
    for (int i = 0; i < net->n_inputs; i++) {
        const nn_layer *I = &net->layers[net->inputs[i]];
        if (I->rank == 3 && stamp < 0 && i == 0)
            stamp = i;
        else if (I->rank == 1 && feat < 0 && i == (stamp >= 0 ? 1 : 0))
            feat = i;
        else
            return sv_error_set(err, SV_ERR_UNSUPPORTED, "%s: model input '%s' of rank %d: "
                                "stampvet models take a stamp (H, W, C) and optionally one "
                                "feature vector", file, I->name, I->rank);
    }
    if (stamp < 0)
        return sv_error_set(err, SV_ERR_UNSUPPORTED, "%s: the model has no stamp input (H, W, C)",
                            file);
    {
        const nn_layer *I = &net->layers[net->inputs[stamp]];
        m->pre = sv_preproc_braai(opt->norm);
        m->pre.out_h = I->shape[0];
        m->pre.out_w = I->shape[1];
        m->pre.stamp_size = I->shape[0] > I->shape[1] ? I->shape[0] : I->shape[1];
        m->pre.norm = opt->norm;
        m->pre.nan_fill = opt->nan_fill;
        m->pre.pad_value = opt->pad_value;
        m->pre.pixel_scale = opt->pixel_scale;
        if (opt->channels) {
            if ((st = sv_channels_parse(opt->channels, &m->pre, err)))
                return sv_error_prefix(err, "%s: --channels: ", file);
        } else if (I->shape[2] != 3) {
            return sv_error_set(err, SV_ERR_ARG, "%s: the stamp input has %d channels: give "
                                "their order with --channels (e.g. DIFF or SCI,REF,DIFF)", file,
                                I->shape[2]);
        }
        if (m->pre.n_channels != I->shape[2])
            return sv_error_set(err, SV_ERR_ARG, "%s: --channels names %d channels, the stamp "
                                "input has %d", file, m->pre.n_channels, I->shape[2]);
    }

    if (feat >= 0) {
        const nn_layer *I = &net->layers[net->inputs[feat]];
        if (!opt->features)
            return sv_error_set(err, SV_ERR_ARG, "%s: the model has a feature input '%s' of %d "
                                "values: name them in order with --features f1,f2,...", file,
                                I->name, I->shape[0]);
        int n = kimp_split_names(opt->features, m->features, SV_MAX_FEATURES, "--features", err);
        if (n < 0)
            return sv_error_prefix(err, "%s: ", file);
        if (n != I->shape[0])
            return sv_error_set(err, SV_ERR_ARG, "%s: --features names %d features, the model's "
                                "feature input '%s' takes %d", file, n, I->name, I->shape[0]);
        m->n_features = n;
    } else if (opt->features) {
        return sv_error_set(err, SV_ERR_ARG, "%s: --features given but the model has no "
                            "feature input", file);
    }
    return 0;
}


int sv_import_provenance(sv_model *m, const char *creator, const char *file, const char *srcck,
                         sv_error *err)
{
    if (sv_model_set_prov(m, "CREATOR", creator) ||
        sv_model_set_prov(m, "SRCFILE", kimp_basename(file)) ||
        sv_model_set_prov(m, "SRCCK", srcck) || sv_model_set_prov(m, "SRCCKALG", "sha256"))
        return sv_error_set(err, SV_ERR_INTERNAL, "%s: cannot record provenance", file);
    return 0;
}

int sv_import_steps(const sv_import_options *opt)
{
    if (opt->steps || opt->task != SV_TASK_LIGHTCURVE || !opt->lc_prep)
        return opt->steps;
    sv_lcprep p;
    if (sv_lcprep_parse(opt->lc_prep, &p, NULL) == 0 && p.mode != SV_LCMODE_NONE)
        return p.n_steps;
    return 0;
}
