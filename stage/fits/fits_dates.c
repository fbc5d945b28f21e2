/* fits_dates.c — see fits_dates.h. */
#include "fits/fits_dates.h"

#include <pthread.h>
#include <stdio.h>
#include <time.h>

static pthread_mutex_t gmtime_lock = PTHREAD_MUTEX_INITIALIZER;

int sv_fits_write_date(fitsfile *fp, int *status)
{
    if (*status > 0)
        return *status;
    time_t now = time(NULL);
    struct tm tm;
    char date[80];
    if (!gmtime_r(&now, &tm))
        return *status = WRITE_ERROR;
    snprintf(date, sizeof date, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return fits_update_key_str(fp, "DATE", date, "file creation date (YYYY-MM-DDThh:mm:ss UT)",
                               status);
}

int sv_fits_write_chksum(fitsfile *fp, int *status)
{
    if (*status > 0)
        return *status;
    pthread_mutex_lock(&gmtime_lock);
    fits_write_chksum(fp, status);
    pthread_mutex_unlock(&gmtime_lock);
    return *status;
}
