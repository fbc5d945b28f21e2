/* atomic_file.h — writing an output file safely: never over an input, never
 * over an existing file unless asked, never half (a temporary file renamed
 * into place), and the temporary files of killed writers found and removed.
 *
 * ---------------------------------------------------------------------------
 * The temporary-file pattern (the one every stampvet writer uses)
 *
 *     DIR/.svtmp-HOST-PID-N.NAME
 *
 * for the final file DIR/NAME, where HOST is the writer's host name
 * (gethostname) with every character other than [A-Za-z0-9_] made '_', at
 * most SV_ATOMIC_HOST_MAX of them; PID the decimal process id of the
 * writer; N a decimal counter of that process.  The file is hidden (a
 * leading dot), so globs like *.fits do not see it; it ends in NAME, so its
 * extension (.fits, .fits.gz, .csv) is the final file's and cfitsio writes
 * it the same way (e.g. gzip-compressed for .gz).  The writer renames it
 * over DIR/NAME when complete and removes it on failure; only a killed
 * writer leaves one.  sv_atomic_clean removes those whose writer is known
 * dead (same HOST, PID not a running process) or that are older than a
 * given age (the only test for another machine's files on a shared file
 * system).  A writer of a folder of files (`stampvet report`) builds it
 * the same way, DIR/.svtmp-HOST-PID-N.NAME/, and renames it into place.  `stampvet clean DIR` and the batch (on every run, over its
 * output folders) call it.
 *
 * Thread safety: every function is reentrant (the counter is atomic).
 */
#ifndef SV_ATOMIC_FILE_H
#define SV_ATOMIC_FILE_H

#include <stddef.h>
#include <sys/types.h>

#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The tag that starts the name of every temporary file. */
#define SV_ATOMIC_TAG ".svtmp-"
/* Longest HOST part of the name. */
#define SV_ATOMIC_HOST_MAX 32

/* Longest path handled. */
#define SV_ATOMIC_PATH_MAX 4096

typedef struct sv_atomic_file {
    char path[SV_ATOMIC_PATH_MAX];       /* the final file                  */
    char tmp[SV_ATOMIC_PATH_MAX + 96];   /* DIR/.svtmp-HOST-PID-N.NAME       */
} sv_atomic_file;

/* Start writing `path`: choose the temporary name and create it empty
 * (O_EXCL, mode 0666 less the umask, so the final file gets the usual
 * permissions).  A writer that needs the file not to exist (cfitsio's
 * create calls) removes it first (sv_atomic_begin_name does).  Returns 0,
 * or SV_ERR_ARG (path empty or too long) / SV_ERR_IO with err naming the
 * folder. */
int sv_atomic_begin(sv_atomic_file *a, const char *path, sv_error *err);

/* The same, but leaves no file: only a name, unique among this process's
 * writers and never a running process's (cfitsio creates it). */
int sv_atomic_begin_name(sv_atomic_file *a, const char *path, sv_error *err);

/* Make the finished (closed) temporary file durable (fsync) and rename it
 * over the final one: after a crash the final file is either the old one
 * or the complete new one.  Returns 0, or SV_ERR_IO (and the temporary
 * file is removed). */
int sv_atomic_commit(sv_atomic_file *a, sv_error *err);

/* Commit a temporary folder a->tmp (created by the caller with mkdir on
 * the name of sv_atomic_begin_name): rename it to a->path when that does
 * not exist (or is empty); otherwise rename each of its files over the
 * folder's file of the same name and remove it.  Returns 0, or SV_ERR_IO
 * with err naming the file; on failure the temporary folder is left for
 * the caller (sv_atomic_remove_flat_dir). */
int sv_atomic_commit_dir(sv_atomic_file *a, sv_error *err);

/* Remove the temporary file (a failed write).  Safe to call twice. */
void sv_atomic_abort(sv_atomic_file *a);

/* Write `path` through write(tmp, user, err) and commit: the common case.
 * On failure the temporary file is removed and nothing at `path` changed. */
int sv_atomic_write(const char *path, int (*write)(const char *tmp, void *user, sv_error *err),
                    void *user, sv_error *err);

/* 1 when `name` (a file name, no folder) follows the pattern; then its
 * writer's HOST part is copied to host (host_len bytes; may be NULL) and
 * its process id to *pid (may be NULL). */
int sv_atomic_is_tmp_name(const char *name, char *host, size_t host_len, pid_t *pid);

/* Remove folder `path` if it holds only regular files (a folder written
 * through the pattern): its files, then itself.  Returns 0, or -1 when it
 * holds anything else (nothing removed) or a removal failed. */
int sv_atomic_remove_flat_dir(const char *path);

/* Remove stale temporary files in folder `dir` (not below it): those whose
 * name follows the pattern and whose writer is known dead (written on this
 * host, and kill(pid, 0) fails with ESRCH), or, when max_age_s > 0, whose
 * last change is older than max_age_s seconds (a writer on another machine
 * of a shared file system, or a reused pid).  Only regular files and
 * temporary folders holding only regular files are removed; nothing else
 * is touched.  dry_run: count and report, remove nothing.  each (may
 * be NULL) is called with every file removed (or that would be).  Returns
 * the number of files removed (or found) >= 0, or SV_ERR_IO (< 0) with
 * err naming the folder. */
int sv_atomic_clean(const char *dir, double max_age_s, int dry_run,
                    void (*each)(void *user, const char *path), void *user, sv_error *err);

/* ---- outputs never replace inputs ----------------------------------------- */

/* 1 when a and b are the same file: the same path once normalised, or the
 * same device and inode (through symbolic and hard links).  A cfitsio
 * extended-syntax suffix ("x.fits[1]", "x.fits[SCI]") is ignored.  Paths
 * that do not exist are compared by their normalised text only. */
int sv_same_file(const char *a, const char *b);

/* Check that `output` may be written: it is none of the n inputs (NULL or
 * empty entries are skipped; role[i] names input i in the message), and,
 * unless overwrite, does not exist yet.  Returns 0, or SV_ERR_ARG with err
 * saying which input it is, or that it exists and --overwrite replaces it. */
int sv_output_check(const char *output, const char *const *inputs, const char *const *role,
                    int n, int overwrite, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
