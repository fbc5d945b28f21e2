/* stage_prov.c — the stage's provenance cards and summary line
 * (stage_internal.h). */
#include "pipeline/stage_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "core/parallel.h"
#include "core/sha256.h"

/* the summary line of an exposure (output: its file, or NULL) */
void stage_log_summary(const sv_stage *s, const char *output)
{
    const sv_stage_stats *t = &s->stats;
    stage_log(s, DIA_LOG_INFO,
              "%s%s%lld detections: %lld scored, %lld flagged (edge %lld, bad pixels %lld, "
              "masked %lld, bad centre %lld, off image %lld, bad position %lld, failed %lld, "
              "bad sign %lld), %lld kept from REAL by veto_flags, %lld negative with DIFF "
              "inverted, in %.3f s",
              output ? output : "", output ? ": " : "", (long long)t->rows,
              (long long)t->scored, (long long)t->flagged, (long long)t->edge,
              (long long)t->badfrac, (long long)t->masked, (long long)t->badcentre,
              (long long)t->off_image, (long long)t->bad_coord, (long long)t->failed,
              (long long)t->badsign, (long long)t->vetoed, (long long)t->inverted, t->t_total);
}

/* ---- provenance ------------------------------------------------------------- */

/* The science image's observation cards, carried over. */
void stage_prov_observation(sv_provenance *p, const char *hdr, int nc)
{
    char v[72];
    double d;
    if (!sv_header_string(hdr, nc, "DATE-OBS", v, sizeof v))
        sv_prov_str(p, "DATE-OBS", v, "from the science image");
    if (!sv_header_double(hdr, nc, "MJD-OBS", &d))
        sv_prov_dbl(p, "MJD-OBS", d, "from the science image");
    if (!sv_header_double(hdr, nc, "EXPTIME", &d))
        sv_prov_dbl(p, "EXPTIME", d, "[s] from the science image");
    if (!sv_header_string(hdr, nc, "FILTER", v, sizeof v))
        sv_prov_str(p, "FILTER", v, "from the science image");
}

/* An absolute, normalised path for provenance (the text given when it
 * cannot be resolved, e.g. cfitsio extended syntax). */
static void abs_path(const char *path, char *out, size_t len)
{
    char *r = path && *path ? realpath(path, NULL) : NULL;
    snprintf(out, len, "%s", r ? r : path ? path : "");
    free(r);
}

typedef struct hash_job {
    const char *path[5];
    char hex[5][SV_SHA256_HEX];
    int status[5];
} hash_job;

static void hash_task(int i, void *ctx)
{
    hash_job *H = ctx;
    sv_error e;
    sv_error_clear(&e);
    H->status[i] = H->path[i] && *H->path[i] ? sv_sha256_file(H->path[i], H->hex[i], &e) : -1;
}

/* Each input file: its absolute path (KEYFILE) and SHA-256 (KEYSHA), the
 * files hashed on up to `threads` threads. */
void stage_prov_inputs(const sv_stage *s, const dia_file_job *job, sv_provenance *p)
{
    static const char *const file_key[5] = {"SCIFILE", "REFFILE", "DIFFFILE", "DETFILE",
                                            "MASKFILE"};
    static const char *const sha_key[5] = {"SCISHA", "REFSHA", "DIFFSHA", "DETSHA", "MASKSHA"};
    static const char *const what[5] = {"science image", "reference image", "difference image",
                                        "detection table", "mask image"};
    hash_job H;
    memset(&H, 0, sizeof H);
    const char *paths[5] = {job->science, job->reference, job->difference, job->detections,
                            job->mask};
    memcpy(H.path, paths, sizeof paths);
    sv_parallel_for(s->nworkers < 5 ? s->nworkers : 5, 5, hash_task, &H);
    for (int i = 0; i < 5; i++) {
        if (!paths[i] || !*paths[i])
            continue;
        char full[SV_PROV_VALUE_MAX], comment[48];
        abs_path(paths[i], full, sizeof full);
        sv_prov_str(p, file_key[i], full, what[i]);
        snprintf(comment, sizeof comment, "SHA-256 of the %s file", what[i]);
        if (!H.status[i])
            sv_prov_str(p, sha_key[i], H.hex[i], comment);
    }
}

