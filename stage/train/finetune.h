/* finetune.h — transfer learning: fine-tuning a base model on a small
 * labelled set (`stampvet finetune --from BASE.fits`).
 *
 * Steps:
 *   1. copy the base model (network, preprocessing, history);
 *   2. replace the head when the class set changes: the head is the
 *      network's output layer, which must be the last layer and a Dense
 *      layer; it is dropped and a new Dense of the new size is added under
 *      the same name (one sigmoid output for real/bogus, a softmax over k
 *      classes otherwise), Glorot-uniform kernel from `seed`, zero bias.
 *      The class set changes when the task, the number of classes or any
 *      class name (in order) differs;
 *   3. freeze layers by policy:
 *        conv          every convolutional layer (Conv2D, DepthwiseConv2D,
 *                      SeparableConv2D) and every BatchNormalization on
 *                      images is frozen (trainable = 0); dense layers train;
 *        all-but-head  every layer with parameters but the head is frozen;
 *        none          nothing is frozen;
 *      trainable layers other than the head learn at body_lr_scale times
 *      the learning rate (default 0.1 for `none`, 1 otherwise); the head at
 *      the full rate.  Frozen layers stay bit-identical, and keep
 *      trainable = 0 in the saved model (as Keras saves them);
 *   4. train (train.h) on the new data; the model's preprocessing keeps the
 *      base's, except its pixel scale (pre.pixel_scale), which becomes the
 *      fine-tuning data's when that is known (a ZTF model fine-tuned on
 *      ILMT stamps works at ILMT's 0.33"/pixel);
 *   5. record provenance: PARENT (base model name), PARENTCK (its CHECKSUM),
 *      FTDATA (fine-tuning data file), FTNLAB (labelled samples used,
 *      training + validation), FTFREEZE (policy), FTHEAD ('new' or 'kept'),
 *      FTBODYLR, the training cards of sv_train_record, and a HISTORY line.
 *      The base model's own provenance cards are not copied (they describe
 *      the parent, reachable through PARENT); its history lines are kept.
 *
 * Thread safety: reentrant; the base model is only read.
 */
#ifndef SV_FINETUNE_H
#define SV_FINETUNE_H

#include <stdint.h>

#include "data/dataset.h"
#include "model/model.h"
#include "core/sv_error.h"
#include "train/train.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum sv_freeze {
    SV_FREEZE_CONV = 0,
    SV_FREEZE_ALL_BUT_HEAD = 1,
    SV_FREEZE_NONE = 2,
    SV_FREEZE_RECURRENT = 3  /* light-curve models: every GRU layer frozen  */
} sv_freeze;

/* "conv", "all-but-head", "none", "recurrent"; the parser returns 0 or
 * SV_ERR_ARG. */
const char *sv_freeze_name(sv_freeze f);
int sv_freeze_from_name(const char *name, sv_freeze *f);

/* A copy of `base` ready to fine-tune on labels of the given kind
 * (realbogus, or n_classes named classes), with the head replaced when the
 * class set differs (seed draws the new head).  *head_replaced (may be
 * NULL) tells which.  The copy's name is base's name + "-ft", its
 * provenance is empty, its history is base's.  Returns 0 and *out (free
 * with sv_model_free), or a status with err set (the head is not a final
 * Dense layer, too many classes). */
int sv_finetune_prepare(const sv_model *base, int realbogus, int n_classes,
                        const char (*classes)[SV_LABEL_MAX], uint64_t seed, sv_model **out,
                        int *head_replaced, sv_error *err);

/* Index of the head layer of net (the output layer), or -1 when the output
 * is not a Dense layer. */
int sv_finetune_head(const nn_net *net);

/* Apply a freeze policy to m->net (sets every layer's trainable flag) and
 * fill lr_scale (net->n_layers values) with the per-layer learning-rate
 * multipliers: 0 frozen, body_lr_scale for a trainable body layer, 1 for
 * the head.  body_lr_scale < 0 means the default (0.1 for none, 1 for the
 * others).  Returns 0 or SV_ERR_ARG. */
int sv_finetune_freeze(sv_model *m, sv_freeze policy, float body_lr_scale, float *lr_scale,
                       sv_error *err);

typedef struct sv_finetune_config {
    sv_freeze freeze;          /* conv                                       */
    float body_lr_scale;       /* -1: the default above                      */
    sv_train_config train;     /* sv_train_defaults(); its seed also draws a
                                  new head; its layer_lr_scale is ignored    */
    const char *name;          /* new model name, or NULL for base + "-ft"   */
    const char *version;       /* its MODVERS, or NULL: derived when written
                                  (model_fits.h), never the base's           */
} sv_finetune_config;

sv_finetune_config sv_finetune_defaults(void);

/* Fine-tune `base` on `data` (dataset.h; its labels decide the class set):
 * prepare, freeze, train, record provenance (data_path names the data in
 * FTDATA; NULL uses data->origin).  Returns 0 and *out (free with
 * sv_model_free), res filled when non-NULL; or a status with err set. */
int sv_finetune(const sv_model *base, const sv_stamp_source *data, const char *data_path,
                const sv_finetune_config *cfg, sv_model **out, sv_train_result *res,
                sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
