/* test_train.c — the training loop, fine-tuning and the data sources, on
 * small synthetic stamp sets that a tiny network can learn in seconds.
 *
 * The synthetic stamps (16 x 16, three planes SCI, REF, DIFF, Gaussian
 * noise of sigma 0.3):
 *   real / "pos"   a Gaussian blob of amplitude +1 at the centre of SCI and
 *                  DIFF (a new point source);
 *   bogus / "neg"  a blob of amplitude -1 at the centre of DIFF, +1 in REF
 *                  (a source that faded);
 *   "flat"         noise only.
 * All three are invariant under the dihedral augmentation, so they are
 * separable with or without it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/arch.h"
#include "data/dataset.h"
#include "core/rng.h"
#include "train/finetune.h"
#include "model/model.h"
#include "nn/nn_engine.h"
#include "train/train.h"

#define S 16

static double gauss(sv_rng *r)
{
    double u1 = ((double)(sv_rng_next(r) >> 11) + 1.0) / 9007199254740993.0;
    double u2 = sv_rng_uniform(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* n stamps of kinds kind[i] (0 neg, 1 pos, 2 flat) into st (n*3*S*S). */
static void make_stamps(float *st, const int *kind, long n, uint64_t seed)
{
    sv_rng r = {seed};
    for (long i = 0; i < n; i++) {
        float *sci = st + (size_t)i * 3 * S * S, *ref = sci + S * S, *dif = ref + S * S;
        double cx = (S - 1) / 2.0 + 0.5 * gauss(&r), cy = (S - 1) / 2.0 + 0.5 * gauss(&r);
        for (int y = 0; y < S; y++)
            for (int x = 0; x < S; x++) {
                double g = exp(-((x - cx) * (x - cx) + (y - cy) * (y - cy)) / (2 * 1.5 * 1.5));
                double a = kind[i] == 1 ? 1.0 : (kind[i] == 0 ? -1.0 : 0.0);
                sci[y * S + x] = (float)((kind[i] == 1 ? g : 0.2 * g) + 0.3 * gauss(&r));
                ref[y * S + x] = (float)((kind[i] == 0 ? g : 0.2 * g) + 0.3 * gauss(&r));
                dif[y * S + x] = (float)(a * g + 0.3 * gauss(&r));
            }
    }
}

typedef struct dataset {
    long n;
    float *stamps;
    int *labels;
    sv_stamp_source src;
} dataset;

/* kinds cycle through 0..k-1 (labels = kinds), or random labels when
 * `random_labels` (nothing to learn). */
static void dataset_make(dataset *d, long n, int k, int realbogus, uint64_t seed,
                         int random_labels)
{
    d->n = n;
    d->stamps = malloc((size_t)n * 3 * S * S * sizeof(float));
    d->labels = malloc((size_t)n * sizeof(int));
    assert_non_null(d->stamps);
    assert_non_null(d->labels);
    int *kind = malloc((size_t)n * sizeof(int));
    sv_rng r = {seed ^ 0xabcdefULL};
    for (long i = 0; i < n; i++) {
        kind[i] = (int)(i % k);
        d->labels[i] = random_labels ? (int)sv_rng_below(&r, (uint64_t)k) : kind[i];
    }
    make_stamps(d->stamps, kind, n, seed);
    free(kind);
    char names[3][SV_LABEL_MAX] = {"neg", "pos", "flat"};
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_source_memory(&d->src, d->stamps, d->labels, n, S, S, realbogus,
                                      realbogus ? 2 : k, (const char(*)[SV_LABEL_MAX])names,
                                      &err),
                     0);
}

static void dataset_free(dataset *d)
{
    sv_source_close(&d->src);
    free(d->stamps);
    free(d->labels);
}

