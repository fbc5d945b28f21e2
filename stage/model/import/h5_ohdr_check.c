/* h5_ohdr_check.c — see h5_ohdr_check.h.  The layouts are those of the
 * HDF5 File Format Specification, version 3 (object headers IV.A, messages
 * IV.A.2: dataspace 0x0001, link 0x0006, attribute 0x000C, continuation
 * 0x0010, symbol table 0x0011; B-tree version 1 III.A.1; symbol table node
 * III.B). */
#include "model/import/h5_ohdr_check.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/import/h5_bytes.h"

#define MAX_HEADERS 65536
#define MAX_CHUNKS 4096   /* per object header */
#define MAX_RANK 32
#define MAX_STEPS (1u << 22) /* messages looked at, over the whole walk     */
#define MAX_VLEN_BASE (1u << 16) /* bytes of a variable-length sequence's element */

typedef struct walker {
    const unsigned char *d;
    size_t n;
    sv_h5_super sb;
    const char *path;
    sv_error *err;
    uint64_t *todo;        /* object header addresses to walk, a stack  */
    size_t ntodo, cap;
    uint64_t *seen;        /* every address pushed (unsorted; small)    */
    size_t nseen;
    unsigned steps;        /* messages looked at (MAX_STEPS)            */
} walker;

/* file offset of the address a, or SIZE_MAX when a + len is outside the file */
static size_t at(const walker *w, uint64_t a, uint64_t len)
{
    if (a == UINT64_MAX || a > w->n || w->sb.base > w->n - a || len > w->n - w->sb.base - a)
        return SIZE_MAX;
    return (size_t)(w->sb.base + a);
}

static uint64_t rd(const walker *w, size_t off, int nb) { return sv_h5_le(w->d + off, nb); }

/* push an object header address once; SV_ERR_NOMEM when out of memory */
static int push(walker *w, uint64_t a)
{
    if (a == 0 || a == UINT64_MAX || at(w, a, 16) == SIZE_MAX)
        return 0;
    for (size_t i = 0; i < w->nseen; i++)
        if (w->seen[i] == a)
            return 0;
    if (w->nseen >= MAX_HEADERS)
        return 0;
    if (w->nseen == w->cap) {
        size_t nc = w->cap ? 2 * w->cap : 64;
        uint64_t *s = realloc(w->seen, nc * sizeof *s), *t;
        if (s)
            w->seen = s;
        t = s ? realloc(w->todo, nc * sizeof *t) : NULL;
        if (!s || !t)
            return SV_ERR_NOMEM;
        w->todo = t;
        w->cap = nc;
    }
    w->seen[w->nseen++] = a;
    w->todo[w->ntodo++] = a;
    return 0;
}

