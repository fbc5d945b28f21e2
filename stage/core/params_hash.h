/* params_hash.h — the configuration hash a stage records in its outputs.
 *
 * The SHA-256, as 64 lower-case hex digits, of the lines "key=value\n" for
 * every parameter of a stage's table in table order, with its effective
 * value (the last value given in config, else the table's default:
 * dia_params_lookup), the conventional `threads` key and stampvet's
 * `host_command` (the host's command line, provenance only) excepted: they
 * do not change results.  A stage computes it from the configuration it was
 * created with and writes it as the SVCFGHSH card; a host (the nightly
 * batch) computes it from the configuration it passes, to tell whether an
 * existing output was made the same way.  Reentrant.
 */
#ifndef SV_PARAMS_HASH_H
#define SV_PARAMS_HASH_H

#include <stddef.h>

#include "dia_stage.h"

#ifdef __cplusplus
extern "C" {
#endif

void sv_params_hash(const dia_param_desc *params, int n_params,
                    const dia_kv *config, size_t n_config, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif
