/* dia_host.c — see dia_host.h. */
#include "dia_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dia_host_stage {
    void *handle;                       /* dlopen handle, NULL if static  */
    const dia_stage_descriptor *desc;
    char origin[512];
};

#define DIA_MAX_STATIC 16
static struct {
    char name[64];
    dia_stage_entry_fn entry;
} static_stages[DIA_MAX_STATIC];
static int n_static_stages;

static dia_status fail(char *errbuf, size_t errlen, dia_status st,
                       const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static dia_status fail(char *errbuf, size_t errlen, dia_status st,
                       const char *fmt, ...)
{
    if (errbuf && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

dia_status dia_host_register_static(const char *name, dia_stage_entry_fn entry)
{
    if (!name || !*name || !entry || strlen(name) >= sizeof static_stages[0].name)
        return DIA_ERR_ARGUMENT;
    for (int i = 0; i < n_static_stages; i++) {
        if (strcmp(static_stages[i].name, name) == 0)
            return static_stages[i].entry == entry ? DIA_OK : DIA_ERR_ARGUMENT;
    }
    if (n_static_stages >= DIA_MAX_STATIC)
        return DIA_ERR_ARGUMENT;
    strcpy(static_stages[n_static_stages].name, name);
    static_stages[n_static_stages].entry = entry;
    n_static_stages++;
    return DIA_OK;
}

dia_status dia_host_check_descriptor(const dia_stage_descriptor *desc,
                                     const char *origin, char *errbuf,
                                     size_t errlen)
{
    if (!desc)
        return fail(errbuf, errlen, DIA_ERR_FORMAT,
                    "%s: dia_stage_entry() returned NULL", origin);
    if (desc->abi_major != DIA_ABI_MAJOR)
        return fail(errbuf, errlen, DIA_ERR_FORMAT,
                    "%s: stage ABI %u.%u is incompatible with this host's ABI %d.%d "
                    "(major versions differ)",
                    origin, desc->abi_major, desc->abi_minor, DIA_ABI_MAJOR,
                    DIA_ABI_MINOR);
    if (desc->struct_size < sizeof(dia_stage_descriptor))
        return fail(errbuf, errlen, DIA_ERR_FORMAT,
                    "%s: stage descriptor is %u bytes, smaller than the %zu bytes "
                    "of ABI %d.%d",
                    origin, desc->struct_size, sizeof(dia_stage_descriptor),
                    DIA_ABI_MAJOR, DIA_ABI_MINOR);
    if (!desc->name || !desc->version || !desc->create || !desc->destroy ||
        !desc->process || !desc->process_files || !desc->last_error)
        return fail(errbuf, errlen, DIA_ERR_FORMAT,
                    "%s: stage descriptor lacks a name, version or a mandatory "
                    "function (create, destroy, process, process_files, last_error)",
                    origin);
    if (desc->n_params < 0 || (desc->n_params > 0 && !desc->params))
        return fail(errbuf, errlen, DIA_ERR_FORMAT,
                    "%s: stage descriptor has an invalid parameter table", origin);
    for (int i = 0; i < desc->n_params; i++) {
        if (!desc->params[i].key || !desc->params[i].default_value)
            return fail(errbuf, errlen, DIA_ERR_FORMAT,
                        "%s: parameter %d has no key or default", origin, i);
    }
    return DIA_OK;
}

static int looks_like_path(const char *where)
{
    size_t n = strlen(where);
    return strchr(where, '/') != NULL || (n > 3 && strcmp(where + n - 3, ".so") == 0);
}

dia_status dia_host_open(const char *where, dia_host_stage **out,
                         char *errbuf, size_t errlen)
{
    if (out)
        *out = NULL;
    if (!where || !*where || !out)
        return fail(errbuf, errlen, DIA_ERR_ARGUMENT,
                    "dia_host_open: no stage name or path given");

    dia_host_stage *st = calloc(1, sizeof *st);
    if (!st)
        return fail(errbuf, errlen, DIA_ERR_NOMEM, "%s: out of memory", where);

    dia_stage_entry_fn entry = NULL;
    if (!looks_like_path(where)) {
        for (int i = 0; i < n_static_stages; i++)
            if (strcmp(static_stages[i].name, where) == 0)
                entry = static_stages[i].entry;
        if (!entry) {
            free(st);
            return fail(errbuf, errlen, DIA_ERR_ARGUMENT,
                        "%s: no stage of that name is linked in (give a path to a "
                        "shared object, e.g. ./%s.so)",
                        where, where);
        }
        snprintf(st->origin, sizeof st->origin, "static:%s", where);
    } else {
        snprintf(st->origin, sizeof st->origin, "%s", where);
        dlerror();
        st->handle = dlopen(where, RTLD_NOW | RTLD_LOCAL);
        if (!st->handle) {
            const char *why = dlerror();
            fail(errbuf, errlen, DIA_ERR_IO, "%s: cannot load stage: %s", where,
                 why ? why : "unknown dlopen error");
            free(st);
            return DIA_ERR_IO;
        }
        dlerror();
        void *sym = dlsym(st->handle, DIA_STAGE_ENTRY_SYMBOL);
        const char *why = dlerror();
        if (why || !sym) {
            fail(errbuf, errlen, DIA_ERR_FORMAT,
                 "%s: not a DIA stage: symbol %s not found", where,
                 DIA_STAGE_ENTRY_SYMBOL);
            dlclose(st->handle);
            free(st);
            return DIA_ERR_FORMAT;
        }
        /* ISO C forbids object->function pointer casts; POSIX guarantees it. */
        memcpy(&entry, &sym, sizeof entry);
    }

    st->desc = entry();
    dia_status rc = dia_host_check_descriptor(st->desc, st->origin, errbuf, errlen);
    if (rc != DIA_OK) {
        dia_host_close(st);
        return rc;
    }
    *out = st;
    return DIA_OK;
}

const dia_stage_descriptor *dia_host_descriptor(const dia_host_stage *stage)
{
    return stage ? stage->desc : NULL;
}

const char *dia_host_origin(const dia_host_stage *stage)
{
    return stage ? stage->origin : "";
}

void dia_host_close(dia_host_stage *stage)
{
    if (!stage)
        return;
    if (stage->handle)
        dlclose(stage->handle);
    free(stage);
}

/* ---- parameters --------------------------------------------------------- */

int dia_params_parse_bool(const char *t)
{
    if (!t)
        return -1;
    if (!strcasecmp(t, "1") || !strcasecmp(t, "true") || !strcasecmp(t, "yes") ||
        !strcasecmp(t, "on"))
        return 1;
    if (!strcasecmp(t, "0") || !strcasecmp(t, "false") || !strcasecmp(t, "no") ||
        !strcasecmp(t, "off"))
        return 0;
    return -1;
}

static int choice_ok(const char *choices, const char *value)
{
    if (!choices)
        return 0;
    size_t n = strlen(value);
    const char *p = choices;
    while (*p) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && strncmp(p, value, n) == 0)
            return 1;
        if (!bar)
            break;
        p = bar + 1;
    }
    return 0;
}

static const dia_param_desc *find_param(const dia_param_desc *params, int n,
                                        const char *key)
{
    for (int i = 0; i < n; i++)
        if (strcmp(params[i].key, key) == 0)
            return &params[i];
    return NULL;
}

/* A range bound as people write it: integers in full ("4294967295", not
 * "4.29497e+09"), other values with %g.  Returns buf (32 bytes). */
static const char *number_text(char buf[32], double v)
{
    if (v == floor(v) && fabs(v) < 1e18)
        snprintf(buf, 32, "%.0f", v);
    else
        snprintf(buf, 32, "%g", v);
    return buf;
}

/* Check one value against its declaration. */
static dia_status check_value(const dia_param_desc *p, const char *v,
                              char *errbuf, size_t errlen)
{
    char *end = NULL, lo[32], hi[32];
    switch (p->type) {
    case DIA_PARAM_BOOL:
        if (dia_params_parse_bool(v) < 0)
            return fail(errbuf, errlen, DIA_ERR_CONFIG,
                        "parameter '%s': '%s' is not a boolean (use 1/0, true/false, "
                        "yes/no)", p->key, v);
        return DIA_OK;
    case DIA_PARAM_INT: {
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (end == v || *end != '\0' || errno == ERANGE)
            return fail(errbuf, errlen, DIA_ERR_CONFIG,
                        "parameter '%s': '%s' is not an integer", p->key, v);
        if ((double)x < p->min || (double)x > p->max)
            return fail(errbuf, errlen, DIA_ERR_CONFIG,
                        "parameter '%s': %lld is outside the allowed range [%s, %s]",
                        p->key, x, number_text(lo, p->min), number_text(hi, p->max));
        return DIA_OK;
    }
    case DIA_PARAM_REAL: {
        errno = 0;
        double x = strtod(v, &end);
        if (end == v || *end != '\0' || errno == ERANGE || !isfinite(x))
            return fail(errbuf, errlen, DIA_ERR_CONFIG,
                        "parameter '%s': '%s' is not a finite number", p->key, v);
        if (x < p->min || x > p->max)
            return fail(errbuf, errlen, DIA_ERR_CONFIG,
                        "parameter '%s': %g is outside the allowed range [%s, %s]",
                        p->key, x, number_text(lo, p->min), number_text(hi, p->max));
        return DIA_OK;
    }
    case DIA_PARAM_CHOICE:
        if (!choice_ok(p->choices, v))
            return fail(errbuf, errlen, DIA_ERR_CONFIG,
                        "parameter '%s': '%s' is not one of %s", p->key, v,
                        p->choices ? p->choices : "(none)");
        return DIA_OK;
    case DIA_PARAM_STRING:
    case DIA_PARAM_PATH:
        return DIA_OK;
    }
    return fail(errbuf, errlen, DIA_ERR_CONFIG, "parameter '%s': unknown type",
                p->key);
}

dia_status dia_params_check(const dia_param_desc *params, int n_params,
                            const dia_kv *config, size_t n_config,
                            char *errbuf, size_t errlen)
{
    if (n_config > 0 && !config)
        return fail(errbuf, errlen, DIA_ERR_ARGUMENT, "configuration is NULL");
    for (size_t i = 0; i < n_config; i++) {
        const char *key = config[i].key, *val = config[i].value;
        if (!key || !val)
            return fail(errbuf, errlen, DIA_ERR_CONFIG,
                        "configuration entry %zu has no key or no value", i);
        const dia_param_desc *p = find_param(params, n_params, key);
        if (!p)
            return fail(errbuf, errlen, DIA_ERR_CONFIG, "unknown parameter '%s'", key);
        for (size_t j = 0; j < i; j++)
            if (strcmp(config[j].key, key) == 0)
                return fail(errbuf, errlen, DIA_ERR_CONFIG,
                            "parameter '%s' is given twice", key);
        dia_status rc = check_value(p, val, errbuf, errlen);
        if (rc != DIA_OK)
            return rc;
    }
    return DIA_OK;
}

const char *dia_params_lookup(const dia_param_desc *params, int n_params,
                              const dia_kv *config, size_t n_config,
                              const char *key)
{
    const dia_param_desc *p = find_param(params, n_params, key);
    if (!p)
        return NULL;
    for (size_t i = n_config; i-- > 0;)
        if (config[i].key && strcmp(config[i].key, key) == 0)
            return config[i].value;
    return p->default_value;
}

const char *dia_param_type_name(dia_param_type type)
{
    switch (type) {
    case DIA_PARAM_BOOL: return "bool";
    case DIA_PARAM_INT: return "int";
    case DIA_PARAM_REAL: return "real";
    case DIA_PARAM_STRING: return "string";
    case DIA_PARAM_PATH: return "path";
    case DIA_PARAM_CHOICE: return "choice";
    }
    return "?";
}

const char *dia_status_name(dia_status status)
{
    switch (status) {
    case DIA_OK: return "ok";
    case DIA_ERR_ARGUMENT: return "bad argument";
    case DIA_ERR_CONFIG: return "bad configuration";
    case DIA_ERR_IO: return "I/O error";
    case DIA_ERR_FORMAT: return "format error";
    case DIA_ERR_DATA: return "inconsistent data";
    case DIA_ERR_NOMEM: return "out of memory";
    case DIA_ERR_CANCELLED: return "cancelled";
    case DIA_ERR_UNSUPPORTED: return "unsupported";
    case DIA_ERR_INTERNAL: return "internal error";
    }
    return "unknown status";
}

static void print_range(FILE *out, const dia_param_desc *p)
{
    char lo[32], hi[32];
    if (p->type == DIA_PARAM_INT || p->type == DIA_PARAM_REAL)
        fprintf(out, "[%s, %s]", number_text(lo, p->min), number_text(hi, p->max));
    else if (p->type == DIA_PARAM_CHOICE)
        fprintf(out, "%s", p->choices ? p->choices : "");
    else if (p->type == DIA_PARAM_BOOL)
        fprintf(out, "true|false");
}

void dia_host_print_config(FILE *out, const dia_stage_descriptor *desc, const dia_kv *config,
                           size_t n_config, const char *origin)
{
    if (!out || !desc)
        return;
    fprintf(out, "# %s %s effective configuration%s%s\n", desc->name, desc->version,
            origin ? ": " : "", origin ? origin : "");
    for (int i = 0; i < desc->n_params; i++) {
        const dia_param_desc *p = &desc->params[i];
        const char *v = dia_params_lookup(desc->params, desc->n_params, config, n_config, p->key);
        if (!v)
            v = p->default_value;
        fprintf(out, "\n# %s (%s", p->help ? p->help : "", dia_param_type_name(p->type));
        if (p->type != DIA_PARAM_STRING && p->type != DIA_PARAM_PATH) {
            fprintf(out, ": ");
            print_range(out, p);
        }
        fprintf(out, ")\n");
        if (strcmp(v, p->default_value))
            fprintf(out, "# (default %s)\n", *p->default_value ? p->default_value : "\"\"");
        fprintf(out, "%s = %s\n", p->key, v);
    }
}

void dia_host_print_params(FILE *out, const dia_stage_descriptor *desc,
                           int as_config)
{
    if (!out || !desc)
        return;
    if (as_config)
        fprintf(out, "# %s %s configuration (every parameter at its default)\n",
                desc->name, desc->version);
    for (int i = 0; i < desc->n_params; i++) {
        const dia_param_desc *p = &desc->params[i];
        if (as_config) {
            fprintf(out, "\n# %s (%s", p->help ? p->help : "", dia_param_type_name(p->type));
            if (p->type != DIA_PARAM_STRING && p->type != DIA_PARAM_PATH) {
                fprintf(out, ": ");
                print_range(out, p);
            }
            fprintf(out, ")\n%s = %s\n", p->key, p->default_value);
        } else {
            fprintf(out, "  %-22s %-7s default %-14s ", p->key,
                    dia_param_type_name(p->type),
                    *p->default_value ? p->default_value : "\"\"");
            print_range(out, p);
            fprintf(out, "\n      %s\n", p->help ? p->help : "");
        }
    }
}
