/* sha256.h — SHA-256 (FIPS 180-4), for model provenance checksums.
 *
 * Used to record the checksum of a source file (an imported Keras HDF5 file,
 * a training table) in a model's provenance.  Small and dependency-free.
 *
 * Thread safety: every function is reentrant; a context belongs to one
 * thread at a time.
 */
#ifndef SV_SHA256_H
#define SV_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_SHA256_DIGEST 32
#define SV_SHA256_HEX 65 /* 64 hex digits + NUL */

typedef struct sv_sha256 {
    uint32_t h[8];
    uint64_t nbytes;      /* total message length so far  */
    uint8_t buf[64];      /* pending partial block        */
    size_t nbuf;
} sv_sha256;

/* Start a new digest. */
void sv_sha256_init(sv_sha256 *c);
/* Add `len` bytes (data may be NULL when len is 0). */
void sv_sha256_update(sv_sha256 *c, const void *data, size_t len);
/* Finish: write the 32-byte digest.  The context must be re-initialised
 * before reuse. */
void sv_sha256_final(sv_sha256 *c, uint8_t digest[SV_SHA256_DIGEST]);

/* One-shot digest of a buffer, as 64 lower-case hex digits + NUL. */
void sv_sha256_hex(const void *data, size_t len, char hex[SV_SHA256_HEX]);

/* Digest of a whole file, as 64 lower-case hex digits + NUL.  Returns 0, or
 * SV_ERR_IO with err naming the file when it cannot be read. */
int sv_sha256_file(const char *path, char hex[SV_SHA256_HEX], sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
