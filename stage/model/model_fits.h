/* model_fits.h — the stampvet model file (FITS): specification, writer and
 * reader.
 *
 * ======================================================================
 * THE MODEL FILE, format version 1 (SV_MODEL_FORMAT_VERSION)
 * ======================================================================
 * One FITS file per model, readable by any FITS tool (fitsverify, astropy,
 * ds9, `stampvet inspect`).  Every HDU carries CHECKSUM and DATASUM
 * (the FITS checksum convention); a reader rejects a file in which any of
 * them is absent or wrong.
 *
 * HDU 1, primary: no data (NAXIS = 0, EXTEND = T).  Cards:
 *   SVFORMAT  int     format version (1).  Its presence marks a model file.
 *   TASK      string  'realbogus' | 'class' | 'lightcurve'
 *   MODNAME   string  model name, e.g. 'braai-d6_m7'
 *   MODVERS   string  model version, as a survey records it beside a score
 *                     (ZTF's drbversion; the stage's RBMVERS and score
 *                     version column).  The writer always fills it: the
 *                     model's version when set (train, finetune, import
 *                     --version; import's default is the model name, so
 *                     braai's d6_m7.h5 gives 'd6_m7'), else
 *                     '<MODNAME>_<first 8 hex digits of WTSUM>'.  A reader
 *                     accepts '' (files written before; label: the name).
 *   NCLASS    int     number of outputs / classes, 1..32
 *   CLASS1..n string  class names in output order (a reader also accepts a
 *                     single CLASSES = 'a,b,c' card instead)
 *   MULTILAB  logical T: independent sigmoid heads; F: one softmax (or, for
 *                     realbogus, one sigmoid)
 *   STAMPH    int     network stamp input height (pre.out_h), 0 for none
 *   STAMPW    int     network stamp input width  (pre.out_w), 0 for none
 *   STAMPCUT  int     stamp size cut around a detection (pre.stamp_size)
 *   NCHAN     int     stamp channels
 *   CHANNELS  string  channel order, e.g. 'SCI,REF,DIFF'
 *   NANFILL   real    value for NaN/inf pixels
 *   NORM      string  'none' | 'l2' | 'l2-rows' | 'minmax' | 'zscore'
 *   PADVAL    real    end-padding value for stamps smaller than the input
 *   PIXSCALE  real    arcsec/pixel the model was trained at, 0 = unknown
 *                     (the cards STAMPH..PIXSCALE are always written; a
 *                     light-curve model has STAMPH = STAMPW = 0 and its
 *                     reader ignores them)
 *   NFEAT     int     number of named features, 0..64
 *   FEAT1..n  string  feature names in the order of the feature input
 *   LC...     light-curve models only: their sequence preprocessing, the
 *                     cards of lc_prep.h (sv_lcprep_write_cards/read_cards)
 *   NETIN     string  names of the network's input layers in feed order,
 *                     comma-separated (stamp input first)
 *   NETOUT    string  name of the output layer
 *   NLAYERS   int     number of layers = rows of the LAYERS table, 1..4096
 *   NPARAMS   int     total number of parameter values (all tensors)
 *   WTSUM     string  16 hex digits: 64-bit FNV-1a over, for every
 *                     parameter tensor in layer then parameter order, the
 *                     EXTNAME bytes, one 0 byte, and the values as big-endian
 *                     IEEE float32.  Because it sits in the primary header,
 *                     the primary CHECKSUM identifies the whole model,
 *                     weights included (two trainings of one architecture
 *                     get different primary CHECKSUMs).
 *   provenance: any other keyword with a string value, one per
 *                     sv_model prov pair: CREATOR, DATE, DATASET, PARENT
 *                     (parent model, for transfer learning), PARENTCK (its
 *                     CHECKSUM), SRCFILE, SRCCK, figures (AUC, ...), ...
 *                     Values longer than 68 characters use the CONTINUE
 *                     long-string convention.
 *   HISTORY   lines   the model's history lines, oldest first.
 *   COMMENT   lines   written by the writer to describe the file; ignored.
 *
 * HDU 2, BINTABLE EXTNAME = 'LAYERS': one row per layer, in topological
 * order (a layer's producers come before it).  Columns:
 *   NAME      64A  layer name (printable ASCII, no ',' and no trailing blank)
 *   KIND      24A  nn_kind_name(): input, conv2d, depthwise_conv2d,
 *                  separable_conv2d, max_pooling2d, average_pooling2d,
 *                  global_average_pooling2d, dense, flatten, dropout,
 *                  batch_normalization, concatenate, gru, activation
 *   INPUTS   600A  producer layer names, comma-separated ('' for inputs);
 *                  each must be an EARLIER row
 *   ACT       16A  nn_act_name() of the fused output activation (GRU: the
 *                  candidate activation)
 *   ALPHA      1E  leaky relu slope
 *   FILTERS    1J  UNITS 1J  KH 1J  KW 1J  SH 1J  SW 1J
 *   PADDING    8A  'valid' | 'same'
 *   DEPTHMUL   1J  depth multiplier
 *   USEBIAS    1L
 *   RATE       1E  dropout rate
 *   EPSILON    1E  MOMENTUM 1E   batch normalisation
 *   RETSEQ     1L  RESETAFT 1L   GRU return_sequences, reset_after
 *   RECACT    16A  GRU recurrent activation
 *   AXIS       1J  concatenation axis (-1, or the per-sample rank)
 *   TRAINABL   1L  layer trainable flag
 *   RANK       1J  per-sample rank of the layer's output, 1..3
 *   SHAPE      3J  per-sample output shape, unused entries 0.  For an input
 *                  layer this is the network input's shape; for the others
 *                  it must equal what nn_net_finalize computes (a check).
 * Every column is written for every row; a reader ignores values that the
 * layer's kind does not use (they still have to be in range).
 *
 * HDU 3.. IMAGE, one per parameter tensor, in layer then parameter order:
 *   EXTNAME = '<layer>.<param>' (e.g. 'conv2d_1.kernel', at most 68
 *   characters), BITPIX = -32 (IEEE float32, no BSCALE/BZERO), and the
 *   Keras shape (d0, ..., d{r-1}) of nn.h written as NAXIS = r,
 *   NAXISi = d{r-i}: NAXIS1 is the LAST (fastest) Keras axis, so the data
 *   unit is the tensor in C row-major order, exactly its memory in nn_param.
 *   Example: a Conv2D kernel (3, 3, 3, 16) has NAXIS1 = 16, NAXIS2 = 3,
 *   NAXIS3 = 3, NAXIS4 = 3; astropy's .data has shape (3, 3, 3, 16).
 *   Cards LAYER and PARAM repeat the two names.  Values must be finite.
 *   Extra HDUs whose EXTNAME has no '.' are allowed and ignored (after their
 *   checksums are verified).
 *
 * Limits a reader enforces (so that a hostile file cannot make it allocate
 * or read beyond reason): NLAYERS <= 4096, every dimension <= 2^24, a
 * layer's per-sample output <= 2^26 values, and the parameter values must
 * fit in the file (NPARAMS * 4 <= file size), checked BEFORE any tensor is
 * allocated.
 * ====================================================================== */
