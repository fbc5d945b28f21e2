/* fits_error.c — see fits_error.h. */
#include "fits/fits_error.h"

const char *sv_fits_status_text(int status, char buf[FLEN_STATUS])
{
    buf[0] = '\0';
    fits_get_errstatus(status, buf);
    return buf;
}

int sv_fits_fail(sv_error *err, int code, const char *path, const char *what, int status)
{
    char txt[FLEN_STATUS];
    fits_clear_errmsg();
    if (!status)
        return sv_error_set(err, code, "%s: %s", path, what);
    return sv_error_set(err, code, "%s: %s (cfitsio: %s)", path, what,
                        sv_fits_status_text(status, txt));
}
