/* model_import.h — what an imported network (Keras, ONNX) becomes: a
 * stampvet model with its task, classes, inputs, preprocessing and
 * provenance.  Shared by keras_import.c and onnx_import.c.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef SV_MODEL_IMPORT_H
#define SV_MODEL_IMPORT_H

#include "model/model.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct sv_import_options {
    const char *arch_path;   /* architecture JSON for a weights-only file,
                                NULL to read `model_config` from the HDF5   */
    sv_task task;            /* SV_TASK_REALBOGUS, SV_TASK_CLASS, or
                                SV_TASK_LIGHTCURVE (one (T, F) input)       */
    const char *classes;     /* "a,b,c" in output order; NULL: "real" for
                                realbogus, "class0,class1,..." for class     */
    int multilabel;          /* class task with independent sigmoid heads;
                                -1: decide from the output activation        */
    sv_norm norm;            /* stamp normalisation                         */
    const char *channels;    /* "SCI,REF,DIFF" (NULL = that)                */
    float nan_fill;          /* 0                                          */
    float pad_value;         /* end-padding value, 1e-9 as braai            */
    double pixel_scale;      /* arcsec/pixel the model was trained at,
                                0 = unknown (ZTF: 1.01)                     */
    const char *features;    /* "f1,f2,..." names of the feature input, in
                                order; required when the model has one      */
    const char *name;        /* model name; NULL: the file's base name
                                without extension                           */
    const char *version;     /* MODVERS; NULL: the model name (braai's
                                d6_m7.h5: 'd6_m7', its drbversion)          */
    const char *creator;     /* CREATOR provenance, NULL = "stampvet"       */
    const char *lc_prep;     /* lightcurve task: the history preprocessing
                                (sv_lcprep_parse text, e.g. "rapid"), NULL:
                                none declared (tensors only)                */
    int steps;               /* time steps of a sequence input whose length
                                the file leaves free (None); 0: lc_prep's
                                n_steps, else an error                      */
} sv_import_options;

/* Defaults: realbogus, l2-rows (braai d6_m7), SCI,REF,DIFF, nan_fill 0,
 * pad 1e-9, pixel_scale 0, multilabel -1, everything else NULL. */
sv_import_options sv_import_options_defaults(void);

/* Describe the model around m->net (task, classes, multilabel, stamp
 * preprocessing and channels, feature names, light-curve preparation) from
 * opt; `file` names the source in messages.  A stamp input (rank 3) must be
 * network input 0 and a feature vector (rank 1) input 1; a light-curve
 * model has one (T, F) input.  Returns 0, or SV_ERR_ARG / SV_ERR_UNSUPPORTED
 * with err saying what does not fit. */
int sv_import_describe(sv_model *m, const sv_import_options *opt, const char *file,
                       sv_error *err);

/* The time steps to give a sequence input whose length the file leaves
 * free: opt->steps, else (light-curve task) the n_steps of opt->lc_prep,
 * else 0 (none: the importer says so). */
int sv_import_steps(const sv_import_options *opt);

/* Record CREATOR, SRCFILE (base name of file), SRCCK (srcck, the file's
 * SHA-256 in hex) and SRCCKALG; no date and no folder, so that importing
 * the same file with the same options gives the same model file byte for
 * byte.  Returns 0 or SV_ERR_INTERNAL. */
int sv_import_provenance(sv_model *m, const char *creator, const char *file, const char *srcck,
                         sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