static sv_model *new_model(int n_out, uint64_t seed)
{
    nn_net *net = NULL;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_arch_build("mini", S, S, 3, n_out, seed, &net, &err), 0);
    sv_model *m = sv_model_new(net);
    assert_non_null(m);
    m->pre = sv_preproc_braai(SV_NORM_NONE);
    m->pre.out_h = m->pre.out_w = m->pre.stamp_size = S;
    m->pre.pad_value = 0;
    m->pre.pixel_scale = 0;
    snprintf(m->name, sizeof m->name, "test-mini");
    if (n_out > 1) {
        const char *nm[3] = {"neg", "pos", "flat"};
        m->task = SV_TASK_CLASS;
        m->n_classes = n_out;
        for (int c = 0; c < n_out; c++)
            snprintf(m->classes[c], SV_LABEL_MAX, "%s", nm[c]);
    }
    assert_int_equal(sv_model_validate(m, &err), 0);
    return m;
}

static int params_equal(const nn_layer *a, const nn_layer *b)
{
    if (a->n_params != b->n_params)
        return 0;
    for (int j = 0; j < a->n_params; j++)
        if (a->p[j].size != b->p[j].size ||
            memcmp(a->p[j].w, b->p[j].w, a->p[j].size * sizeof(float)))
            return 0;
    return 1;
}

static int nets_equal(const nn_net *a, const nn_net *b)
{
    if (a->n_layers != b->n_layers)
        return 0;
    for (int i = 0; i < a->n_layers; i++)
        if (!params_equal(&a->layers[i], &b->layers[i]))
            return 0;
    return 1;
}

static uint64_t net_hash(const nn_net *net)
{
    uint64_t h = 1469598103934665603ULL;
    for (int i = 0; i < net->n_layers; i++)
        for (int j = 0; j < net->layers[i].n_params; j++) {
            const unsigned char *p = (const unsigned char *)net->layers[i].p[j].w;
            for (size_t k = 0; k < net->layers[i].p[j].size * sizeof(float); k++)
                h = (h ^ p[k]) * 1099511628211ULL;
        }
    return h;
}

/* ---- tests ---------------------------------------------------------------- */

/* sv_source_resample: step 1 is a centre cut (the stamp's centre pixel
 * stays the centre), a shrinking step keeps a smooth field and the flux
 * per stamp pixel of a constant one, pixels beyond the parent are NaN, and
 * the view owns its parent. */
static void test_source_resample(void **state)
{
    (void)state;
    enum { H = 31, R = 13 };
    static float st[2 * 3 * H * H];
    int labels[2] = {0, 1};
    for (int k = 0; k < 2; k++)
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < H; x++)
                    st[((k * 3 + c) * H + y) * H + x] = (float)(100 * k + 10 * c + 0.5 * x + y);
    sv_stamp_source par, v;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_source_memory(&par, st, labels, 2, H, H, 1, 2, NULL, &err), 0);
    par.pixscale = 0.33;
    assert_int_equal(sv_source_resample(&v, &par, R, 1.0, &err), 0);
    assert_null(par.fetch); /* moved */
    assert_int_equal(v.h, R);
    float out[2 * 3 * R * R];
    long idx[2] = {1, 0};
    assert_int_equal(sv_source_fetch(&v, idx, 2, out, &err), 0);
    /* sample 1, channel 2, stamp pixel (x, y) = parent (x + 9, y + 9) */
    for (int y = 0; y < R; y++)
        for (int x = 0; x < R; x++)
            assert_float_equal(out[(2 * R + y) * R + x], 120 + 0.5 * (x + 9) + (y + 9), 1e-4);
    sv_source_close(&v);
    /* step 3 (0.33 -> 0.99 arcsec/pixel): a linear field stays linear about
     * the same centre; beyond the parent's edge, NaN */
    assert_int_equal(sv_source_memory(&par, st, labels, 2, H, H, 1, 2, NULL, &err), 0);
    par.pixscale = 0.33;
    assert_int_equal(sv_source_resample(&v, &par, R, 3.0, &err), 0);
    assert_float_equal(v.pixscale, 0.99, 1e-9);
    assert_int_equal(sv_source_fetch(&v, idx, 1, out, &err), 0);
    int c0 = R / 2;
    assert_float_equal(out[c0 * R + c0], 100 + 0.5 * 15 + 15, 0.05);
    assert_float_equal(out[c0 * R + c0 + 1] - out[c0 * R + c0], 1.5, 0.05);
    assert_float_equal(out[(c0 + 1) * R + c0] - out[c0 * R + c0], 3.0, 0.05);
    assert_true(isnan(out[0])); /* 18 parent pixels left of and above the centre: outside */
    sv_source_close(&v);
    assert_int_equal(sv_source_memory(&par, st, labels, 2, H, H, 1, 2, NULL, &err), 0);
    assert_int_not_equal(sv_source_resample(&v, &par, R, 100.0, &err), 0);
    assert_non_null(par.fetch); /* refused: untouched */
    sv_source_close(&par);
}

