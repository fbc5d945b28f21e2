/* arch.c — named network architectures.  See arch.h. */
#include "model/arch.h"

#include <string.h>

static const char *const arch_names[] = {"braai", "mini", NULL};

const char *const *sv_arch_names(void) { return arch_names; }

typedef struct builder {
    nn_net *net;
    int last;
    int st;
    sv_error *err;
} builder;

static void add(builder *b, nn_layer L)
{
    if (b->st)
        return;
    if (b->last >= 0) {
        L.n_in = 1;
        L.in[0] = b->last;
    }
    int idx = nn_net_add(b->net, &L, b->err);
    if (idx < 0)
        b->st = idx;
    else
        b->last = idx;
}

static nn_layer conv(const char *name, int filters)
{
    nn_layer L = nn_layer_defaults(NN_CONV2D, name);
    L.filters = filters;
    L.kh = L.kw = 3;
    L.act = NN_ACT_RELU;
    L.padding = NN_PAD_VALID;
    return L;
}

static nn_layer pool(const char *name, int size)
{
    nn_layer L = nn_layer_defaults(NN_MAXPOOL2D, name);
    L.kh = L.kw = size;
    L.sh = L.sw = size;
    return L;
}

static nn_layer dropout(const char *name, float rate)
{
    nn_layer L = nn_layer_defaults(NN_DROPOUT, name);
    L.rate = rate;
    return L;
}

static nn_layer dense(const char *name, int units, nn_act act)
{
    nn_layer L = nn_layer_defaults(NN_DENSE, name);
    L.units = units;
    L.act = act;
    return L;
}

int sv_arch_build(const char *name, int h, int w, int c, int n_out, uint64_t seed,
                  nn_net **out, sv_error *err)
{
    if (out)
        *out = NULL;
    if (!name || !out)
        return sv_error_set(err, SV_ERR_ARG, "architecture: NULL argument");
    if (h < 1 || w < 1 || c < 1 || h > 4096 || w > 4096 || c > 64)
        return sv_error_set(err, SV_ERR_ARG, "architecture '%s': bad input shape %dx%dx%d",
                            name, h, w, c);
    if (n_out < 1 || n_out > 1024)
        return sv_error_set(err, SV_ERR_ARG, "architecture '%s': bad number of outputs %d",
                            name, n_out);
    int is_braai = !strcmp(name, "braai"), is_mini = !strcmp(name, "mini");
    if (!is_braai && !is_mini)
        return sv_error_set(err, SV_ERR_ARG,
                            "unknown architecture '%s' (known: braai, mini)", name);
    builder b = {nn_net_new(), -1, 0, err};
    if (!b.net)
        return sv_error_set(err, SV_ERR_NOMEM, "architecture '%s': out of memory", name);
    nn_act head = n_out == 1 ? NN_ACT_SIGMOID : NN_ACT_SOFTMAX;

    nn_layer in = nn_layer_defaults(NN_INPUT, "triplet");
    in.rank = 3;
    in.shape[0] = h;
    in.shape[1] = w;
    in.shape[2] = c;
    add(&b, in);
    if (is_braai) {
        add(&b, conv("conv1", 16));
        add(&b, conv("conv2", 16));
        add(&b, pool("max_pooling2d", 2));
        add(&b, dropout("dropout", 0.25f));
        add(&b, conv("conv3", 32));
        add(&b, conv("conv4", 32));
        add(&b, pool("max_pooling2d_1", 4));
        add(&b, dropout("dropout_1", 0.25f));
        add(&b, nn_layer_defaults(NN_FLATTEN, "flatten"));
        add(&b, dense("fc_1", 256, NN_ACT_RELU));
        add(&b, dropout("dropout_2", 0.5f));
        add(&b, dense("fc_out", n_out, head));
    } else {
        add(&b, conv("conv1", 8));
        add(&b, pool("max_pooling2d", 2));
        add(&b, conv("conv2", 16));
        add(&b, pool("max_pooling2d_1", 2));
        add(&b, nn_layer_defaults(NN_FLATTEN, "flatten"));
        add(&b, dense("fc_1", 32, NN_ACT_RELU));
        add(&b, dropout("dropout", 0.25f));
        add(&b, dense("fc_out", n_out, head));
    }
    int st = b.st;
    if (!st)
        st = nn_net_finalize(b.net, err);
    if (st) {
        nn_net_free(b.net);
        sv_error_prefix(err, "architecture '%s' for %dx%dx%d input: ", name, h, w, c);
        return st;
    }
    nn_net_init_weights(b.net, seed);
    *out = b.net;
    return 0;
}
