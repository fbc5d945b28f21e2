/* test_nn_plan_drb.c — REAL DATA through the inference fast path: ZTF's
 * braai d6_m7, imported from its Keras file, scores the real ZTF alert
 * cutouts through nn_plan with every instruction set this CPU runs (generic
 * always) and must reproduce ZTF's production drb to 1e-5 on every alert
 * not marked known_mismatch, and the reference engine to 1e-6 on all.
 * Skips visibly without the fixtures ($SV_FIXTURES). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/import/keras_import.h"
#include "model/model.h"
#include "nn/nn_engine.h"
#include "nn/fast/nn_plan.h"
#include "model/preprocess.h"
#include "infer/score.h"

#define MAX_ALERTS 64

typedef struct alert {
    char candid[32];
    double drb;
    int mismatch;
} alert;

/* candid, drb and known_mismatch columns of alerts.csv */
static int read_alerts(const char *path, alert *a, int max)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[4096];
    int c_id = -1, c_drb = -1, c_mm = -1, n = 0;
    if (!fgets(line, sizeof line, f)) {
        fclose(f);
        return -1;
    }
    line[strcspn(line, "\r\n")] = 0;
    int col = 0;
    for (char *tok = strtok(line, ","); tok; tok = strtok(NULL, ","), col++) {
        if (!strcmp(tok, "candid"))
            c_id = col;
        else if (!strcmp(tok, "drb"))
            c_drb = col;
        else if (!strcmp(tok, "known_mismatch"))
            c_mm = col;
    }
    if (c_id < 0 || c_drb < 0) {
        fclose(f);
        return -1;
    }
    while (n < max && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            continue;
        memset(&a[n], 0, sizeof a[n]);
        a[n].drb = NAN;
        col = 0;
        char *p = line;
        for (;;) {
            char *e = strchr(p, ',');
            if (e)
                *e = 0;
            if (col == c_id)
                snprintf(a[n].candid, sizeof a[n].candid, "%s", p);
            else if (col == c_drb)
                a[n].drb = atof(p);
            else if (col == c_mm)
                a[n].mismatch = atoi(p);
            if (!e)
                break;
            p = e + 1;
            col++;
        }
        if (a[n].candid[0])
            n++;
    }
    fclose(f);
    return n;
}

static void test_braai_drb_plan(void **state)
{
    (void)state;
    const char *fx = getenv("SV_FIXTURES");
    char h5[4096], csv[4096];
    snprintf(h5, sizeof h5, "%s/braai/d6_m7.h5", fx ? fx : "");
    snprintf(csv, sizeof csv, "%s/ztf-alerts/alerts.csv", fx ? fx : "");
    FILE *probe = fx ? fopen(h5, "rb") : NULL;
    if (!probe) {
        printf("# SKIP: real-data fixtures not found (SV_FIXTURES='%s')\n", fx ? fx : "");
        skip();
    }
    fclose(probe);

    sv_error err;
    sv_error_clear(&err);
    sv_keras_options opt = sv_keras_options_defaults(); /* realbogus, l2-rows: d6_m7 */
    sv_model *m = NULL;
    int st = sv_keras_import(h5, &opt, &m, &err);
    if (st)
        fprintf(stderr, "import: %s\n", err.text);
    assert_int_equal(st, 0);

    alert al[MAX_ALERTS];
    int n = read_alerts(csv, al, MAX_ALERTS);
    assert_true(n >= 1);
    size_t isz = m->net->layers[m->net->inputs[0]].out_size;
    float *x = calloc((size_t)n * isz, sizeof(float));
    assert_non_null(x);
    for (int i = 0; i < n; i++) {
        static const char *const cname[3] = {"sci", "ref", "diff"};
        float *pix[3] = {NULL, NULL, NULL};
        int h = 0, w = 0;
        for (int c = 0; c < 3; c++) {
            char path[4096];
            int hh, ww;
            snprintf(path, sizeof path, "%s/ztf-alerts/%s_%s.fits.gz", fx, al[i].candid,
                     cname[c]);
            st = sv_stamp_read(path, &pix[c], &hh, &ww, &err);
            if (st)
                fprintf(stderr, "%s\n", err.text);
            assert_int_equal(st, 0);
            if (c > 0) {
                assert_int_equal(hh, h);
                assert_int_equal(ww, w);
            }
            h = hh;
            w = ww;
        }
        float *scratch = malloc((size_t)h * w * sizeof(float));
        assert_non_null(scratch);
        const float *chan[3] = {pix[0], pix[1], pix[2]};
        assert_int_equal(sv_preprocess_triplet(&m->pre, chan, h, w, x + (size_t)i * isz,
                                               scratch, NULL),
                         0);
        free(scratch);
        for (int c = 0; c < 3; c++)
            free(pix[c]);
    }

    /* the reference engine */
    float ref[MAX_ALERTS], out[MAX_ALERTS];
    const float *in[1] = {x};
    nn_workspace *ws = nn_workspace_new(m->net, n, 0, &err);
    assert_non_null(ws);
    assert_int_equal(nn_forward(ws, m->net, n, in, 0, &err), 0);
    memcpy(ref, nn_workspace_output(ws), (size_t)n * sizeof(float));
    nn_workspace_free(ws);

    int checked = 0;
    for (int isa = NN_ISA_GENERIC; isa <= NN_ISA_AVX512; isa++) {
        if (!nn_isa_supported((nn_isa)isa)) {
            printf("# %s not supported on this CPU, not tested\n", nn_isa_name((nn_isa)isa));
            continue;
        }
        nn_plan *p = nn_plan_new_isa(m->net, n, (nn_isa)isa, &err);
        assert_non_null(p);
        assert_string_equal(nn_plan_isa(p), nn_isa_name((nn_isa)isa));
        for (int th = 1; th <= 2; th++) {
            assert_int_equal(nn_plan_run(p, n, in, out, th, &err), 0);
            for (int i = 0; i < n; i++) {
                double d_ref = fabs((double)out[i] - ref[i]);
                double d_drb = fabs((double)out[i] - al[i].drb);
                if (th == 1)
                    printf("# %-7s %s score %.9f drb %.9f |diff| %.2e%s\n", nn_plan_isa(p),
                           al[i].candid, out[i], al[i].drb, d_drb,
                           al[i].mismatch ? " (known_mismatch: not held to drb)" : "");
                assert_true(d_ref <= 1e-6);
                if (!al[i].mismatch) {
                    assert_true(d_drb <= 1e-5);
                    checked++;
                }
            }
        }
        nn_plan_free(p);
    }
    assert_true(checked > 0);
    free(x);
    sv_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_braai_drb_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