static void test_dihedral_group(void **state)
{
    (void)state;
    float in[9], out[8][9];
    for (int i = 0; i < 9; i++)
        in[i] = (float)i;
    for (int t = 0; t < 8; t++)
        sv_dihedral(in, out[t], 3, 3, t);
    /* identity, and all eight transforms distinct */
    assert_memory_equal(out[0], in, sizeof in);
    for (int a = 0; a < 8; a++)
        for (int b = a + 1; b < 8; b++)
            assert_true(memcmp(out[a], out[b], sizeof in) != 0);
    /* bit 0 flips x: row 0 becomes 2 1 0 */
    assert_true(out[1][0] == 2 && out[1][1] == 1 && out[1][2] == 0);
    /* bit 1 flips y: the first row is the old last row */
    assert_true(out[2][0] == 6 && out[2][2] == 8);
    /* transpose: element (0,1) is old (1,0) */
    assert_true(out[4][1] == 3 && out[4][3] == 1);
    /* the centre stays, every transform is a permutation */
    for (int t = 0; t < 8; t++) {
        assert_true(out[t][4] == 4);
        float sum = 0;
        for (int i = 0; i < 9; i++)
            sum += out[t][i];
        assert_true(sum == 36);
    }
    /* non-square: the transpose bit is ignored (flips only) */
    float r_in[6] = {0, 1, 2, 3, 4, 5}, r_out[6], r_out2[6];
    sv_dihedral(r_in, r_out, 2, 3, 5);
    sv_dihedral(r_in, r_out2, 2, 3, 1);
    assert_memory_equal(r_out, r_out2, sizeof r_out);
}

static void test_split_stratified(void **state)
{
    (void)state;
    int labels[100];
    for (int i = 0; i < 100; i++)
        labels[i] = i < 80 ? 0 : 1; /* 80 / 20 */
    long a[100], b[100], a2[100], b2[100], na, nb, na2, nb2;
    sv_split_stratified(labels, 100, 2, 0.25, 7, a, &na, b, &nb);
    assert_int_equal(na + nb, 100);
    int vb0 = 0, vb1 = 0;
    for (long i = 0; i < nb; i++)
        *(labels[b[i]] ? &vb1 : &vb0) += 1;
    assert_int_equal(vb0, 20); /* 25 % of each class */
    assert_int_equal(vb1, 5);
    for (long i = 1; i < na; i++)
        assert_true(a[i] > a[i - 1]);
    sv_split_stratified(labels, 100, 2, 0.25, 7, a2, &na2, b2, &nb2);
    assert_int_equal(nb, nb2);
    assert_memory_equal(b, b2, (size_t)nb * sizeof *b);
    sv_split_stratified(labels, 100, 2, 0.25, 8, a2, &na2, b2, &nb2);
    assert_true(memcmp(b, b2, (size_t)nb * sizeof *b) != 0);

    long sub[100];
    long got = sv_subsample_stratified(labels, 100, 2, 30, 3, sub);
    assert_int_equal(got, 30);
    int s1 = 0;
    for (long i = 0; i < got; i++)
        s1 += labels[sub[i]];
    assert_int_equal(s1, 6); /* 30 * 20 / 100 */
}

static int last_val_acc_cb(const sv_epoch_stats *e, void *user)
{
    double *acc = user;
    acc[e->epoch - 1] = e->val_accuracy;
    return 0;
}

