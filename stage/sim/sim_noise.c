/* sim_noise.c — random streams and pixel noise (see sim_noise.h). */
#include "sim/sim_noise.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>

#include "core/rng.h"

void sim_rng_reseed(gsl_rng *r, uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t z = sv_stream_seed(seed, stream, index);
    unsigned long s = (unsigned long)(z ^ (z >> 32)) & 0xffffffffUL;
    gsl_rng_set(r, s ? s : 4357UL); /* mt19937 treats 0 as its default */
}

gsl_rng *sim_rng_new(uint64_t seed, uint64_t stream, uint64_t index)
{
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (r)
        sim_rng_reseed(r, seed, stream, index);
    return r;
}

void sim_noise_add(const sim_noise *n, const float *model, float *img, long npix, gsl_rng *r)
{
    double rn = n->rn / n->gain;
    for (long i = 0; i < npix; i++) {
        double v = model[i] + n->offset;
        if (v < 0)
            v = 0;
        double e = v * n->gain * n->nexp; /* electrons collected in total */
        double out;
        if (e < 30.0 && n->nexp == 1.0) {
            unsigned int k = gsl_ran_poisson(r, e);
            out = model[i] + ((double)k - e) / n->gain + gsl_ran_gaussian_ziggurat(r, rn);
        } else {
            double sd = sqrt((v / n->gain + rn * rn) / n->nexp);
            out = model[i] + gsl_ran_gaussian_ziggurat(r, sd);
        }
        img[i] = (float)out;
    }
}

typedef struct block_job {
    const sim_noise *n;
    const float *model;
    float *img;
    int w, h, block_rows, nblocks, first, step;
    uint64_t seed, stream;
    int failed;
} block_job;

static void *block_worker(void *arg)
{
    block_job *j = arg;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) {
        j->failed = 1;
        return NULL;
    }
    for (int b = j->first; b < j->nblocks; b += j->step) {
        sim_rng_reseed(r, j->seed, j->stream, (uint64_t)b);
        int y0 = b * j->block_rows, y1 = y0 + j->block_rows;
        if (y1 > j->h)
            y1 = j->h;
        long off = (long)y0 * j->w;
        sim_noise_add(j->n, j->model + off, j->img + off, (long)(y1 - y0) * j->w, r);
    }
    gsl_rng_free(r);
    return NULL;
}

int sim_noise_add_blocks(const sim_noise *n, const float *model, float *img, int w, int h,
                         uint64_t seed, uint64_t stream, int block_rows, int threads)
{
    if (block_rows < 1)
        block_rows = 64;
    int nblocks = (h + block_rows - 1) / block_rows;
    if (threads < 1)
        threads = 1;
    if (threads > nblocks)
        threads = nblocks > 0 ? nblocks : 1;
    block_job jobs[64];
    pthread_t tid[64];
    if (threads > 64)
        threads = 64;
    for (int t = 0; t < threads; t++)
        jobs[t] = (block_job){n, model, img, w, h, block_rows, nblocks, t, threads, seed, stream, 0};
    int failed = 0;
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tid[t], NULL, block_worker, &jobs[t]) != 0) {
            /* do its share here instead */
            jobs[t].failed = -1;
        }
    }
    block_worker(&jobs[0]);
    for (int t = 1; t < threads; t++) {
        if (jobs[t].failed == -1) {
            jobs[t].failed = 0;
            block_worker(&jobs[t]);
        } else
            pthread_join(tid[t], NULL);
    }
    for (int t = 0; t < threads; t++)
        failed |= jobs[t].failed;
    return failed ? -1 : 0;
}