void stage_prov_common(const sv_stage *s, const sv_det_plan *plan, const exposure_view *v,
                        sv_provenance *p)
{
    char abi[16];
    snprintf(abi, sizeof abi, "%d.%d", DIA_ABI_MAJOR, DIA_ABI_MINOR);
    sv_prov_str(p, "SVVERS", PACKAGE_VERSION, "stampvet version");
    sv_prov_str(p, "DIAABI", abi, "DIA stage ABI version");
    const sv_model *ms[2] = {s->rb, s->cls};
    const char *pre[2] = {"RB", "CL"};
    for (int i = 0; i < 2; i++) {
        if (!ms[i])
            continue;
        char k[9];
        snprintf(k, sizeof k, "%sMODEL", pre[i]);
        sv_prov_str(p, k, ms[i]->name, i ? "class model name" : "real/bogus model name");
        snprintf(k, sizeof k, "%sMVERS", pre[i]);
        char label[SV_PROV_VALUE_MAX];
        sv_model_label(ms[i], label, sizeof label);
        sv_prov_str(p, k, label, "model version (MODVERS, else the name)");
        snprintf(k, sizeof k, "%sMCKSUM", pre[i]);
        sv_prov_str(p, k, ms[i]->checksum, "model file primary CHECKSUM");
        snprintf(k, sizeof k, "%sMFILE", pre[i]);
        char full[SV_PROV_VALUE_MAX];
        abs_path(ms[i]->path, full, sizeof full);
        sv_prov_str(p, k, full, "model file (absolute path)");
    }
    sv_prov_str(p, "SVCFGHSH", s->cfg.config_hash, "SHA-256 of the configuration (params_hash.h)");
    sv_prov_str(p, "SVCONFIG", s->cfg.config_text[0] ? s->cfg.config_text : "(all defaults)",
                "the key=value configuration given");
    if (s->cfg.host_command[0])
        sv_prov_str(p, "SVCMD", s->cfg.host_command, "the host's command line");
    sv_prov_dbl(p, "RBTHRESH", s->cfg.rb_threshold, "REAL = score >= RBTHRESH");
    sv_prov_dbl(p, "NANFMAX", s->cfg.nan_frac_max, "BADFRAC flag above this fraction");
    sv_prov_int(p, "MASKBITS", (long long)s->cfg.mask_bits, "mask bits that make a pixel bad");
    sv_prov_int(p, "VETOFLAG", (long long)s->cfg.veto_flags, "FLAGS bits that keep a row from REAL");
    sv_prov_dbl(p, "GRIDTOL", s->cfg.grid_tolerance, "same-grid tolerance, pixels");
    sv_prov_int(p, "STAMPSZ", s->S, "stamp side, pixels");
    sv_prov_bool(p, "RESAMPLE", s->cfg.resample, "stamps resampled to the model scale");
    if (v->img_scale > 0)
        sv_prov_dbl(p, "IMGSCALE", v->img_scale, "images' arcsec/pixel (WCS, centre)");
    sv_prov_dbl(p, "PSCALTOL", s->cfg.pixscale_tolerance, "pixel-scale mismatch tolerance");
    if (v->scale_model) {
        sv_prov_bool(p, "PSCALWRN", 1, "image/model pixel scales differ; resample off");
        sv_prov_dbl(p, "PSCALRAT", v->scale_ratio, "image scale / model PIXSCALE");
    }
    if (s->cfg.resample) {
        sv_prov_str(p, "RSKERNEL", sv_kernel_name(s->kernel), "resampling kernel");
        sv_prov_dbl(p, "RSSTEP", v->step_rb, "image pixels per stamp pixel (centre)");
    }
    sv_prov_str(p, "PRESET", s->map.preset, "detection column preset");
    {
        static const char *const mode[3] = {"auto", "yes", "no"};
        char c[48];
        snprintf(c, sizeof c, "negative detections' DIFF x -1 (%s)", mode[s->diff_positive]);
        sv_prov_bool(p, "DIFFPOS", stage_diff_inverts(s, plan), c);
        if (stage_diff_inverts(s, plan) && plan && plan->col_sign >= 0 && s->map.sign[0])
            sv_prov_str(p, "SIGNCOL", s->map.sign, "the detections' sign column");
    }
    sv_out_schema_prov(&s->schema, p);
    if (s->lc)
        sv_lc_stage_prov(s->lc, p);
    if (plan)
        sv_prov_str(p, "POSITION", plan->what, "where positions come from");
}

void stage_prov_counts(const sv_stage *s, sv_provenance *p)
{
    sv_prov_int(p, "NDET", s->stats.rows, "detections (rows)");
    sv_prov_int(p, "NSCORED", s->stats.scored, "rows with a real/bogus score");
    sv_prov_int(p, "NFLAGGED", s->stats.flagged, "rows with FLAGS != 0");
    sv_prov_int(p, "NINVERT", s->stats.inverted, "negative rows with DIFF inverted");
    if (s->lc)
        sv_lc_stage_prov_counts(s->lc, p);
}