static void test_learns_realbogus(void **state)
{
    (void)state;
    dataset d;
    dataset_make(&d, 320, 2, 1, 11, 0);
    sv_model *m = new_model(1, 5);
    sv_train_config cfg = sv_train_defaults();
    cfg.epochs = 6;
    cfg.batch = 32;
    cfg.val_fraction = 0.25;
    cfg.threads = 2;
    cfg.seed = 3;
    double acc[64] = {0};
    cfg.progress = last_val_acc_cb;
    cfg.progress_user = acc;
    sv_train_result res;
    sv_error err;
    sv_error_clear(&err);
    int st = sv_train(m, &d.src, &cfg, &res, &err);
    if (st)
        fail_msg("train: %s", err.text);
    assert_int_equal(res.n_train + res.n_val, 320);
    assert_int_equal(res.n_val, 80);
    assert_true(res.epochs_run >= 1);
    /* well above chance (0.5) on held-out stamps */
    assert_true(res.best_val_accuracy > 0.9);
    /* balanced classes: balanced weights are 1 */
    assert_float_equal(res.class_weight[0], 1.0, 1e-6);
    assert_float_equal(res.class_weight[1], 1.0, 1e-6);
    /* the training loss fell */
    assert_true(res.history[res.n_history - 1].loss < res.history[0].loss);
    sv_model_free(m);
    dataset_free(&d);
}

static void test_learns_classes_and_weights(void **state)
{
    (void)state;
    /* imbalanced 3-class set: 240 neg, 80 pos, 40 flat (via a subset) */
    dataset d;
    dataset_make(&d, 480, 3, 0, 21, 0);
    long idx[480], n = 0;
    int seen[3] = {0};
    for (long i = 0; i < 480; i++) {
        int c = d.labels[i];
        int cap = c == 0 ? 160 : (c == 1 ? 80 : 40);
        if (seen[c] < cap) {
            idx[n++] = i;
            seen[c]++;
        }
    }
    sv_stamp_source sub;
    sv_error err;
    sv_error_clear(&err);
    assert_int_equal(sv_source_subset(&sub, &d.src, idx, n, &err), 0);
    assert_int_equal(sub.n, 280);
    sv_model *m = new_model(3, 9);
    sv_train_config cfg = sv_train_defaults();
    cfg.epochs = 8;
    cfg.batch = 32;
    cfg.val_fraction = 0.2;
    cfg.threads = 2;
    sv_train_result res;
    int st = sv_train(m, &sub, &cfg, &res, &err);
    if (st)
        fail_msg("train: %s", err.text);
    /* balanced weights n / (k n_c) over the training part (80 % of each) */
    double ntr = (double)res.n_train;
    assert_int_equal(res.n_train, 128 + 64 + 32);
    assert_float_equal(res.class_weight[0], ntr / (3 * 128.0), 1e-5);
    assert_float_equal(res.class_weight[1], ntr / (3 * 64.0), 1e-5);
    assert_float_equal(res.class_weight[2], ntr / (3 * 32.0), 1e-5);
    assert_true(res.best_val_accuracy > 0.8); /* chance: 1/3 */
    sv_model_free(m);
    sv_source_close(&sub);
    dataset_free(&d);
}

static void train_once(dataset *d, int threads, uint64_t seed, nn_net **out_net)
{
    sv_model *m = new_model(1, 5);
    sv_train_config cfg = sv_train_defaults();
    cfg.epochs = 2;
    cfg.batch = 24; /* not a multiple of the slices: uneven slices */
    cfg.slices = 4;
    cfg.val_fraction = 0.2;
    cfg.threads = threads;
    cfg.seed = seed;
    sv_error err;
    sv_error_clear(&err);
    sv_train_result res;
    if (sv_train(m, &d->src, &cfg, &res, &err))
        fail_msg("train: %s", err.text);
    *out_net = m->net;
    m->net = NULL;
    sv_model_free(m);
}

static void test_determinism_across_threads(void **state)
{
    (void)state;
    dataset d;
    dataset_make(&d, 150, 2, 1, 31, 0);
    nn_net *a = NULL, *b = NULL, *c = NULL, *e = NULL;
    train_once(&d, 1, 42, &a);
    train_once(&d, 2, 42, &b);
    train_once(&d, 3, 42, &c);
    train_once(&d, 2, 43, &e);
    assert_true(nets_equal(a, b)); /* bit-identical, 1 vs 2 threads */
    assert_true(nets_equal(a, c)); /* and 3 */
    assert_false(nets_equal(a, e)); /* another seed, other weights */
    nn_net_free(a);
    nn_net_free(b);
    nn_net_free(c);
    nn_net_free(e);
    dataset_free(&d);
}

