/* csv.c — see csv.h. */
#include "core/csv.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

char *sv_csv_trim(char *s)
{
    while (*s && isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

int sv_csv_split(char *line, sv_csv_field *f, int max, int blanks, char *why, size_t cap)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == max) {
            snprintf(why, cap, "more than %d fields", max);
            return -1;
        }
        if (blanks)
            while (*p == ' ' || *p == '\t')
                p++;
        char *start = p, *w = p;
        int quoted = *p == '"';
        if (quoted) {
            p++;
            for (;;) {
                if (!*p) {
                    snprintf(why, cap, "unterminated quote");
                    return -1;
                }
                if (*p == '"') {
                    if (p[1] == '"') {
                        *w++ = '"';
                        p += 2;
                        continue;
                    }
                    p++;
                    break;
                }
                *w++ = *p++;
            }
            if (blanks)
                while (*p == ' ' || *p == '\t')
                    p++;
            if (*p && *p != ',') {
                snprintf(why, cap, "text after a closing quote");
                return -1;
            }
        } else {
            while (*p && *p != ',')
                *w++ = *p++;
        }
        int more = *p == ',';
        if (more)
            p++;
        *w = '\0';
        f[n].text = blanks && !quoted ? sv_csv_trim(start) : start;
        f[n].quoted = quoted;
        n++;
        if (!more)
            return n;
    }
}

int sv_csv_split_blanks(char *line, sv_csv_field *f, int max, char *why, size_t cap)
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            return n;
        if (n == max) {
            snprintf(why, cap, "more than %d fields", max);
            return -1;
        }
        char *start = p, *w = p;
        int quoted = *p == '"';
        if (quoted) {
            for (p++;; p++) {
                if (!*p) {
                    snprintf(why, cap, "unterminated quote");
                    return -1;
                }
                if (*p == '"') {
                    if (p[1] != '"')
                        break;
                    p++;
                }
                *w++ = *p;
            }
            p++;
            if (*p && *p != ' ' && *p != '\t') {
                snprintf(why, cap, "text after a closing quote");
                return -1;
            }
        } else {
            while (*p && *p != ' ' && *p != '\t')
                *w++ = *p++;
        }
        if (*p)
            p++;
        *w = '\0';
        f[n].text = start;
        f[n].quoted = quoted;
        n++;
    }
}
