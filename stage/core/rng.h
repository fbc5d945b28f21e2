/* rng.h — the deterministic random generators and seed hashes of stampvet.
 *
 * Every random stream of the project comes from here, so that a seeded run
 * (training, simulation, a test's data) gives the same numbers on every
 * platform and compiler:
 *
 *   sv_rng       SplitMix64 (one 64-bit word of state): shuffles, splits,
 *                augmentation choices, test and benchmark data;
 *   sv_xoshiro   xoshiro256** seeded by SplitMix64 (four words): dropout
 *                masks and weight initialisation in the NN engine;
 *   sv_lcg64     Knuth's MMIX linear congruential step: cheap wandering
 *                (simulated cosmic-ray worms), fuzzing offsets;
 *   sv_lcg32     the ANSI C example LCG (1103515245, 12345): benchmark
 *                inputs;
 *   sv_seed_mix, sv_stream_seed   64-bit hashes of a seed and stream
 *                numbers, to derive independent generator seeds.
 * The simulator's Gaussian and Poisson draws use GSL's mt19937, seeded
 * through sv_stream_seed (sim/sim_noise.h).
 *
 * Level 0 (core): no dependency but the C library.
 *
 * Thread safety: every function is reentrant; a generator's state belongs
 * to one thread at a time.
 */
#ifndef SV_RNG_H
#define SV_RNG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The SplitMix64 increment (2^64 / golden ratio). */
#define SV_RNG_GOLDEN 0x9e3779b97f4a7c15ULL

/* The SplitMix64 output function (a 64-bit finaliser) of z.
 * Returned: the mixed value.  Reentrant. */
static inline uint64_t sv_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* One SplitMix64 step on the state word *x (advanced).  Returns the next
 * output. */
static inline uint64_t sv_splitmix64(uint64_t *x)
{
    return sv_mix64(*x += SV_RNG_GOLDEN);
}

/* Given 53 random bits in the top of u, a double uniform in [0, 1). */
static inline double sv_rng_u01(uint64_t u)
{
    return (double)(u >> 11) * (1.0 / 9007199254740992.0);
}

/* ---- SplitMix64 ----------------------------------------------------------- */

/* The generator: s is its whole state; {seed} starts it. */
typedef struct sv_rng {
    uint64_t s;
} sv_rng;

/* Next 64-bit output (the state advances). */
static inline uint64_t sv_rng_next(sv_rng *r)
{
    return sv_splitmix64(&r->s);
}

/* Uniform integer in 0..n-1 (n >= 1), by 128-bit multiply (Lemire). */
static inline uint64_t sv_rng_below(sv_rng *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)sv_rng_next(r) * n) >> 64);
}

/* Uniform double in [0, 1) (53 bits). */
static inline double sv_rng_uniform(sv_rng *r)
{
    return sv_rng_u01(sv_rng_next(r));
}

/* Shuffle idx[0..n-1] in place (Fisher-Yates, sv_rng_below). */
void sv_shuffle(sv_rng *r, long *idx, long n);

/* ---- xoshiro256** ---------------------------------------------------------- */

typedef struct sv_xoshiro {
    uint64_t s[4];
} sv_xoshiro;

/* Seed the four state words from SplitMix64(seed). */
static inline void sv_xoshiro_seed(sv_xoshiro *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = sv_splitmix64(&x);
}

/* Next 64-bit output (the state advances). */
static inline uint64_t sv_xoshiro_next(sv_xoshiro *r)
{
    uint64_t *s = r->s;
    uint64_t x = s[1] * 5;
    uint64_t result = ((x << 7) | (x >> 57)) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = (s[3] << 45) | (s[3] >> 19);
    return result;
}

/* Uniform double in [0, 1) (53 bits). */
static inline double sv_xoshiro_uniform(sv_xoshiro *r)
{
    return sv_rng_u01(sv_xoshiro_next(r));
}

/* ---- linear congruential steps -------------------------------------------- */

/* Knuth's MMIX LCG: *s = *s * 6364136223846793005 + 1442695040888963407.
 * Returns the new state (use its high bits). */
static inline uint64_t sv_lcg64_next(uint64_t *s)
{
    return *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
}

/* The ANSI C example LCG: *s = *s * 1103515245 + 12345 (mod 2^32).
 * Returns the new state (use its high bits). */
static inline uint32_t sv_lcg32_next(uint32_t *s)
{
    return *s = *s * 1103515245u + 12345u;
}

/* ---- seed hashes ------------------------------------------------------------ */

/* A 64-bit hash of (seed, a, b, c), for deriving independent deterministic
 * generator seeds (split, epoch shuffles, augmentation, dropout). */
uint64_t sv_seed_mix(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);

/* A 64-bit hash of (seed, stream, index) (two SplitMix64 rounds), the seed
 * of the simulator's stream `stream` for item `index` (sim/sim_noise.h). */
uint64_t sv_stream_seed(uint64_t seed, uint64_t stream, uint64_t index);

#ifdef __cplusplus
}
#endif
#endif
