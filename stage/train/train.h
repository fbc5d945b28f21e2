/* train.h — training a stamp model: the loop behind `stampvet train`,
 * `finetune` and `compare`.
 *
 * What one call of sv_train does, in order:
 *   1. checks that the model (its network, task, classes and preprocessing)
 *      and the source (dataset.h) agree;
 *   2. splits the source into training and validation samples, stratified
 *      by class and deterministic by seed (or uses cfg->val_source);
 *   3. weights the classes: 'balanced' gives class c the weight
 *      n / (k * n_c) over the training samples (scikit-learn's and Keras'
 *      convention), 'none' gives 1, 'custom' takes cfg->custom_weight;
 *   4. for each epoch: shuffles the training samples, cuts them into
 *      minibatches, and for each minibatch fetches the raw triplets,
 *      applies a random dihedral transform per sample (one of the 8 flips
 *      and rotations by 90 degrees, the same for the three channels; flips
 *      only for non-square stamps) when augmenting, preprocesses them with
 *      the model's own preprocessing, runs forward and backward and takes
 *      one optimiser step (Adam by default) on the class-weighted
 *      cross-entropy: binary (BCE) for a real/bogus model's sigmoid output,
 *      categorical (CCE) for a softmax class model;
 *   5. after each epoch: evaluates the validation samples (no augmentation,
 *      dropout off), calls cfg->progress with the epoch's figures and stops
 *      early when the validation loss has not improved by more than
 *      min_delta for `patience` epochs; the weights of the best epoch are
 *      then restored (early-stopping "restore best weights").
 *
 * Reproducibility.  With the same seed, data, model and configuration the
 * resulting weights are bit-identical whatever the thread count: each
 * minibatch is cut into cfg->slices fixed slices by sample position (not
 * by thread), each slice runs in its own workspace, and slice gradients
 * are summed in slice order before the step.  Shuffles, augmentation
 * choices and dropout masks come from generators seeded by (seed, epoch,
 * step, slice).  Changing cfg->slices changes the summation order and so
 * the last bits of the result (it is part of the recipe, not a speed knob:
 * threads is the speed knob, up to slices threads are used).
 *
 * Engine.  Networks the training fast path covers (nn_train.h: chains of
 * Conv2D, pools, Dropout, Activation, Flatten and Dense, e.g. braai) run on
 * it; every other network (BatchNormalization, several inputs, GRU ...) on
 * the reference engine (nn_engine.h); STAMPVET_ISA=reference forces the
 * latter.  Both give the same training to float rounding
 * (tests/test_nn_train.c).  The optimiser updates m->net in both cases.
 *
 * BatchNormalization layers that train use per-slice statistics ("ghost
 * batches"); each slice runs on its own copy of the network and the moving
 * statistics are averaged over the slices in slice order after each step.
 *
 * Thread safety: sv_train uses and modifies m->net; nothing else may use
 * that model during the call.  Distinct models may train concurrently.
 * The library prints nothing: progress goes through the callback.
 */
#ifndef SV_TRAIN_H
#define SV_TRAIN_H

#include <stdint.h>

#include "data/dataset.h"
#include "model/model.h"
#include "core/cpu.h"
#include "nn/nn_engine.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_TRAIN_MAX_EPOCHS 1000

typedef enum sv_class_weight_mode {
    SV_CW_BALANCED = 0,  /* n / (k n_c)                                     */
    SV_CW_NONE = 1,      /* all 1                                           */
    SV_CW_CUSTOM = 2     /* cfg->custom_weight                              */
} sv_class_weight_mode;

/* The figures of one epoch. */
typedef struct sv_epoch_stats {
    int epoch;              /* 1-based                                      */
    double loss;            /* mean class-weighted training loss (with
                               augmentation and dropout, as Keras reports)  */
    double accuracy;        /* training accuracy over the same passes       */
    double val_loss;        /* class-weighted, NaN without validation       */
    double val_accuracy;    /* NaN without validation                       */
    double seconds;         /* wall time of the epoch (training + validation)*/
    double stamps_per_s;    /* training samples / training wall time        */
    int best;               /* 1: best validation loss so far               */
} sv_epoch_stats;

/* Called after every epoch; return non-zero to stop training (the best
 * weights are still restored). */
typedef int (*sv_train_progress_fn)(const sv_epoch_stats *e, void *user);

typedef struct sv_train_config {
    int epochs;               /* maximum number of epochs (30)              */
    int batch;                /* minibatch size (64)                        */
    nn_opt_config opt;        /* optimiser (Adam, lr 1e-3, Keras betas)     */
    double val_fraction;      /* validation share of the source (0.1); 0 =
                                 none (no early stopping, last weights)     */
    const sv_stamp_source *val_source; /* explicit validation set (then
                                 val_fraction is ignored), or NULL          */
    int patience;             /* epochs without improvement before stopping
                                 (5); 0 = never stop early                  */
    double min_delta;         /* improvement that counts (0)                */
    int augment;              /* 1: random dihedral transforms (1)          */
    sv_class_weight_mode class_weight; /* balanced                          */
    float custom_weight[SV_MAX_CLASSES]; /* per label, for SV_CW_CUSTOM     */
    uint64_t seed;            /* everything random derives from it (1)      */
    int threads;              /* worker threads (1); results do not depend
                                 on it                                      */
    int slices;               /* fixed slices per minibatch (4); part of the
                                 recipe (see above), 1..64                  */
    const float *layer_lr_scale; /* per layer of m->net: learning-rate
                                 multiplier (0 freezes), or NULL = all 1    */
    sv_train_progress_fn progress; /* or NULL                               */
    void *progress_user;
    nn_isa isa;               /* NN_ISA_AUTO (default): STAMPVET_ISA or the
                                 best the CPU has (cpu.h); NN_ISA_REFERENCE:
                                 the reference engine only                 */
} sv_train_config;

/* The defaults given above. */
sv_train_config sv_train_defaults(void);

typedef struct sv_train_result {
    int epochs_run;           /* epochs completed                           */
    int best_epoch;           /* 1-based epoch whose weights the model has  */
    int stopped_early;        /* 1: patience ran out (or progress said stop)*/
    long n_train, n_val;      /* samples used                               */
    double best_val_loss;     /* NaN without validation                     */
    double best_val_accuracy;
    int n_weights;            /* k                                          */
    float class_weight[SV_MAX_CLASSES]; /* the weights used, per label      */
    double seconds;           /* total wall time                            */
    double stamps_per_s;      /* training samples processed / training time */
    int n_history;
    sv_epoch_stats history[SV_TRAIN_MAX_EPOCHS];
} sv_train_result;

/* Train m->net in place on `train`.  The source's labels must match the
 * model: a real/bogus model (one sigmoid output) needs a real/bogus source;
 * a class model needs a source with the same class names in the same
 * order.  The model's preprocessing (m->pre) turns the source's raw
 * stamps into the network input.  res may be NULL.  Returns 0, or a status
 * with err set (a mismatch, too few samples, a source or engine error,
 * SV_ERR_CANCELLED is never returned for a progress stop).  On failure the
 * weights are unspecified. */
int sv_train(sv_model *m, const sv_stamp_source *train, const sv_train_config *cfg,
             sv_train_result *res, sv_error *err);

/* Record a finished training in the model's provenance and history:
 * TRDATA (data file, cut to fit), TRNTRAIN, TRNVAL, TRSEED, TRBATCH, TRLR,
 * TROPT, TRAUG, TRCLSWT, TREPOCHS (run), TRBEST (best epoch), VALLOSS,
 * VALACC, plus CREATOR (stampvet version) and DATE (UTC, ISO 8601), and a
 * HISTORY line.  `what` names the step ("train", "finetune").  Returns 0 or
 * SV_ERR_ARG when the provenance table is full. */
int sv_train_record(sv_model *m, const char *what, const char *data_path,
                    const sv_train_config *cfg, const sv_train_result *res);

/* Apply the dihedral transform t (0..7) to one h x w plane: bit 0 flips x
 * (columns), bit 1 flips y (rows), bit 2 transposes first (needs h == w).
 * out must not alias in.  Reentrant. */
void sv_dihedral(const float *in, float *out, int h, int w, int t);

#ifdef __cplusplus
}
#endif
#endif
