/* model.c — a network plus what is needed to use it.  See model.h. */
#include "model/model.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model_fits.h"

sv_model *sv_model_new(nn_net *net)
{
    sv_model *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    m->net = net;
    m->task = SV_TASK_REALBOGUS;
    m->n_classes = 1;
    strcpy(m->classes[0], "real");
    m->pre.norm = SV_NORM_NONE;
    return m;
}

void sv_model_free(sv_model *m)
{
    if (!m)
        return;
    nn_net_free(m->net);
    free(m);
}

static const char *const task_names[] = {"realbogus", "class", "lightcurve"};

void sv_model_label(const sv_model *m, char *out, size_t cap)
{
    snprintf(out, cap, "%s", m->version[0] ? m->version : m->name);
}

const char *sv_task_name(sv_task task)
{
    if ((int)task < 0 || (int)task > SV_TASK_LIGHTCURVE)
        return "unknown";
    return task_names[task];
}

int sv_task_from_name(const char *name, sv_task *task)
{
    if (!name || !task)
        return SV_ERR_FORMAT;
    for (int i = 0; i <= SV_TASK_LIGHTCURVE; i++)
        if (!strcasecmp(name, task_names[i])) {
            *task = (sv_task)i;
            return 0;
        }
    return SV_ERR_FORMAT;
}

/* Copy text into dst (cap bytes), cutting and replacing anything outside
 * printable ASCII by '?'. */
static void copy_printable(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++) {
        unsigned char c = (unsigned char)src[i];
        dst[i] = (c >= 32 && c < 127) ? (char)c : '?';
    }
    dst[i] = '\0';
}

int sv_model_set_prov(sv_model *m, const char *key, const char *value)
{
    if (!m || !key || !value)
        return SV_ERR_ARG;
    char k[9];
    size_t n = 0;
    for (; key[n] && n < 8; n++) {
        unsigned char c = (unsigned char)toupper((unsigned char)key[n]);
        if (!(isupper(c) || isdigit(c) || c == '-' || c == '_'))
            return SV_ERR_ARG;
        k[n] = (char)c;
    }
    k[n] = '\0';
    if (n == 0 || sv_model_fits_key_reserved(k))
        return SV_ERR_ARG;
    int slot = -1;
    for (int i = 0; i < m->n_prov; i++)
        if (!strcmp(m->prov_key[i], k)) {
            slot = i;
            break;
        }
    if (slot < 0) {
        if (m->n_prov >= SV_MAX_PROVENANCE)
            return SV_ERR_ARG;
        slot = m->n_prov++;
        memcpy(m->prov_key[slot], k, sizeof k);
    }
    copy_printable(m->prov_val[slot], sizeof m->prov_val[slot], value);
    return 0;
}

const char *sv_model_get_prov(const sv_model *m, const char *key)
{
    if (!m || !key)
        return NULL;
    for (int i = 0; i < m->n_prov; i++)
        if (!strcasecmp(m->prov_key[i], key))
            return m->prov_val[i];
    return NULL;
}

int sv_model_add_history(sv_model *m, const char *line)
{
    if (!m || !line || m->n_history >= SV_MAX_HISTORY)
        return SV_ERR_ARG;
    copy_printable(m->history[m->n_history], sizeof m->history[0], line);
    m->n_history++;
    return 0;
}

static const char *shape_text(const nn_layer *L, char *buf, size_t cap)
{
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int d = 0; d < L->rank && k < cap; d++)
        k += (size_t)snprintf(buf + k, cap - k, d ? ",%d" : "%d", L->shape[d]);
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
    return buf;
}

