/* dia_host.h — host-side helpers for dia_stage.h stages.
 *
 * Loading: dia_host_open() dlopens a stage module, finds dia_stage_entry,
 * checks the ABI (same major, descriptor not smaller than this host's), and
 * returns a handle; every failure comes back as readable text, never a
 * crash.  Stages linked into the program can be registered by name
 * (dia_host_register_static) and are then opened without dlopen: the CLI
 * and the tests use this.
 *
 * Parameters: dia_params_check() validates key=value pairs against a stage's
 * table (the same rules a stage applies in create()); dia_params_lookup()
 * gives a key's effective value; dia_host_print_params() prints the table as
 * help text.  Stages may use these helpers too.
 *
 * These functions are exported by libstampvet (DIA_EXPORT) beside stampvet.h's
 * sv_ API.
 *
 * Thread safety: dia_host_open/close are thread-safe (dlopen is); the static
 * registry must be filled before threads use it (registration is not
 * locked).  The params functions are reentrant.
 */
#ifndef DIA_HOST_H
#define DIA_HOST_H

#include <stdio.h>

#include "dia_stage.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dia_host_stage dia_host_stage;

/* Open a stage.  `where` is either a name registered with
 * dia_host_register_static, or a path to a shared object (a path is
 * anything containing '/' or ending in ".so").  On success returns DIA_OK
 * and sets *out; otherwise returns a status, sets *out to NULL and writes the
 * reason (naming the path) to errbuf (errlen bytes; may be NULL). */
DIA_EXPORT dia_status dia_host_open(const char *where, dia_host_stage **out,
                         char *errbuf, size_t errlen);

/* Check a descriptor the way dia_host_open does (abi_major, struct_size,
 * mandatory members).  Returns DIA_OK or DIA_ERR_FORMAT with the reason. */
DIA_EXPORT dia_status dia_host_check_descriptor(const dia_stage_descriptor *desc,
                                     const char *origin, char *errbuf,
                                     size_t errlen);

/* The descriptor of an open stage (never NULL for a valid handle). */
DIA_EXPORT const dia_stage_descriptor *dia_host_descriptor(const dia_host_stage *stage);

/* Where the stage came from: the path, or "static:NAME". */
DIA_EXPORT const char *dia_host_origin(const dia_host_stage *stage);

/* Close (dlclose) a stage opened by dia_host_open.  All its instances must
 * have been destroyed.  NULL is allowed. */
DIA_EXPORT void dia_host_close(dia_host_stage *stage);

/* Register a linked-in stage under `name`, so that dia_host_open(name)
 * finds it.  Returns DIA_OK, or DIA_ERR_ARGUMENT when the registry (16
 * entries) is full or the name is taken by another entry. */
DIA_EXPORT dia_status dia_host_register_static(const char *name, dia_stage_entry_fn entry);

/* Validate n key=value pairs against a parameter table.  Returns DIA_OK, or
 * DIA_ERR_CONFIG with errbuf naming the key and the problem: unknown key,
 * repeated key, value not of the type, out of [min, max], not one of the
 * choices. */
DIA_EXPORT dia_status dia_params_check(const dia_param_desc *params, int n_params,
                            const dia_kv *config, size_t n_config,
                            char *errbuf, size_t errlen);

/* The effective text value of `key`: the last config value given for it,
 * else the table's default; NULL when the key is not in the table. */
DIA_EXPORT const char *dia_params_lookup(const dia_param_desc *params, int n_params,
                              const dia_kv *config, size_t n_config,
                              const char *key);

/* Parse a boolean parameter value ("1/0, true/false, yes/no, on/off").
 * Returns 1, 0, or -1 when it is not a boolean. */
DIA_EXPORT int dia_params_parse_bool(const char *text);

/* Print the parameter table: one block per key with type, default, range or
 * choices and help.  as_config != 0 prints it as a commented key = value
 * configuration file instead. */
DIA_EXPORT void dia_host_print_params(FILE *out, const dia_stage_descriptor *desc,
                           int as_config);

/* Print the effective configuration of n_config key=value pairs as a
 * configuration file: every parameter of the table with its value (the
 * given one, else the default), its help, and "(default X)" where the value
 * differs from the default; `origin` (may be NULL) is named in the first
 * line.  The pairs should have passed dia_params_check. */
void dia_host_print_config(FILE *out, const dia_stage_descriptor *desc, const dia_kv *config,
                           size_t n_config, const char *origin);

/* Names for printing. */
DIA_EXPORT const char *dia_status_name(dia_status status);
DIA_EXPORT const char *dia_param_type_name(dia_param_type type);

#ifdef __cplusplus
}
#endif
#endif
