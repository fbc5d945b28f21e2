/* nn_layer_input.c — the network inputs: a per-sample shape given by the
 * caller (rank and shape of the nn_layer), no producers; the engine copies
 * the caller's batch into its output.  See nn/nn_ops.h. */
#include "nn/nn_ops.h"

static int input_check(nn_layer *L, sv_error *err)
{
    if (L->rank < 1 || L->rank > NN_MAX_RANK)
        return sv_error_set(err, SV_ERR_SHAPE, "layer '%s' (input): rank %d not in 1..%d",
                            L->name, L->rank, NN_MAX_RANK);
    for (int d = 0; d < L->rank; d++)
        if (nn_bad_dim(L->shape[d]))
            return sv_error_set(err, SV_ERR_SHAPE,
                                "layer '%s' (input): dimension %d is %d (must be 1..%d)",
                                L->name, d, L->shape[d], NN_DIM_LIMIT);
    return 0;
}

static int input_shape(const nn_layer *L, const nn_layer *const *in, nn_shape *out,
                       sv_error *err)
{
    (void)in;
    (void)err;
    nn_shape_set(out, L->rank, L->shape);
    return 0;
}

static const char *const input_aliases[] = {"inputlayer", NULL};

const nn_op nn_op_input = {
    .name = "input",
    .aliases = input_aliases,
    .n_in_min = 0,
    .n_in_max = 0,
    .check = input_check,
    .shape = input_shape,
};
