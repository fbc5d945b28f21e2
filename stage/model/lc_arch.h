/* lc_arch.h — the light-curve classifier's network (`stampvet train
 * --lightcurves`, `--arch gru`).
 *
 * As in Muthukrishna & Gupta (2025), after RAPID (Muthukrishna et al.
 * 2019): GRU layers over the sequence, a parallel dense branch over the
 * metadata, the two concatenated, then dense layers to a softmax over the
 * classes:
 *
 *   lc_input (T, F) -> gru_1 GRU(units, return_sequences) -> ... ->
 *   gru_<n> GRU(units, last state)                                  \
 *   meta_input (M) -> meta_dense Dense(meta_units, relu)            -> concat
 *   concat -> fc_1 Dense(dense_units, relu) -> dropout -> fc_out Dense(k, softmax)
 *
 * Without metadata (M = 0) there is no meta branch and no concat.  The GRU
 * layers use reset_after = 1 and the sigmoid recurrent activation (Keras 2
 * under TF2 and PyTorch), tanh candidate.  The head is the final Dense
 * "fc_out", which finetune replaces when the class set changes; the
 * recurrent layers are what `--freeze recurrent` freezes.
 *
 * Thread safety: reentrant.
 */
#ifndef SV_LC_ARCH_H
#define SV_LC_ARCH_H

#include <stdint.h>

#include "nn/nn.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_lc_arch {
    int gru_layers;    /* 2 (1..4)                                        */
    int units;         /* GRU units (64)                                  */
    int meta_units;    /* meta branch width (32)                          */
    int dense_units;   /* fc_1 width (64)                                 */
    float dropout;     /* before the head (0.2)                           */
    int reset_after;   /* 1                                               */
} sv_lc_arch;

sv_lc_arch sv_lc_arch_defaults(void);

/* Build the network for a (T, F) sequence, M metadata values (0: none) and
 * k >= 2 classes, finalised, Glorot / orthogonal weights from seed.
 * Returns 0 and *out, or SV_ERR_ARG / SV_ERR_NOMEM with err set. */
int sv_lc_arch_build(const sv_lc_arch *a, int T, int F, int M, int k, uint64_t seed,
                     nn_net **out, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
