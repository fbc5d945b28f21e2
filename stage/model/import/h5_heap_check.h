/* h5_heap_check.h — refuse an HDF5 file whose global heap would hang or
 * crash the HDF5 library, before the library reads it.
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
 * The second finding: HDF5 1.10 reads the object a variable-length
 * reference names (length, collection address, object index) without
 * checking that the collection holds that index (an assertion, compiled
 * out of release builds), and reads outside its memory.  References to a
 * collection are looked for on the file's bytes too: 4 bytes of length,
 * the collection's address, 4 bytes of index.  One whose length is that of
 * an object of the collection but whose index is none of its objects makes
 * the file damaged.  (Only references whose length matches an object are
 * judged, so that an 8-byte field that happens to equal the address, a
 * dimension or a size, is not mistaken for one.)
 *
 * The third: HDF5 1.10 allocates the length a reference claims (a count
 * of elements, up to 2^32) before it reads the object.  A reference to an
 * object of the collection whose length is more than the object's size in
 * bytes (a real one never is: every element is at least a byte) makes the
 * file damaged.
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
