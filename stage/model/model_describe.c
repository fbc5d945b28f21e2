/* model_describe.c — a readable summary of a model.  See model_describe.h. */
#include "model/model_describe.h"

#include <stdio.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/nn_ops.h"

const char *sv_format_count(unsigned long long n, char *buf, size_t cap)
{
    char tmp[40];
    int len = snprintf(tmp, sizeof tmp, "%llu", n);
    char out[56];
    int k = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0)
            out[k++] = ',';
        out[k++] = tmp[i];
    }
    out[k] = '\0';
    if (buf && cap)
        snprintf(buf, cap, "%s", out);
    return buf;
}

static void shape_text(const nn_layer *L, char *buf, size_t cap)
{
    if (L->rank < 1) {
        snprintf(buf, cap, "?");
        return;
    }
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < L->rank && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, d ? ", %d" : "%d", L->shape[d]);
    if (L->rank == 1 && k < cap)
        k += (size_t)snprintf(buf + k, cap - k, ",");
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
}

/* The hyper-parameters worth showing for a layer. */
static void layer_notes(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = 0;
    buf[0] = '\0';
#define ADD(...)                                                                                 \
    do {                                                                                         \
        if (k < cap)                                                                             \
            k += (size_t)snprintf(buf + k, cap - k, __VA_ARGS__);                                \
    } while (0)
    const nn_op *op = nn_op_of(L->kind);
    if (op && op->describe) {
        op->describe(L, buf, cap);
        k = strlen(buf);
    }
    if (L->kind != NN_INPUT && L->act != NN_ACT_LINEAR) {
        ADD("%s%s", k ? " " : "", nn_act_name(L->act));
        if (L->act == NN_ACT_LEAKY_RELU)
            ADD("(%g)", (double)L->alpha);
    }
    if (!L->trainable && L->n_params > 0)
        ADD("%sfrozen", k ? " " : "");
#undef ADD
}

static void rule(FILE *out, char c, int n)
{
    for (int i = 0; i < n; i++)
        fputc(c, out);
    fputc('\n', out);
}

