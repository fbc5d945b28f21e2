/* cpu.c — see cpu.h. */
#include "core/cpu.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const isa_names[NN_ISA_COUNT] = {"auto", "generic", "avx2", "avx512",
                                                    "reference"};

const char *nn_isa_name(nn_isa isa)
{
    return (isa >= 0 && isa < NN_ISA_COUNT) ? isa_names[isa] : "unknown";
}

int nn_isa_from_name(const char *name)
{
    if (!name)
        return -1;
    for (int i = 0; i < NN_ISA_COUNT; i++)
        if (!strcmp(name, isa_names[i]))
            return i;
    return -1;
}

/* What was found, once. */
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int has_avx2, has_avx512, requested;
static char requested_text[32];

static void detect(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    has_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    has_avx512 = has_avx2 && __builtin_cpu_supports("avx512f") &&
                 __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
                 __builtin_cpu_supports("avx512dq");
#endif
    const char *env = getenv("STAMPVET_ISA");
    if (!env || !*env) {
        requested = NN_ISA_AUTO;
        return;
    }
    size_t n = strlen(env);
    if (n >= sizeof requested_text)
        n = sizeof requested_text - 1;
    memcpy(requested_text, env, n);
    requested_text[n] = '\0';
    requested = nn_isa_from_name(env);
}

int sv_cpu_can_run(nn_isa isa)
{
    pthread_once(&once, detect);
    switch (isa) {
    case NN_ISA_AUTO:
    case NN_ISA_GENERIC:
    case NN_ISA_REFERENCE:
        return 1;
    case NN_ISA_AVX2:
        return has_avx2;
    case NN_ISA_AVX512:
        return has_avx512;
    default:
        return 0;
    }
}

nn_isa sv_cpu_best(void)
{
    pthread_once(&once, detect);
    return has_avx512 ? NN_ISA_AVX512 : has_avx2 ? NN_ISA_AVX2 : NN_ISA_GENERIC;
}

int sv_isa_requested(const char **text)
{
    pthread_once(&once, detect);
    if (text)
        *text = requested_text;
    return requested;
}
