/* sim_stamps.h — labelled stamp sets (`stampvet simulate --stamps N`).
 *
 * Each stamp comes from its own simulated exposure pair: observing
 * conditions, field stars and galaxies, and one injected object of the
 * stamp's class are rendered on a patch somewhat larger than the stamp,
 * realised (noise, artefacts, difference), and the object is detected with
 * the matched filter near where it was put.  A detection must pass the
 * threshold |S/N| >= snr_min with the expected sign, as in a pipeline;
 * otherwise the stamp is drawn again (from the same random stream, so the
 * result stays deterministic).  The stamp is cut with the detection pixel
 * at (S/2, S/2), 0-based.
 *
 * Stamp i draws only from the random stream (seed, SIM_STREAM_STAMP, i):
 * the set is identical whatever the number of threads, and any stamp can
 * be regenerated alone.  The classes of the set are fixed in advance with
 * exact proportions (largest remainder) and shuffled with the stream
 * (seed, SIM_STREAM_CLASSES).
 *
 * Thread safety: reentrant.
 */
#ifndef SV_SIM_STAMPS_H
#define SV_SIM_STAMPS_H

#include <stdint.h>

#include "sim/sim_classes.h"
#include "data/stamp_table.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_sim_stamp_params {
    sv_sim_config cfg;            /* survey, band, seed, S/N, bogus mix      */
    sv_sim_scheme scheme;
    long n;                       /* stamps in the set                       */
    int stamp_size;               /* S (63)                                  */
    /* class balance in the scheme's label order (rb: bogus, real; 3class:
     * transient, variable, asteroid; 4class: transient, variable,
     * asteroid, bogus); all zero = equal */
    double balance[SV_SIM_NCLASS];
    double real_mix[3];           /* rb only: transient, variable, asteroid  */
    int64_t first_id;             /* ID of stamp 0                           */
    int threads;
    /* optional progress report after each chunk of rows (from the calling
     * thread) */
    void (*progress)(long done, long total, void *user);
    void *user;
} sv_sim_stamp_params;

/* Defaults: cfg defaults, rb, 1000 stamps of 63, equal balance, real mix
 * 1:1:1, first_id 1, 1 thread. */
void sv_sim_stamp_params_default(sv_sim_stamp_params *p);

/* Check the parameters (config, n >= 1, 8 <= S <= 1024). */
int sv_sim_stamp_params_check(const sv_sim_stamp_params *p, sv_error *err);

/* Physical class of every stamp (n entries). */
int sv_sim_stamps_classes(const sv_sim_stamp_params *p, sv_sim_class *cls, sv_error *err);

/* Make stamp `index` of physical class cls into row `row` of b (whose
 * stamp size must be p->stamp_size): pixels, ID, label, truth. */
int sv_sim_stamp_make(const sv_sim_stamp_params *p, long index, sv_sim_class cls,
                      sv_stamp_batch *b, long row, sv_error *err);

/* Make the whole set and write it as a labelled-stamps table at path
 * (atomically), with the truth columns and the simulation parameters in
 * the header.  Returns 0 or a status with err. */
int sv_sim_stamps_write(const sv_sim_stamp_params *p, const char *path, sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
