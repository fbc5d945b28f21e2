/* nn_kernels_avx512.c — the inference kernels (nn_kernels_tmpl.h) for
 * AVX-512F with FMA: 16 floats per vector, 32 vector registers.  Compiled for
 * that target here (function attributes), called only when the CPU has it. */
#include "nn/fast/nn_kernels.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

#define KATTR __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define V __m512
#define VW 16
#define VLOAD(p) _mm512_loadu_ps(p)
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VSET1(x) _mm512_set1_ps(x)
#define VZERO() _mm512_setzero_ps()
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VMAX(a, b) _mm512_max_ps((a), (b))
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VSUB(a, b) _mm512_sub_ps((a), (b))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VM __mmask16
#define VCMPGT(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_GT_OQ)
#define VCMPEQ(a, b) _mm512_cmp_ps_mask((a), (b), _CMP_EQ_OQ)
#define VMAND(a, b) ((__mmask16)((a) & (b)))
#define VMANDNOT(a, b) ((__mmask16)((a) & ~(b)))
#define VMSEL(m, a) _mm512_maskz_mov_ps((m), (a))
#define VMALL() ((__mmask16)0xFFFF)
#define KFN(name) nnk_##name##_avx512
#define KFN_ISA_NAME "avx512"
#define NB1_TMAX 28
#define NB2_TMAX 14
#define WINO_MIN_CC 512
#define PEAK_CHAINS 12

#include "nn/fast/nn_kernels_tmpl.h"

const nn_kernels *nn_kernels_avx512(void) { return &KFN(table); }
#else
const nn_kernels *nn_kernels_avx512(void) { return NULL; }
#endif