typedef struct es_track {
    uint64_t hash[SV_TRAIN_MAX_EPOCHS + 1];
    const nn_net *net;
} es_track;

static int track_cb(const sv_epoch_stats *e, void *user)
{
    es_track *t = user;
    t->hash[e->epoch] = net_hash(t->net);
    return 0;
}

static void test_early_stopping_restores_best(void **state)
{
    (void)state;
    /* random labels: nothing generalises, the validation loss soon rises */
    dataset d;
    dataset_make(&d, 120, 2, 1, 41, 1);
    sv_model *m = new_model(1, 6);
    sv_train_config cfg = sv_train_defaults();
    cfg.epochs = 40;
    cfg.batch = 16;
    cfg.patience = 3;
    cfg.val_fraction = 0.3;
    cfg.opt.lr = 3e-3f;
    cfg.threads = 2;
    es_track tr;
    memset(&tr, 0, sizeof tr);
    tr.net = m->net;
    cfg.progress = track_cb;
    cfg.progress_user = &tr;
    sv_train_result res;
    sv_error err;
    sv_error_clear(&err);
    if (sv_train(m, &d.src, &cfg, &res, &err))
        fail_msg("train: %s", err.text);
    assert_true(res.stopped_early);
    assert_int_equal(res.best_epoch, res.epochs_run - cfg.patience);
    /* the model holds the best epoch's weights, not the last epoch's */
    assert_true(net_hash(m->net) == tr.hash[res.best_epoch]);
    assert_true(net_hash(m->net) != tr.hash[res.epochs_run]);
    /* the best epoch has the lowest validation loss */
    for (int i = 0; i < res.n_history; i++)
        assert_true(res.history[i].val_loss >= res.best_val_loss);
    sv_model_free(m);
    dataset_free(&d);
}

static sv_model *trained_base(dataset *rb)
{
    sv_model *base = new_model(1, 7);
    sv_train_config cfg = sv_train_defaults();
    cfg.epochs = 3;
    cfg.batch = 32;
    cfg.threads = 2;
    sv_error err;
    sv_error_clear(&err);
    if (sv_train(base, &rb->src, &cfg, NULL, &err))
        fail_msg("train: %s", err.text);
    snprintf(base->name, sizeof base->name, "base-rb");
    snprintf(base->checksum, sizeof base->checksum, "TESTCHECKSUM0001");
    return base;
}