static int damaged(walker *w, size_t oh, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* SV_ERR_FORMAT naming the file and the header at byte oh, fmt: what */
static int damaged(walker *w, size_t oh, const char *fmt, ...)
{
    char why[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    return sv_error_set(w->err, SV_ERR_FORMAT,
                        "%s: damaged HDF5 object header at byte %zu: %s; the HDF5 library "
                        "would read outside its memory decoding it",
                        w->path, oh, why);
}

static uint64_t align8(uint64_t v) { return (v + 7) & ~(uint64_t)7; }

/* An attribute message's body m[0 .. size) (file offset mo) of the header
 * at oh.  0, or SV_ERR_FORMAT. */
static int check_attribute(walker *w, size_t oh, size_t mo, uint64_t size)
{
    const unsigned char *m = w->d + mo;
    if (size < 8)
        return damaged(w, oh, "an attribute message of %llu bytes", (unsigned long long)size);
    int version = m[0], flags = version >= 2 ? m[1] : 0;
    if (version < 1 || version > 3)
        return damaged(w, oh, "an attribute message of version %d", version);
    uint64_t nname = sv_h5_le(m + 2, 2), ndt = sv_h5_le(m + 4, 2), nds = sv_h5_le(m + 6, 2);
    uint64_t hdr = version == 3 ? 9 : 8;
    uint64_t pn = version == 1 ? align8(nname) : nname, pdt = version == 1 ? align8(ndt) : ndt,
             pds = version == 1 ? align8(nds) : nds;
    if (nname < 1 || ndt < 8 || nds < 4 || hdr + pn + pdt + pds > size)
        return damaged(w, oh,
                       "an attribute message of %llu bytes whose name (%llu), datatype (%llu) "
                       "and dataspace (%llu bytes) do not fit it",
                       (unsigned long long)size, (unsigned long long)nname,
                       (unsigned long long)ndt, (unsigned long long)nds);
    const unsigned char *name = m + hdr, *dt = name + pn, *ds = dt + pdt;
    if (name[nname - 1] != '\0')
        return damaged(w, oh, "an attribute name of %llu bytes without its NUL",
                       (unsigned long long)nname);
    if (flags & 0x03) /* shared datatype or dataspace: a reference, not the message */
        return SV_OK;
    /* the dataspace: version, rank, flags, then rank sizes (and maxima) */
    int dsv = ds[0], rank = ds[1], dsf = ds[2];
    if (dsv < 1 || dsv > 2 || rank > MAX_RANK)
        return damaged(w, oh, "an attribute dataspace of version %d and rank %d", dsv, rank);
    uint64_t dsh = dsv == 1 ? 8 : 4, L = (uint64_t)w->sb.L;
    uint64_t need = dsh + (uint64_t)rank * L * ((dsf & 1) ? 2 : 1);
    if (need > nds)
        return damaged(w, oh, "an attribute dataspace of %llu bytes whose dimensions take %llu",
                       (unsigned long long)nds, (unsigned long long)need);
    uint64_t nelem = (dsv == 2 && ds[3] == 2) ? 0 : 1; /* version 2 type 2: null */
    for (int k = 0; k < rank && nelem; k++) {
        uint64_t dim = sv_h5_le(ds + dsh + (uint64_t)k * L, (int)L);
        if (dim && nelem > UINT64_MAX / dim)
            return damaged(w, oh, "an attribute dataspace of more than 2^64 elements");
        nelem *= dim;
    }
    /* a variable-length datatype (class 9): its base type follows its 8
     * bytes; a string's base is a 1-byte character (format spec IV.A.2.d).
     * HDF5 1.10 allocates a sequence's length x the base's size for each
     * element it converts, so a damaged base size makes it allocate
     * gigabytes (a fuzzing finding: tests/fuzz/regress/keras/
     * vlen_string_of_1_3_gb_characters.h5) */
    if ((dt[0] & 0x0f) == 9) {
        uint64_t bsize = ndt >= 16 ? sv_h5_le(dt + 12, 4) : 0;
        int is_string = (dt[1] & 0x0f) == 1;
        if (ndt < 16 || (is_string && bsize != 1) || bsize == 0 || bsize > MAX_VLEN_BASE)
            return sv_error_set(w->err, SV_ERR_FORMAT,
                                "%s: damaged HDF5 object header at byte %zu: a variable-length "
                                "%s attribute whose base type is %llu bytes (datatype of %llu "
                                "bytes); the HDF5 library would allocate its length times that",
                                w->path, oh, is_string ? "string" : "sequence",
                                (unsigned long long)bsize, (unsigned long long)ndt);
    }
    uint64_t esize = sv_h5_le(dt + 4, 4); /* the datatype's size */
    uint64_t left = size - (hdr + pn + pdt + pds);
    if (nelem && (esize > left || nelem > left / (esize ? esize : 1)))
        return damaged(w, oh,
                       "an attribute whose data, %llu elements of %llu bytes, does not fit "
                       "the %llu bytes left of its message",
                       (unsigned long long)nelem, (unsigned long long)esize,
                       (unsigned long long)left);
    /* each element of a variable-length attribute is a reference: 4 bytes
     * of length (elements of the base type), then the heap object's
     * address and index.  HDF5 1.10 allocates length x base size before it
     * reads the object, wherever the address points; the object lives in
     * the file, so a length claiming more bytes than the file has is
     * damage (a fuzzing finding: tests/fuzz/regress/keras/
     * vlen_reference_of_1_4_gb_to_no_heap.h5) */
    if ((dt[0] & 0x0f) == 9 && esize >= 4) {
        const unsigned char *data = ds + pds;
        uint64_t bsize = sv_h5_le(dt + 12, 4);
        for (uint64_t k = 0; k < nelem; k++) {
            uint64_t len = sv_h5_le(data + k * esize, 4);
            if (len > w->n / bsize)
                return sv_error_set(w->err, SV_ERR_FORMAT,
                                    "%s: damaged HDF5 object header at byte %zu: element %llu "
                                    "of a variable-length attribute claims %llu elements of "
                                    "%llu bytes, more than the file's %zu bytes; the HDF5 "
                                    "library would allocate that",
                                    w->path, oh, (unsigned long long)k,
                                    (unsigned long long)len, (unsigned long long)bsize, w->n);
        }
    }
    return SV_OK;
}

/* A symbol table's version 1 B-tree at address a (group nodes, type 0):
 * the object headers of its SNOD leaves pushed.  Nodes that do not look
 * like ones are left alone (depth-limited). */
static int walk_btree(walker *w, uint64_t a, int depth)
{
    const int O = w->sb.O, L = w->sb.L;
    size_t t = at(w, a, 8 + 2 * (uint64_t)O);
    if (depth > 32 || t == SIZE_MAX || memcmp(w->d + t, "TREE", 4) || w->d[t + 4] != 0)
        return 0;
    int level = w->d[t + 5];
    uint64_t used = rd(w, t + 6, 2);
    size_t p = t + 8 + 2 * (size_t)O; /* key 0, child 0, key 1, ... */
    for (uint64_t i = 0; i < used; i++) {
        size_t c = p + (size_t)L + (size_t)i * (size_t)(L + O);
        if (c + (size_t)O > w->n)
            return 0;
        uint64_t child = rd(w, c, O);
        if (level > 0) {
            int st = walk_btree(w, child, depth + 1);
            if (st)
                return st;
            continue;
        }
        size_t s = at(w, child, 8);
        if (s == SIZE_MAX || memcmp(w->d + s, "SNOD", 4))
            continue;
        uint64_t nsym = rd(w, s + 6, 2), esz = 2 * (uint64_t)O + 24;
        for (uint64_t k = 0; k < nsym && s + 8 + (k + 1) * esz <= w->n; k++)
            if (push(w, rd(w, s + 8 + (size_t)(k * esz) + (size_t)O, O)))
                return SV_ERR_NOMEM;
    }
    return 0;
}

/* A link message: push a hard link's object header. */
static int link_target(walker *w, size_t mo, uint64_t size)
{
    const unsigned char *m = w->d + mo;
    if (size < 3 || m[0] != 1)
        return 0;
    int flags = m[1];
    uint64_t p = 2, type = 0;
    if (flags & 0x08)
        type = m[p++];
    if (flags & 0x04)
        p += 8;
    if (flags & 0x10)
        p++;
    int nl = 1 << (flags & 3);
    if (p + (uint64_t)nl > size)
        return 0;
    uint64_t len = sv_h5_le(m + p, nl);
    p += (uint64_t)nl;
    if (type != 0 || len > size || p + len + (uint64_t)w->sb.O > size)
        return 0;
    return push(w, sv_h5_le(m + p + len, w->sb.O)) ? SV_ERR_NOMEM : 0;
}

/* The messages of one chunk [c, c + len) of the header at oh; version 1
 * or 2 message headers.  Continuations are added to chunks. */
typedef struct chunk {
    uint64_t addr, len;
} chunk;

static int walk_chunk(walker *w, size_t oh, int v2, size_t c, uint64_t len, int creation_order,
                      chunk *chunks, int *nchunks)
{
    const int O = w->sb.O, L = w->sb.L;
    const size_t mh = v2 ? (size_t)(4 + (creation_order ? 2 : 0)) : 8;
    size_t p = c, end = c + (size_t)len;
    while (p + mh <= end) {
        if (++w->steps > MAX_STEPS) /* a hostile file's loops: stop judging */
            return 0;
        unsigned type = v2 ? w->d[p] : (unsigned)rd(w, p, 2);
        uint64_t size = rd(w, p + (v2 ? 1 : 2), 2);
        int mflags = w->d[p + (v2 ? 3 : 4)];
        size_t body = p + mh;
        if (size > end - body)
            return damaged(w, oh, "a message (type %u) of %llu bytes past the end of its chunk",
                           type, (unsigned long long)size);
        if (type == 0x000C && !(mflags & 0x02)) {
            int st = check_attribute(w, oh, body, size);
            if (st)
                return st;
        } else if (type == 0x0010 && size >= (uint64_t)(O + L) && *nchunks < MAX_CHUNKS) {
            uint64_t a = rd(w, body, O);
            int again = 0; /* a chunk continued twice is walked once */
            for (int i = 0; i < *nchunks && !again; i++)
                again = chunks[i].addr == a;
            if (!again) {
                chunks[*nchunks].addr = a;
                chunks[*nchunks].len = rd(w, body + (size_t)O, L);
                (*nchunks)++;
            }
        } else if (type == 0x0011 && size >= (uint64_t)O) {
            int st = walk_btree(w, rd(w, body, O), 0);
            if (st)
                return st;
        } else if (type == 0x0006) {
            int st = link_target(w, body, size);
            if (st)
                return st;
        }
        p = body + (size_t)size;
    }
    return 0;
}

/* One object header at address a. */
static int walk_header(walker *w, uint64_t a, chunk *chunks)
{
    size_t oh = at(w, a, 16);
    if (oh == SIZE_MAX)
        return 0;
    const unsigned char *h = w->d + oh;
    int nchunks = 0, v2 = 0, co = 0;
    size_t c0;
    uint64_t len0;
    if (h[0] == 1 && h[1] == 0) { /* version 1: prefix of 16 bytes */
        c0 = oh + 16;
        len0 = rd(w, oh + 8, 4);
    } else if (!memcmp(h, "OHDR", 4) && h[4] == 2) {
        int flags = h[5];
        size_t p = oh + 6 + ((flags & 0x20) ? 16 : 0) + ((flags & 0x10) ? 4 : 0);
        int nb = 1 << (flags & 3);
        if (p + (size_t)nb > w->n)
            return 0;
        len0 = rd(w, p, nb);
        c0 = p + (size_t)nb;
        v2 = 1;
        co = (flags & 0x04) != 0;
    } else {
        return 0; /* not a header: HDF5 refuses it itself */
    }
    if (c0 > w->n || len0 > w->n - c0)
        return damaged(w, oh, "a header chunk of %llu bytes past the end of the file",
                       (unsigned long long)len0);
    int st = walk_chunk(w, oh, v2, c0, len0, co, chunks, &nchunks);
    for (int i = 0; i < nchunks && !st; i++) {
        size_t c = at(w, chunks[i].addr, chunks[i].len);
        if (c == SIZE_MAX)
            st = damaged(w, oh, "a continuation chunk of %llu bytes at address %llu outside the file",
                         (unsigned long long)chunks[i].len, (unsigned long long)chunks[i].addr);
        else if (!v2)
            st = walk_chunk(w, oh, 0, c, chunks[i].len, co, chunks, &nchunks);
        else if (chunks[i].len >= 8 && !memcmp(w->d + c, "OCHK", 4))
            st = walk_chunk(w, oh, 1, c + 4, chunks[i].len - 8, co, chunks, &nchunks);
    }
    return st;
}

int sv_h5_ohdr_check_bytes(const unsigned char *d, size_t n, const char *path, sv_error *err)
{
    walker w;
    memset(&w, 0, sizeof w);
    w.d = d;
    w.n = n;
    w.path = path;
    w.err = err;
    if (!sv_h5_superblock(d, n, &w.sb) || w.sb.version > 3)
        return SV_OK;
    chunk *chunks = malloc(MAX_CHUNKS * sizeof *chunks);
    int st = chunks ? push(&w, w.sb.root) : SV_ERR_NOMEM;
    while (st == 0 && w.ntodo > 0)
        st = walk_header(&w, w.todo[--w.ntodo], chunks);
    free(chunks);
    free(w.todo);
    free(w.seen);
    if (st == SV_ERR_NOMEM)
        return sv_error_set(err, SV_ERR_NOMEM, "%s: out of memory checking it", path);
    return st;
}

int sv_h5_ohdr_check(const char *path, sv_error *err)
{
    unsigned char *d = NULL;
    size_t n = 0;
    int st = sv_h5_read_file(path, &d, &n, err);
    if (st)
        return st;
    st = sv_h5_ohdr_check_bytes(d, n, path, err);
    free(d);
    return st;
}
