/* nn_blas.c — the BLAS thread policy (nn_engine.h: nn_blas_single_thread).
 * Its own file: cblas.h brings <complex.h>, whose I the engine uses as a name. */
#include "nn/nn_engine.h"

#include <cblas.h>

void nn_blas_single_thread(void) { openblas_set_num_threads(1); }
