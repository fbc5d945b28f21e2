/* nn_kernels_generic.c — the inference kernels (nn_kernels_tmpl.h) in
 * portable C: GCC/Clang vector extensions of 4 floats, which the compiler
 * maps onto whatever the build target has (SSE2 on baseline x86-64, NEON,
 * or scalar code).  Always available; CI forces it to test it. */
#include "nn/fast/nn_kernels.h"

#include <string.h>

typedef float nnk_v4 __attribute__((vector_size(16)));

static inline nnk_v4 nnk_load4(const float *p)
{
    nnk_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void nnk_store4(float *p, nnk_v4 v) { memcpy(p, &v, sizeof v); }
static inline nnk_v4 nnk_set4(float x) { return (nnk_v4){x, x, x, x}; }
typedef int nnk_i4 __attribute__((vector_size(16)));
static inline nnk_v4 nnk_max4(nnk_v4 a, nnk_v4 b)
{
    nnk_i4 m = a > b; /* lanes of -1 where a > b */
    return (nnk_v4)(((nnk_i4)a & m) | ((nnk_i4)b & ~m));
}

#define KATTR
#define V nnk_v4
#define VW 4
#define VLOAD(p) nnk_load4(p)
#define VSTORE(p, v) nnk_store4((p), (v))
#define VSET1(x) nnk_set4(x)
#define VZERO() nnk_set4(0.0f)
#define VFMA(a, b, c) ((a) * (b) + (c))
#define VMAX(a, b) nnk_max4((a), (b))
#define VADD(a, b) ((a) + (b))
#define VSUB(a, b) ((a) - (b))
#define VMUL(a, b) ((a) * (b))
#define VM nnk_i4
#define VCMPGT(a, b) ((nnk_i4)((a) > (b)))
#define VCMPEQ(a, b) ((nnk_i4)((a) == (b)))
#define VMAND(a, b) ((a) & (b))
#define VMANDNOT(a, b) ((a) & ~(b))
#define VMSEL(m, a) ((nnk_v4)((nnk_i4)(a) & (m)))
#define VMALL() ((nnk_i4){-1, -1, -1, -1})
#define KFN(name) nnk_##name##_generic
#define KFN_ISA_NAME "generic"
#define NB1_TMAX 12
#define NB2_TMAX 6
#define WINO_MIN_CC 256
#define PEAK_CHAINS 12

#include "nn/fast/nn_kernels_tmpl.h"

const nn_kernels *nn_kernels_generic(void) { return &KFN(table); }
