/* tensor_score.h — scoring prepared sequence tensors with a light-curve
 * model (`stampvet score --tensors`), and writing the result.
 *
 * A tensor file is a FITS image cube of N samples, each T time steps of F
 * features: NAXIS1 = F, NAXIS2 = T, NAXIS3 = N (what numpy's
 * astropy.io.fits writes for an array of shape [N, T, F], the layout of
 * RAPID's and Keras' inputs); NAXIS = 2 is one sample.  Any numeric BITPIX is
 * read as float32 (the network's type); BSCALE/BZERO apply.
 *
 * Steps: a step is padding (masked) when every feature equals the model's
 * mask value (the LCMASK provenance of a Keras Masking layer, else 0, the
 * zero padding of RAPID's inputs).  A sample's "last step" is its last
 * unpadded one.  The model's time length need not equal T: the network is
 * rerun at T (nn_net_with_steps) when it allows it.
 *
 * Thread safety: all functions are reentrant; a result is owned by the
 * caller.
 */
#ifndef SV_TENSOR_SCORE_H
#define SV_TENSOR_SCORE_H

#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_tensor_scores {
    int n, t, k;       /* samples, steps, classes                          */
    int per_step;      /* 1: the model outputs every step; 0: one output
                          per sample (then t = 1 in probs)                  */
    float *probs;      /* n x t x k class probabilities (per_step), or n x k */
    int *last;         /* per sample: its last unpadded step, -1 when every
                          step is padding                                   */
    int *bad;          /* per sample: 1 when its input holds NaN or inf
                          (its probabilities are then NaN)                  */
} sv_tensor_scores;

/* Read the tensor file `path` and score every sample with the light-curve
 * model m, batch samples per network call (on the light-curve fast path
 * when it runs the network, else the reference engine).  Returns 0 with
 * *out filled (free with sv_tensor_scores_free), or a status with err
 * naming the file and the problem: not a FITS image, not 2 or 3 axes, F not
 * the model's feature count, a model that is not a one-input light-curve
 * model, a network whose weights depend on T when T differs. */
int sv_tensor_score_file(const sv_model *m, const char *path, int batch,
                         sv_tensor_scores *out, sv_error *err);

void sv_tensor_scores_free(sv_tensor_scores *s);

/* Write the scores to `path` as a table, atomically (.fits/.fit/.fts: a
 * BINTABLE 'SCORES'; .csv): columns SAMPLE, STEP and one per class (the
 * model's class names), one row per sample at its last step, or with
 * all_steps one row per sample and step.  Samples without an unpadded step
 * or with bad input have NaN (null) probabilities at their last step.
 * Returns 0 or a status with err set; nothing is left at path on error. */
int sv_tensor_scores_write(const sv_model *m, const sv_tensor_scores *s, int all_steps,
                           const char *path, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
