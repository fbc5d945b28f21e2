/* rng.c — seed hashes and the shuffle (rng.h). */
#include "core/rng.h"

uint64_t sv_seed_mix(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    sv_rng r = {seed ^ 0x6a09e667f3bcc908ULL};
    uint64_t h = sv_rng_next(&r);
    r.s = h ^ (a * SV_RNG_GOLDEN);
    h = sv_rng_next(&r);
    r.s = h ^ (b * 0xc2b2ae3d27d4eb4fULL);
    h = sv_rng_next(&r);
    r.s = h ^ (c * 0x165667b19e3779f9ULL);
    return sv_rng_next(&r);
}

uint64_t sv_stream_seed(uint64_t seed, uint64_t stream, uint64_t index)
{
    uint64_t z = seed ^ (stream * SV_RNG_GOLDEN);
    z += (index + 1) * 0xD1B54A32D192ED03ull;
    for (int k = 0; k < 2; k++)
        z = sv_mix64(z + SV_RNG_GOLDEN);
    return z;
}

void sv_shuffle(sv_rng *r, long *idx, long n)
{
    for (long i = n - 1; i > 0; i--) {
        long j = (long)sv_rng_below(r, (uint64_t)i + 1);
        long t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}
