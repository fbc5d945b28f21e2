/* model_fits.c — write and read the stampvet model file.  The format is
 * specified in model_fits.h.
 *
 * cfitsio keeps a process-wide error-message stack; this file never reads,
 * prints or clears it.  Messages come from cfitsio's status codes only
 * (fits_get_errstatus), and every cfitsio call gets a fresh status so that
 * one failure cannot silently disable the calls after it. */
#include "model/model_fits.h"
#include "fits/fits_guard.h"

#include "core/atomic_file.h"
#include "nn/nn_ops.h"
#include "fits/fits_error.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define DIM_MAX (1 << 24)       /* any dimension or hyper-parameter        */
#define EXTNAME_MAX 68          /* longest FITS string value on one card    */
#define STRCOL_MAX 4096         /* widest string column a reader accepts    */

/* ---- reserved primary cards ----------------------------------------------- */

static const char *const reserved_keys[] = {
    "SIMPLE",   "BITPIX",   "NAXIS",    "EXTEND",   "END",      "CHECKSUM", "DATASUM",
    "SVFORMAT", "TASK",     "MODNAME",  "MODVERS",  "NCLASS",   "CLASSES",  "MULTILAB",
    "STAMPH",   "STAMPW",   "STAMPCUT", "NCHAN",    "CHANNELS", "NANFILL",  "NORM",
    "PADVAL",   "PIXSCALE", "NFEAT",    "NETIN",    "NETOUT",   "NLAYERS",  "NPARAMS",
    "WTSUM",    "HISTORY",  "COMMENT",  "CONTINUE", "LONGSTRN", "EXTNAME",  "XTENSION",
    "PCOUNT",   "GCOUNT",   "BSCALE",   "BZERO",    "BLANK",    "GROUPS",   "EXTVER",
    "EXTLEVEL", "INHERIT",  NULL,
};

/* keys reserved as prefix followed by one or more digits */
static const char *const reserved_prefixes[] = {"NAXIS", "CLASS", "FEAT", NULL};

/* key is one of names (NULL-terminated) */
static int is_listed(const char *key, const char *const *names)
{
    for (int i = 0; names[i]; i++)
        if (!strcmp(key, names[i]))
            return 1;
    return 0;
}

/* key is one of prefixes followed by one or more digits */
static int is_numbered(const char *key, const char *const *prefixes)
{
    for (int i = 0; prefixes[i]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(key, prefixes[i], n) || !key[n])
            continue;
        const char *s = key + n;
        while (*s >= '0' && *s <= '9')
            s++;
        if (!*s)
            return 1;
    }
    return 0;
}

int sv_model_fits_key_reserved(const char *key)
{
    if (!key || !key[0])
        return 1;
    /* the model file's own cards, and the light-curve preprocessing's (lc_prep.h) */
    return is_listed(key, reserved_keys) || is_numbered(key, reserved_prefixes) ||
           is_listed(key, sv_lcprep_card_names) || is_numbered(key, sv_lcprep_card_prefixes);
}

/* ---- small helpers ---------------------------------------------------------- */

static int printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 32 || (unsigned char)*s > 126)
            return 0;
    return 1;
}

/* 64-bit FNV-1a */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= FNV_PRIME;
    }
    return h;
}

/* WTSUM of a finalised net (see model_fits.h) */
static void weight_sum(const nn_net *net, char hex[17])
{
    uint64_t h = FNV_OFFSET;
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        for (int j = 0; j < L->n_params; j++) {
            const nn_param *p = &L->p[j];
            char ext[2 * NN_NAME_MAX];
            int n = snprintf(ext, sizeof ext, "%s.%s", L->name, p->name);
            h = fnv_bytes(h, ext, (size_t)n + 1); /* with its 0 byte */
            for (size_t k = 0; k < p->size; k++) {
                uint32_t u;
                memcpy(&u, &p->w[k], 4);
                unsigned char be[4] = {(unsigned char)(u >> 24), (unsigned char)(u >> 16),
                                       (unsigned char)(u >> 8), (unsigned char)u};
                h = fnv_bytes(h, be, 4);
            }
        }
    }
    snprintf(hex, 17, "%016llx", (unsigned long long)h);
}

/* ======================================================================
 * writing
 * ====================================================================== */

typedef struct wctx {
    fitsfile *f;
    int st;            /* cfitsio status of the first failure, 0 so far */
    const char *what;  /* what was being written when it failed         */
} wctx;

/* Each put_* does nothing once a call has failed (cfitsio convention), and
 * records what failed first. */
static void w_note(wctx *w, const char *what)
{
    if (w->st && !w->what)
        w->what = what;
}

static void put_int(wctx *w, const char *key, long long v, const char *comm)
{
    LONGLONG x = v;
    fits_write_key(w->f, TLONGLONG, key, &x, comm, &w->st);
    w_note(w, key);
}

static void put_log(wctx *w, const char *key, int v, const char *comm)
{
    int x = v ? 1 : 0;
    fits_write_key(w->f, TLOGICAL, key, &x, comm, &w->st);
    w_note(w, key);
}

/* doubles with 17 significant digits, floats with 9: both read back exactly */
static void put_dbl(wctx *w, const char *key, double v, int digits, const char *comm)
{
    fits_write_key_dbl(w->f, key, v, -digits, comm, &w->st);
    w_note(w, key);
}

static void put_str(wctx *w, const char *key, const char *v, const char *comm)
{
    fits_write_key_longstr(w->f, key, v, comm, &w->st);
    w_note(w, key);
}

/* DATASUM and CHECKSUM of the current HDU, as fits_write_chksum computes
 * them but with fixed comments: cfitsio stamps the time into theirs, and a
 * model file must be the same bytes for the same model (an imported model
 * is reproducible bit for bit).  The HDU's data must be complete. */
static void put_checksum(wctx *w, const char *what)
{
    unsigned long datasum = 0, hdusum = 0;
    char ds[24], ck[FLEN_VALUE];
    fits_update_key_str(w->f, "CHECKSUM", "0000000000000000", "HDU checksum", &w->st);
    fits_update_key_str(w->f, "DATASUM", "0", "data unit checksum", &w->st);
    fits_flush_file(w->f, &w->st); /* pads the data unit: the sums are of the final bytes */
    fits_get_chksum(w->f, &datasum, &hdusum, &w->st);
    snprintf(ds, sizeof ds, "%lu", datasum);
    fits_modify_key_str(w->f, "DATASUM", ds, "&", &w->st);
    fits_get_chksum(w->f, &datasum, &hdusum, &w->st);
    fits_encode_chksum(hdusum, 1, ck);
    fits_modify_key_str(w->f, "CHECKSUM", ck, "&", &w->st);
    w_note(w, what);
}

static int check_name(const char *what, const char *s, int allow_comma, sv_error *err,
                      const char *path)
{
    size_t n = strlen(s);
    if (n == 0)
        return sv_error_set(err, SV_ERR_ARG, "%s: cannot write the model: empty %s", path, what);
    if (!printable(s))
        return sv_error_set(err, SV_ERR_ARG,
                            "%s: cannot write the model: %s '%s' has characters outside "
                            "printable ASCII",
                            path, what, s);
    if (s[n - 1] == ' ')
        return sv_error_set(err, SV_ERR_ARG,
                            "%s: cannot write the model: %s '%s' ends with a blank (FITS drops "
                            "trailing blanks)",
                            path, what, s);
    if (!allow_comma && strchr(s, ','))
        return sv_error_set(err, SV_ERR_ARG,
                            "%s: cannot write the model: %s '%s' contains ',' (the separator "
                            "of name lists)",
                            path, what, s);
    return 0;
}

