/* preprocess.h — turning raw stamp triplets into network input.
 *
 * The preprocessing is part of the model (it is stored in the model file):
 * the same stamps give the same scores wherever they are scored.  The steps,
 * in this order (the order braai/ZTF use):
 *   1. NaN / infinite pixels -> nan_fill (their count is reported; note
 *      that numpy's nan_to_num, which braai's Python applies, maps +-inf to
 *      +-FLT_MAX rather than 0: the two differ only on infinite pixels);
 *   2. normalise each channel image independently (norm);
 *   3. centre crop to out_h x out_w when the stamp is larger (crop), or pad
 *      at the END of each axis with pad_value when it is smaller (a stamp cut
 *      at a CCD edge), as ZTF does;
 *   4. interleave the channels in the model's channel order into the
 *      channels-last (H, W, C) network input.
 *
 * Raw stamps are given one channel image at a time, row-major with FITS
 * NAXIS1 (x) fastest, exactly as stored in the FITS cutout (no flip).
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef SV_PREPROCESS_H
#define SV_PREPROCESS_H

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_MAX_CHANNELS 8

typedef enum sv_norm {
    SV_NORM_NONE = 0,
    SV_NORM_L2,        /* whole stamp / its L2 norm (braai d6_m9, ACAI)     */
    SV_NORM_L2_ROWS,   /* each row (along NAXIS1) / its L2 norm, all-zero
                          rows untouched: Keras utils.normalize(a, axis=-1)
                          (braai d6_m7)                                     */
    SV_NORM_MINMAX,    /* (a - min) / (max - min), constant stamp -> 0      */
    SV_NORM_ZSCORE     /* (a - mean) / std, constant stamp -> 0             */
} sv_norm;

/* Channel identities, for the model's channel order. */
typedef enum sv_channel { SV_CH_SCI = 0, SV_CH_REF = 1, SV_CH_DIFF = 2 } sv_channel;

typedef struct sv_preproc {
    int out_h, out_w;                  /* network input size (e.g. 63x63)    */
    int n_channels;                    /* e.g. 3                            */
    sv_channel channel[SV_MAX_CHANNELS]; /* channel order, e.g. SCI,REF,DIFF */
    int stamp_size;                    /* size to cut around a detection
                                          (>= out_h; crop when larger)       */
    float nan_fill;                    /* value for NaN/inf pixels (0)       */
    sv_norm norm;
    float pad_value;                   /* end-padding value (1e-9 for braai) */
    double pixel_scale;                /* arcsec/pixel the model was trained
                                          at, 0 = unknown (no resampling)   */
} sv_preproc;

/* braai's preprocessing: 63x63, SCI,REF,DIFF, stamp_size 63, NaN->0, the
 * given norm, pad 1e-9, pixel_scale 1.01 (ZTF's arcsec/pixel). */
sv_preproc sv_preproc_braai(sv_norm norm);

/* Check a description: out_h, out_w, stamp_size in 1..65536 with
 * stamp_size >= out_h and >= out_w, n_channels in 1..SV_MAX_CHANNELS, each
 * channel a known identity, a known norm, finite nan_fill and pad_value,
 * finite pixel_scale >= 0.  Returns 0 or SV_ERR_FORMAT with err saying which
 * field is wrong.  Reentrant. */
int sv_preproc_validate(const sv_preproc *p, sv_error *err);

/* Names used in model files ("none", "l2", "l2-rows", "minmax", "zscore";
 * "SCI,REF,DIFF"); the parsers return 0 or SV_ERR_FORMAT. */
const char *sv_norm_name(sv_norm norm);
int sv_norm_from_name(const char *name, sv_norm *norm);
int sv_channels_format(const sv_preproc *p, char *buf, int len);
int sv_channels_parse(const char *text, sv_preproc *p, sv_error *err);

/* Normalise one image in place (step 2 alone), h x w floats row-major,
 * already free of NaN.  Float semantics (so that scores equal the Python
 * pipelines' to the last bit where it matters):
 *   l2-rows  as numpy computes Keras utils.normalize(a, axis=-1) on a
 *            float32 array: squares in float32, summed in float32 with
 *            numpy's pairwise summation (8 accumulators, blocks of 128),
 *            sqrtf, a zero norm replaced by 1, then a float32 division;
 *   l2       sum of squares in double, rounded to float, sqrtf, float32
 *            division (numpy's whole-array norm goes through BLAS sdot,
 *            whose order is library-dependent; this is within an ulp); an
 *            all-zero image is left as is;
 *   minmax   (a - min) / (max - min) in float32; constant image -> 0;
 *   zscore   mean and population std (ddof 0) in double, (a - mean) / std
 *            rounded to float; constant image -> 0.
 * Returns 0, or SV_ERR_ARG for bad arguments.  Reentrant. */
int sv_preprocess_normalize(sv_norm norm, float *img, int h, int w);

/* Preprocess one triplet.
 *   chan[c]   raw image for channel identity c (SV_CH_SCI/REF/DIFF), h x w
 *             floats row-major, NaN allowed; only the channels named in
 *             p->channel are read;
 *   h, w      raw stamp size (may differ from out_h/out_w);
 *   out       p->out_h * p->out_w * p->n_channels floats, channels-last;
 *   n_bad     if non-NULL, receives the number of NaN/inf pixels filled,
 *             summed over the channel images read (a channel listed twice
 *             counts twice).
 * Per axis independently: a raw axis longer than the output is cut at
 * offset floor((raw - out) / 2) (centre crop: 63 -> 21 keeps 21..41); a
 * shorter one is copied from index 0 and padded at its end with pad_value
 * (after normalisation, as ZTF pads).
 * scratch must hold h * w floats (the caller owns it: no allocation here).
 * Returns 0, or SV_ERR_ARG for an empty stamp, a NULL pointer (a channel
 * named in p->channel missing from chan included) or an invalid p. */
int sv_preprocess_triplet(const sv_preproc *p, const float *const chan[3],
                          int h, int w, float *out, float *scratch, int *n_bad);

#ifdef __cplusplus
}
#endif
#endif
