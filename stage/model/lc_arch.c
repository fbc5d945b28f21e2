/* lc_arch.c — the light-curve classifier's network.  See lc_arch.h. */
#include "model/lc_arch.h"

#include <stdio.h>
#include <string.h>

sv_lc_arch sv_lc_arch_defaults(void)
{
    sv_lc_arch a;
    a.gru_layers = 2;
    a.units = 64;
    a.meta_units = 32;
    a.dense_units = 64;
    a.dropout = 0.2f;
    a.reset_after = 1;
    return a;
}

static int add(nn_net *net, nn_layer *L, int n_in, int a, int b, int *idx, sv_error *err)
{
    L->n_in = n_in;
    if (n_in > 0)
        L->in[0] = a;
    if (n_in > 1)
        L->in[1] = b;
    int r = nn_net_add(net, L, err);
    if (r < 0)
        return r;
    *idx = r;
    return 0;
}

int sv_lc_arch_build(const sv_lc_arch *a_in, int T, int F, int M, int k, uint64_t seed,
                     nn_net **out, sv_error *err)
{
    *out = NULL;
    sv_lc_arch a = a_in ? *a_in : sv_lc_arch_defaults();
    if (T < 1 || F < 1 || M < 0 || k < 2 || a.gru_layers < 1 || a.gru_layers > 4 ||
        a.units < 1 || a.units > 4096 || a.dense_units < 1 || a.dense_units > 65536 ||
        (M > 0 && (a.meta_units < 1 || a.meta_units > 65536)) ||
        !(a.dropout >= 0 && a.dropout < 1))
        return sv_error_set(err, SV_ERR_ARG, "light-curve architecture: bad sizes (T %d, F %d, "
                            "M %d, k %d, %d GRU layers of %d units)", T, F, M, k, a.gru_layers,
                            a.units);
    nn_net *net = nn_net_new();
    if (!net)
        return sv_error_set(err, SV_ERR_NOMEM, "light-curve architecture: out of memory");
    int st = 0, seq = -1, meta = -1, x = -1, mb = -1;
    nn_layer L = nn_layer_defaults(NN_INPUT, "lc_input");
    L.rank = 2;
    L.shape[0] = T;
    L.shape[1] = F;
    st = add(net, &L, 0, 0, 0, &seq, err);
    if (!st && M > 0) {
        L = nn_layer_defaults(NN_INPUT, "meta_input");
        L.rank = 1;
        L.shape[0] = M;
        st = add(net, &L, 0, 0, 0, &meta, err);
    }
    x = seq;
    for (int g = 0; g < a.gru_layers && !st; g++) {
        char name[16];
        snprintf(name, sizeof name, "gru_%d", g + 1);
        L = nn_layer_defaults(NN_GRU, name);
        L.units = a.units;
        L.return_sequences = g + 1 < a.gru_layers;
        L.reset_after = a.reset_after != 0;
        L.recurrent_act = NN_ACT_SIGMOID;
        L.act = NN_ACT_TANH;
        st = add(net, &L, 1, x, 0, &x, err);
    }
    if (!st && M > 0) {
        L = nn_layer_defaults(NN_DENSE, "meta_dense");
        L.units = a.meta_units;
        L.act = NN_ACT_RELU;
        st = add(net, &L, 1, meta, 0, &mb, err);
        if (!st) {
            L = nn_layer_defaults(NN_CONCAT, "concat");
            st = add(net, &L, 2, x, mb, &x, err);
        }
    }
    if (!st) {
        L = nn_layer_defaults(NN_DENSE, "fc_1");
        L.units = a.dense_units;
        L.act = NN_ACT_RELU;
        st = add(net, &L, 1, x, 0, &x, err);
    }
    if (!st && a.dropout > 0) {
        L = nn_layer_defaults(NN_DROPOUT, "dropout");
        L.rate = a.dropout;
        st = add(net, &L, 1, x, 0, &x, err);
    }
    if (!st) {
        L = nn_layer_defaults(NN_DENSE, "fc_out");
        L.units = k;
        L.act = NN_ACT_SOFTMAX;
        st = add(net, &L, 1, x, 0, &x, err);
    }
    if (!st) {
        net->output = x;
        st = nn_net_finalize(net, err);
    }
    if (st) {
        nn_net_free(net);
        return st;
    }
    nn_net_init_weights(net, seed);
    *out = net;
    return 0;
}
