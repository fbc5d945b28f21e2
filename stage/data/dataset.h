/* dataset.h — labelled stamp triplets as a source for training and
 * evaluation.
 *
 * The training loop (train.h) and the evaluator (evaluate.h) read stamps
 * through an abstract source: a sample count, raw stamp size, one integer
 * label per sample (in the MODEL's class order) and a callback that copies
 * the raw triplets of any samples, by index.  Sources provided here:
 *   - an in-memory array (tests, synthetic data, anything already loaded);
 *   - a labelled-stamps FITS table (stamp_table.h), read in chunks, kept in
 *     memory when it fits a budget and otherwise read row by row on demand;
 *   - a subset view of another source (an index list: validation splits,
 *     the label-count rows of `compare`).
 *
 * Raw triplet layout (what fetch writes for each sample, one after the
 * other): the SCI, REF and DIFF planes of h x w floats each, row-major with
 * NAXIS1 (x) fastest, exactly as in a FITS cutout; NaN allowed (the model's
 * preprocessing fills it).
 *
 * Labels:
 *   - real/bogus: 0 = bogus, 1 = real.  From a table, the class named
 *     "bogus" becomes 0 and every other class 1 (so a 4-class table also
 *     trains a real/bogus model);
 *   - classes: 0..n_classes-1 in the order of the requested class names
 *     (default: the table's own list).  Rows of other classes, and
 *     unlabelled rows (LABEL = -1), are left out and counted in n_skipped.
 *
 * Thread safety: a source is used by one thread at a time (fetch included);
 * distinct sources are independent.  The functions below are reentrant.
 */
#ifndef SV_DATASET_H
#define SV_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_stamp_source {
    long n;                    /* samples                                    */
    int h, w;                  /* raw stamp size                             */
    int realbogus;             /* 1: labels are 0 bogus / 1 real             */
    int n_classes;             /* label values 0..n_classes-1 (2 real/bogus) */
    char classes[SV_MAX_CLASSES][SV_LABEL_MAX]; /* label names               */
    const int *labels;         /* n labels                                   */
    const long *rows;          /* n table rows (0-based), or NULL            */
    long n_skipped;            /* table rows left out (other class, no label)*/
    char origin[512];          /* file path, or a short description          */
    char survey[32];           /* survey of a table ("" unknown)             */
    double pixscale;           /* arcsec/pixel of a table (0 unknown)        */
    /* Copy the raw triplets of samples idx[0..count-1] (each in 0..n-1) to
     * out, count * 3 * h * w floats.  Returns 0 or a status with err set. */
    int (*fetch)(void *ctx, const long *idx, int count, float *out, sv_error *err);
    void (*close)(void *ctx);  /* frees ctx (NULL: nothing to free)          */
    void *ctx;
    /* Ready network inputs instead of raw triplets (light curves, lc_source.h):
     * when n_inputs > 0, fetch writes per sample input_size[0] floats of
     * network input 0, then input_size[1] of input 1, ... (nn.h layout),
     * already preprocessed: training applies neither augmentation nor the
     * stamp preprocessing, and h = w = 0.  0 for stamp sources. */
    int n_inputs;
    long input_size[4];
} sv_stamp_source;

/* Fetch through src->fetch, checking the indices (SV_ERR_ARG when one is
 * outside 0..n-1). */
int sv_source_fetch(const sv_stamp_source *src, const long *idx, int count, float *out,
                    sv_error *err);

/* Release what a source owns (its ctx; the struct itself is the caller's).
 * Safe on a zeroed struct. */
void sv_source_close(sv_stamp_source *src);

/* In-memory source over n triplets (stamps: n * 3 * h * w floats) and n
 * labels, both owned by the caller and kept alive while the source is used
 * (nothing is copied).  realbogus: labels 0/1 and classes "bogus","real";
 * else n_classes >= 2 with names (NULL: "class0", ...).  Returns 0 or
 * SV_ERR_ARG (a label out of range included). */
int sv_source_memory(sv_stamp_source *src, const float *stamps, const int *labels, long n,
                     int h, int w, int realbogus, int n_classes,
                     const char (*classes)[SV_LABEL_MAX], sv_error *err);

