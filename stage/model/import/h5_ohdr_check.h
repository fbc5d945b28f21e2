/* h5_ohdr_check.h — refuse an HDF5 file whose object headers would make the
 * HDF5 library read outside its memory, before the library decodes them.
 *
 * HDF5 1.10's decoder of an attribute message (H5O_attr_decode, reached
 * from H5Aexists, H5Aopen and H5Aiterate, which decode every attribute
 * message of an object to compare names) trusts the sizes the message
 * carries: the name, datatype and dataspace sizes, and the data that
 * follows them (elements x element size), are not compared with the
 * message's own size, and a message's size is not compared with its
 * header chunk.  A damaged size makes it copy from outside the chunk it
 * read (a fuzzing finding: tests/fuzz/regress/keras/
 * keras-hdf5-attribute-message-overflow.h5, a dataspace size of 97 in a
 * 64-byte message; HDF5 1.14 checks these bounds).
 *
 * So the object headers are walked here first, on the file's bytes, from
 * the superblock's root group: each header's chunks (version 1, and
 * version 2 "OHDR"/"OCHK"), its continuation messages, and the objects of
 * its group: symbol tables (version 1 B-tree "TREE" and "SNOD" nodes, as
 * h5py and Keras write them) and compact link messages (hard links).  In
 * every chunk walked:
 *   - every message lies inside its chunk;
 *   - every attribute message that is not shared has version 1, 2 or 3, a
 *     name of at least one byte ending in its NUL, a datatype of at least
 *     8 bytes and a dataspace of at least 4, all inside the message
 *     (version 1: each padded to 8 bytes); its dataspace has version 1 or 2,
 *     a rank of at most 32 and its header (8 or 4 bytes) and dimensions
 *     inside it; and its data,
 *     elements x the datatype's size, fits in what is left of the message;
 *     and a variable-length datatype holds its base type, a string's base
 *     being 1 byte and a sequence's at most 64 KiB (HDF5 1.10 allocates
 *     the length x the base's size a reference claims: a damaged base
 *     size of 1.3 GB made it allocate 6.5 GB for a 5-character string),
 *     and no element's length x the base's size is more than the file's
 *     size (HDF5 allocates it before it looks at the heap object).
 * A header that does not look like one (an address outside the file, a
 * wrong version or signature) is not judged: the HDF5 library refuses it
 * itself, cleanly.  Not walked: groups whose links live in a fractal heap
 * (dense storage, more than 8 links with the newer format) and attributes
 * in dense storage; Keras's HDF5 files (h5py's default format) use
 * neither.  The walk stops (judging no further) after 65536 headers or
 * 2^22 messages, and walks a continuation chunk once per header, so that a
 * hostile file's loops cannot make it slow.
 */
#ifndef SV_H5_OHDR_CHECK_H
#define SV_H5_OHDR_CHECK_H

#include <stddef.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Given the bytes of a whole HDF5 file (d[0 .. n)) and its path (for
 * messages).  Returns 0 when no walked object header is damaged (or there
 * is no HDF5 superblock: the HDF5 library says so better), SV_ERR_FORMAT
 * with err naming the file, the object header's byte offset and what is
 * wrong when one is, SV_ERR_NOMEM.  Thread-safe. */
int sv_h5_ohdr_check_bytes(const unsigned char *d, size_t n, const char *path, sv_error *err);

/* The same for the file at path (read whole into memory); SV_ERR_IO when
 * it cannot be read.  Thread-safe. */
int sv_h5_ohdr_check(const char *path, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
