/* stage_config_file.h — the stage's configuration as a text file, in the
 * spirit of SExtractor's default.sex, and key = value overrides.
 *
 * Syntax, one parameter per line:
 *
 *     # a comment: from '#' to the end of the line
 *     rb_model      = models/rb-ztf.fits    # key = value
 *     preset          sextractor            # or key, blanks, value (as .sex)
 *     col_id        =                       # an empty value
 *     rb_column     = "rb sv"               # quotes keep blanks and '#'
 *
 * Keys are the stage's parameters (stage_params.h; `stampvet run
 * --dump-config` prints them all), matched case-insensitively (so
 * SExtractor-style upper-case keys work).  An unknown key, a value that does
 * not fit the parameter (type, range, choices), a key given twice in one
 * file, an unterminated quote or a line without a key are errors naming
 * FILE:LINE.  Blank lines and comment lines are ignored.
 *
 * A list gathers the configuration from a file and from overrides
 * (`--set key=value`), a later value replacing an earlier one, and hands it
 * to the stage as dia_kv pairs.  An `unchecked` list is for a stage other
 * than stampvet (`stampvet batch --stage`): the file syntax and the FILE:LINE
 * messages are the same, keys are lower-cased, but keys and values are not
 * checked here: the stage that receives them checks them against its own
 * parameter table.
 *
 * Thread safety: a list is used by one thread at a time; functions are
 * reentrant.
 */
#ifndef SV_STAGE_CONFIG_FILE_H
#define SV_STAGE_CONFIG_FILE_H

#include <stddef.h>

#include "dia_stage.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_kvlist {
    size_t n, cap;
    dia_kv *kv;          /* n pairs, pointing into owned strings           */
    char **origin;       /* n texts "FILE:LINE" or "--set", for messages   */
    int unchecked;       /* 1: keys and values are not checked against the
                            stampvet stage's parameters (see above); set
                            it before the first value                     */
} sv_kvlist;

/* Read a configuration file into list (values replace earlier ones of the
 * same key).  Returns 0, SV_ERR_IO (cannot open or read: names the file),
 * SV_ERR_ARG (a FILE:LINE syntax or parameter error), SV_ERR_NOMEM. */
int sv_config_file_read(const char *path, sv_kvlist *list, sv_error *err);

/* Set key = value (validated against the parameter table unless the list
 * is unchecked; replaces an earlier value).  origin names it in messages
 * ("--set", "FILE:12").  Returns 0 or SV_ERR_ARG / SV_ERR_NOMEM. */
int sv_kvlist_set(sv_kvlist *list, const char *key, const char *value, const char *origin,
                  sv_error *err);

/* Set from "key=value" text (blanks around '=' allowed). */
int sv_kvlist_set_text(sv_kvlist *list, const char *text, const char *origin, sv_error *err);

/* The value of key in list, or NULL. */
const char *sv_kvlist_get(const sv_kvlist *list, const char *key);

/* Free the list's contents (the struct itself may be on the stack; it is
 * left empty, checked). */
void sv_kvlist_free(sv_kvlist *list);

#ifdef __cplusplus
}
#endif
#endif