static void test_finetune_head_and_freeze(void **state)
{
    (void)state;
    dataset rb, c3;
    dataset_make(&rb, 200, 2, 1, 51, 0);
    dataset_make(&c3, 150, 3, 0, 52, 0);
    sv_model *base = trained_base(&rb);
    int conv1 = nn_net_find(base->net, "conv1"), conv2 = nn_net_find(base->net, "conv2");
    int fc1 = nn_net_find(base->net, "fc_1"), head = nn_net_find(base->net, "fc_out");
    assert_true(conv1 >= 0 && conv2 >= 0 && fc1 >= 0 && head >= 0);

    /* binary -> 3 classes, conv layers frozen */
    sv_finetune_config fc = sv_finetune_defaults();
    fc.freeze = SV_FREEZE_CONV;
    fc.train.epochs = 3;
    fc.train.batch = 32;
    fc.train.threads = 2;
    sv_model *ft = NULL;
    sv_train_result res;
    sv_error err;
    sv_error_clear(&err);
    if (sv_finetune(base, &c3.src, "data/ilmt-c3.fits", &fc, &ft, &res, &err))
        fail_msg("finetune: %s", err.text);
    assert_int_equal(ft->task, SV_TASK_CLASS);
    assert_int_equal(ft->n_classes, 3);
    assert_string_equal(ft->classes[0], "neg");
    assert_string_equal(ft->classes[2], "flat");
    const nn_layer *H = &ft->net->layers[ft->net->output];
    assert_string_equal(H->name, "fc_out");
    assert_int_equal(H->out_size, 3);
    assert_int_equal(H->act, NN_ACT_SOFTMAX);
    /* frozen convolutions are bit-identical to the base, the dense body moved */
    assert_true(params_equal(&ft->net->layers[conv1], &base->net->layers[conv1]));
    assert_true(params_equal(&ft->net->layers[conv2], &base->net->layers[conv2]));
    assert_false(params_equal(&ft->net->layers[fc1], &base->net->layers[fc1]));
    assert_int_equal(ft->net->layers[conv1].trainable, 0);
    assert_int_equal(ft->net->layers[fc1].trainable, 1);
    /* provenance */
    assert_string_equal(sv_model_get_prov(ft, "PARENT"), "base-rb");
    assert_string_equal(sv_model_get_prov(ft, "PARENTCK"), "TESTCHECKSUM0001");
    assert_string_equal(sv_model_get_prov(ft, "FTDATA"), "ilmt-c3.fits");
    assert_string_equal(sv_model_get_prov(ft, "FTNLAB"), "150");
    assert_string_equal(sv_model_get_prov(ft, "FTFREEZE"), "conv");
    assert_string_equal(sv_model_get_prov(ft, "FTHEAD"), "new");
    assert_true(res.best_val_accuracy > 1.0 / 3.0);
    sv_model_free(ft);

    /* all-but-head: the dense body is frozen too */
    fc.freeze = SV_FREEZE_ALL_BUT_HEAD;
    if (sv_finetune(base, &c3.src, NULL, &fc, &ft, &res, &err))
        fail_msg("finetune: %s", err.text);
    assert_true(params_equal(&ft->net->layers[fc1], &base->net->layers[fc1]));
    assert_true(params_equal(&ft->net->layers[conv1], &base->net->layers[conv1]));
    sv_model_free(ft);

    /* same classes (real/bogus on real/bogus): the head is kept and trained;
     * freeze none moves every layer, the body at a lower rate */
    fc.freeze = SV_FREEZE_NONE;
    if (sv_finetune(base, &rb.src, NULL, &fc, &ft, &res, &err))
        fail_msg("finetune: %s", err.text);
    assert_string_equal(sv_model_get_prov(ft, "FTHEAD"), "kept");
    assert_string_equal(sv_model_get_prov(ft, "FTBODYLR"), "0.1");
    assert_int_equal(ft->task, SV_TASK_REALBOGUS);
    assert_int_equal(ft->net->layers[ft->net->output].out_size, 1);
    assert_false(params_equal(&ft->net->layers[conv1], &base->net->layers[conv1]));
    assert_false(params_equal(&ft->net->layers[head], &base->net->layers[head]));
    sv_model_free(ft);

    /* the lr-scale table of each policy */
    sv_model *cp = NULL;
    assert_int_equal(sv_finetune_prepare(base, 1, 0, NULL, 1, &cp, NULL, &err), 0);
    float scale[32];
    assert_int_equal(sv_finetune_freeze(cp, SV_FREEZE_NONE, -1, scale, &err), 0);
    assert_float_equal(scale[conv1], 0.1, 1e-7);
    assert_float_equal(scale[head], 1.0, 1e-7);
    assert_int_equal(sv_finetune_freeze(cp, SV_FREEZE_CONV, -1, scale, &err), 0);
    assert_float_equal(scale[conv1], 0.0, 0);
    assert_float_equal(scale[fc1], 1.0, 1e-7);
    sv_model_free(cp);

    sv_model_free(base);
    dataset_free(&rb);
    dataset_free(&c3);
}

/* A network with BatchNormalization: per-slice statistics on private net
 * copies, moving statistics averaged in slice order -> still independent
 * of the thread count, and the moving statistics do move. */
