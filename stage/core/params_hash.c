/* params_hash.c — see params_hash.h. */
#include "core/params_hash.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "dia_host.h"
#include "core/sha256.h"

void sv_params_hash(const dia_param_desc *params, int n_params,
                    const dia_kv *config, size_t n_config, char hex[65])
{
    sv_sha256 c;
    sv_sha256_init(&c);
    for (int i = 0; i < n_params; i++) {
        if (strcmp(params[i].key, "threads") == 0 || strcmp(params[i].key, "host_command") == 0)
            continue;
        const char *v = dia_params_lookup(params, n_params, config, n_config, params[i].key);
        sv_sha256_update(&c, params[i].key, strlen(params[i].key));
        sv_sha256_update(&c, "=", 1);
        if (v)
            sv_sha256_update(&c, v, strlen(v));
        sv_sha256_update(&c, "\n", 1);
    }
    uint8_t d[SV_SHA256_DIGEST];
    sv_sha256_final(&c, d);
    for (int i = 0; i < SV_SHA256_DIGEST; i++)
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
}
