/* cmd_import_onnx.c — `stampvet import-onnx`: an ONNX model (a PyTorch
 * export) to a stampvet model file (onnx_import.h, model_fits.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "import_opts.h"

#ifdef HAVE_ONNX
#include "model_fits.h"
#include "onnx_import.h"
#endif

static const char import_onnx_usage[] =
    "usage: stampvet import-onnx MODEL.onnx --task realbogus|class|lightcurve\n"
    "                            [--classes a,b,c] [--norm l2-rows|l2|minmax|zscore|none]\n"
    "                            [--channels SCI,REF,DIFF] [--pad 1e-9] [--nan-fill 0]\n"
    "                            [--pixel-scale ARCSEC] [--features f1,f2,...]\n"
    "                            [--multilabel|--softmax] [--name NAME] -o MODEL.fits\n"
    "\n"
    "Import an ONNX model (e.g. torch.onnx.export) into a stampvet model file.\n"
    "The options are import-keras's (see stampvet import-keras --help).\n"
    "\n"
    "Inputs: an image (N, C, H, W) becomes the stamp input (H, W, C), a vector\n"
    "(N, F) the feature input; one graph output.  NCHW tensors are mapped onto\n"
    "the engine's channels-last layout (a Dense after a Flatten gets its rows\n"
    "reordered, so no transpose runs).\n"
    "Supported operators (ONNX default domain): Conv (group 1, pads none or\n"
    "TF-same, dilations 1), Gemm (alpha = beta = 1, transA 0), MatMul by a\n"
    "constant (a following Add of a constant is its bias), Add, Relu, LeakyRelu,\n"
    "Sigmoid, Tanh, Softmax (last axis; fused into the layer before when it\n"
    "can be), MaxPool, AveragePool (pads none or same, ceil_mode 0),\n"
    "GlobalAveragePool, Flatten (axis 1), Reshape to (batch, -1), Concat (the\n"
    "channel / feature axis), BatchNormalization (inference), Dropout,\n"
    "Identity.  Not yet: GRU, LSTM (refused by name, as is any other operator\n"
    "or attribute).  The model records the file's SHA-256 (SRCCK), ir_version,\n"
    "opset and producer.\n";

#ifndef HAVE_ONNX

int cmd_import_onnx(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            fputs(import_onnx_usage, stdout);
            printf("\nNOT AVAILABLE in this build: stampvet was built without protobuf-c.\n");
            return 0;
        }
    return cli_fail("import-onnx", "ONNX import is not available: this stampvet was built "
                    "without protobuf-c (apt-get install -y libprotobuf-c-dev "
                    "protobuf-c-compiler, then configure --with-onnx)");
}

#else

int cmd_import_onnx(int argc, char **argv)
{
    sv_import_options o;
    const char *in_path = NULL, *out_path = NULL;
    int rc = cli_import_parse("import-onnx", import_onnx_usage, 0, argc, argv, &o, &in_path,
                              &out_path);
    if (rc)
        return rc < 0 ? 0 : rc;
    sv_error err;
    sv_error_clear(&err);
    sv_model *m = NULL;
    if (sv_onnx_import(in_path, &o, &m, &err))
        return cli_fail("import-onnx", "%s", err.text);
    int st = sv_model_write_fits(m, out_path, &err);
    if (st) {
        sv_model_free(m);
        return cli_fail("import-onnx", "%s", err.text);
    }
    cli_import_summary(in_path, out_path, m);
    sv_model_free(m);
    return 0;
}

#endif
