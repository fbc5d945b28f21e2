/* lc_set.c — the in-memory light-curve set.  See lc_set.h. */
#include "model/lc_set.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void sv_lc_set_free(sv_lc_set *s)
{
    if (!s)
        return;
    free(s->id_order);
    free(s->lc);
    free(s->obs_pool);
    free(s->meta_pool);
    memset(s, 0, sizeof *s);
}

int sv_lc_set_alloc(sv_lc_set *s, long n, long n_obs, int n_meta, sv_error *err)
{
    memset(s, 0, sizeof *s);
    if (n < 0 || n_obs < 0 || n_meta < 0 || n_meta > SV_LC_MAX_META)
        return sv_error_set(err, SV_ERR_ARG, "light curves: bad sizes");
    s->lc = calloc((size_t)(n > 0 ? n : 1), sizeof *s->lc);
    s->obs_pool = calloc((size_t)(n_obs > 0 ? n_obs : 1), sizeof *s->obs_pool);
    s->meta_pool = malloc((size_t)(n * n_meta > 0 ? n * n_meta : 1) * sizeof(float));
    if (!s->lc || !s->obs_pool || !s->meta_pool) {
        sv_lc_set_free(s);
        return sv_error_set(err, SV_ERR_NOMEM, "light curves: out of memory for %ld candidates",
                            n);
    }
    s->n = n;
    s->n_obs = n_obs;
    s->n_meta = n_meta;
    for (long i = 0; i < n * n_meta; i++)
        s->meta_pool[i] = NAN;
    for (long i = 0; i < n; i++) {
        s->lc[i].label = -1;
        s->lc[i].t_alert = NAN;
        s->lc[i].meta = s->meta_pool + i * n_meta;
    }
    return 0;
}

/* ---- the id index ---------------------------------------------------------------- */

typedef struct id_ref {
    const char *id;
    long i;
} id_ref;

static int id_ref_cmp(const void *a, const void *b)
{
    const id_ref *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->i < y->i ? -1 : (x->i > y->i));
}

int sv_lc_set_index(sv_lc_set *s, sv_error *err)
{
    if (s->id_order)
        return 0;
    id_ref *r = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *r);
    long *order = malloc((size_t)(s->n > 0 ? s->n : 1) * sizeof *order);
    if (!r || !order) {
        free(r);
        free(order);
        return sv_error_set(err, SV_ERR_NOMEM, "light curves: out of memory");
    }
    for (long i = 0; i < s->n; i++)
        r[i] = (id_ref){s->lc[i].id, i};
    qsort(r, (size_t)s->n, sizeof *r, id_ref_cmp);
    for (long i = 0; i < s->n; i++)
        order[i] = r[i].i;
    free(r);
    s->id_order = order;
    return 0;
}

long sv_lc_find(sv_lc_set *s, const char *id)
{
    if (!s || !id || s->n == 0)
        return -1;
    if (!s->id_order && sv_lc_set_index(s, NULL))
        return -1;
    long lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        long mid = (lo + hi) / 2;
        int c = strcmp(s->lc[s->id_order[mid]].id, id);
        if (!c)
            return s->id_order[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}
