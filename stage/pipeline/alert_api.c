/* alert_api.c — the alert-packet part of the public API (stampvet.h):
 * sv_alert_scorer, a scorer, an alert reader (alert_packet.h) and an alert
 * table (alert_score.h) together, as `stampvet score --alerts` uses them.
 * Built without Avro, every function says so (SV_ERR_UNSUPPORTED). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "stampvet.h"

#include <stdlib.h>

#include "core/sv_error.h"

#ifdef HAVE_AVRO
#include "pipeline/alert_score.h"

struct sv_alert_scorer {
    sv_scorer *sc;
    sv_alert_reader *rd;
    sv_lc_stage *lc;
    sv_alert_table tab;
    sv_alert_columns cols;  /* the last table handed out */
};

int sv_alerts_available(void) { return 1; }

int sv_alert_scorer_create(const sv_model *m, const char *lc_model, const char *schema,
                           int max_batch, int threads, sv_alert_scorer **out, sv_error *err)
{
    if (!out)
        return sv_error_set(err, SV_ERR_ARG, "sv_alert_scorer_create: NULL out");
    *out = NULL;
    sv_error_clear(err);
    if (!m)
        return sv_error_set(err, SV_ERR_ARG, "sv_alert_scorer_create: NULL model");
    if (m->task == SV_TASK_LIGHTCURVE)
        return sv_error_set(err, SV_ERR_ARG, "%s is a light-curve model: alerts are scored "
                            "with a stamp model (give it as lc_model)", m->path);
    sv_alert_scorer *s = calloc(1, sizeof *s);
    if (!s)
        return sv_error_set(err, SV_ERR_NOMEM, "out of memory");
    int st = sv_scorer_create(m, max_batch, threads, &s->sc, err);
    if (!st)
        st = sv_alert_reader_new(schema, &s->rd, err);
    if (!st && lc_model)
        st = sv_lc_stage_new(lc_model, "", "objectId", max_batch > 0 ? max_batch : 64, &s->lc,
                             err);
    if (st) {
        sv_alert_scorer_free(s);
        return st;
    }
    sv_alert_table_init(&s->tab, m);
    sv_alert_table_set_lc(&s->tab, s->lc);
    *out = s;
    return SV_OK;
}

void sv_alert_scorer_free(sv_alert_scorer *s)
{
    if (!s)
        return;
    sv_alert_columns_free(&s->cols);
    sv_alert_table_free(&s->tab);
    sv_lc_stage_free(s->lc);
    sv_alert_reader_free(s->rd);
    sv_scorer_free(s->sc);
    free(s);
}

/* Score the set read (status st) from source into the table. */
static int add_set(sv_alert_scorer *s, int st, const char *source, sv_alert_set *set,
                   sv_error *err)
{
    if (!st)
        st = sv_alert_table_add_set(&s->tab, s->sc, set, err);
    else if (st != SV_ERR_NOMEM) {
        sv_error e;
        sv_error_clear(&e);
        if (sv_alert_table_add_failure(&s->tab, source, err->text, &e))
            st = sv_error_set(err, e.status, "%s", e.text);
    }
    sv_alert_set_free(set);
    return st;
}

int sv_alert_scorer_add_file(sv_alert_scorer *s, const char *path, sv_error *err)
{
    if (!s || !path)
        return sv_error_set(err, SV_ERR_ARG, "sv_alert_scorer_add_file: NULL %s",
                            s ? "path" : "scorer");
    sv_error local; /* the message is the failure row's */
    if (!err)
        err = &local;
    sv_error_clear(err);
    sv_alert_set set;
    return add_set(s, sv_alert_read_file(s->rd, path, &set, err), path, &set, err);
}

int sv_alert_scorer_add_buffer(sv_alert_scorer *s, const void *buf, size_t len,
                               const char *name, sv_error *err)
{
    if (!s || (!buf && len))
        return sv_error_set(err, SV_ERR_ARG, "sv_alert_scorer_add_buffer: NULL %s",
                            s ? "buffer" : "scorer");
    sv_error local;
    if (!err)
        err = &local;
    sv_error_clear(err);
    if (!name)
        name = "(buffer)";
    sv_alert_set set;
    return add_set(s, sv_alert_read_buffer(s->rd, buf ? buf : "", len, name, &set, err), name,
                   &set, err);
}

int sv_alert_scorer_table(sv_alert_scorer *s, const dia_table **table, sv_error *err)
{
    if (!s || !table)
        return sv_error_set(err, SV_ERR_ARG, "sv_alert_scorer_table: NULL argument");
    *table = NULL;
    sv_error_clear(err);
    sv_alert_columns_free(&s->cols);
    int st = sv_alert_table_columns(&s->tab, &s->cols, err);
    if (!st)
        *table = &s->cols.table;
    return st;
}

void sv_alert_scorer_clear(sv_alert_scorer *s)
{
    if (!s)
        return;
    sv_alert_columns_free(&s->cols);
    const sv_model *m = s->tab.model;
    sv_alert_table_free(&s->tab);
    sv_alert_table_init(&s->tab, m);
    sv_alert_table_set_lc(&s->tab, s->lc);
}

#else /* built without Avro */

static int no_avro(sv_error *err)
{
    return sv_error_set(err, SV_ERR_UNSUPPORTED, "this stampvet was built without Avro: no "
                        "alert packets (install libavro-dev and configure --with-avro)");
}

int sv_alerts_available(void) { return 0; }

int sv_alert_scorer_create(const sv_model *m, const char *lc_model, const char *schema,
                           int max_batch, int threads, sv_alert_scorer **out, sv_error *err)
{
    if (out)
        *out = NULL;
    return no_avro(err);
}

void sv_alert_scorer_free(sv_alert_scorer *s) {}

int sv_alert_scorer_add_file(sv_alert_scorer *s, const char *path, sv_error *err)
{
    return no_avro(err);
}

int sv_alert_scorer_add_buffer(sv_alert_scorer *s, const void *buf, size_t len,
                               const char *name, sv_error *err)
{
    return no_avro(err);
}

int sv_alert_scorer_table(sv_alert_scorer *s, const dia_table **table, sv_error *err)
{
    if (table)
        *table = NULL;
    return no_avro(err);
}

void sv_alert_scorer_clear(sv_alert_scorer *s) {}

#endif
