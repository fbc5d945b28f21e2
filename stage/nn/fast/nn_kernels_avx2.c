/* nn_kernels_avx2.c — the inference kernels (nn_kernels_tmpl.h) for AVX2
 * with FMA: 8 floats per vector, 16 vector registers.  Compiled for that
 * target here (function attributes), called only when the CPU has it. */
#include "nn/fast/nn_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define KATTR __attribute__((target("avx2,fma")))
#define V __m256
#define VW 8
#define VLOAD(p) _mm256_loadu_ps(p)
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VSET1(x) _mm256_set1_ps(x)
#define VZERO() _mm256_setzero_ps()
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VMAX(a, b) _mm256_max_ps((a), (b))
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VSUB(a, b) _mm256_sub_ps((a), (b))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VM __m256
#define VCMPGT(a, b) _mm256_cmp_ps((a), (b), _CMP_GT_OQ)
#define VCMPEQ(a, b) _mm256_cmp_ps((a), (b), _CMP_EQ_OQ)
#define VMAND(a, b) _mm256_and_ps((a), (b))
#define VMANDNOT(a, b) _mm256_andnot_ps((b), (a))
#define VMSEL(m, a) _mm256_and_ps((m), (a))
#define VMALL() _mm256_castsi256_ps(_mm256_set1_epi32(-1))
#define KFN(name) nnk_##name##_avx2
#define KFN_ISA_NAME "avx2"
#define NB1_TMAX 12
#define NB2_TMAX 6
#define WINO_MIN_CC 256
#define PEAK_CHAINS 10

#include "nn/fast/nn_kernels_tmpl.h"

const nn_kernels *nn_kernels_avx2(void) { return &KFN(table); }
#else
const nn_kernels *nn_kernels_avx2(void) { return NULL; }
#endif
