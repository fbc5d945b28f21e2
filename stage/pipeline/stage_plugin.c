/* stage_plugin.c — stampvet's dia_stage.h descriptor and instance. */
#include "pipeline/stage_plugin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pipeline/stage.h"
#include "pipeline/stage_params.h"
#include "core/sv_error.h"

struct dia_instance {
    sv_stage_config cfg;
    dia_host_services host;
    sv_stage *stage;
    sv_error err;
};

/* in create(), a bad argument is a configuration error; later an argument
 * error is the host's (DIA_ERR_ARGUMENT) */
static dia_status to_dia_in(int status, int in_create)
{
    switch (status) {
    case SV_OK: return DIA_OK;
    case SV_ERR_ARG: return in_create ? DIA_ERR_CONFIG : DIA_ERR_ARGUMENT;
    case SV_ERR_IO: return DIA_ERR_IO;
    case SV_ERR_FORMAT: return DIA_ERR_FORMAT;
    case SV_ERR_NOMEM: return DIA_ERR_NOMEM;
    case SV_ERR_SHAPE: return DIA_ERR_DATA;
    case SV_ERR_UNSUPPORTED: return DIA_ERR_UNSUPPORTED;
    case SV_ERR_CANCELLED: return DIA_ERR_CANCELLED;
    default: return DIA_ERR_INTERNAL;
    }
}

static dia_status to_dia(int status) { return to_dia_in(status, 1); }

static dia_status stage_create(const dia_kv *config, size_t n_config,
                               const dia_host_services *services,
                               dia_instance **out, char *errbuf, size_t errlen)
{
    if (!out) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "stampvet: create() needs an output pointer");
        return DIA_ERR_ARGUMENT;
    }
    *out = NULL;
    dia_instance *inst = calloc(1, sizeof *inst);
    if (!inst) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "stampvet: out of memory");
        return DIA_ERR_NOMEM;
    }
    if (services) {
        size_t n = services->struct_size < sizeof inst->host ? services->struct_size
                                                             : sizeof inst->host;
        memcpy(&inst->host, services, n);
    }
    int rc = sv_stage_config_parse(config, n_config, &inst->cfg, &inst->err);
    if (rc == SV_OK)
        rc = sv_stage_create(&inst->cfg, services ? &inst->host : NULL, &inst->stage,
                             &inst->err);
    if (rc != SV_OK) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "stampvet: %s", inst->err.text);
        free(inst);
        return to_dia(rc);
    }
    *out = inst;
    return DIA_OK;
}

static void stage_destroy(dia_instance *inst)
{
    if (!inst)
        return;
    sv_stage_free(inst->stage);
    free(inst);
}

static dia_status stage_process(dia_instance *inst, const dia_exposure *exposure,
                                const dia_table *detections,
                                const dia_table **results)
{
    if (results)
        *results = NULL;
    if (!inst)
        return DIA_ERR_ARGUMENT;
    sv_error_clear(&inst->err);
    if (!results) {
        sv_error_set(&inst->err, SV_ERR_ARG, "stampvet: process() needs a results pointer");
        return DIA_ERR_ARGUMENT;
    }
    int rc = sv_stage_process(inst->stage, exposure, detections, results, &inst->err);
    if (rc != SV_OK) {
        *results = NULL;
        if (!inst->err.text[0])
            sv_error_set(&inst->err, rc, "stampvet: processing failed (%s)", sv_status_name(rc));
    }
    return to_dia_in(rc, 0);
}

static dia_status stage_process_files(dia_instance *inst, const dia_file_job *job)
{
    if (!inst)
        return DIA_ERR_ARGUMENT;
    sv_error_clear(&inst->err);
    int rc = sv_stage_process_files(inst->stage, job, &inst->err);
    if (rc != SV_OK && !inst->err.text[0])
        sv_error_set(&inst->err, rc, "stampvet: processing failed (%s)", sv_status_name(rc));
    return to_dia_in(rc, 0);
}

static const char *stage_last_error(const dia_instance *inst)
{
    return inst ? inst->err.text : "no instance";
}

static const dia_stage_descriptor descriptor = {
    .abi_major = DIA_ABI_MAJOR,
    .abi_minor = DIA_ABI_MINOR,
    .struct_size = sizeof(dia_stage_descriptor),
    .name = "stampvet",
    .version = PACKAGE_VERSION,
    .description = "Cuts a science/reference/difference stamp triplet around each "
                   "difference-image detection, scores it with a real/bogus CNN and "
                   "labels it with a transient class CNN; returns the detections "
                   "annotated, one row per input detection.",
    .params = sv_stage_params,
    .n_params = SV_STAGE_N_PARAMS,
    .create = stage_create,
    .destroy = stage_destroy,
    .process = stage_process,
    .process_files = stage_process_files,
    .last_error = stage_last_error,
};

const dia_stage_descriptor *sv_stage_descriptor(void)
{
    return &descriptor;
}
