/* cpu.h — which instruction set stampvet's kernels use: one policy for the
 * image fast path (nn_plan.c) and the light-curve fast path (lc_infer.c).
 *
 * The CPU's features are detected here, once, and the environment
 * variable STAMPVET_ISA is read here, once per process (the first call):
 *   unset, "" or "auto"  the best the CPU has (AVX-512, else AVX2, else
 *                        portable code);
 *   generic              portable code (and BLAS) only;
 *   avx2, avx512         that ISA (an error where the CPU lacks it);
 *   reference            no fast path: the reference engine.
 * Another value is an error of the function that reads it (nn_plan_new,
 * sv_lc_infer_new) naming the value.  No code path chooses its ISA
 * otherwise (no target_clones/ifunc resolvers: they would dispatch by a
 * second policy and run before sanitizer runtimes start).
 *
 * Thread safety: every function is thread-safe. */
#ifndef SV_CPU_H
#define SV_CPU_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nn_isa {
    NN_ISA_AUTO = 0,     /* the widest the CPU supports                     */
    NN_ISA_GENERIC,      /* portable C (vector extensions), always there    */
    NN_ISA_AVX2,         /* AVX2 + FMA                                      */
    NN_ISA_AVX512,       /* AVX-512 F/VL/BW/DQ + FMA                        */
    NN_ISA_REFERENCE,    /* no fast path: the reference engine (nn_forward) */
    NN_ISA_COUNT
} nn_isa;

/* Name of an ISA ("auto", "generic", "avx2", "avx512", "reference") and the
 * reverse (-1 when unknown). */
const char *nn_isa_name(nn_isa isa);
int nn_isa_from_name(const char *name);

/* 1 when this CPU (and OS) can run the instructions of isa; AUTO, GENERIC
 * and REFERENCE give 1.  Whether a build has kernels for it is the fast
 * paths' business (nn_isa_supported). */
int sv_cpu_can_run(nn_isa isa);

/* The widest ISA this CPU can run: NN_ISA_AVX512, NN_ISA_AVX2 or
 * NN_ISA_GENERIC. */
nn_isa sv_cpu_best(void);

/* STAMPVET_ISA as read at the first call: returns the ISA asked for
 * (NN_ISA_AUTO when unset, empty or "auto"), or -1 when the variable names
 * no ISA; *text (may be NULL) gets the variable's value ("" when unset). */
int sv_isa_requested(const char **text);

#ifdef __cplusplus
}
#endif
#endif