int sv_model_validate(const sv_model *m, sv_error *err)
{
    if (!m)
        return sv_error_set(err, SV_ERR_ARG, "model: NULL");
    const nn_net *net = m->net;
    if (!net || !net->finalized)
        return sv_error_set(err, SV_ERR_ARG, "model '%s': no finalised network", m->name);
    if ((int)m->task < 0 || (int)m->task > SV_TASK_LIGHTCURVE)
        return sv_error_set(err, SV_ERR_ARG, "model '%s': unknown task %d", m->name,
                            (int)m->task);
    if (m->n_classes < 1 || m->n_classes > SV_MAX_CLASSES)
        return sv_error_set(err, SV_ERR_SHAPE, "model '%s': %d classes (1..%d)", m->name,
                            m->n_classes, SV_MAX_CLASSES);
    if (m->task == SV_TASK_REALBOGUS && m->n_classes != 1)
        return sv_error_set(err, SV_ERR_SHAPE,
                            "model '%s': a real/bogus model has one output, not %d classes",
                            m->name, m->n_classes);
    for (int c = 0; c < m->n_classes; c++)
        if (!m->classes[c][0])
            return sv_error_set(err, SV_ERR_ARG, "model '%s': class %d has no name", m->name,
                                c + 1);
    if (m->n_features < 0 || m->n_features > SV_MAX_FEATURES)
        return sv_error_set(err, SV_ERR_SHAPE, "model '%s': %d features (0..%d)", m->name,
                            m->n_features, SV_MAX_FEATURES);
    for (int f = 0; f < m->n_features; f++)
        if (!m->features[f][0])
            return sv_error_set(err, SV_ERR_ARG, "model '%s': feature %d has no name", m->name,
                                f + 1);
    if (net->n_inputs < 1 || net->output < 0 || net->output >= net->n_layers)
        return sv_error_set(err, SV_ERR_SHAPE, "model '%s': network without input or output",
                            m->name);

    char b[64];
    const nn_layer *in0 = &net->layers[net->inputs[0]];
    const nn_layer *out = &net->layers[net->output];

    if (m->task == SV_TASK_LIGHTCURVE) {
        if (in0->rank != 2)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "model '%s': a light-curve model's input '%s' must be a "
                                "sequence (T,F), not %s",
                                m->name, in0->name, shape_text(in0, b, sizeof b));
        if (m->n_features > 0 && in0->shape[1] != m->n_features)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "model '%s': %d feature names but input '%s' has %d features "
                                "per step",
                                m->name, m->n_features, in0->name, in0->shape[1]);
        if (out->shape[out->rank - 1] != m->n_classes)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "model '%s': %d classes but output layer '%s' gives %s",
                                m->name, m->n_classes, out->name, shape_text(out, b, sizeof b));
        return 0;
    }

    sv_error e2;
    sv_error_clear(&e2);
    if (sv_preproc_validate(&m->pre, &e2))
        return sv_error_set(err, e2.status, "model '%s': %s", m->name, e2.text);
    if (in0->rank != 3 || in0->shape[0] != m->pre.out_h || in0->shape[1] != m->pre.out_w ||
        in0->shape[2] != m->pre.n_channels)
        return sv_error_set(err, SV_ERR_SHAPE,
                            "model '%s': the stamp input '%s' has shape %s but the "
                            "preprocessing gives (%d,%d,%d)",
                            m->name, in0->name, shape_text(in0, b, sizeof b), m->pre.out_h,
                            m->pre.out_w, m->pre.n_channels);
    int want_inputs = m->n_features > 0 ? 2 : 1;
    if (net->n_inputs != want_inputs)
        return sv_error_set(err, SV_ERR_SHAPE,
                            "model '%s': the network has %d inputs but the model describes %d "
                            "(stamps%s)",
                            m->name, net->n_inputs, want_inputs,
                            m->n_features > 0 ? " and features" : " only");
    if (m->n_features > 0) {
        const nn_layer *in1 = &net->layers[net->inputs[1]];
        if (in1->rank != 1 || in1->shape[0] != m->n_features)
            return sv_error_set(err, SV_ERR_SHAPE,
                                "model '%s': %d feature names but the feature input '%s' has "
                                "shape %s",
                                m->name, m->n_features, in1->name, shape_text(in1, b, sizeof b));
    }
    if (out->rank != 1 || out->shape[0] != m->n_classes)
        return sv_error_set(err, SV_ERR_SHAPE,
                            "model '%s': %d class%s but the output layer '%s' gives %s", m->name,
                            m->n_classes, m->n_classes == 1 ? "" : "es", out->name,
                            shape_text(out, b, sizeof b));
    return 0;
}
