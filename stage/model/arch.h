/* arch.h — named network architectures for `stampvet train --arch`.
 *
 *   braai  ZTF's VGG6 real/bogus network (Duev et al. 2019, d6_m7 layout,
 *          layer names as in ZTF's Keras model): input HxWxC (63x63x3),
 *          conv1 3x3x16 relu valid, conv2 3x3x16 relu valid, max_pooling2d 2,
 *          dropout .25, conv3 3x3x32 relu, conv4 3x3x32 relu,
 *          max_pooling2d_1 4, dropout_1 .25, flatten, fc_1 dense 256 relu,
 *          dropout_2 .5, fc_out dense n_out (sigmoid for one output,
 *          softmax for several).  312,081 parameters at 63x63x3 with one
 *          output.
 *   mini   a small net for fast tests and quick experiments: conv1 3x3x8
 *          relu valid, max_pooling2d 2, conv2 3x3x16 relu valid,
 *          max_pooling2d_1 2, flatten, fc_1 dense 32 relu, dropout .25,
 *          fc_out dense n_out.  Fits inputs from 10x10 up.
 *
 * The head (the last layer, always a Dense called "fc_out") is what
 * finetune replaces when the class set changes.
 *
 * Thread safety: reentrant (each call builds its own net).
 */
#ifndef SV_ARCH_H
#define SV_ARCH_H

#include <stdint.h>

#include "nn/nn.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* NULL-terminated list of architecture names. */
const char *const *sv_arch_names(void);

/* Build architecture `name` for an (h, w, c) stamp input and n_out outputs
 * (1: sigmoid, >= 2: softmax), finalised, with Glorot-uniform kernels and
 * zero biases drawn from `seed` (nn_net_init_weights).  Returns 0 and
 * *out (free with nn_net_free), or SV_ERR_ARG (unknown name, bad size) /
 * SV_ERR_SHAPE (input too small for the architecture) / SV_ERR_NOMEM with
 * err set and *out NULL. */
int sv_arch_build(const char *name, int h, int w, int c, int n_out, uint64_t seed,
                  nn_net **out, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
