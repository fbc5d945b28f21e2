/* h5_heap_check.h — refuse an HDF5 file whose global heap would hang the
 * HDF5 library, before the library reads it.
 *
 * HDF5 keeps variable-length data (the strings h5py and Keras write as
 * attributes: model_config, keras_version, backend, layer_names ...) in
 * global heap collections ("GCOL").  HDF5 1.10's reader of a collection
 * (H5HG__cache_heap_deserialize) steps from object to object by each
 * object's size; a free-space object (index 0) whose size is 0 does not
 * step at all, and the library loops for ever inside H5Aread (a fuzzing
 * finding: tests/fuzz/regress/keras/).  No HDF5 call bounds that loop, so
 * the collections are walked here the same way first, on the file's
 * bytes: a collection whose walk does not advance, or runs past its own
 * end, makes the file damaged.
 *
 * Only what looks like a collection header is walked: the signature
 * "GCOL", version 1, three zero bytes, and a size of at least 4096 bytes
 * (HDF5's minimum) that fits in the file.  Offsets and lengths are the
 * sizes the superblock gives (versions 0 to 3; a user block before it is
 * skipped as HDF5 does, at 512, 1024, 2048 ... bytes).
 */
#ifndef SV_H5_HEAP_CHECK_H
#define SV_H5_HEAP_CHECK_H

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Given the path of an HDF5 file.  Returns 0 when no global heap
 * collection in it is damaged (or the file is not HDF5 at all: the HDF5
 * library says so better), SV_ERR_FORMAT with err naming the file and the
 * collection's byte offset when one is, SV_ERR_IO when the file cannot be
 * read.  Reads the whole file into memory.  Thread-safe. */
int sv_h5_heap_check(const char *path, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
