/* lc_cli.h — the light-curve side of the stampvet command (cmd_lc.c).
 *
 * `simulate`, `train`, `finetune` and `compare` hand their arguments here
 * (`evaluate` its data) when they concern light curves: `simulate --lightcurves`,
 * or a data / model argument that is a light-curve table or a light-curve
 * model.  The commands then take the same shared training options
 * (train_opts.h) as for stamps, plus the light-curve ones.
 * Internal to the CLI. */
#ifndef SV_CLI_LC_CLI_H
#define SV_CLI_LC_CLI_H

#include "data/dataset.h"
#include "data/lightcurve.h"
#include "model/model.h"

/* 1 when argv names light curves: the flag --lightcurves, or the value of
 * --data, --val, --train, --test, --from, --base or --model is a
 * light-curve table (lightcurve.h) or a model file whose TASK card is
 * 'lightcurve' (model_fits.h); else 0.  Reads headers only, loads no model
 * (lc_cli_wants.c).  Thread-safe. */
int lc_cli_wants(int argc, char **argv);

int cmd_lc_simulate(int argc, char **argv);
int cmd_lc_train(int argc, char **argv);
int cmd_lc_finetune(int argc, char **argv);
int cmd_lc_compare(int argc, char **argv);

/* For `evaluate`: check that m is a light-curve model, read the labelled
 * light curves of path into *set and open them as src for m (threads
 * workers), printing the data and labels lines.  Close src, then free set
 * (both also after a failure).  Returns 0, or 1 after a message. */
int lc_cli_open_labelled(const char *cmd, const char *path, const sv_model *m, int threads,
                         sv_lc_set *set, sv_stamp_source *src);

#endif
