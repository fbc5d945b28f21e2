/* lc_stage.h — light-curve classification inside the stage.
 *
 * When the stage is configured with a light-curve model (parameter
 * lc_model) the annotated output gains, after the stage's other columns:
 *   LC_P_<CLASS>  E  the light-curve model's class probabilities (NaN when
 *                    not classified)
 *   LC_CLASS      nA the most probable class ('' when not classified)
 *   LC_FLAGS      J  0 classified, else a bitmask saying why not:
 *                    1 NOHIST  no history for this detection's key,
 *                    2 NODET   a history without a detection up to now,
 *                    4 NOKEY   the key column is empty or null,
 *                    8 NOTABLE no history table for this exposure at all.
 * A detection is never given a guess: without a history it is flagged.
 *
 * Histories come from the host (dia_exposure.history: a column table in
 * the light-curve table or ZTF prv_candidates form of lightcurve.h) or,
 * when the host gives none (and for file jobs), from the light-curve FITS
 * table named by the parameter lc_history (`stampvet run --history`).
 * A detection finds its history through the detection-table column lc_key
 * (default: the detection table's identifier column, col_id / the preset's)
 * whose value is the history's candidate identifier.  The history is used
 * up to the exposure's time (dia_exposure.mjd, or the MJD-OBS card of the
 * science image for file jobs; all observations when neither is known).
 *
 * The model's metadata are looked up by name: 'rb' is the stage's own
 * real/bogus score, 'p_<class>' the stage's class model's probability of
 * <class> (the stamp classifier's outputs), any other name a numeric
 * column of the detection table (case-insensitive), else unknown (the
 * model's known-flag says so).  Provenance: LCMODEL, LCMVERS, LCMCKSUM,
 * LCMFILE, LCHIST, LCKEY, LCTNOW, LCMSRC (where each metadata value came
 * from), LCNCLASS (classified detections) and LCNFLAG (flagged ones).
 *
 * Thread safety: one sv_lc_stage belongs to one stage (one thread at a
 * time).
 */
#ifndef SV_LC_STAGE_H
#define SV_LC_STAGE_H

#include <stdint.h>

#include "pipeline/catalog.h"
#include "dia_stage.h"
#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
    SV_LCFLAG_NOHIST = 1,
    SV_LCFLAG_NODET = 2,
    SV_LCFLAG_NOKEY = 4,
    SV_LCFLAG_NOTABLE = 8
};

typedef struct sv_lc_stage sv_lc_stage;

/* Load the light-curve model (it must pass sv_lc_model_check) and, when
 * history_path is non-empty, the light-curve table used when the host
 * gives no history.  key_col: the detection column that names a history.
 * Returns 0 with *out set, or a status with err naming the file. */
int sv_lc_stage_new(const char *model_path, const char *history_path, const char *key_col,
                    int batch, sv_lc_stage **out, sv_error *err);
void sv_lc_stage_free(sv_lc_stage *s);
const sv_model *sv_lc_stage_model(const sv_lc_stage *s);

/* Start an exposure held in memory: the detection table (keys, metadata
 * columns), the host's history table (NULL: the lc_history file, or none),
 * the exposure's MJD (NaN: all observations), the stage's class names for
 * 'p_<class>' metadata (k_cls 0 without a class model).  Returns 0 or a
 * status with err set (an unreadable history table, no key column). */
int sv_lc_stage_begin_table(sv_lc_stage *s, const dia_table *det, const dia_table *history,
                            double mjd, int k_cls, const char (*cls_names)[SV_LABEL_MAX],
                            sv_error *err);

/* Start a file job: the detection table and the science image (MJD-OBS)
 * are read from their files; histories from the lc_history file. */
int sv_lc_stage_begin_file(sv_lc_stage *s, const char *det_path, const char *sci_path,
                           int k_cls, const char (*cls_names)[SV_LABEL_MAX], sv_error *err);

/* Classify detections row0 .. row0+n-1 of the exposure begun.  rb: the
 * stage's scores of those rows; cls_prob: k_cls pointers to the stage's
 * class probabilities of those rows (or NULL).  prob gets n x n_classes
 * (NaN unclassified), label n (-1 unclassified), flags n.  Returns 0 or a
 * status. */
int sv_lc_stage_classify(sv_lc_stage *s, int64_t row0, int n, const float *rb,
                         const float *const *cls_prob, float *prob, int16_t *label,
                         int32_t *flags, sv_error *err);

/* Provenance of the exposure (model, history source, key, time, metadata
 * sources) and its counts so far. */
void sv_lc_stage_prov(const sv_lc_stage *s, sv_provenance *p);
void sv_lc_stage_prov_counts(const sv_lc_stage *s, sv_provenance *p);

#ifdef __cplusplus
}
#endif
#endif