#ifndef SV_MODEL_FITS_H
#define SV_MODEL_FITS_H

#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define SV_MODEL_MAX_LAYERS 4096
#define SV_MODEL_MAX_ACTIVATION (1L << 26)

/* Write model m (whose net is finalised and which passes sv_model_validate)
 * to `path`, atomically: the file is written under a temporary name in the
 * same folder and renamed over `path` only when complete, so a failure
 * leaves no partial file and keeps any older file at `path`.  `path` is
 * taken literally (no cfitsio extended syntax, no '!').  m->checksum and
 * m->path are not changed (read the file back to get them).  Returns 0, or
 * a status with err naming the file and the problem: SV_ERR_ARG (invalid
 * model, a name that cannot be stored), SV_ERR_SHAPE (validation), SV_ERR_IO.
 * Thread-safe for distinct paths (cfitsio is built reentrant on Debian). */
int sv_model_write_fits(const sv_model *m, const char *path, sv_error *err);

/* Read the model file `path` (taken literally) into a new model (*out, free
 * with sv_model_free): finalised network with its weights, description,
 * provenance, m->checksum (the primary CHECKSUM) and m->path.  Every
 * checksum is verified first.  A damaged or hostile file never crashes the
 * reader nor makes it read out of bounds; it gives a status with err naming
 * the file, the HDU / layer / card, and the problem:
 *   SV_ERR_IO      cannot open, not FITS, truncated, unreadable;
 *   SV_ERR_FORMAT  not a model file, wrong SVFORMAT, bad or missing
 *                  checksum, missing or unknown cards, HDUs or columns,
 *                  unknown layer kind or activation, producer names that
 *                  do not exist or are not earlier, out-of-range or absurd
 *                  values, a weight image whose shape differs from the
 *                  layer's, non-finite weights;
 *   SV_ERR_SHAPE   shapes that do not chain (nn_net_finalize's message), a
 *                  description that disagrees with the network;
 *   SV_ERR_NOMEM.
 * *out is NULL on failure.  Thread-safe for distinct calls. */
int sv_model_read_fits(const char *path, sv_model **out, sv_error *err);

/* 1 if `path` opens as FITS and its primary header has an SVFORMAT card
 * (a stampvet model file, possibly of another version or damaged further
 * on), else 0.  Cheap: reads the primary header only.  Thread-safe. */
int sv_model_fits_is_model(const char *path);

/* The task of the model file `path` from its primary header's TASK card,
 * without reading the network (as cheap as sv_model_fits_is_model).
 * Given: path.  Returned: *task.  Returns 0, or -1 when path is not a
 * model file (sv_model_fits_is_model) or its TASK card is missing or not
 * a task name (*task untouched); a file that passes may still fail
 * sv_model_read_fits further on.  Thread-safe. */
int sv_model_fits_task(const char *path, sv_task *task);

/* 1 if `key` (upper case) is a card the model file itself uses in the
 * primary header (structural FITS cards, the description cards above,
 * CLASSn, FEATn, CHECKSUM, DATASUM, HISTORY, COMMENT, CONTINUE, ...), so
 * that it cannot be a provenance key; else 0.  Reentrant. */
int sv_model_fits_key_reserved(const char *key);

#ifdef __cplusplus
}
#endif
#endif
