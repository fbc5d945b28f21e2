/* readers.h — every stampvet reader of untrusted files, driven to the end.
 *
 * Each driver reads one file with one reader the way the stage and the
 * command line do (open, read every row / pixel / layer, close) and
 * returns the reader's status (0: read; negative: refused, with err naming
 * the file).  The libFuzzer harness (fuzz_harness.c) and the hostile-file
 * regression test (test_hostile.c) share them, so that a crash the fuzzer
 * finds is replayed through exactly the same code in make check.
 *
 * Thread safety: as the readers (the Keras one is not thread-safe). */
#ifndef SV_FUZZ_READERS_H
#define SV_FUZZ_READERS_H

#include "core/sv_error.h"

typedef struct sv_fuzz_reader {
    const char *name;   /* also the seed folder tests/fuzz/<name>/ and the
                           folder of ../shared/fixtures/hostile/<name>/    */
    const char *suffix; /* file name ending the reader expects (".fits":
                           the readers that tell FITS by content get
                           ".fits" only when the bytes start with SIMPLE) */
    int (*read)(const char *path, sv_error *err);
} sv_fuzz_reader;

/* The readers of this build, NULL-terminated (keras only with HDF5). */
extern const sv_fuzz_reader sv_fuzz_readers[];

/* The reader called name, or NULL. */
const sv_fuzz_reader *sv_fuzz_reader_find(const char *name);

#endif
