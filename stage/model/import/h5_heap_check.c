/* h5_heap_check.c — see h5_heap_check.h. */
#include "model/import/h5_heap_check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GCOL_MIN 4096

/* an unsigned little-endian integer of n bytes (1..8) */
static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* The superblock's size of lengths (2, 4 or 8), or 0 when there is none. */
static int length_size(const unsigned char *d, size_t n)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    for (size_t at = 0; at + 16 <= n; at = at ? 2 * at : 512) {
        if (memcmp(d + at, sig, 8))
            continue;
        int version = d[at + 8];
        int len = version <= 1 ? d[at + 14] : d[at + 10];
        return len == 2 || len == 4 || len == 8 ? len : 0;
    }
    return 0;
}

/* Walk the collection at d[0 .. size): 0 when it advances to its end. */
static int walk_ok(const unsigned char *c, uint64_t size, int L)
{
    const uint64_t hdr = 8 + (uint64_t)L; /* signature, version, reserved, size */
    const uint64_t objhdr = 8 + (uint64_t)L; /* index, refs, reserved, size     */
    uint64_t p = hdr;
    while (p < size) {
        if (p + objhdr > size) /* too small for an object: free space */
            return 0;
        unsigned idx = (unsigned)le(c + p, 2);
        uint64_t osize = le(c + p + 8, L);
        uint64_t need = idx ? objhdr + ((osize + 7) & ~(uint64_t)7) : osize;
        if (need == 0 || need > size - p)
            return -1;
        p += need;
    }
    return 0;
}

int sv_h5_heap_check(const char *path, sv_error *err)
{
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
    int L = length_size(d, n), st = SV_OK;
    for (size_t at = 0; L && at + 8 + (size_t)L <= n && !st; at++) {
        if (d[at] != 'G' || memcmp(d + at, "GCOL", 4) || d[at + 4] != 1 || d[at + 5] ||
            d[at + 6] || d[at + 7])
            continue;
        uint64_t size = le(d + at + 8, L);
        if (size < GCOL_MIN || size > n - at)
            continue;
        if (walk_ok(d + at, size, L))
            st = sv_error_set(err, SV_ERR_FORMAT,
                              "%s: damaged HDF5 global heap (the collection at byte %zu has an "
                              "object whose size does not fit it); the HDF5 library would "
                              "loop reading it",
                              path, at);
    }
    free(d);
    return st;
}
