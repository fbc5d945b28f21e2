/* lc_cli_wants.c — does a command line concern light curves (lc_cli.h)?
 * Decided from the options and cheap header reads only: a data argument's
 * HDUs and column names (sv_lc_fits_is_lightcurve), a model argument's
 * TASK card (sv_model_fits_task); no model is loaded. */
#include <string.h>

#include "cli/lc_cli.h"
#include "data/lightcurve.h"
#include "model/model.h"
#include "model/model_fits.h"

/* 1 when the file v is a light-curve table or a light-curve model */
static int names_lightcurves(const char *v)
{
    sv_task task;
    if (sv_lc_fits_is_lightcurve(v))
        return 1;
    return !sv_model_fits_task(v, &task) && task == SV_TASK_LIGHTCURVE;
}

int lc_cli_wants(int argc, char **argv)
{
    static const char *const keys[] = {"--data", "--val",   "--train", "--test",
                                       "--from", "--base", "--model", NULL};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--lightcurves"))
            return 1;
        for (int k = 0; keys[k]; k++) {
            size_t n = strlen(keys[k]);
            const char *v = NULL;
            if (!strcmp(argv[i], keys[k]) && i + 1 < argc)
                v = argv[i + 1];
            else if (!strncmp(argv[i], keys[k], n) && argv[i][n] == '=')
                v = argv[i] + n + 1;
            if (v && names_lightcurves(v))
                return 1;
        }
    }
    return 0;
}
