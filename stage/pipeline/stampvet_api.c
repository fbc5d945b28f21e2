/* stampvet_api.c — the parts of the public API (stampvet.h) that are not
 * already library functions: model loading and description, the scorer
 * constructor and the stage constructor from key = value pairs.  Each
 * wraps an internal function; none reimplements one. */
#include "stampvet.h"

#include <stddef.h>

#include "config.h"
#include "model/model.h"
#include "model/model_fits.h"
#include "infer/score.h"
#include "pipeline/stage.h"
#include "pipeline/stage_params.h"
#include "core/sv_error.h"

const char *sv_version(void)
{
    return PACKAGE_VERSION;
}

int sv_model_load(const char *path, sv_model **out, sv_error *err)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return sv_error_set(err, SV_ERR_ARG, "sv_model_load: NULL %s", path ? "out" : "path");
    sv_error_clear(err);
    return sv_model_read_fits(path, out, err);
}

const char *sv_model_name(const sv_model *m) { return m->name; }
const char *sv_model_version(const sv_model *m) { return m->version; }
const char *sv_model_task(const sv_model *m) { return sv_task_name(m->task); }
const char *sv_model_checksum(const sv_model *m) { return m->checksum; }
const char *sv_model_path(const sv_model *m) { return m->path; }
int sv_model_n_classes(const sv_model *m) { return m->n_classes; }
int sv_model_n_features(const sv_model *m) { return m->n_features; }
int sv_model_stamp_size(const sv_model *m) { return m->pre.stamp_size; }
int sv_model_n_provenance(const sv_model *m) { return m->n_prov; }

const char *sv_model_class(const sv_model *m, int i)
{
    return i >= 0 && i < m->n_classes ? m->classes[i] : NULL;
}

const char *sv_model_feature(const sv_model *m, int i)
{
    return i >= 0 && i < m->n_features ? m->features[i] : NULL;
}

const char *sv_model_provenance(const sv_model *m, int i, const char **key)
{
    if (i < 0 || i >= m->n_prov)
        return NULL;
    if (key)
        *key = m->prov_key[i];
    return m->prov_val[i];
}

void sv_model_input_shape(const sv_model *m, int *height, int *width, int *channels)
{
    int h = m->pre.out_h, w = m->pre.out_w, c = m->pre.n_channels;
    if (m->task == SV_TASK_LIGHTCURVE) {
        /* the sequence input (T, F) as the network declares it */
        const nn_layer *in = &m->net->layers[m->net->inputs[0]];
        h = in->rank >= 1 ? in->shape[0] : 0;
        w = 1;
        c = in->rank >= 2 ? in->shape[1] : 1;
    }
    if (height)
        *height = h;
    if (width)
        *width = w;
    if (channels)
        *channels = c;
}

int sv_model_channel(const sv_model *m, int i)
{
    if (m->task == SV_TASK_LIGHTCURVE || i < 0 || i >= m->pre.n_channels)
        return -1;
    return (int)m->pre.channel[i];
}

int sv_scorer_create(const sv_model *m, int max_batch, int threads, sv_scorer **out,
                     sv_error *err)
{
    if (!out)
        return sv_error_set(err, SV_ERR_ARG, "sv_scorer_create: NULL out");
    if (!m)
        return *out = NULL, sv_error_set(err, SV_ERR_ARG, "sv_scorer_create: NULL model");
    sv_error_clear(err);
    *out = sv_scorer_new_threads(m, max_batch, threads, err);
    if (*out)
        return SV_OK;
    return err && err->status != SV_OK ? err->status : SV_ERR_ARG;
}

const dia_param_desc *sv_stage_param_table(int *n)
{
    if (n)
        *n = sv_stage_n_params;
    return sv_stage_params;
}

int sv_stage_new(const dia_kv *kv, size_t n, const dia_host_services *host, sv_stage **out,
                 sv_error *err)
{
    if (!out)
        return sv_error_set(err, SV_ERR_ARG, "sv_stage_new: NULL out");
    *out = NULL;
    sv_error_clear(err);
    sv_stage_config cfg;
    int rc = sv_stage_config_parse(kv, n, &cfg, err);
    if (rc != SV_OK)
        return rc;
    return sv_stage_create(&cfg, host, out, err);
}