/* Everything the writer refuses, checked before a file is created. */
static int write_check(const sv_model *m, const char *path, sv_error *err)
{
    sv_error e;
    sv_error_clear(&e);
    if (sv_model_validate(m, &e))
        return sv_error_set(err, e.status, "%s: cannot write the model: %s", path, e.text);
    const nn_net *net = m->net;
    if (net->n_layers > SV_MODEL_MAX_LAYERS)
        return sv_error_set(err, SV_ERR_ARG, "%s: cannot write the model: %d layers (max %d)",
                            path, net->n_layers, SV_MODEL_MAX_LAYERS);
    int st;
    if (m->name[0] && !printable(m->name))
        return sv_error_set(err, SV_ERR_ARG, "%s: cannot write the model: model name is not "
                            "printable ASCII", path);
    if (m->version[0] && !printable(m->version))
        return sv_error_set(err, SV_ERR_ARG, "%s: cannot write the model: model version is "
                            "not printable ASCII", path);
    for (int c = 0; c < m->n_classes; c++)
        if ((st = check_name("class name", m->classes[c], 0, err, path)))
            return st;
    for (int c = 0; c < m->n_features; c++)
        if ((st = check_name("feature name", m->features[c], 0, err, path)))
            return st;
    for (int i = 0; i < m->n_prov; i++) {
        if (sv_model_fits_key_reserved(m->prov_key[i]) || !m->prov_key[i][0])
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: cannot write the model: provenance key '%s' is a card the "
                                "model file uses itself",
                                path, m->prov_key[i]);
        if (!printable(m->prov_val[i]) || !printable(m->prov_key[i]))
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: cannot write the model: provenance '%s' is not printable "
                                "ASCII",
                                path, m->prov_key[i]);
    }
    for (int i = 0; i < m->n_history; i++)
        if (!printable(m->history[i]))
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: cannot write the model: history line %d is not printable "
                                "ASCII",
                                path, i + 1);
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        if ((st = check_name("layer name", L->name, 0, err, path)))
            return st;
        if (nn_net_find(net, L->name) != i)
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: cannot write the model: duplicate layer name '%s'", path,
                                L->name);
        for (int j = 0; j < L->n_params; j++) {
            if (strlen(L->name) + 1 + strlen(L->p[j].name) > EXTNAME_MAX)
                return sv_error_set(err, SV_ERR_ARG,
                                    "%s: cannot write the model: layer '%s': EXTNAME '%s.%s' "
                                    "longer than %d characters",
                                    path, L->name, L->name, L->p[j].name, EXTNAME_MAX);
            if (!L->p[j].w && L->p[j].size)
                return sv_error_set(err, SV_ERR_ARG,
                                    "%s: cannot write the model: layer '%s': parameter '%s' "
                                    "has no values",
                                    path, L->name, L->p[j].name);
        }
    }
    return 0;
}

static void write_primary(wctx *w, const sv_model *m)
{
    const nn_net *net = m->net;
    long naxes[1] = {0};
    fits_create_img(w->f, BYTE_IMG, 0, naxes, &w->st);
    w_note(w, "primary HDU");
    fits_write_comment(w->f, "stampvet model file: a neural network with its preprocessing, "
                             "classes and provenance.  Format: stage/model_fits.h "
                             "(HDU 2 LAYERS = layer graph, HDU 3.. = weights <layer>.<param>).",
                       &w->st);
    put_int(w, "SVFORMAT", SV_MODEL_FORMAT_VERSION, "stampvet model file format version");
    put_str(w, "TASK", sv_task_name(m->task), "realbogus, class or lightcurve");
    put_str(w, "MODNAME", m->name, "model name");
    char hex[17], vers[sizeof m->version];
    weight_sum(net, hex);
    if (m->version[0])
        snprintf(vers, sizeof vers, "%s", m->version);
    else /* derived: the name and the weights' sum (model_fits.h) */
        snprintf(vers, sizeof vers, "%.54s_%.8s", m->name[0] ? m->name : "model", hex);
    put_str(w, "MODVERS", vers, "model version");
    put_int(w, "NCLASS", m->n_classes, "number of classes (outputs)");
    for (int c = 0; c < m->n_classes; c++) {
        char key[FLEN_KEYWORD];
        snprintf(key, sizeof key, "CLASS%d", c + 1);
        put_str(w, key, m->classes[c], "class name, in output order");
    }
    put_log(w, "MULTILAB", m->multilabel, "T: independent sigmoid heads");
    int lc = m->task == SV_TASK_LIGHTCURVE;
    char chans[SV_MAX_CHANNELS * 6] = "";
    if (!lc)
        sv_channels_format(&m->pre, chans, (int)sizeof chans);
    put_int(w, "STAMPH", lc ? 0 : m->pre.out_h, "network stamp input height (pixels)");
    put_int(w, "STAMPW", lc ? 0 : m->pre.out_w, "network stamp input width (pixels)");
    put_int(w, "STAMPCUT", lc ? 0 : m->pre.stamp_size, "stamp size cut around a detection");
    put_int(w, "NCHAN", lc ? 0 : m->pre.n_channels, "stamp channels");
    put_str(w, "CHANNELS", chans, "channel order (channels-last input)");
    put_dbl(w, "NANFILL", m->pre.nan_fill, 9, "value for NaN/inf pixels");
    put_str(w, "NORM", sv_norm_name(m->pre.norm), "per-channel normalisation");
    put_dbl(w, "PADVAL", m->pre.pad_value, 9, "end-padding value for small stamps");
    put_dbl(w, "PIXSCALE", m->pre.pixel_scale, 17, "[arcsec/pixel] training scale, 0 unknown");
    put_int(w, "NFEAT", m->n_features, "number of named features");
    for (int c = 0; c < m->n_features; c++) {
        char key[FLEN_KEYWORD];
        snprintf(key, sizeof key, "FEAT%d", c + 1);
        put_str(w, key, m->features[c], "feature name, in input order");
    }
    if (lc) { /* light-curve preprocessing cards (lc_prep.h) */
        if (!w->st)
            sv_lcprep_write_cards(w->f, &m->lc, &w->st);
        w_note(w, "LCMODE..LCMSCLn");
    }
    char netin[NN_MAX_NET_INPUTS * NN_NAME_MAX + 8] = "";
    size_t k = 0;
    for (int i = 0; i < net->n_inputs; i++)
        k += (size_t)snprintf(netin + k, sizeof netin - k, "%s%s", i ? "," : "",
                              net->layers[net->inputs[i]].name);
    put_str(w, "NETIN", netin, "input layers in feed order");
    put_str(w, "NETOUT", net->layers[net->output].name, "output layer");
    put_int(w, "NLAYERS", net->n_layers, "layers (rows of the LAYERS table)");
    put_int(w, "NPARAMS", (long long)nn_net_count_params(net, 0), "parameter values");
    put_str(w, "WTSUM", hex, "FNV-1a 64 of all weights (model_fits.h)");
    for (int i = 0; i < m->n_prov; i++)
        put_str(w, m->prov_key[i], m->prov_val[i], "provenance");
    for (int i = 0; i < m->n_history; i++)
        fits_write_history(w->f, m->history[i], &w->st);
    w_note(w, "HISTORY");
    put_checksum(w, "primary CHECKSUM");
}

enum {
    C_NAME = 0, C_KIND, C_INPUTS, C_ACT, C_ALPHA, C_FILTERS, C_UNITS, C_KH, C_KW, C_SH, C_SW,
    C_PADDING, C_DEPTHMUL, C_USEBIAS, C_RATE, C_EPSILON, C_MOMENTUM, C_RETSEQ, C_RESETAFT,
    C_RECACT, C_AXIS, C_TRAINABL, C_RANK, C_SHAPE, C_DILATION, C_MASKVAL, C_NCOLS
};

static const struct {
    const char *name;
    const char *form;
    char type;         /* 's' string, 'i' int, 'f' float, 'l' logical */
    int repeat;
    int width;         /* strings: capacity in the reader (with the NUL) */
    int optional;      /* added later: a file without it has the default   */
} layer_cols[C_NCOLS] = {
    [C_NAME] = {"NAME", "64A", 's', 1, NN_NAME_MAX},
    [C_KIND] = {"KIND", "24A", 's', 1, 64},
    [C_INPUTS] = {"INPUTS", "600A", 's', 1, NN_MAX_INPUTS * NN_NAME_MAX + 8},
    [C_ACT] = {"ACT", "16A", 's', 1, 64},
    [C_ALPHA] = {"ALPHA", "1E", 'f', 1, 0},
    [C_FILTERS] = {"FILTERS", "1J", 'i', 1, 0},
    [C_UNITS] = {"UNITS", "1J", 'i', 1, 0},
    [C_KH] = {"KH", "1J", 'i', 1, 0},
    [C_KW] = {"KW", "1J", 'i', 1, 0},
    [C_SH] = {"SH", "1J", 'i', 1, 0},
    [C_SW] = {"SW", "1J", 'i', 1, 0},
    [C_PADDING] = {"PADDING", "8A", 's', 1, 16},
    [C_DEPTHMUL] = {"DEPTHMUL", "1J", 'i', 1, 0},
    [C_USEBIAS] = {"USEBIAS", "1L", 'l', 1, 0},
    [C_RATE] = {"RATE", "1E", 'f', 1, 0},
    [C_EPSILON] = {"EPSILON", "1E", 'f', 1, 0},
    [C_MOMENTUM] = {"MOMENTUM", "1E", 'f', 1, 0},
    [C_RETSEQ] = {"RETSEQ", "1L", 'l', 1, 0},
    [C_RESETAFT] = {"RESETAFT", "1L", 'l', 1, 0},
    [C_RECACT] = {"RECACT", "16A", 's', 1, 64},
    [C_AXIS] = {"AXIS", "1J", 'i', 1, 0},
    [C_TRAINABL] = {"TRAINABL", "1L", 'l', 1, 0},
    [C_RANK] = {"RANK", "1J", 'i', 1, 0},
    [C_SHAPE] = {"SHAPE", "3J", 'i', 3, 0},
    [C_DILATION] = {"DILATION", "1J", 'i', 1, 0, 1},
    [C_MASKVAL] = {"MASKVAL", "1E", 'f', 1, 0, 1},
};

