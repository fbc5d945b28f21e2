/* cmd_import_onnx.c — `stampvet import-onnx`: an ONNX model (a PyTorch
 * export) to a stampvet model file (onnx_import.h, model_fits.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/import_opts.h"

#ifdef HAVE_ONNX
#include "model/model_fits.h"
#include "model/import/onnx_import.h"
#endif

static const cli_opt import_onnx_opts[] = {
    CLI_IMPORT_OPTS,
    {NULL, 0, NULL, NULL},
};

static const cli_cmd import_onnx_cmd = {
    "import-onnx",
    "stampvet import-onnx MODEL.onnx --task realbogus|class|lightcurve\n"
    "       [--classes a,b,c] [--norm l2-rows|l2|minmax|zscore|none]\n"
    "       [--channels SCI,REF,DIFF] [--pad 1e-9] [--nan-fill 0] [--pixel-scale ARCSEC]\n"
    "       [--features f1,f2,...] [--lc-prep SPEC] [--multilabel|--softmax] [--steps N]\n"
    "       [--name NAME] [-q|-v] -o MODEL.fits",
    "Import an ONNX model (e.g. torch.onnx.export) into a stampvet model file.\n"
    "MODEL.onnx is an ONNX ModelProto with its weights inside (no external data),\n"
    "float32.  What was imported is printed on stdout (none with -q).",
    import_onnx_opts,
    CLI_IMPORT_OUTPUT,
    "Inputs: an image (N, C, H, W) becomes the stamp input (H, W, C), a vector\n"
    "(N, F) the feature input, a sequence (N, T, F) the light-curve input (T, F);\n"
    "one graph output: (N, C) or, per time step, (N, T, C).  NCHW tensors are\n"
    "mapped onto the engine's channels-last layout (a Dense after a Flatten gets\n"
    "its rows reordered, so no transpose runs).\n"
    "Supported operators (ONNX default domain): Conv (group 1, pads none or\n"
    "TF-same, dilations 1), Gemm (alpha = beta = 1, transA 0), MatMul by a\n"
    "constant (per time step on a sequence; a following Add of a constant is its\n"
    "bias), Add, Relu, LeakyRelu, Sigmoid, Tanh, Softmax (last axis; fused into\n"
    "the layer before when it can be), MaxPool, AveragePool (pads none or same,\n"
    "ceil_mode 0), GlobalAveragePool, Flatten (axis 1), Reshape to (batch, -1),\n"
    "Concat (the channel / feature axis), BatchNormalization (inference),\n"
    "Dropout, Identity;\n"
    "GRU (gates z, r, h; linear_before_reset 0 or 1) and LSTM (gates i, o, f, c):\n"
    "forward direction, default activations (Sigmoid, Tanh), layout 0, initial\n"
    "state absent or zeros - not bidirectional, clip, peepholes P, sequence_lens,\n"
    "input_forget, other activations;\n"
    "around them, as torch.onnx.export writes an nn.GRU / nn.LSTM: Transpose\n"
    "(batch <-> time), Squeeze of the direction axis, the last step as Gather /\n"
    "Slice of the sequence or Gather / Squeeze of Y_h, and the zero initial state\n"
    "from the input's shape (Shape, Gather, Unsqueeze, Concat, Constant,\n"
    "ConstantOfShape, Expand, Slice).\n"
    "Any other operator, attribute or input is refused, naming the node, the\n"
    "operator and the attribute.  Tested: ZTF's braai and a stamp + features\n"
    "model, GRU and LSTM light-curve classifiers, all exported by torch 1.13\n"
    "(doc/importing.md).  The model records the file's SHA-256 (SRCCK),\n"
    "ir_version, opset and producer."
#ifndef HAVE_ONNX
    "\n\nNOT AVAILABLE in this build: stampvet was built without protobuf-c."
#endif
};

int cmd_import_onnx(int argc, char **argv)
{
    sv_import_options o;
    const char *in_path = NULL, *out_path = NULL;
    cli_common com = {0};
    int rc = cli_import_parse(&import_onnx_cmd, argc, argv, &o, &in_path, &out_path, &com);
    if (rc >= 0)
        return rc;
#ifndef HAVE_ONNX
    return cli_fail("import-onnx", "ONNX import is not available: this stampvet was built "
                    "without protobuf-c (apt-get install -y libprotobuf-c-dev "
                    "protobuf-c-compiler, then configure --with-onnx)");
#else
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
    if (!com.quiet)
        cli_import_summary(in_path, out_path, m);
    sv_model_free(m);
    return 0;
#endif
}