typedef struct sv_source_options {
    int realbogus;           /* 1: real/bogus labels (table needs "bogus")  */
    int n_classes;           /* classes: 0 = all of the table's, in order   */
    char classes[SV_MAX_CLASSES][SV_LABEL_MAX]; /* else the names to keep   */
    size_t max_memory;       /* stamps kept in memory up to this many bytes;
                                0 = 4 GiB.  Larger tables are read on demand */
    long max_rows;           /* read at most this many rows (0 = all)       */
    double resample_to;      /* > 0: resample every triplet to this scale,
                                arcsec/pixel (sv_source_resample), from the
                                table's PIXSCALE, to resample_size pixels   */
    int resample_size;
} sv_source_options;

/* Open a labelled-stamps table (stamp_table.h) at path as a source, reading
 * it once in chunks of rows (labels, and the stamps when they fit
 * opt->max_memory).  Returns 0, or a status with err naming the file and
 * the problem (unreadable, a requested class not in the table, a real/bogus
 * source from a table without a "bogus" class, no usable rows, resample_to
 * set for a table without PIXSCALE). */
int sv_source_open_table(sv_stamp_source *src, const char *path,
                         const sv_source_options *opt, sv_error *err);

/* Make src a view of the source *parent (moved into it: *parent is zeroed,
 * and closing src closes it) whose triplets are parent's resampled to S x S
 * pixels at `step` parent pixels per stamp pixel (Lanczos-3, widened when
 * shrinking: sv_stamp_cut), centred on the parent's centre pixel (h/2,
 * w/2, 0-based: the detection of a stamp table).  Pixels outside the parent
 * stamp are NaN (the model's NaN fill); src->pixscale = parent's x step.
 * What the stage does with `resample = true`, for stamps already cut: give
 * a parent stamp wide enough (S x step pixels) to fill the result.
 * Returns 0, or SV_ERR_ARG / SV_ERR_NOMEM (parent then untouched).  fetch
 * is reentrant when parent's is. */
int sv_source_resample(sv_stamp_source *src, sv_stamp_source *parent, int S, double step,
                       sv_error *err);

/* Options that open a table with the labels model m expects: real/bogus
 * for a real/bogus model, the model's class names in order for a class
 * model.  Other fields zero (defaults).  Reentrant. */
void sv_source_options_for_model(const sv_model *m, sv_source_options *opt);

/* Parse a comma-separated class list ("transient,variable,asteroid") into
 * names (at most SV_MAX_CLASSES, each 1..SV_LABEL_MAX-1 characters, no
 * duplicates, blanks around names ignored).  Returns the count, or
 * SV_ERR_ARG with err saying what is wrong. */
int sv_parse_class_list(const char *text, char (*names)[SV_LABEL_MAX], sv_error *err);

/* A view of `parent` (which must outlive it) restricted to the samples
 * idx[0..n-1] in that order (repeats allowed).  Copies idx.  Returns 0,
 * SV_ERR_ARG or SV_ERR_NOMEM. */
int sv_source_subset(sv_stamp_source *dst, const sv_stamp_source *parent, const long *idx,
                     long n, sv_error *err);

/* Samples per label: counts[c] for c in 0..src->n_classes-1. */
void sv_source_class_counts(const sv_stamp_source *src, long *counts);

/* Stratified deterministic split of the n samples with `labels` (values
 * 0..k-1): from each class, round(fraction * n_c) samples (at least one
 * when fraction > 0 and the class has two or more; never all of a class of
 * two or more) chosen by a Fisher-Yates shuffle seeded with `seed` go to
 * `b`, the rest to `a`.  Both lists come out in ascending index order.
 * a and b must each hold n entries; *na + *nb = n.  Reentrant. */
void sv_split_stratified(const int *labels, long n, int k, double fraction, uint64_t seed,
                         long *a, long *na, long *b, long *nb);

/* Stratified subsample of `size` of the n samples (each class keeps its
 * share, rounded by largest remainder), deterministic by seed, ascending
 * order, into out (size entries).  size >= n gives all.  Returns the count
 * written. */
long sv_subsample_stratified(const int *labels, long n, int k, long size, uint64_t seed,
                             long *out);


#ifdef __cplusplus
}
#endif
#endif