static void write_layers(wctx *w, const nn_net *net)
{
    const int n = net->n_layers;
    char *ttype[C_NCOLS], *tform[C_NCOLS];
    for (int c = 0; c < C_NCOLS; c++) {
        ttype[c] = (char *)layer_cols[c].name;
        tform[c] = (char *)layer_cols[c].form;
    }
    fits_create_tbl(w->f, BINARY_TBL, n, C_NCOLS, ttype, tform, NULL, "LAYERS", &w->st);
    w_note(w, "LAYERS table");
    if (w->st)
        return;

    char **s = calloc((size_t)n, sizeof *s);
    char *sbuf = calloc((size_t)n, 640);
    int *iv = calloc((size_t)n * 3, sizeof *iv);
    float *fv = calloc((size_t)n, sizeof *fv);
    char *lv = calloc((size_t)n, 1);
    if (!s || !sbuf || !iv || !fv || !lv) {
        w->st = MEMORY_ALLOCATION;
        w_note(w, "LAYERS table (out of memory)");
        goto done;
    }
    for (int i = 0; i < n; i++)
        s[i] = sbuf + (size_t)i * 640;

    for (int c = 0; c < C_NCOLS && !w->st; c++) {
        for (int i = 0; i < n; i++) {
            const nn_layer *L = &net->layers[i];
            switch (c) {
            case C_NAME: snprintf(s[i], 640, "%s", L->name); break;
            case C_KIND: snprintf(s[i], 640, "%s", nn_kind_name(L->kind)); break;
            case C_INPUTS: {
                size_t k = 0;
                s[i][0] = '\0';
                for (int j = 0; j < L->n_in; j++)
                    k += (size_t)snprintf(s[i] + k, 640 - k, "%s%s", j ? "," : "",
                                          net->layers[L->in[j]].name);
                break;
            }
            case C_ACT: snprintf(s[i], 640, "%s", nn_act_name(L->act)); break;
            case C_ALPHA: fv[i] = L->alpha; break;
            case C_FILTERS: iv[i] = L->filters; break;
            case C_UNITS: iv[i] = L->units; break;
            case C_KH: iv[i] = L->kh; break;
            case C_KW: iv[i] = L->kw; break;
            case C_SH: iv[i] = L->sh; break;
            case C_SW: iv[i] = L->sw; break;
            case C_PADDING:
                snprintf(s[i], 640, "%s",
                         L->padding == NN_PAD_SAME     ? "same"
                         : L->padding == NN_PAD_CAUSAL ? "causal"
                                                       : "valid");
                break;
            case C_DEPTHMUL: iv[i] = L->depth_multiplier; break;
            case C_USEBIAS: lv[i] = L->use_bias ? 1 : 0; break;
            case C_RATE: fv[i] = L->rate; break;
            case C_EPSILON: fv[i] = L->epsilon; break;
            case C_MOMENTUM: fv[i] = L->momentum; break;
            case C_RETSEQ: lv[i] = L->return_sequences ? 1 : 0; break;
            case C_RESETAFT: lv[i] = L->reset_after ? 1 : 0; break;
            case C_RECACT: snprintf(s[i], 640, "%s", nn_act_name(L->recurrent_act)); break;
            case C_AXIS: iv[i] = L->concat_axis; break;
            case C_TRAINABL: lv[i] = L->trainable ? 1 : 0; break;
            case C_RANK: iv[i] = L->rank; break;
            case C_SHAPE:
                for (int d = 0; d < 3; d++)
                    iv[3 * i + d] = d < L->rank ? L->shape[d] : 0;
                break;
            case C_DILATION: iv[i] = L->dilation; break;
            case C_MASKVAL: fv[i] = L->mask_value; break;
            }
        }
        int col = c + 1;
        switch (layer_cols[c].type) {
        case 's': fits_write_col_str(w->f, col, 1, 1, n, s, &w->st); break;
        case 'i':
            fits_write_col(w->f, TINT, col, 1, 1, (LONGLONG)n * layer_cols[c].repeat, iv, &w->st);
            break;
        case 'f': fits_write_col(w->f, TFLOAT, col, 1, 1, n, fv, &w->st); break;
        case 'l': fits_write_col(w->f, TLOGICAL, col, 1, 1, n, lv, &w->st); break;
        }
        w_note(w, layer_cols[c].name);
    }
    fits_write_comment(w->f, "One row per layer in topological order; see stage/model_fits.h.",
                       &w->st);
    put_checksum(w, "LAYERS CHECKSUM");
done:
    free(s);
    free(sbuf);
    free(iv);
    free(fv);
    free(lv);
}

static void write_params(wctx *w, const nn_net *net)
{
    for (int i = 0; i < net->n_layers && !w->st; i++) {
        const nn_layer *L = &net->layers[i];
        for (int j = 0; j < L->n_params && !w->st; j++) {
            const nn_param *p = &L->p[j];
            long naxes[4];
            for (int d = 0; d < p->rank; d++)
                naxes[d] = p->dims[p->rank - 1 - d];
            char ext[2 * NN_NAME_MAX];
            snprintf(ext, sizeof ext, "%s.%s", L->name, p->name);
            fits_create_img(w->f, FLOAT_IMG, p->rank, naxes, &w->st);
            put_str(w, "EXTNAME", ext, "<layer>.<parameter>");
            put_str(w, "LAYER", L->name, "layer name");
            put_str(w, "PARAM", p->name, "parameter name (Keras)");
            put_str(w, "KIND", nn_kind_name(L->kind), "layer kind");
            put_log(w, "TRAINABL", p->trainable && L->trainable, "updated by training");
            if (p->size)
                fits_write_img(w->f, TFLOAT, 1, (LONGLONG)p->size, p->w, &w->st);
            put_checksum(w, "a weight image");
        }
    }
}

int sv_model_write_fits(const sv_model *m, const char *path, sv_error *err)
{
    if (!m || !path || !path[0])
        return sv_error_set(err, SV_ERR_ARG, "sv_model_write_fits: NULL model or empty path");
    int st = write_check(m, path, err);
    if (st)
        return st;

    /* a temporary name beside the destination (atomic_file.h) */
    sv_atomic_file af;
    if (sv_atomic_begin_name(&af, path, err))
        return err && err->status ? err->status : SV_ERR_IO;

    wctx w = {NULL, 0, NULL};
    fits_create_diskfile(&w.f, af.tmp, &w.st);
    if (w.st) {
        char t[FLEN_STATUS];
        int s0 = w.st;
        sv_atomic_abort(&af);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot create the temporary file (cfitsio: %s)",
                            path, sv_fits_status_text(s0, t));
    }
    write_primary(&w, m);
    if (!w.st)
        write_layers(&w, m->net);
    if (!w.st)
        write_params(&w, m->net);
    if (w.st) {
        char t[FLEN_STATUS];
        int s0 = w.st, s2 = 0;
        fits_delete_file(w.f, &s2);
        sv_atomic_abort(&af);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot write the model (%s: cfitsio: %s)", path,
                            w.what ? w.what : "?", sv_fits_status_text(s0, t));
    }
    fits_close_file(w.f, &w.st);
    if (w.st) {
        char t[FLEN_STATUS];
        int s0 = w.st;
        sv_atomic_abort(&af);
        return sv_error_set(err, SV_ERR_IO, "%s: cannot finish writing the model (cfitsio: %s)",
                            path, sv_fits_status_text(s0, t));
    }
    /* durable before it becomes visible (atomic_file.h) */
    return sv_atomic_commit(&af, err);
}

/* ======================================================================
 * reading
 * ====================================================================== */

typedef struct rctx {
    const char *path;
    fitsfile *f;
    long long fsize;
    int hdu;             /* current HDU (1-based), for messages */
    char hduname[80];    /* its EXTNAME or "primary" */
    sv_error *err;
} rctx;

