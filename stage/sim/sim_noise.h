/* sim_noise.h — random streams and pixel noise for the survey simulator.
 *
 * Random numbers: every random decision of the simulator draws from a GSL
 * Mersenne Twister (gsl_rng_mt19937) seeded from (seed, stream, index)
 * through the SplitMix64 finaliser, so that stamp i of a set, or row block
 * k of an exposure's noise, has its own independent stream: results do not
 * depend on the number of threads or on the order of work.
 *
 * Noise: a pixel whose expected level is v DN (sky + sources) gets photon
 * noise of variance v/gain and read noise (rn/gain)^2 (DN^2).  Photon
 * noise is drawn as a Poisson variate in electrons when fewer than 30 e-
 * are expected and as its Gaussian limit otherwise.  A reference image made
 * by co-adding nexp exposures (scaled to the science zero point) has the
 * variance divided by nexp; `offset` adds a level to v for the noise only
 * (a background-matched reference whose own sky differs from the level it
 * is displayed at).
 *
 * Thread safety: reentrant; a gsl_rng belongs to one thread at a time.
 */
#ifndef SV_SIM_NOISE_H
#define SV_SIM_NOISE_H

#include <gsl/gsl_rng.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Stream identifiers (the `stream` argument). */
enum {
    SIM_STREAM_STAMP = 1,       /* index = stamp number                    */
    SIM_STREAM_CLASSES = 2,     /* class list shuffle                       */
    SIM_STREAM_CONDITIONS = 3,  /* an exposure's observing conditions       */
    SIM_STREAM_FIELD = 4,       /* an exposure's stars and galaxies         */
    SIM_STREAM_OBJECT = 5,      /* index = detection number                 */
    SIM_STREAM_NOISE_SCI = 6,   /* index = row block                        */
    SIM_STREAM_NOISE_REF = 7,
    SIM_STREAM_DETECTOR = 8     /* an exposure's cosmic rays, hot pixels    */
};

/* A new mt19937 generator for (seed, stream, index) (seeded by
 * sv_stream_seed, core/rng.h); NULL when out of
 * memory.  Free with gsl_rng_free. */
gsl_rng *sim_rng_new(uint64_t seed, uint64_t stream, uint64_t index);

/* Re-seed an existing generator for (seed, stream, index). */
void sim_rng_reseed(gsl_rng *r, uint64_t seed, uint64_t stream, uint64_t index);

typedef struct sim_noise {
    double gain;      /* e- / DN                                    */
    double rn;        /* read noise, e- rms                          */
    double nexp;      /* exposures co-added (1 for a science image)  */
    double offset;    /* DN added to the level for the noise only    */
} sim_noise;

/* Variance (DN^2) of a pixel of expected level v DN. */
static inline double sim_noise_var(const sim_noise *n, double v)
{
    v += n->offset;
    if (v < 0)
        v = 0;
    double r = n->rn / n->gain;
    return (v / n->gain + r * r) / n->nexp;
}

/* img[i] = model[i] + noise, i < npix, drawing from r. */
void sim_noise_add(const sim_noise *n, const float *model, float *img, long npix, gsl_rng *r);

/* The same for a w x h image in blocks of `block_rows` rows, block k
 * drawing from stream (seed, stream, k): the result is independent of the
 * number of threads (up to `threads` POSIX threads are used).  Returns 0,
 * or -1 when a generator or thread cannot be created. */
int sim_noise_add_blocks(const sim_noise *n, const float *model, float *img, int w, int h,
                         uint64_t seed, uint64_t stream, int block_rows, int threads);

#ifdef __cplusplus
}
#endif
#endif
