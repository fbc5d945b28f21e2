/* sv_error.c — see sv_error.h. */
#include "core/sv_error.h"

#include <stdio.h>
#include <string.h>

void sv_error_clear(sv_error *err)
{
    if (!err)
        return;
    err->status = SV_OK;
    err->text[0] = '\0';
}

int sv_error_set(sv_error *err, int status, const char *fmt, ...)
{
    if (!err)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->text, sizeof err->text, fmt, ap);
    va_end(ap);
    err->status = status;
    return status;
}

int sv_error_prefix(sv_error *err, const char *fmt, ...)
{
    if (!err)
        return SV_ERR_INTERNAL;
    char prefix[SV_ERROR_TEXT_MAX];
    char old[SV_ERROR_TEXT_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->text, sizeof old);
    size_t n = strlen(prefix);
    if (n >= sizeof err->text)
        n = sizeof err->text - 1;
    memcpy(err->text, prefix, n);
    size_t room = sizeof err->text - 1 - n, m = strlen(old);
    if (m > room)
        m = room;
    memcpy(err->text + n, old, m);
    err->text[n + m] = '\0';
    return err->status;
}

const char *sv_status_name(int status)
{
    switch (status) {
    case SV_OK: return "success";
    case SV_ERR_ARG: return "invalid argument";
    case SV_ERR_IO: return "I/O error";
    case SV_ERR_FORMAT: return "format error";
    case SV_ERR_NOMEM: return "out of memory";
    case SV_ERR_SHAPE: return "shape mismatch";
    case SV_ERR_UNSUPPORTED: return "unsupported";
    case SV_ERR_CANCELLED: return "cancelled";
    default: return "internal error";
    }
}