/* Message "<path>: HDU n (name): <text>" */
static int r_fail(rctx *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int r_fail(rctx *r, int status, const char *fmt, ...)
{
    char msg[SV_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (r->hdu > 0)
        return sv_error_set(r->err, status, "%s: HDU %d (%s): %s", r->path, r->hdu, r->hduname,
                            msg);
    return sv_error_set(r->err, status, "%s: %s", r->path, msg);
}

/* a cfitsio failure while reading: I/O or damaged structure */
static int r_fits(rctx *r, int fst, const char *what)
{
    char t[FLEN_STATUS];
    int code = (fst == END_OF_FILE || fst == READ_ERROR || fst == FILE_NOT_OPENED ||
                fst == SEEK_ERROR)
                   ? SV_ERR_IO
                   : SV_ERR_FORMAT;
    return r_fail(r, code, "%s (cfitsio: %s%s)", what, sv_fits_status_text(fst, t),
                  fst == END_OF_FILE || fst == READ_ERROR ? "; the file is truncated or "
                                                            "unreadable"
                                                          : "");
}

static int r_move(rctx *r, int hdu, int *type)
{
    int st = 0;
    r->hdu = hdu;
    snprintf(r->hduname, sizeof r->hduname, "%s", hdu == 1 ? "primary" : "?");
    fits_movabs_hdu(r->f, hdu, type, &st);
    if (st)
        return st;
    if (hdu > 1) {
        char ext[FLEN_VALUE] = "";
        int s2 = 0;
        fits_read_key(r->f, TSTRING, "EXTNAME", ext, NULL, &s2);
        snprintf(r->hduname, sizeof r->hduname, "%s", s2 ? "no EXTNAME" : ext);
    }
    return 0;
}

static int r_checksum(rctx *r)
{
    int st = 0, dataok = 0, hduok = 0;
    LONGLONG hs = 0, ds = 0, de = 0;
    fits_get_hduaddrll(r->f, &hs, &ds, &de, &st);
    if (!st && de > r->fsize + 2879) /* the last block may lack its fill */
        return r_fail(r, SV_ERR_IO,
                      "the HDU ends at byte %lld but the file has %lld bytes (truncated, or "
                      "absurd sizes in the header)",
                      (long long)de, r->fsize);
    st = 0;
    fits_verify_chksum(r->f, &dataok, &hduok, &st);
    if (st)
        return r_fits(r, st, "cannot read the HDU to verify its checksum");
    if (hduok == 0 || dataok == 0)
        return r_fail(r, SV_ERR_FORMAT, "no %s card: a model file carries FITS checksums on every "
                                        "HDU",
                      hduok == 0 ? "CHECKSUM" : "DATASUM");
    if (dataok < 0)
        return r_fail(r, SV_ERR_FORMAT, "bad checksum: DATASUM does not match the data "
                                        "(the file is damaged)");
    if (hduok < 0)
        return r_fail(r, SV_ERR_FORMAT, "bad checksum: CHECKSUM does not match the HDU "
                                        "(the file is damaged or was edited)");
    return 0;
}

/* Integer card in [lo, hi].  Returns 0, 1 when absent and !required, or an
 * error status. */
static int r_int(rctx *r, const char *key, long long lo, long long hi, int required,
                 long long *v)
{
    int st = 0;
    LONGLONG x = 0;
    fits_read_key(r->f, TLONGLONG, key, &x, NULL, &st);
    if (st == KEY_NO_EXIST && !required)
        return 1;
    if (st == KEY_NO_EXIST)
        return r_fail(r, SV_ERR_FORMAT, "missing card %s", key);
    if (st)
        return r_fail(r, SV_ERR_FORMAT, "card %s is not an integer", key);
    if (x < lo || x > hi)
        return r_fail(r, SV_ERR_FORMAT, "card %s = %lld is out of range (%lld..%lld)", key,
                      (long long)x, lo, hi);
    *v = x;
    return 0;
}

static int r_dbl(rctx *r, const char *key, int required, double *v)
{
    int st = 0;
    double x = 0;
    fits_read_key(r->f, TDOUBLE, key, &x, NULL, &st);
    if (st == KEY_NO_EXIST && !required)
        return 1;
    if (st == KEY_NO_EXIST)
        return r_fail(r, SV_ERR_FORMAT, "missing card %s", key);
    if (st || !isfinite(x))
        return r_fail(r, SV_ERR_FORMAT, "card %s is not a finite number", key);
    *v = x;
    return 0;
}

static int r_log(rctx *r, const char *key, int required, int *v)
{
    int st = 0, x = 0;
    fits_read_key(r->f, TLOGICAL, key, &x, NULL, &st);
    if (st == KEY_NO_EXIST && !required)
        return 1;
    if (st == KEY_NO_EXIST)
        return r_fail(r, SV_ERR_FORMAT, "missing card %s", key);
    if (st)
        return r_fail(r, SV_ERR_FORMAT, "card %s is not a logical (T/F)", key);
    *v = x ? 1 : 0;
    return 0;
}

/* String card (long-string convention allowed) into buf[cap]; too long or
 * non-printable is an error. */
static int r_str(rctx *r, const char *key, char *buf, size_t cap, int required)
{
    int st = 0;
    char *val = NULL;
    fits_read_key_longstr(r->f, key, &val, NULL, &st);
    if (st == KEY_NO_EXIST && !required) {
        buf[0] = '\0';
        return 1;
    }
    if (st == KEY_NO_EXIST)
        return r_fail(r, SV_ERR_FORMAT, "missing card %s", key);
    if (st || !val) {
        if (val) {
            int s2 = 0;
            fits_free_memory(val, &s2);
        }
        return r_fail(r, SV_ERR_FORMAT, "card %s is not a readable string", key);
    }
    size_t n = strlen(val);
    int bad = n >= cap ? 1 : !printable(val) ? 2 : 0;
    if (!bad)
        memcpy(buf, val, n + 1);
    int s2 = 0;
    fits_free_memory(val, &s2);
    if (bad == 1)
        return r_fail(r, SV_ERR_FORMAT, "card %s: value of %zu characters (at most %zu)", key, n,
                      cap - 1);
    if (bad == 2)
        return r_fail(r, SV_ERR_FORMAT, "card %s: value is not printable ASCII", key);
    return 0;
}

/* ---- primary header ------------------------------------------------------ */

typedef struct rhead {
    long long nlayers, nparams;
    char netin[NN_MAX_NET_INPUTS * NN_NAME_MAX + 8];
    char netout[NN_NAME_MAX];
    char wtsum[24];
} rhead;

static int split_list(rctx *r, const char *what, const char *text, char names[][SV_LABEL_MAX],
                      int max, int *n)
{
    *n = 0;
    const char *s = text;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (*n >= max)
            return r_fail(r, SV_ERR_FORMAT, "card %s lists more than %d names", what, max);
        if (len == 0 || len >= SV_LABEL_MAX)
            return r_fail(r, SV_ERR_FORMAT, "card %s: empty name or name over %d characters",
                          what, SV_LABEL_MAX - 1);
        memcpy(names[*n], s, len);
        names[*n][len] = '\0';
        (*n)++;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

static int read_primary(rctx *r, sv_model *m, rhead *h)
{
    int st, type = 0;
    if ((st = r_move(r, 1, &type)))
        return r_fits(r, st, "cannot read the primary header");
    long long v;
    st = r_int(r, "SVFORMAT", -1000000000LL, 1000000000LL, 0, &v);
    if (st == 1)
        return r_fail(r, SV_ERR_FORMAT,
                      "not a stampvet model file (no SVFORMAT card in the primary header)");
    if (st)
        return st;
    if (v != SV_MODEL_FORMAT_VERSION)
        return r_fail(r, SV_ERR_FORMAT,
                      "model file format version %lld (SVFORMAT); this stampvet reads version %d",
                      v, SV_MODEL_FORMAT_VERSION);
    int naxis = 0;
    st = 0;
    fits_get_img_dim(r->f, &naxis, &st);
    if (st || naxis != 0)
        return r_fail(r, SV_ERR_FORMAT, "the primary HDU must have no data (NAXIS = 0)");
    if ((st = r_checksum(r)))
        return st;
    {
        char ck[FLEN_VALUE] = "";
        int s2 = 0;
        fits_read_key(r->f, TSTRING, "CHECKSUM", ck, NULL, &s2);
        if (s2)
            ck[0] = '\0';
        ck[sizeof m->checksum - 1] = '\0'; /* a CHECKSUM value has 16 characters */
        memcpy(m->checksum, ck, sizeof m->checksum);
    }

    char buf[80];
    if ((st = r_str(r, "TASK", buf, sizeof buf, 1)))
        return st;
    if (sv_task_from_name(buf, &m->task))
        return r_fail(r, SV_ERR_FORMAT, "card TASK = '%s' is not realbogus, class or lightcurve",
                      buf);
    if ((st = r_str(r, "MODNAME", m->name, sizeof m->name, 1)))
        return st;
    if ((st = r_str(r, "MODVERS", m->version, sizeof m->version, 0)) < 0)
        return st;

    /* classes */
    if ((st = r_int(r, "NCLASS", 1, SV_MAX_CLASSES, 1, &v)))
        return st;
    m->n_classes = (int)v;
    char key[FLEN_KEYWORD];
    snprintf(key, sizeof key, "CLASS1");
    int s2 = 0;
    char card[FLEN_CARD];
    fits_read_card(r->f, key, card, &s2);
    if (s2 == 0) {
        for (int c = 0; c < m->n_classes; c++) {
            snprintf(key, sizeof key, "CLASS%d", c + 1);
            if ((st = r_str(r, key, m->classes[c], SV_LABEL_MAX, 1)))
                return st;
            if (!m->classes[c][0])
                return r_fail(r, SV_ERR_FORMAT, "card %s is empty", key);
        }
    } else {
        char list[SV_MAX_CLASSES * SV_LABEL_MAX + 8];
        if ((st = r_str(r, "CLASSES", list, sizeof list, 0)) == 1)
            return r_fail(r, SV_ERR_FORMAT, "no CLASS1..CLASS%d cards and no CLASSES card",
                          m->n_classes);
        if (st)
            return st;
        int n = 0;
        if ((st = split_list(r, "CLASSES", list, m->classes, SV_MAX_CLASSES, &n)))
            return st;
        if (n != m->n_classes)
            return r_fail(r, SV_ERR_FORMAT, "CLASSES names %d classes but NCLASS = %d", n,
                          m->n_classes);
    }
    m->multilabel = 0;
    if ((st = r_log(r, "MULTILAB", 0, &m->multilabel)) < 0)
        return st;

    /* stamp input and preprocessing */
    sv_preproc *p = &m->pre;
    memset(p, 0, sizeof *p);
    if ((st = r_int(r, "STAMPH", 0, 65536, 1, &v)))
        return st;
    p->out_h = (int)v;
    if ((st = r_int(r, "STAMPW", 0, 65536, 1, &v)))
        return st;
    p->out_w = (int)v;
    if ((st = r_int(r, "STAMPCUT", 0, 65536, 1, &v)))
        return st;
    p->stamp_size = (int)v;
    if ((st = r_int(r, "NCHAN", 0, SV_MAX_CHANNELS, 1, &v)))
        return st;
    int nchan = (int)v;
    char chans[128];
    if ((st = r_str(r, "CHANNELS", chans, sizeof chans, 1)))
        return st;
    if (nchan > 0 || chans[0]) {
        sv_error e;
        sv_error_clear(&e);
        if (sv_channels_parse(chans, p, &e))
            return r_fail(r, SV_ERR_FORMAT, "card CHANNELS: %s", e.text);
        if (p->n_channels != nchan)
            return r_fail(r, SV_ERR_FORMAT, "CHANNELS = '%s' names %d channels but NCHAN = %d",
                          chans, p->n_channels, nchan);
    }
    double d;
    if ((st = r_dbl(r, "NANFILL", 1, &d)))
        return st;
    p->nan_fill = (float)d;
    if ((st = r_str(r, "NORM", buf, sizeof buf, 1)))
        return st;
    if (sv_norm_from_name(buf, &p->norm))
        return r_fail(r, SV_ERR_FORMAT, "card NORM = '%s' is not a known normalisation "
                                        "(none, l2, l2-rows, minmax, zscore)",
                      buf);
    if ((st = r_dbl(r, "PADVAL", 1, &d)))
        return st;
    p->pad_value = (float)d;
    if ((st = r_dbl(r, "PIXSCALE", 1, &d)))
        return st;
    if (d < 0)
        return r_fail(r, SV_ERR_FORMAT, "card PIXSCALE = %g is negative", d);
    p->pixel_scale = d;

    /* features */
    if ((st = r_int(r, "NFEAT", 0, SV_MAX_FEATURES, 1, &v)))
        return st;
    m->n_features = (int)v;
    for (int c = 0; c < m->n_features; c++) {
        snprintf(key, sizeof key, "FEAT%d", c + 1);
        if ((st = r_str(r, key, m->features[c], SV_LABEL_MAX, 1)))
            return st;
        if (!m->features[c][0])
            return r_fail(r, SV_ERR_FORMAT, "card %s is empty", key);
    }
    if (m->task == SV_TASK_LIGHTCURVE) { /* light-curve preprocessing (lc_prep.h) */
        char lmsg[256] = "";
        if (sv_lcprep_read_cards(r->f, &m->lc, lmsg, (int)sizeof lmsg))
            return r_fail(r, SV_ERR_FORMAT, "%s", lmsg);
    }

    /* network summary */
    if ((st = r_str(r, "NETIN", h->netin, sizeof h->netin, 1)))
        return st;
    if ((st = r_str(r, "NETOUT", h->netout, sizeof h->netout, 1)))
        return st;
    if ((st = r_int(r, "NLAYERS", 1, SV_MODEL_MAX_LAYERS, 1, &h->nlayers)))
        return st;
    if ((st = r_int(r, "NPARAMS", 0, 1LL << 62, 1, &h->nparams)))
        return st;
    if (h->nparams > r->fsize / 4)
        return r_fail(r, SV_ERR_FORMAT,
                      "card NPARAMS = %lld: that many float32 values cannot fit in a file of "
                      "%lld bytes (absurd size)",
                      h->nparams, r->fsize);
    if ((st = r_str(r, "WTSUM", h->wtsum, sizeof h->wtsum, 1)))
        return st;

    /* provenance and history: every other card */
    int nkeys = 0, more = 0;
    st = 0;
    fits_get_hdrspace(r->f, &nkeys, &more, &st);
    if (st)
        return r_fits(r, st, "cannot read the primary header");
    for (int i = 1; i <= nkeys; i++) {
        char kn[FLEN_KEYWORD] = "", kv[FLEN_VALUE] = "", rec[FLEN_CARD] = "";
        st = 0;
        fits_read_record(r->f, i, rec, &st);
        if (st)
            return r_fits(r, st, "cannot read a primary header card");
        if (!strncmp(rec, "HISTORY ", 8) || !strcmp(rec, "HISTORY")) {
            const char *t = rec[7] ? rec + 8 : "";
            size_t n = strlen(t);
            while (n > 0 && t[n - 1] == ' ')
                n--;
            char line[80];
            memcpy(line, t, n);
            line[n] = '\0';
            if (m->n_history >= SV_MAX_HISTORY)
                return r_fail(r, SV_ERR_FORMAT, "more than %d HISTORY cards", SV_MAX_HISTORY);
            if (!printable(line))
                return r_fail(r, SV_ERR_FORMAT, "HISTORY card %d is not printable ASCII", i);
            sv_model_add_history(m, line);
            continue;
        }
        fits_read_keyn(r->f, i, kn, kv, NULL, &st);
        if (st)
            return r_fail(r, SV_ERR_FORMAT, "primary header card %d cannot be parsed", i);
        if (!kn[0] || sv_model_fits_key_reserved(kn))
            continue;
        if (strlen(kn) > 8 || !kv[0])
            continue; /* HIERARCH or commentary cards: not provenance */
        char val[72];
        if ((st = r_str(r, kn, val, sizeof val, 1)))
            return st;
        int ps = sv_model_set_prov(m, kn, val);
        if (ps && m->n_prov >= SV_MAX_PROVENANCE)
            return r_fail(r, SV_ERR_FORMAT, "more than %d provenance cards", SV_MAX_PROVENANCE);
        if (ps)
            return r_fail(r, SV_ERR_FORMAT, "card %s cannot be a provenance key", kn);
    }
    return 0;
}

/* ---- the LAYERS table ----------------------------------------------------- */

typedef struct rlayer_extra {
    int rank;
    int shape[3];
} rlayer_extra;

static int split_inputs(rctx *r, long long row, const char *lname, const char *text,
                        const nn_net *net, nn_layer *L)
{
    L->n_in = 0;
    if (!text[0])
        return 0;
    const char *s = text;
    for (;;) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char nm[NN_NAME_MAX];
        if (len == 0 || len >= sizeof nm)
            return r_fail(r, SV_ERR_FORMAT, "row %lld (layer '%s'): INPUTS '%s' has an empty or "
                                            "overlong name",
                          row, lname, text);
        memcpy(nm, s, len);
        nm[len] = '\0';
        int idx = nn_net_find(net, nm);
        if (idx < 0)
            return r_fail(r, SV_ERR_FORMAT,
                          "row %lld (layer '%s'): input '%s' is not an earlier layer (unknown "
                          "name or forward reference)",
                          row, lname, nm);
        if (L->n_in >= NN_MAX_INPUTS)
            return r_fail(r, SV_ERR_FORMAT, "row %lld (layer '%s'): more than %d inputs", row,
                          lname, NN_MAX_INPUTS);
        L->in[L->n_in++] = idx;
        if (!e)
            break;
        s = e + 1;
    }
    return 0;
}

static int is_int_type(int t)
{
    return t == TBYTE || t == TSBYTE || t == TSHORT || t == TUSHORT || t == TINT ||
           t == TUINT || t == TLONG || t == TULONG || t == TLONGLONG || t == TULONGLONG;
}

static int read_layers(rctx *r, const rhead *h, nn_net *net, rlayer_extra *extra)
{
    int type = 0, st;
    if ((st = r_move(r, 2, &type)))
        return r_fits(r, st, "missing HDU 2, the LAYERS table");
    if (type != BINARY_TBL || strcmp(r->hduname, "LAYERS"))
        return r_fail(r, SV_ERR_FORMAT, "HDU 2 must be the BINTABLE 'LAYERS'");
    if ((st = r_checksum(r)))
        return st;
    LONGLONG nrows = 0;
    st = 0;
    fits_get_num_rowsll(r->f, &nrows, &st);
    if (st)
        return r_fits(r, st, "cannot read the table size");
    if (nrows != h->nlayers)
        return r_fail(r, SV_ERR_FORMAT, "%lld rows but NLAYERS = %lld", (long long)nrows,
                      h->nlayers);

    int col[C_NCOLS];
    for (int c = 0; c < C_NCOLS; c++) {
        st = 0;
        fits_get_colnum(r->f, CASESEN, (char *)layer_cols[c].name, &col[c], &st);
        if (st && layer_cols[c].optional) {
            col[c] = 0; /* the default of every layer */
            continue;
        }
        if (st)
            return r_fail(r, SV_ERR_FORMAT, "no column %s", layer_cols[c].name);
        int t = 0;
        LONGLONG rep = 0, width = 0;
        fits_get_eqcoltypell(r->f, col[c], &t, &rep, &width, &st);
        if (st)
            return r_fits(r, st, "cannot read a column description");
        int ok;
        switch (layer_cols[c].type) {
        case 's': ok = t == TSTRING && rep >= 1 && rep <= STRCOL_MAX; break;
        case 'l': ok = t == TLOGICAL && rep == 1; break;
        case 'i': ok = is_int_type(t) && rep == layer_cols[c].repeat; break;
        default: ok = (t == TFLOAT || t == TDOUBLE) && rep == 1; break;
        }
        if (!ok)
            return r_fail(r, SV_ERR_FORMAT, "column %s has type code %d and repeat %lld; "
                                            "expected %s",
                          layer_cols[c].name, t, (long long)rep, layer_cols[c].form);
    }

    char *sval = malloc(STRCOL_MAX + 1);
    if (!sval)
        return r_fail(r, SV_ERR_NOMEM, "out of memory");
    int rc = 0;
    for (LONGLONG row = 1; row <= nrows && !rc; row++) {
        char sv[C_NCOLS][NN_MAX_INPUTS * NN_NAME_MAX + 8];
        long long iv[C_NCOLS][3];
        double fv[C_NCOLS];
        char lv[C_NCOLS];
        for (int c = 0; c < C_NCOLS && !rc; c++) {
            int anynul = 0;
            st = 0;
            if (!col[c]) { /* an optional column the file lacks */
                iv[c][0] = c == C_DILATION ? 1 : 0;
                fv[c] = 0.0;
                continue;
            }
            switch (layer_cols[c].type) {
            case 's': {
                char *arr[1] = {sval};
                sval[0] = '\0';
                fits_read_col_str(r->f, col[c], row, 1, 1, "", arr, &anynul, &st);
                if (st) {
                    rc = r_fits(r, st, "cannot read the LAYERS table");
                    break;
                }
                sval[STRCOL_MAX] = '\0';
                size_t n = strlen(sval);
                while (n > 0 && sval[n - 1] == ' ') /* FITS pads with blanks */
                    sval[--n] = '\0';
                if (n >= (size_t)layer_cols[c].width || !printable(sval))
                    rc = r_fail(r, SV_ERR_FORMAT,
                                "row %lld: %s is over %d characters or not printable ASCII",
                                (long long)row, layer_cols[c].name, layer_cols[c].width - 1);
                else
                    memcpy(sv[c], sval, n + 1);
                break;
            }
            case 'i': {
                LONGLONG x[3] = {0, 0, 0};
                LONGLONG nul = 0;
                fits_read_col(r->f, TLONGLONG, col[c], row, 1, layer_cols[c].repeat, &nul, x,
                              &anynul, &st);
                if (st) {
                    rc = r_fits(r, st, "cannot read the LAYERS table");
                    break;
                }
                for (int k = 0; k < layer_cols[c].repeat; k++)
                    iv[c][k] = x[k];
                break;
            }
            case 'f': {
                double x = 0;
                fits_read_col(r->f, TDOUBLE, col[c], row, 1, 1, NULL, &x, &anynul, &st);
                if (st) {
                    rc = r_fits(r, st, "cannot read the LAYERS table");
                    break;
                }
                if (!isfinite(x) || fabs(x) > 1e30)
                    rc = r_fail(r, SV_ERR_FORMAT, "row %lld: %s is not a finite number",
                                (long long)row, layer_cols[c].name);
                fv[c] = x;
                break;
            }
            case 'l': {
                char x = 0;
                fits_read_col(r->f, TLOGICAL, col[c], row, 1, 1, NULL, &x, &anynul, &st);
                if (st) {
                    rc = r_fits(r, st, "cannot read the LAYERS table");
                    break;
                }
                lv[c] = x ? 1 : 0;
                break;
            }
            }
        }
        if (rc)
            break;

        const char *lname = sv[C_NAME];
        if (!lname[0]) {
            rc = r_fail(r, SV_ERR_FORMAT, "row %lld: empty layer name", (long long)row);
            break;
        }
        int kind = nn_kind_from_name(sv[C_KIND]);
        if (kind < 0) {
            rc = r_fail(r, SV_ERR_FORMAT, "row %lld (layer '%s'): unknown layer kind '%s'",
                        (long long)row, lname, sv[C_KIND]);
            break;
        }
        nn_layer L = nn_layer_defaults((nn_kind)kind, lname);
        int act = nn_act_from_name(sv[C_ACT]), recact = nn_act_from_name(sv[C_RECACT]);
        if (act < 0 || recact < 0) {
            rc = r_fail(r, SV_ERR_FORMAT, "row %lld (layer '%s'): unknown activation '%s'",
                        (long long)row, lname, act < 0 ? sv[C_ACT] : sv[C_RECACT]);
            break;
        }
        L.act = (nn_act)act;
        L.recurrent_act = (nn_act)recact;
        if (!strcmp(sv[C_PADDING], "valid"))
            L.padding = NN_PAD_VALID;
        else if (!strcmp(sv[C_PADDING], "same"))
            L.padding = NN_PAD_SAME;
        else if (!strcmp(sv[C_PADDING], "causal"))
            L.padding = NN_PAD_CAUSAL;
        else {
            rc = r_fail(r, SV_ERR_FORMAT, "row %lld (layer '%s'): unknown padding '%s'",
                        (long long)row, lname, sv[C_PADDING]);
            break;
        }
        static const int int_cols[] = {C_FILTERS, C_UNITS,    C_KH,      C_KW,
                                       C_SH,      C_SW,       C_DEPTHMUL, C_DILATION};
        for (size_t k = 0; k < sizeof int_cols / sizeof int_cols[0]; k++) {
            long long x = iv[int_cols[k]][0];
            if (x < 0 || x > DIM_MAX) {
                rc = r_fail(r, SV_ERR_FORMAT,
                            "row %lld (layer '%s'): %s = %lld is out of range (0..%d)",
                            (long long)row, lname, layer_cols[int_cols[k]].name, x, DIM_MAX);
                break;
            }
        }
        if (rc)
            break;
        if (iv[C_AXIS][0] < -1 || iv[C_AXIS][0] > NN_MAX_RANK || iv[C_RANK][0] < 0 ||
            iv[C_RANK][0] > NN_MAX_RANK) {
            rc = r_fail(r, SV_ERR_FORMAT, "row %lld (layer '%s'): AXIS or RANK out of range",
                        (long long)row, lname);
            break;
        }
        for (int k = 0; k < 3; k++)
            if (iv[C_SHAPE][k] < 0 || iv[C_SHAPE][k] > DIM_MAX) {
                rc = r_fail(r, SV_ERR_FORMAT,
                            "row %lld (layer '%s'): SHAPE entry %lld is out of range (0..%d)",
                            (long long)row, lname, iv[C_SHAPE][k], DIM_MAX);
                break;
            }
        if (rc)
            break;
        L.filters = (int)iv[C_FILTERS][0];
        L.units = (int)iv[C_UNITS][0];
        L.kh = (int)iv[C_KH][0];
        L.kw = (int)iv[C_KW][0];
        L.sh = (int)iv[C_SH][0];
        L.sw = (int)iv[C_SW][0];
        L.depth_multiplier = (int)iv[C_DEPTHMUL][0];
        L.concat_axis = (int)iv[C_AXIS][0];
        L.alpha = (float)fv[C_ALPHA];
        L.rate = (float)fv[C_RATE];
        L.epsilon = (float)fv[C_EPSILON];
        L.momentum = (float)fv[C_MOMENTUM];
        L.dilation = (int)iv[C_DILATION][0];
        L.mask_value = (float)fv[C_MASKVAL];
        L.use_bias = lv[C_USEBIAS];
        L.return_sequences = lv[C_RETSEQ];
        L.reset_after = lv[C_RESETAFT];
        L.trainable = lv[C_TRAINABL];
        int idx = (int)row - 1;
        extra[idx].rank = (int)iv[C_RANK][0];
        for (int k = 0; k < 3; k++)
            extra[idx].shape[k] = (int)iv[C_SHAPE][k];
        if (kind == NN_INPUT) {
            L.rank = extra[idx].rank;
            for (int k = 0; k < 3; k++)
                L.shape[k] = extra[idx].shape[k];
        }
        if ((rc = split_inputs(r, (long long)row, lname, sv[C_INPUTS], net, &L)))
            break;
        sv_error e;
        sv_error_clear(&e);
        int a = nn_net_add(net, &L, &e);
        if (a < 0) {
            rc = r_fail(r, e.status ? e.status : SV_ERR_FORMAT, "row %lld: %s", (long long)row,
                        e.text);
            break;
        }
    }
    free(sval);
    return rc;
}

/* ---- bounding parameters before they are allocated ------------------------ *
 * The same shape rules as nn_net_finalize, used only to know, before any
 * tensor is allocated, how many parameter values the layers would need.
 * Where the shapes stop chaining, bounding stops: nn_net_finalize reports
 * that layer, and no layer after it is ever allocated. */

static int bound_params(rctx *r, const nn_net *net, double *total)
{
    int n = net->n_layers;
    /* copies of the layers that get the shapes (the net itself is not
     * finalised yet) */
    nn_layer *shp = calloc((size_t)(n ? n : 1), sizeof *shp);
    if (!shp)
        return r_fail(r, SV_ERR_NOMEM, "out of memory");
    *total = 0;
    int rc = 0;
    for (int i = 0; i < n && !rc; i++) {
        nn_layer *L = &shp[i];
        *L = net->layers[i];
        L->n_params = 0;
        memset(L->p, 0, sizeof L->p);
        const nn_layer *in[NN_MAX_INPUTS];
        for (int k = 0; k < L->n_in; k++)
            in[k] = &shp[L->in[k]];
        nn_shape sh;
        if (nn_op_infer(L, in, &sh, NULL) || sh.rank < 1)
            break; /* shapes stop chaining here: nn_net_finalize says why */
        double size = 1, np = 0;
        int ok = 1;
        for (int d = 0; d < sh.rank; d++) {
            if (sh.dims[d] <= 0)
                ok = 0;
            size *= sh.dims[d];
        }
        if (!ok)
            break;
        if (size > (double)SV_MODEL_MAX_ACTIVATION) {
            rc = r_fail(r, SV_ERR_FORMAT,
                        "layer '%s' (%s): output of %.0f values per sample (over %ld: absurd "
                        "size)",
                        L->name, nn_kind_name(L->kind), size, SV_MODEL_MAX_ACTIVATION);
            break;
        }
        for (int j = 0; j < sh.n_params; j++) {
            double ps = 1;
            for (int d = 0; d < sh.p[j].rank; d++)
                ps *= sh.p[j].dims[d];
            np += ps;
        }
        L->rank = sh.rank;
        for (int d = 0; d < NN_MAX_RANK; d++)
            L->shape[d] = d < sh.rank ? sh.dims[d] : 0;
        L->out_size = (size_t)size;
        *total += np;
    }
    free(shp);
    return rc;
}

/* ---- weight images ---------------------------------------------------------- */

static void dims_text(char *buf, size_t cap, int rank, const long long *d)
{
    size_t k = (size_t)snprintf(buf, cap, "(");
    for (int i = 0; i < rank && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, i ? ",%lld" : "%lld", d[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, ")");
}

static int read_params(rctx *r, nn_net *net)
{
    int total = 0;
    for (int i = 0; i < net->n_layers; i++)
        total += net->layers[i].n_params;
    char *seen = calloc((size_t)net->n_layers * NN_MAX_PARAMS + 1, 1);
    if (!seen)
        return r_fail(r, SV_ERR_NOMEM, "out of memory");
    int rc = 0, loaded = 0;
    for (int hdu = 3; !rc; hdu++) {
        int type = 0, st = r_move(r, hdu, &type);
        if (st == END_OF_FILE)
            break;
        if (st) {
            rc = r_fits(r, st, "cannot read the HDU header");
            break;
        }
        if ((rc = r_checksum(r)))
            break;
        char *dot = strrchr(r->hduname, '.');
        if (!dot || !strcmp(r->hduname, "no EXTNAME"))
            continue; /* not a parameter: allowed, ignored */
        char lname[80], pname[80];
        snprintf(lname, sizeof lname, "%.*s", (int)(dot - r->hduname), r->hduname);
        snprintf(pname, sizeof pname, "%s", dot + 1);
        int li = nn_net_find(net, lname);
        if (li < 0) {
            rc = r_fail(r, SV_ERR_FORMAT, "the network has no layer '%s'", lname);
            break;
        }
        nn_layer *L = &net->layers[li];
        int pj = -1;
        for (int j = 0; j < L->n_params; j++)
            if (!strcmp(L->p[j].name, pname))
                pj = j;
        if (pj < 0) {
            rc = r_fail(r, SV_ERR_FORMAT, "layer '%s' (%s) has no parameter '%s'", lname,
                        nn_kind_name(L->kind), pname);
            break;
        }
        if (type != IMAGE_HDU) {
            rc = r_fail(r, SV_ERR_FORMAT, "a parameter must be an IMAGE extension");
            break;
        }
        if (seen[li * NN_MAX_PARAMS + pj]) {
            rc = r_fail(r, SV_ERR_FORMAT, "a second image for parameter '%s.%s'", lname, pname);
            break;
        }
        nn_param *p = &L->p[pj];
        int bitpix = 0, naxis = 0;
        st = 0;
        fits_get_img_type(r->f, &bitpix, &st);
        fits_get_img_dim(r->f, &naxis, &st);
        if (st) {
            rc = r_fits(r, st, "cannot read the image description");
            break;
        }
        if (bitpix != FLOAT_IMG) {
            rc = r_fail(r, SV_ERR_FORMAT, "BITPIX = %d; weights are float32 (BITPIX = -32)",
                        bitpix);
            break;
        }
        {
            char c1[FLEN_CARD];
            int s1 = 0, s2 = 0;
            fits_read_card(r->f, "BSCALE", c1, &s1);
            fits_read_card(r->f, "BZERO", c1, &s2);
            if (!s1 || !s2) {
                rc = r_fail(r, SV_ERR_FORMAT, "weights must not be scaled (BSCALE/BZERO)");
                break;
            }
        }
        LONGLONG ax[4] = {0, 0, 0, 0};
        long long want[4], got[4];
        for (int d = 0; d < p->rank; d++)
            want[d] = p->dims[d];
        int rank_ok = naxis == p->rank;
        if (rank_ok) {
            fits_get_img_sizell(r->f, naxis, ax, &st);
            if (st) {
                rc = r_fits(r, st, "cannot read the image size");
                break;
            }
        }
        int same = rank_ok;
        for (int d = 0; d < naxis && d < 4; d++) {
            got[d] = rank_ok ? (long long)ax[naxis - 1 - d] : 0;
            if (rank_ok && got[d] != want[d])
                same = 0;
        }
        if (!same) {
            char a[96], b[96];
            dims_text(b, sizeof b, p->rank, want);
            if (rank_ok) {
                dims_text(a, sizeof a, naxis, got);
                rc = r_fail(r, SV_ERR_FORMAT,
                            "weight image has shape %s (Keras order) but layer '%s' (%s) needs "
                            "%s for '%s'",
                            a, lname, nn_kind_name(L->kind), b, pname);
            } else {
                rc = r_fail(r, SV_ERR_FORMAT,
                            "weight image has NAXIS = %d but parameter '%s' of layer '%s' has "
                            "rank %d %s",
                            naxis, pname, lname, p->rank, b);
            }
            break;
        }
        LONGLONG hs = 0, ds = 0, de = 0;
        fits_get_hduaddrll(r->f, &hs, &ds, &de, &st);
        if (st || ds + (LONGLONG)p->size * 4 > r->fsize) {
            rc = r_fail(r, SV_ERR_IO, "the weight data run past the end of the file (truncated)");
            break;
        }
        if (p->size) {
            int anynul = 0;
            fits_read_img(r->f, TFLOAT, 1, (LONGLONG)p->size, NULL, p->w, &anynul, &st);
            if (st) {
                rc = r_fits(r, st, "cannot read the weights");
                break;
            }
        }
        for (size_t k = 0; k < p->size; k++)
            if (!isfinite(p->w[k])) {
                rc = r_fail(r, SV_ERR_FORMAT, "weight %zu of '%s.%s' is not finite", k, lname,
                            pname);
                break;
            }
        if (rc)
            break;
        seen[li * NN_MAX_PARAMS + pj] = 1;
        loaded++;
    }
    if (!rc && loaded != total) {
        r->hdu = 0;
        for (int i = 0; i < net->n_layers && !rc; i++)
            for (int j = 0; j < net->layers[i].n_params && !rc; j++)
                if (!seen[i * NN_MAX_PARAMS + j])
                    rc = r_fail(r, SV_ERR_FORMAT,
                                "missing image HDU '%s.%s' (weights of layer '%s'; the file is "
                                "truncated or incomplete)",
                                net->layers[i].name, net->layers[i].p[j].name,
                                net->layers[i].name);
    }
    free(seen);
    return rc;
}

/* ---- the whole file ---------------------------------------------------------- */

static int set_net_io(rctx *r, const rhead *h, nn_net *net)
{
    r->hdu = 1;
    snprintf(r->hduname, sizeof r->hduname, "primary");
    int order[NN_MAX_NET_INPUTS], n = 0;
    const char *s = h->netin;
    while (*s) {
        const char *e = strchr(s, ',');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        char nm[NN_NAME_MAX];
        if (len == 0 || len >= sizeof nm || n >= NN_MAX_NET_INPUTS)
            return r_fail(r, SV_ERR_FORMAT, "card NETIN = '%s' is malformed", h->netin);
        memcpy(nm, s, len);
        nm[len] = '\0';
        int idx = nn_net_find(net, nm);
        if (idx < 0 || net->layers[idx].kind != NN_INPUT)
            return r_fail(r, SV_ERR_FORMAT, "card NETIN: '%s' is not an input layer", nm);
        for (int k = 0; k < n; k++)
            if (order[k] == idx)
                return r_fail(r, SV_ERR_FORMAT, "card NETIN lists '%s' twice", nm);
        order[n++] = idx;
        if (!e)
            break;
        s = e + 1;
    }
    if (n != net->n_inputs)
        return r_fail(r, SV_ERR_FORMAT, "card NETIN names %d inputs but the network has %d", n,
                      net->n_inputs);
    for (int k = 0; k < n; k++)
        net->inputs[k] = order[k];
    int out = nn_net_find(net, h->netout);
    if (out < 0)
        return r_fail(r, SV_ERR_FORMAT, "card NETOUT: no layer '%s'", h->netout);
    net->output = out;
    return 0;
}

int sv_model_read_fits(const char *path, sv_model **out, sv_error *err)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return sv_error_set(err, SV_ERR_ARG, "sv_model_read_fits: NULL path or output");
    rctx r;
    memset(&r, 0, sizeof r);
    r.path = path;
    r.err = err;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open the model: %s", path,
                            strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return sv_error_set(err, SV_ERR_IO, "%s: not a regular file", path);
    r.fsize = (long long)sb.st_size;
    if (r.fsize < 2880)
        return sv_error_set(err, SV_ERR_IO,
                            "%s: %lld bytes, too short to be a FITS file (truncated?)", path,
                            r.fsize);
    int st = 0;
    if (sv_fits_guard_file(path, err))
        return err ? err->status : SV_ERR_FORMAT;
    fits_open_diskfile(&r.f, path, READONLY, &st);
    if (st) {
        char t[FLEN_STATUS];
        return sv_error_set(err, st == END_OF_FILE ? SV_ERR_IO : SV_ERR_FORMAT,
                            "%s: cannot open as FITS (cfitsio: %s%s)", path, sv_fits_status_text(st, t),
                            st == END_OF_FILE ? "; the file is truncated" : "");
    }
    sv_model *m = sv_model_new(NULL);
    nn_net *net = nn_net_new();
    rlayer_extra *extra = NULL;
    rhead h;
    memset(&h, 0, sizeof h);
    int rc = 0;
    if (!m || !net) {
        rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    m->n_classes = 0;
    m->classes[0][0] = '\0';
    if ((rc = read_primary(&r, m, &h)))
        goto fail;
    extra = calloc((size_t)h.nlayers, sizeof *extra);
    if (!extra) {
        rc = sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", path);
        goto fail;
    }
    if ((rc = read_layers(&r, &h, net, extra)))
        goto fail;
    if ((rc = set_net_io(&r, &h, net)))
        goto fail;
    double need = 0;
    r.hdu = 2;
    snprintf(r.hduname, sizeof r.hduname, "LAYERS");
    if ((rc = bound_params(&r, net, &need)))
        goto fail;
    if (need > (double)h.nparams) {
        rc = r_fail(&r, SV_ERR_FORMAT,
                    "the layers need at least %.0f parameter values but NPARAMS = %lld "
                    "(hyper-parameters and weights disagree)",
                    need, h.nparams);
        goto fail;
    }
    {
        sv_error e;
        sv_error_clear(&e);
        if (nn_net_finalize(net, &e)) {
            rc = sv_error_set(err, e.status ? e.status : SV_ERR_SHAPE,
                              "%s: the layers do not form a valid network: %s", path, e.text);
            goto fail;
        }
    }
    for (int i = 0; i < net->n_layers; i++) {
        const nn_layer *L = &net->layers[i];
        int same = extra[i].rank == L->rank;
        for (int d = 0; same && d < L->rank; d++)
            same = extra[i].shape[d] == L->shape[d];
        if (!same) {
            rc = r_fail(&r, SV_ERR_FORMAT,
                        "layer '%s': stored output shape (rank %d: %d,%d,%d) differs from the "
                        "computed one (rank %d: %d,%d,%d)",
                        L->name, extra[i].rank, extra[i].shape[0], extra[i].shape[1],
                        extra[i].shape[2], L->rank, L->shape[0], L->shape[1], L->shape[2]);
            goto fail;
        }
        if (L->out_size > (size_t)SV_MODEL_MAX_ACTIVATION) {
            rc = r_fail(&r, SV_ERR_FORMAT, "layer '%s': output of %zu values per sample "
                                           "(absurd size)",
                        L->name, L->out_size);
            goto fail;
        }
    }
    if ((long long)nn_net_count_params(net, 0) != h.nparams) {
        rc = r_fail(&r, SV_ERR_FORMAT, "the network has %zu parameter values but NPARAMS = %lld",
                    nn_net_count_params(net, 0), h.nparams);
        goto fail;
    }
    if ((rc = read_params(&r, net)))
        goto fail;
    {
        char hex[17];
        weight_sum(net, hex);
        if (strcasecmp(hex, h.wtsum)) {
            r.hdu = 1;
            snprintf(r.hduname, sizeof r.hduname, "primary");
            rc = r_fail(&r, SV_ERR_FORMAT,
                        "WTSUM = '%s' but the weights read sum to '%s' (weights replaced or "
                        "damaged)",
                        h.wtsum, hex);
            goto fail;
        }
    }
    m->net = net;
    net = NULL;
    snprintf(m->path, sizeof m->path, "%s", path);
    {
        sv_error e;
        sv_error_clear(&e);
        if (sv_model_validate(m, &e)) {
            rc = sv_error_set(err, e.status, "%s: %s", path, e.text);
            goto fail;
        }
    }
    free(extra);
    st = 0;
    fits_close_file(r.f, &st);
    *out = m;
    return 0;

fail:
    free(extra);
    nn_net_free(net);
    sv_model_free(m);
    st = 0;
    fits_close_file(r.f, &st);
    return rc ? rc : SV_ERR_INTERNAL;
}

int sv_model_fits_is_model(const char *path)
{
    if (!path)
        return 0;
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0;
    fitsfile *f = NULL;
    int st = 0;
    if (sv_fits_guard_file(path, NULL))
        return 0;
    fits_open_diskfile(&f, path, READONLY, &st);
    if (st)
        return 0;
    /* a model's SVFORMAT is its format version, an integer; a labelled-stamps
     * table's is the string 'stampvet-stamps' (stamp_table.h) */
    char value[FLEN_VALUE] = "";
    int s2 = 0;
    fits_read_keyword(f, "SVFORMAT", value, NULL, &s2);
    st = 0;
    fits_close_file(f, &st);
    return s2 == 0 && value[0] != '\'';
}

int sv_model_fits_task(const char *path, sv_task *task)
{
    if (!sv_model_fits_is_model(path))
        return -1;
    fitsfile *f = NULL;
    int st = 0, rc = -1;
    fits_open_diskfile(&f, path, READONLY, &st);
    if (st)
        goto fail;
    char value[FLEN_VALUE] = "";
    sv_task t;
    if (!fits_read_key(f, TSTRING, "TASK", value, NULL, &st) && !sv_task_from_name(value, &t)) {
        *task = t;
        rc = 0;
    }

fail:
    st = 0;
    if (f)
        fits_close_file(f, &st);
    fits_clear_errmsg();
    return rc;
}
