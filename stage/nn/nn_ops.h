/* nn_ops.h — the layer-kind registry: one descriptor (nn_op) per kind.
 *
 * Everything the engine, the model file, the printouts and the importers
 * need to know about a layer kind lives in one file,
 * stage/nn/ops/nn_layer_<kind>.c, which defines one `const nn_op`.  The
 * registry stage/nn/ops/nn_ops_list.h has one line per kind,
 *
 *     NN_OP(NN_CONV2D, 1, nn_op_conv2d)
 *
 * (enum name, its numeric value, descriptor), from which nn.h makes the
 * nn_kind enum and stage/nn/ops/nn_ops.c the descriptor table.  Adding a
 * kind is: its file, one registry line (a new value, never a reused one),
 * one Makefile.am source line (and, for Keras models, one line of the
 * importer's keras_classes[] table).
 *
 * Who calls what:
 *   nn.c         name, aliases, n_in_min/n_in_max, in_rank/in_what,
 *                defaults, check, shape, init (nn_net_add,
 *                nn_net_finalize, nn_net_init_weights, nn_kind_*);
 *   nn_engine.c  mem, forward, backward;
 *   model_fits.c shape (nn_op_infer), to bound the parameter count of a
 *                model file before anything is allocated;
 *   model_describe.c  describe;
 *   nn/fast      its own switches over the kinds it accelerates; a plan
 *                with a kind it does not know runs this reference engine.
 * The model file's LAYERS table has one generic column per nn_layer
 * hyper-parameter, so a kind that uses only existing nn_layer fields needs
 * no model-file code.
 *
 * Internal to the NN engine and its direct users (levels above nn may read
 * the descriptors); not installed.
 */
#ifndef SV_NN_OPS_H
#define SV_NN_OPS_H

#include <stddef.h>

#include "core/sv_error.h"
#include "nn/nn.h"
#include "nn/nn_layers.h"

#define NN_SIZE_LIMIT ((size_t)1 << 31) /* no tensor of 2^31 floats or more */
#define NN_DIM_LIMIT (1 << 24)          /* any single dimension / hyper-param */

/* One parameter tensor a layer needs (Keras name and shape). */
typedef struct nn_pspec {
    char name[24];
    int rank;          /* 1..4 */
    int dims[4];
    int trainable;     /* 0 for BatchNormalization moving statistics */
} nn_pspec;

/* What a shape rule computes: the per-sample output shape and the
 * parameter tensors, in the order they are stored in nn_layer.p. */
typedef struct nn_shape {
    int rank;
    int dims[NN_MAX_RANK];
    int n_params;
    nn_pspec p[NN_MAX_PARAMS];
} nn_shape;

typedef struct nn_op {
    /* The model-file and printout name ("conv2d"); nn_kind_from_name also
     * accepts it without case, '_' or ' '. */
    const char *name;
    /* Other accepted spellings (lower case, no '_'), NULL-terminated, or
     * NULL. */
    const char *const *aliases;
    /* Producer count: n_in_min..n_in_max (0..0 for the input layer). */
    int n_in_min, n_in_max;
    /* Required rank of producer in[0] (1..NN_MAX_RANK), or 0 for any; and
     * the words of the error when it differs ("an image input (H,W,C)"). */
    int in_rank;
    const char *in_what;

    /* Given: L, from nn_layer_defaults with the generic defaults already
     * set.  Returned: L with this kind's defaults.  NULL: none. */
    void (*defaults)(nn_layer *L);
    /* Given: L, a layer being added (producer count and indices already
     * checked).  Returned: L, possibly normalised (pool strides 0 -> pool
     * size).  Function return value: 0, or a status with err naming the
     * layer and the bad hyper-parameter.  NULL: nothing to check. */
    int (*check)(nn_layer *L, sv_error *err);
    /* Given: L; in[0..L->n_in) its producers, whose rank, shape and
     * out_size are set (in[0]'s rank already checked against in_rank).
     * Returned: *out, the output shape and parameter tensors.
     * Function return value: 0, or a status with err naming the layer and
     * the shapes that do not fit.  Must not allocate.  Required. */
    int (*shape)(const nn_layer *L, const nn_layer *const *in, nn_shape *out, sv_error *err);
    /* Given: L (finalised) and its producers, the workspace's max_batch and
     * whether it trains.  Returned: *m (zeroed by the caller), the floats
     * and ints of L's own cache and of the two shared scratch buffers.
     * NULL: no memory besides the output. */
    void (*mem)(const nn_layer *L, const nn_layer *const *in, int max_batch, int training,
                nn_mem *m);
    /* The reference kernels (nn_layers.h conventions).  Required except
     * for the input layer, which the engine fills itself. */
    void (*forward)(nn_lctx *c);
    void (*backward)(nn_lctx *c);
    /* Given: L, finalised, and the net's generator r.  Returned: L's
     * initial weights.  NULL: nn_init_default. */
    void (*init)(nn_layer *L, sv_xoshiro *r);
    /* Given: L, buf of cap bytes.  Returned: buf, the hyper-parameters
     * worth printing ("3x3 s1x1 same"), or "" (the activation and "frozen"
     * are added by the caller).  NULL: nothing. */
    void (*describe)(const nn_layer *L, char *buf, size_t cap);
} nn_op;