static sv_model *bn_model(void)
{
    nn_net *net = nn_net_new();
    sv_error err;
    sv_error_clear(&err);
    nn_layer L = nn_layer_defaults(NN_INPUT, "in");
    L.rank = 3;
    L.shape[0] = L.shape[1] = S;
    L.shape[2] = 3;
    int last = nn_net_add(net, &L, &err);
    nn_layer c = nn_layer_defaults(NN_CONV2D, "conv1");
    c.filters = 4;
    c.kh = c.kw = 3;
    c.n_in = 1;
    c.in[0] = last;
    last = nn_net_add(net, &c, &err);
    nn_layer b = nn_layer_defaults(NN_BATCHNORM, "bn1");
    b.n_in = 1;
    b.in[0] = last;
    last = nn_net_add(net, &b, &err);
    nn_layer a = nn_layer_defaults(NN_ACTIVATION, "relu1");
    a.act = NN_ACT_RELU;
    a.n_in = 1;
    a.in[0] = last;
    last = nn_net_add(net, &a, &err);
    nn_layer g = nn_layer_defaults(NN_GLOBAL_AVGPOOL2D, "gap");
    g.n_in = 1;
    g.in[0] = last;
    last = nn_net_add(net, &g, &err);
    nn_layer d = nn_layer_defaults(NN_DENSE, "fc_out");
    d.units = 1;
    d.act = NN_ACT_SIGMOID;
    d.n_in = 1;
    d.in[0] = last;
    assert_true(nn_net_add(net, &d, &err) >= 0);
    if (nn_net_finalize(net, &err))
        fail_msg("finalize: %s", err.text);
    nn_net_init_weights(net, 77);
    sv_model *m = sv_model_new(net);
    m->pre = sv_preproc_braai(SV_NORM_NONE);
    m->pre.out_h = m->pre.out_w = m->pre.stamp_size = S;
    snprintf(m->name, sizeof m->name, "test-bn");
    assert_int_equal(sv_model_validate(m, &err), 0);
    return m;
}

static void test_batchnorm_slices(void **state)
{
    (void)state;
    dataset d;
    dataset_make(&d, 100, 2, 1, 71, 0);
    sv_model *m[2];
    for (int k = 0; k < 2; k++) {
        m[k] = bn_model();
        sv_train_config cfg = sv_train_defaults();
        cfg.epochs = 2;
        cfg.batch = 20;
        cfg.threads = k + 1;
        sv_error err;
        sv_error_clear(&err);
        if (sv_train(m[k], &d.src, &cfg, NULL, &err))
            fail_msg("train: %s", err.text);
    }
    assert_true(nets_equal(m[0]->net, m[1]->net));
    nn_param *mean = nn_net_param(m[0]->net, "bn1", "moving_mean");
    assert_non_null(mean);
    float amax = 0;
    for (size_t i = 0; i < mean->size; i++)
        amax = fabsf(mean->w[i]) > amax ? fabsf(mean->w[i]) : amax;
    assert_true(amax > 0); /* moved from its initial zeros */
    sv_model_free(m[0]);
    sv_model_free(m[1]);
    dataset_free(&d);
}

static void test_mismatch_errors(void **state)
{
    (void)state;
    dataset c3;
    dataset_make(&c3, 60, 3, 0, 61, 0);
    sv_model *m = new_model(1, 5); /* real/bogus model, class data */
    sv_error err;
    sv_error_clear(&err);
    sv_train_config cfg = sv_train_defaults();
    cfg.epochs = 1;
    assert_int_not_equal(sv_train(m, &c3.src, &cfg, NULL, &err), 0);
    assert_non_null(strstr(err.text, "real/bogus"));
    sv_model_free(m);
    m = new_model(3, 5);
    snprintf(m->classes[1], SV_LABEL_MAX, "other");
    sv_error_clear(&err);
    assert_int_not_equal(sv_train(m, &c3.src, &cfg, NULL, &err), 0);
    assert_non_null(strstr(err.text, "other"));
    cfg.epochs = 0;
    assert_int_equal(sv_train(m, &c3.src, &cfg, NULL, &err), SV_ERR_ARG);
    sv_model_free(m);
    dataset_free(&c3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dihedral_group),
        cmocka_unit_test(test_source_resample),
        cmocka_unit_test(test_split_stratified),
        cmocka_unit_test(test_learns_realbogus),
        cmocka_unit_test(test_learns_classes_and_weights),
        cmocka_unit_test(test_determinism_across_threads),
        cmocka_unit_test(test_early_stopping_restores_best),
        cmocka_unit_test(test_finetune_head_and_freeze),
        cmocka_unit_test(test_batchnorm_slices),
        cmocka_unit_test(test_mismatch_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
