/* h5_bytes.c — see h5_bytes.h. */
#include "model/import/h5_bytes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sv_h5_read_file(const char *path, unsigned char **out, size_t *out_n, sv_error *err)
{
    *out = NULL;
    *out_n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return sv_error_set(err, SV_ERR_IO, "%s: cannot open", path);
    unsigned char *d = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 1 << 16;
            unsigned char *nd = realloc(d, nc);
            if (!nd) {
                free(d);
                fclose(f);
                return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory reading it", path);
            }
            d = nd;
            cap = nc;
        }
        size_t got = fread(d + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int rd_err = ferror(f);
    fclose(f);
    if (rd_err) {
        free(d);
        return sv_error_set(err, SV_ERR_IO, "%s: read error", path);
    }
    *out = d;
    *out_n = n;
    return SV_OK;
}

int sv_h5_superblock(const unsigned char *d, size_t n, sv_h5_super *s)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (size_t at = 0; at + 16 <= n; at = at ? 2 * at : 512) {
        if (memcmp(d + at, sig, 8))
            continue;
        const unsigned char *b = d + at;
        s->base = at;
        s->version = b[8];
        s->O = s->version <= 1 ? b[13] : b[9];
        s->L = s->version <= 1 ? b[14] : b[10];
        s->root = UINT64_MAX;
        if (!((s->L == 2 || s->L == 4 || s->L == 8) && (s->O == 2 || s->O == 4 || s->O == 8)))
            return 0;
        /* versions 0/1: base, free space, end of file and driver addresses,
         * then the root symbol table entry (link name offset, object header
         * address); 2/3: base, extension, end of file, root object header */
        size_t at_root = s->version == 0   ? 24 + 4 * (size_t)s->O + (size_t)s->O
                         : s->version == 1 ? 28 + 4 * (size_t)s->O + (size_t)s->O
                                           : 12 + 3 * (size_t)s->O;
        if (s->version <= 3 && at + at_root + (size_t)s->O <= n)
            s->root = sv_h5_le(b + at_root, s->O);
        return 1;
    }
    return 0;
}
