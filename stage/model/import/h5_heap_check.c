/* h5_heap_check.c — see h5_heap_check.h. */
#include "model/import/h5_heap_check.h"

#include "model/import/h5_bytes.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GCOL_MIN 4096

/* One collection's objects: index -> size (the heap's indices are 16-bit). */
typedef struct gcol {
    uint64_t addr;
    uint64_t size[65536];
    unsigned char used[65536];
} gcol;

/* Walk the collection c[0 .. size) as HDF5 does, noting its objects in g:
 * 0 when the walk advances to its end. */
static int walk(const unsigned char *c, uint64_t size, int L, gcol *g)
{
    const uint64_t hdr = 8 + (uint64_t)L;    /* signature, version, reserved, size */
    const uint64_t objhdr = 8 + (uint64_t)L; /* index, refs, reserved, size       */
    memset(g->used, 0, sizeof g->used);
    uint64_t p = hdr;
    while (p < size) {
        if (p + objhdr > size) /* too small for an object: free space */
            return 0;
        unsigned idx = (unsigned)sv_h5_le(c + p, 2);
        uint64_t osize = sv_h5_le(c + p + 8, L);
        uint64_t need = idx ? objhdr + ((osize + 7) & ~(uint64_t)7) : osize;
        if (need == 0 || need > size - p)
            return -1;
        if (idx) {
            g->used[idx] = 1;
            g->size[idx] = osize;
        }
        p += need;
    }
    return 0;
}

/* A damaged variable-length reference (length 4 bytes, collection address,
 * object index 4 bytes) to the collection g:
 *   - its index is none of g's objects, while its length is that of one of
 *     them: HDF5 1.10 reads that index without a check (an assertion,
 *     compiled out of release builds).  Only references whose length
 *     matches an object are judged, so that an 8-byte field that merely
 *     equals the collection's address (a dimension, a size) is not taken
 *     for one;
 *   - its index is one of g's objects, but its length (a count of
 *     elements, each at least a byte) is more than the object's size in
 *     bytes: HDF5 1.10 allocates what the length claims (up to 4 GB) before
 *     it reads the object.  A real reference's length never exceeds it.
 * Returns the offset of the first, or 0; *beyond is 1 for the second kind. */
static size_t bad_reference(const unsigned char *d, size_t n, int O, const gcol *g, int *beyond)
{
    for (size_t i = 4; i + (size_t)O + 4 <= n; i++) {
        if (sv_h5_le(d + i, O) != g->addr)
            continue;
        uint64_t len = sv_h5_le(d + i - 4, 4), idx = sv_h5_le(d + i + O, 4);
        if (!len)
            continue;
        if (idx < 65536 && g->used[idx]) {
            if (len > g->size[idx]) {
                *beyond = 1;
                return i - 4;
            }
            continue;
        }
        for (unsigned k = 1; k < 65536; k++)
            if (g->used[k] && g->size[k] == len) {
                *beyond = 0;
                return i - 4;
            }
    }
    return 0;
}

int sv_h5_heap_check(const char *path, sv_error *err)
{
    unsigned char *d = NULL;
    size_t n = 0;
    int st = sv_h5_read_file(path, &d, &n, err);
    if (st)
        return st;
    sv_h5_super sb;
    int have = sv_h5_superblock(d, n, &sb);
    size_t base = have ? sb.base : 0;
    int O = have ? sb.O : 8, L = have ? sb.L : 0;
    gcol *g = L ? malloc(sizeof *g) : NULL;
    if (L && !g) {
        free(d);
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory checking it", path);
    }
    for (size_t at = base; L && at + 8 + (size_t)L <= n && !st; at++) {
        if (d[at] != 'G' || memcmp(d + at, "GCOL", 4) || d[at + 4] != 1 || d[at + 5] ||
            d[at + 6] || d[at + 7])
            continue;
        uint64_t size = sv_h5_le(d + at + 8, L);
        if (size < GCOL_MIN || size > n - at)
            continue;
        g->addr = at - base;
        size_t ref;
        int beyond = 0;
        if (walk(d + at, size, L, g))
            st = sv_error_set(err, SV_ERR_FORMAT,
                              "%s: damaged HDF5 global heap (the collection at byte %zu has an "
                              "object whose size does not fit it); the HDF5 library would "
                              "loop reading it",
                              path, at);
        else if ((ref = bad_reference(d, n, O, g, &beyond)) && !beyond)
            st = sv_error_set(err, SV_ERR_FORMAT,
                              "%s: damaged HDF5 variable-length reference at byte %zu (object "
                              "%llu of the global heap at byte %zu, which has no such object); "
                              "the HDF5 library would read outside its memory",
                              path, ref, (unsigned long long)sv_h5_le(d + ref + 4 + O, 4), at);
        else if (ref)
            st = sv_error_set(err, SV_ERR_FORMAT,
                              "%s: damaged HDF5 variable-length reference at byte %zu (length "
                              "%llu, more than the %llu bytes of object %llu of the global heap "
                              "at byte %zu); the HDF5 library would allocate that length",
                              path, ref, (unsigned long long)sv_h5_le(d + ref, 4),
                              (unsigned long long)g->size[sv_h5_le(d + ref + 4 + O, 4)],
                              (unsigned long long)sv_h5_le(d + ref + 4 + O, 4), at);
    }
    free(g);
    free(d);
    return st;
}
