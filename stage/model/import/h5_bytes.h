/* h5_bytes.h — an HDF5 file as bytes, for the checks that judge its
 * structure before the HDF5 library reads it (h5_heap_check.h,
 * h5_ohdr_check.h): the whole file in memory, little-endian integers, and
 * the superblock (versions 0 to 3; a user block before it is skipped as
 * HDF5 does, at 512, 1024, 2048 ... bytes).
 */
#ifndef SV_H5_BYTES_H
#define SV_H5_BYTES_H

#include <stddef.h>
#include <stdint.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The file at path, whole, into *d (free with free(); *n bytes).  Returns
 * 0, SV_ERR_IO (cannot open or read, err naming the file) or
 * SV_ERR_NOMEM.  Thread-safe. */
int sv_h5_read_file(const char *path, unsigned char **d, size_t *n, sv_error *err);

/* An unsigned little-endian integer of n bytes (1..8) at p. */
static inline uint64_t sv_h5_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* What the superblock says. */
typedef struct sv_h5_super {
    size_t base;        /* its offset in the file: addresses are relative to it */
    int version;        /* 0 .. 3                                               */
    int O, L;           /* sizes of offsets and lengths: 2, 4 or 8              */
    uint64_t root;      /* the root group's object header address, or
                           UINT64_MAX when the superblock is cut short          */
} sv_h5_super;

/* Find and read the superblock of d[0 .. n).  Returns 1 with *s set, or 0
 * when there is none or its sizes are not 2, 4 or 8.  Reentrant. */
int sv_h5_superblock(const unsigned char *d, size_t n, sv_h5_super *s);

#ifdef __cplusplus
}
#endif
#endif
