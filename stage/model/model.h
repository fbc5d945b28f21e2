/* model.h — a stampvet model: a network plus what is needed to use it.
 *
 * A model is an nn_net together with its task, class names, input
 * description (stamp size, channel order, feature names), preprocessing and
 * provenance.  It is stored as one FITS file (model_fits.h); Keras models are
 * imported into it (keras_import.h).
 *
 * Thread safety: a loaded model is read-only for scoring; many threads may
 * score with it at once, each with its own nn_workspace.
 */
#ifndef SV_MODEL_H
#define SV_MODEL_H

#include "nn/nn.h"
#include "model/lc_prep.h"
#include "model/preprocess.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_MODEL_FORMAT_VERSION 1
#define SV_MAX_CLASSES 32
#define SV_MAX_FEATURES 64
#define SV_MAX_PROVENANCE 32
#define SV_LABEL_MAX 32
#define SV_MAX_HISTORY 128

typedef enum sv_task {
    SV_TASK_REALBOGUS = 0,  /* one sigmoid output: P(real)                  */
    SV_TASK_CLASS = 1,      /* softmax over classes (or one sigmoid per head) */
    SV_TASK_LIGHTCURVE = 2  /* light-curve classifier (sequence input)      */
} sv_task;

typedef struct sv_model {
    nn_net *net;                         /* owned                           */
    sv_task task;
    char name[64];                       /* e.g. "braai-d6_m7", "rb-ztf"    */
    char version[64];                    /* MODVERS: as surveys record it
                                            beside a score (ZTF drbversion);
                                            "" = the writer derives one      */
    int n_classes;                       /* realbogus: 1 ("real")           */
    char classes[SV_MAX_CLASSES][SV_LABEL_MAX]; /* in output order         */
    int multilabel;                      /* 1: independent sigmoid heads     */

    /* stamp input (network input 0 for stamp models) */
    sv_preproc pre;

    /* light-curve input (task lightcurve): the sequence input 0 and the
     * metadata input 1, declared in the model file (lc_prep.h; mode none
     * when a light-curve model declares no preprocessing) */
    sv_lcprep lc;

    /* feature-vector input (network input 1), in order */
    int n_features;
    char features[SV_MAX_FEATURES][SV_LABEL_MAX];

    /* provenance as FITS-card-like key/value pairs (created by, date, data,
     * parent model and its checksum, source file and checksum, figures) */
    int n_prov;
    char prov_key[SV_MAX_PROVENANCE][9];
    char prov_val[SV_MAX_PROVENANCE][72];

    /* free-text history, oldest first (HISTORY cards of the model file):
     * import, training and fine-tuning steps */
    int n_history;
    char history[SV_MAX_HISTORY][72];

    char checksum[32];                   /* CHECKSUM of the primary HDU as
                                            read or written ("" if none)    */
    char path[512];                      /* file it was read from, or ""   */
} sv_model;

/* A new empty model owning `net` (which may be NULL for now), or NULL when
 * out of memory.  Defaults: task realbogus, one class "real", no features,
 * no provenance, preprocessing all zero except norm none (the caller sets
 * it, e.g. pre = sv_preproc_braai(...)). */
sv_model *sv_model_new(nn_net *net);
/* sv_model_free: stampvet.h. */

/* The model's version as surveys record it beside a score (ZTF's
 * drbversion): its version (MODVERS: braai's "d6_m7", a trained model's
 * "<name>_<8 hex digits of WTSUM>") when it has one, else (a file written
 * before every writer filled MODVERS) the name alone.  Writes at most cap
 * bytes. */
void sv_model_label(const sv_model *m, char *out, size_t cap);

/* "realbogus", "class", "lightcurve"; the parser returns 0 or
 * SV_ERR_FORMAT. */
const char *sv_task_name(sv_task task);
int sv_task_from_name(const char *name, sv_task *task);

/* Set (replace or add) a provenance pair.  Keys are upper-cased and cut to
 * 8 characters, values to 71; characters outside printable ASCII in the
 * value become '?'.  Returns 0, or SV_ERR_ARG when full, when the key is
 * empty or has characters other than A-Z 0-9 '-' '_', or when it is a card
 * the model file itself uses (sv_model_fits_key_reserved: SVFORMAT, TASK,
 * NCLASS, CLASSn, CHECKSUM, ...).  Not thread-safe on the same model. */
int sv_model_set_prov(sv_model *m, const char *key, const char *value);
/* The value for key (compared case-insensitively), or NULL. */
const char *sv_model_get_prov(const sv_model *m, const char *key);

/* Append a history line (cut to 71 characters, non-printable characters
 * become '?').  Returns 0, or SV_ERR_ARG when SV_MAX_HISTORY lines are
 * already there.  Not thread-safe on the same model. */
int sv_model_add_history(sv_model *m, const char *line);

/* Check that the model's description agrees with its network: stamp input
 * shape equals pre.out_h x pre.out_w x pre.n_channels, the output size equals
 * n_classes, the feature input size equals n_features.  Returns 0 or
 * SV_ERR_SHAPE with err saying which.
 * In detail:
 *   - the net exists and is finalised; n_classes in 1..SV_MAX_CLASSES (1 for
 *     realbogus), class and feature names non-empty;
 *   - realbogus / class: the preprocessing passes sv_preproc_validate
 *     (SV_ERR_FORMAT otherwise); network input 0 is (out_h, out_w,
 *     n_channels); with features, there are exactly two inputs and input 1
 *     is (n_features); without, exactly one input; the output is
 *     (n_classes);
 *   - lightcurve: input 0 is a sequence (T, F) with F = n_features when
 *     features are named; the output's last axis is n_classes.
 * Reentrant (reads only). */
int sv_model_validate(const sv_model *m, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
