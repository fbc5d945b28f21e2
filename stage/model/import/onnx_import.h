/* onnx_import.h — import an ONNX model (a PyTorch export, ...) into a
 * stampvet model.
 *
 * The file is read with protobuf-c through C generated at build time from
 * the official onnx.proto (stage/onnx/, Apache-2.0).  The graph's nodes are
 * mapped, one table (onnx_import.c, `ops`), onto the engine's layers, with
 * ONNX's NCHW tensors in the engine's channels-last layout:
 *   Conv (group 1; pads none or TF-"same"; dilations 1) -> Conv2D, weights
 *     (O, I, kh, kw) -> (kh, kw, I, O)
 *   Gemm (alpha = beta = 1, transA 0), MatMul by a constant -> Dense (a
 *     following Add of a constant vector becomes its bias)
 *   Add of two tensors -> Add; Relu, LeakyRelu, Sigmoid, Tanh, Softmax
 *     (last axis) -> the producer's fused activation or an Activation layer
 *   MaxPool, AveragePool (pads none or "same", ceil_mode 0), GlobalAveragePool
 *   Flatten (axis 1), Reshape to (batch, -1) -> Flatten; a Dense after a
 *     flattened NCHW tensor gets its kernel rows reordered from (c, h, w) to
 *     the engine's (h, w, c), so no transpose runs at inference
 *   Concat (the channel / feature axis), BatchNormalization (inference),
 *   Dropout, Identity -> as their Keras counterparts
 *   GRU (z, r, h; linear_before_reset = Keras reset_after), LSTM (i, o, f, c
 *     -> Keras i, f, c, o): forward, default activations, zero initial
 *     state -> GRU / LSTM layers; the Transpose / Squeeze / Gather / Slice
 *     and initial-state shape arithmetic torch.onnx.export writes around
 *     them are followed (onnx_import.c), a last step taken makes the layer
 *     return its last state; MatMul and Softmax on a sequence act per step.
 * Network inputs: rank 4 (N, C, H, W) -> a stamp (H, W, C), input 0; rank 3
 * (N, T, F) -> a sequence (T, F) (a free T from opt->steps or lc_prep); rank
 * 2 (N, F) -> a feature vector, input 1.  One graph output.  Any other
 * operator, attribute value or layout is refused (SV_ERR_UNSUPPORTED) with
 * the node's name, its operator and the attribute.
 *
 * The model is described from opt as a Keras import is (model_import.h).
 * Provenance (no date: the same file gives the same model file): SRCFILE,
 * SRCCK (SHA-256), SRCCKALG, CREATOR, ONNXIR
 * (ir_version), ONNXOPS (default-domain opset), ONNXPROD (producer).
 *
 * Thread safety: reentrant (protobuf-c keeps no global state).
 */
#ifndef SV_ONNX_IMPORT_H
#define SV_ONNX_IMPORT_H

#include "model/model_import.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Import path into a new model (*out, free with sv_model_free).  Returns 0
 * or a status with err naming the file and the problem (SV_ERR_IO,
 * SV_ERR_FORMAT: not an ONNX model or a malformed graph; SV_ERR_UNSUPPORTED:
 * a node the engine does not compute; SV_ERR_ARG: options that do not fit). */
int sv_onnx_import(const char *path, const sv_import_options *opt, sv_model **out,
                   sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