/* Function return value: the descriptor of kind, or NULL when kind is not
 * a registered kind.  Thread-safe (the table is constant). */
const nn_op *nn_op_of(nn_kind kind);

/* The output shape and parameters of L over its producers in[]: the
 * producer-rank rule, then the kind's shape rule.
 * Given: L (kind valid); in[0..L->n_in) with rank, shape and out_size set.
 * Returned: *out.
 * Function return value: 0, or a status with err set (as op->shape).
 * Thread-safe. */
int nn_op_infer(const nn_layer *L, const nn_layer *const *in, nn_shape *out, sv_error *err);

/* ---- helpers for the nn_layer_<kind>.c files ----------------------------- */

/* Returned: out's shape set to rank dims[0..rank). */
void nn_shape_set(nn_shape *out, int rank, const int *dims);
/* Returned: one more parameter in out (dims beyond rank are ignored). */
void nn_shape_param(nn_shape *out, const char *name, int rank, int d0, int d1, int d2, int d3,
                    int trainable);
/* Function return value: buf, "(d0,d1,...)" of L's shape.  Thread-safe. */
const char *nn_shape_str(const nn_layer *L, char *buf, size_t cap);
/* Function return value: 1 when v is not in 1..NN_DIM_LIMIT. */
static inline int nn_bad_dim(int v) { return v <= 0 || v > NN_DIM_LIMIT; }
/* Returned: *buf appended with printf(fmt, ...) at *k (bounded by cap). */
void nn_describe_add(char *buf, size_t cap, size_t *k, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/* Sliding windows (Conv2D family and 2-D pools, over an (H,W,C) input):
 * nn_window_check validates kernel, strides and padding of L (function
 * return value 0 or a status with err naming the layer); nn_window_out
 * gives the output rows and columns over producer In, or a status when the
 * window is larger than a valid-padded input; nn_window_describe prints
 * "3x3 [dmN] s1x1 same [no-bias]".  Thread-safe. */
int nn_window_check(nn_layer *L, sv_error *err);
int nn_window_out(const nn_layer *L, const nn_layer *In, int *ho, int *wo, sv_error *err);
void nn_window_describe(const nn_layer *L, char *buf, size_t cap);

/* Sequences with a step mask (GRU, LSTM, GlobalAveragePooling1D: a second
 * producer in[1] gives the mask, nn.h): nn_seq_mask_input checks that in[1]
 * is a sequence as long as in[0] (0 or a status with err set; 0 when
 * L->n_in != 2).  Recurrent layers: nn_rnn_check validates units,
 * activations and mask value, nn_rnn_defaults sets act tanh,
 * nn_rnn_describe prints "rec sigmoid [reset_after] [seq] [masked(v)]".
 * Thread-safe. */
int nn_seq_mask_input(const nn_layer *L, const nn_layer *const *in, sv_error *err);
int nn_rnn_check(nn_layer *L, sv_error *err);
void nn_rnn_defaults(nn_layer *L);
void nn_rnn_describe(const nn_layer *L, char *buf, size_t cap);

/* The default initialisation (nn_init.c): Glorot-uniform for every
 * "kernel", "depthwise_kernel" and "pointwise_kernel" (Keras fans),
 * orthogonal "recurrent_kernel", ones for "gamma" and "moving_variance",
 * zeros for the rest, drawing from r in parameter order.
 * Given: L finalised.  Returned: its weights.  Not thread-safe on one r. */
void nn_init_default(nn_layer *L, sv_xoshiro *r);

/* ---- the descriptors ------------------------------------------------------ */

#define NN_OP(kind, value, op) extern const nn_op op;
#include "nn/ops/nn_ops_list.h"
#undef NN_OP

#endif