int sv_model_describe(FILE *out, const sv_model *m)
{
    if (!out || !m)
        return SV_ERR_ARG;
    char b1[64], b2[64], b3[64];

    fprintf(out, "Model '%s'%s%s  (stampvet model format %d)\n", m->name[0] ? m->name : "?",
            m->version[0] ? " version " : "", m->version, SV_MODEL_FORMAT_VERSION);
    if (m->path[0])
        fprintf(out, "  file       %s\n", m->path);
    if (m->checksum[0])
        fprintf(out, "  checksum   %s (primary HDU CHECKSUM; identifies header and weights)\n",
                m->checksum);
    fprintf(out, "  task       %s", sv_task_name(m->task));
    if (m->task == SV_TASK_REALBOGUS)
        fprintf(out, ": one score, P(%s)\n", m->n_classes > 0 ? m->classes[0] : "real");
    else
        fprintf(out, ": %d classes, %s\n", m->n_classes,
                m->multilabel ? "independent sigmoid heads" : "one softmax");
    fprintf(out, "  classes    ");
    for (int c = 0; c < m->n_classes && c < SV_MAX_CLASSES; c++)
        fprintf(out, "%s%d:%s", c ? "  " : "", c, m->classes[c]);
    fputc('\n', out);
    if (m->task != SV_TASK_LIGHTCURVE) {
        char ch[SV_MAX_CHANNELS * 6] = "?";
        sv_channels_format(&m->pre, ch, (int)sizeof ch);
        fprintf(out, "  stamps     %d x %d x %d channels (%s), cut %d px", m->pre.out_h,
                m->pre.out_w, m->pre.n_channels, ch, m->pre.stamp_size);
        if (m->pre.pixel_scale > 0)
            fprintf(out, ", trained at %g arcsec/px", m->pre.pixel_scale);
        fputc('\n', out);
        fprintf(out,
                "  preprocess NaN/inf -> %g, normalise %s per channel, centre crop or pad at "
                "the end with %g\n",
                (double)m->pre.nan_fill, sv_norm_name(m->pre.norm), (double)m->pre.pad_value);
    }
    if (m->task == SV_TASK_LIGHTCURVE) {
        char lc[512] = "";
        if (m->lc.mode == SV_LCMODE_NONE)
            fprintf(out, "  sequence   no light-curve preprocessing declared\n");
        else if (sv_lcprep_format(&m->lc, lc, (int)sizeof lc) == 0)
            fprintf(out, "  sequence   %s\n", lc);
    }
    fprintf(out, "  features   ");
    if (m->n_features == 0)
        fprintf(out, "none");
    for (int f = 0; f < m->n_features && f < SV_MAX_FEATURES; f++)
        fprintf(out, "%s%s", f ? "," : "", m->features[f]);
    if (m->n_features > 0)
        fprintf(out, "  (%d, in input order)", m->n_features);
    fputc('\n', out);

    if (m->n_prov > 0) {
        fprintf(out, "Provenance\n");
        for (int i = 0; i < m->n_prov && i < SV_MAX_PROVENANCE; i++)
            fprintf(out, "  %-9s  %s\n", m->prov_key[i], m->prov_val[i]);
    }
    if (m->n_history > 0) {
        fprintf(out, "History\n");
        for (int i = 0; i < m->n_history && i < SV_MAX_HISTORY; i++)
            fprintf(out, "  %s\n", m->history[i]);
    }

    const nn_net *net = m->net;
    if (!net) {
        fprintf(out, "(no network)\n");
        return ferror(out) ? SV_ERR_IO : 0;
    }
    const int W = 104;
    fprintf(out, "Network: %d layers, %d input%s, output '%s'%s\n", net->n_layers, net->n_inputs,
            net->n_inputs == 1 ? "" : "s",
            net->output >= 0 && net->output < net->n_layers ? net->layers[net->output].name
                                                             : "?",
            net->finalized ? "" : " (not finalised)");
    rule(out, '_', W);
    fprintf(out, "%-34s %-16s %12s  %-20s %s\n", "Layer (type)", "Output shape", "Param #",
            "Connected to", "Options");
    rule(out, '=', W);
    unsigned long long total = 0, trainable = 0;
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        char name[NN_NAME_MAX + 32], shp[64], notes[128], conn[NN_MAX_INPUTS * NN_NAME_MAX + 8];
        snprintf(name, sizeof name, "%s (%s)", L->name, nn_kind_name(L->kind));
        shape_text(L, shp, sizeof shp);
        unsigned long long np = 0;
        for (int j = 0; j < L->n_params; j++) {
            np += L->p[j].size;
            if (L->trainable && L->p[j].trainable)
                trainable += L->p[j].size;
        }
        total += np;
        size_t k = 0;
        conn[0] = '\0';
        for (int j = 0; j < L->n_in && j < NN_MAX_INPUTS; j++) {
            int src = L->in[j];
            const char *nm = src >= 0 && src < net->n_layers ? net->layers[src].name : "?";
            k += (size_t)snprintf(conn + k, sizeof conn - k, "%s%s", j ? "," : "", nm);
            if (k >= sizeof conn)
                break;
        }
        layer_notes(L, notes, sizeof notes);
        int is_in = -1;
        for (int j = 0; j < net->n_inputs; j++)
            if (net->inputs[j] == i)
                is_in = j;
        if (is_in >= 0)
            snprintf(notes, sizeof notes, "network input %d", is_in);
        fprintf(out, "%-34s %-16s %12s  %-20s %s\n", name, shp, sv_format_count(np, b1, sizeof b1),
                conn, notes);
    }
    rule(out, '=', W);
    fprintf(out, "Total params: %s\n", sv_format_count(total, b1, sizeof b1));
    fprintf(out, "Trainable params: %s\n", sv_format_count(trainable, b2, sizeof b2));
    fprintf(out, "Non-trainable params: %s\n", sv_format_count(total - trainable, b3, sizeof b3));
    rule(out, '_', W);
    return ferror(out) ? SV_ERR_IO : 0;
}
