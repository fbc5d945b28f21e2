/* cmd_import_keras.c — `stampvet import-keras`: a Keras HDF5 model to a
 * stampvet model file (keras_import.h, model_fits.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/import_opts.h"

#ifdef HAVE_HDF5
#include "model/import/keras_import.h"
#include "model/model_fits.h"
#endif

static const cli_opt import_keras_opts[] = {
    {"arch", IMP_ARCH, "FILE", "the architecture JSON (model.to_json()) for a weights\n"
                               "file"},
    CLI_IMPORT_OPTS,
    {NULL, 0, NULL, NULL},
};

static const cli_cmd import_keras_cmd = {
    "import-keras",
    "stampvet import-keras MODEL.h5 [--arch ARCH.json] --task realbogus|class|lightcurve\n"
    "       [--classes a,b,c] [--norm l2-rows|l2|minmax|zscore|none]\n"
    "       [--channels SCI,REF,DIFF] [--pad 1e-9] [--nan-fill 0] [--pixel-scale ARCSEC]\n"
    "       [--features f1,f2,...] [--lc-prep SPEC] [--multilabel|--softmax] [--steps N]\n"
    "       [--name NAME] [-q|-v] -o MODEL.fits",
    "Import a Keras 2.x HDF5 model into a stampvet model file.  MODEL.h5 is a full\n"
    "Keras model (model.save: architecture in the 'model_config' attribute,\n"
    "weights under model_weights/), or a weights-only file (model.save_weights)\n"
    "with --arch.  What was imported is printed on stdout (none with -q).",
    import_keras_opts,
    CLI_IMPORT_OUTPUT,
    "The model records the source file's name and SHA-256 (SRCFILE, SRCCK).\n"
    "Files: Keras 2.2.4, tf.keras 2.x (2.2.4-tf .. 2.15) and Keras 3 HDF5; Sequential\n"
    "models saved without batch_input_shape take it from build_input_shape or the\n"
    "first layer's weights.  hard_sigmoid is the writer's: 0.2x+0.5 (Keras 2),\n"
    "x/6+0.5 (Keras 3).\n"
    "Supported layers: InputLayer, Conv2D, DepthwiseConv2D, SeparableConv2D,\n"
    "MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D, Dense, Flatten,\n"
    "Dropout (and SpatialDropout, Gaussian*, AlphaDropout: identity), Batch-\n"
    "Normalization, Concatenate, Activation, LeakyReLU, ReLU, Softmax,\n"
    "TimeDistributed(Dense), Conv1D (valid/same/causal, dilation or stride),\n"
    "GRU (reset_after false/true) and LSTM (sigmoid or hard_sigmoid gates),\n"
    "Masking (the GRU/LSTM layers after it keep their state at masked steps, as\n"
    "Keras), and keras-tcn's TCN as versions 3.1.2-3.4.x compute it (causal or\n"
    "same padding, dilations, stacks, skip connections, any supported activation;\n"
    "not batch/layer/weight norm, return_sequences false).  Anything else is\n"
    "refused with the layer and the option named.\n"
    "Tested (doc/importing.md): ZTF's braai d6_m7 and d6_m9, ACAI, and RAPID's\n"
    "four published models (GRU, LSTM, TCN)."
#ifndef HAVE_HDF5
    "\n\nNOT AVAILABLE in this build: stampvet was built without HDF5 and jansson."
#endif
};

int cmd_import_keras(int argc, char **argv)
{
    const char *cmd = "import-keras", *in_path = NULL, *out_path = NULL;
    sv_import_options o;
    cli_common com = {0};
    int rc = cli_import_parse(&import_keras_cmd, argc, argv, &o, &in_path, &out_path, &com);
    if (rc >= 0)
        return rc;
#ifndef HAVE_HDF5
    return cli_fail(cmd, "Keras import is not available: this stampvet was built without HDF5 "
                         "and jansson (install libhdf5-dev and libjansson-dev, then configure "
                         "--with-hdf5)");
#else
    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    if (sv_keras_import(in_path, &o, &m, &err))
        return cli_fail(cmd, "%s", err.text);
    if (sv_model_write_fits(m, out_path, &err)) {
        sv_model_free(m);
        return cli_fail(cmd, "%s", err.text);
    }
    if (!com.quiet)
        cli_import_summary(in_path, out_path, m);
    sv_model_free(m);
    return 0;
#endif
}
