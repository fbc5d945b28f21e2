/* fuzz_harness.c — the libFuzzer harness of every stampvet reader.
 *
 * One program for all readers (tests/fuzz/readers.c): SV_FUZZ_READER=NAME
 * selects one; SV_FUZZ_READER=list prints their names.  Each input is
 * written to a file in a private temporary folder (the readers take paths,
 * as cfitsio, HDF5 and the stage do) and read to the end; anything but a
 * clean return or a clean refusal (an abort, a sanitizer report, a leak, a
 * timeout, a runaway allocation) is a finding.  Built by configure
 * --enable-fuzz (clang); run with `make fuzz FUZZ_SECONDS=N` (tests/fuzz/run.sh).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fitsio.h>

#include "config.h"
#include "readers.h"
#ifdef HAVE_AVRO
#include "data/alert_sanitizer.h" /* libavro's own leaks and unchecked lengths */
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const sv_fuzz_reader *reader;
static char dir[64], fits_path[96], own_path[96];

static void cleanup(void)
{
    unlink(fits_path);
    unlink(own_path);
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *name = getenv("SV_FUZZ_READER");
    if (name && !strcmp(name, "list")) {
        for (const sv_fuzz_reader *r = sv_fuzz_readers; r->name; r++)
            printf("%s\n", r->name);
        exit(0);
    }
    reader = name ? sv_fuzz_reader_find(name) : NULL;
    if (!reader) {
        fprintf(stderr, "sv_fuzz: set SV_FUZZ_READER to one of:");
        for (const sv_fuzz_reader *r = sv_fuzz_readers; r->name; r++)
            fprintf(stderr, " %s", r->name);
        fprintf(stderr, " (or list)\n");
        exit(2);
    }
    snprintf(dir, sizeof dir, "/tmp/sv_fuzz.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("sv_fuzz: mkdtemp");
        exit(2);
    }
    snprintf(fits_path, sizeof fits_path, "%s/in.fits", dir);
    snprintf(own_path, sizeof own_path, "%s/in%s", dir, reader->suffix);
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fits = size >= 6 && (!memcmp(data, "SIMPLE", 6) || (data[0] == 0x1f && data[1] == 0x8b));
    const char *path = fits ? fits_path : own_path;
    FILE *fp = fopen(path, "wb");
    if (!fp)
        abort(); /* the harness itself failed: not a finding about a reader */
    if (size && fwrite(data, 1, size, fp) != size)
        abort();
    fclose(fp);
    sv_error err;
    sv_error_clear(&err);
    reader->read(path, &err);
    fits_clear_errmsg(); /* cfitsio's message stack is per process */
    unlink(path);
    return 0;
}
