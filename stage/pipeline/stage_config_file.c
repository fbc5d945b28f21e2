/* stage_config_file.c — see stage_config_file.h. */
#include "pipeline/stage_config_file.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dia_host.h"
#include "pipeline/stage_params.h"

static const dia_param_desc *find_param(const char *key)
{
    for (int i = 0; i < sv_stage_n_params; i++)
        if (!strcmp(sv_stage_params[i].key, key))
            return &sv_stage_params[i];
    return NULL;
}

void sv_kvlist_free(sv_kvlist *list)
{
    if (!list)
        return;
    for (size_t i = 0; i < list->n; i++) {
        free((char *)list->kv[i].key);
        free((char *)list->kv[i].value);
        free(list->origin[i]);
    }
    free(list->kv);
    free(list->origin);
    memset(list, 0, sizeof *list);
}

const char *sv_kvlist_get(const sv_kvlist *list, const char *key)
{
    for (size_t i = 0; i < list->n; i++)
        if (!strcmp(list->kv[i].key, key))
            return list->kv[i].value;
    return NULL;
}

int sv_kvlist_set(sv_kvlist *list, const char *key_in, const char *value, const char *origin,
                  sv_error *err)
{
    if (!origin)
        origin = "configuration";
    if (!key_in || !*key_in)
        return sv_error_set(err, SV_ERR_ARG, "%s: no parameter name", origin);
    char key[80];
    size_t k = 0;
    for (; key_in[k] && k + 1 < sizeof key; k++)
        key[k] = (char)tolower((unsigned char)key_in[k]);
    key[k] = '\0';
    if (key_in[k])
        return sv_error_set(err, SV_ERR_ARG, "%s: parameter name too long", origin);
    if (!value)
        value = "";
    if (!list->unchecked) {
        if (!find_param(key))
            return sv_error_set(err, SV_ERR_ARG,
                                "%s: unknown parameter '%s' (stampvet run --dump-config lists "
                                "them)",
                                origin, key_in);
        dia_kv one = {key, value};
        char why[512];
        if (dia_params_check(sv_stage_params, sv_stage_n_params, &one, 1, why, sizeof why) !=
            DIA_OK)
            return sv_error_set(err, SV_ERR_ARG, "%s: %s", origin, why);
    }
    for (size_t i = 0; i < list->n; i++)
        if (!strcmp(list->kv[i].key, key)) {
            char *v = strdup(value), *o = strdup(origin);
            if (!v || !o) {
                free(v);
                free(o);
                return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", origin);
            }
            free((char *)list->kv[i].value);
            free(list->origin[i]);
            list->kv[i].value = v;
            list->origin[i] = o;
            return SV_OK;
        }
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 16;
        dia_kv *nkv = realloc(list->kv, cap * sizeof *nkv);
        if (!nkv)
            return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", origin);
        list->kv = nkv;
        char **no = realloc(list->origin, cap * sizeof *no);
        if (!no)
            return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", origin);
        list->origin = no;
        list->cap = cap;
    }
    char *kc = strdup(key), *vc = strdup(value), *oc = strdup(origin);
    if (!kc || !vc || !oc) {
        free(kc);
        free(vc);
        free(oc);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory", origin);
    }
    list->kv[list->n].key = kc;
    list->kv[list->n].value = vc;
    list->origin[list->n] = oc;
    list->n++;
    return SV_OK;
}

int sv_kvlist_set_text(sv_kvlist *list, const char *text, const char *origin, sv_error *err)
{
    const char *eq = text ? strchr(text, '=') : NULL;
    if (!eq)
        return sv_error_set(err, SV_ERR_ARG, "%s: '%s' is not key=value", origin ? origin : "",
                            text ? text : "");
    char key[80];
    const char *a = text, *b = eq;
    while (a < b && isspace((unsigned char)*a))
        a++;
    while (b > a && isspace((unsigned char)b[-1]))
        b--;
    if ((size_t)(b - a) >= sizeof key)
        return sv_error_set(err, SV_ERR_ARG, "%s: parameter name too long", origin);
    memcpy(key, a, (size_t)(b - a));
    key[b - a] = '\0';
    const char *v = eq + 1;
    while (isspace((unsigned char)*v))
        v++;
    return sv_kvlist_set(list, key, v, origin, err);
}

/* Parse one line.  Returns 0 (a parameter in key/value, or nothing when
 * *key == 0) or SV_ERR_ARG with why set. */
static int parse_line(char *line, char **key, char **value, const char **why)
{
    *key = *value = NULL;
    char *p = line;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p || *p == '#')
        return SV_OK;
    char *k = p;
    while (*p && (isalnum((unsigned char)*p) || *p == '_'))
        p++;
    if (p == k) {
        *why = "a line must start with a parameter name";
        return SV_ERR_ARG;
    }
    char *kend = p;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '=') {
        p++;
        while (*p == ' ' || *p == '\t')
            p++;
    } else if (*p && *p != '#' && kend == p) {
        *why = "expected '=' or a blank after the parameter name";
        return SV_ERR_ARG;
    }
    *kend = '\0';
    char *v = p, *vend;
    if (*p == '"' || *p == '\'') {
        char q = *p++;
        v = p;
        while (*p && *p != q)
            p++;
        if (*p != q) {
            *why = "unterminated quote";
            return SV_ERR_ARG;
        }
        vend = p++;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (*p && *p != '#') {
            *why = "text after the closing quote";
            return SV_ERR_ARG;
        }
    } else {
        while (*p && *p != '#' && *p != '\n' && *p != '\r')
            p++;
        vend = p;
        while (vend > v && isspace((unsigned char)vend[-1]))
            vend--;
    }
    *vend = '\0';
    *key = k;
    *value = v;
    return SV_OK;
}

int sv_config_file_read(const char *path, sv_kvlist *list, sv_error *err)
{
    if (!path || !*path)
        return sv_error_set(err, SV_ERR_ARG, "no configuration file name given");
    FILE *fp = fopen(path, "r");
    if (!fp)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open the configuration file (%s)", path,
                            strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, st = SV_OK;
    /* first line of each key in this file, to refuse repeats */
    char seen_key[64][32];
    int seen_line[64], nseen = 0;
    while ((len = getline(&line, &cap, fp)) >= 0) {
        lineno++;
        char origin[4200];
        snprintf(origin, sizeof origin, "%s:%d", path, lineno);
        if (memchr(line, '\0', (size_t)len)) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: a NUL byte (not a text file?)", origin);
            break;
        }
        char *key, *value;
        const char *why = "";
        if (parse_line(line, &key, &value, &why)) {
            st = sv_error_set(err, SV_ERR_ARG, "%s: %s", origin, why);
            break;
        }
        if (!key)
            continue;
        for (char *c = key; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        for (int i = 0; i < nseen; i++)
            if (!strcmp(seen_key[i], key)) {
                st = sv_error_set(err, SV_ERR_ARG, "%s: '%s' given twice (first at line %d)",
                                  origin, key, seen_line[i]);
                break;
            }
        if (st)
            break;
        if ((st = sv_kvlist_set(list, key, value, origin, err)))
            break;
        if (nseen < 64) {
            snprintf(seen_key[nseen], sizeof seen_key[nseen], "%s", key);
            seen_line[nseen++] = lineno;
        }
    }
    if (!st && ferror(fp))
        st = sv_error_set(err, SV_ERR_IO, "%s: read error", path);
    free(line);
    fclose(fp);
    return st;
}
