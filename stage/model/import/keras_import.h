/* keras_import.h — import a Keras 2.x HDF5 model into a stampvet model.
 *
 * Reads either
 *   - a full Keras model file: the architecture in the root attribute
 *     `model_config` (JSON), weights under `model_weights/<layer>/...`; or
 *   - a weights-only file (`model.save_weights`: weights under
 *     `<layer>/...` at the root) together with the architecture JSON
 *     (`model.to_json()`), given as arch_path.
 * In both, the attribute `layer_names` lists the layers that have weights and
 * each layer group's attribute `weight_names` gives the weight datasets'
 * paths relative to that group (for example `conv1/kernel:0`), as Keras
 * itself reads them.  String attributes may be variable- or fixed-length,
 * scalars or arrays.
 *
 * Architectures: Sequential (the Keras 2.2 list form and the
 * {"name", "layers"} form; without batch_input_shape the input shape comes
 * from the config's build_input_shape, else from the first weighted layer's
 * kernel, and a free (None) time axis from opt->steps) and functional
 * models ("Model" / "Functional", with inbound_nodes; several inputs, one
 * output; no shared layers, no nested models).  Layers: InputLayer,
 * Conv2D, DepthwiseConv2D, SeparableConv2D, MaxPooling2D,
 * AveragePooling2D, GlobalAveragePooling2D, Dense, Flatten, Dropout (and
 * SpatialDropout*, GaussianNoise, GaussianDropout, AlphaDropout: identity
 * at inference), BatchNormalization, Concatenate, GRU, LSTM, Conv1D
 * (valid / same / causal, dilation or stride), Activation, LeakyReLU, ReLU
 * (plain), Softmax (last axis), TimeDistributed(Dense) (imported as Dense,
 * which applies per time step), Masking, and keras-tcn's TCN layer
 * (expanded into Conv1D / Activation / Add layers named
 * "<tcn>/residual_block_<i>/<part>", computed as keras-tcn 3.1.2 .. 3.4.x
 * do; see kimp_tcn).  Masks follow Keras: a Masking layer's mask travels
 * through Dropout, BatchNormalization, activations, Dense and
 * return_sequences recurrent layers, and every GRU / LSTM it reaches keeps
 * its state at masked steps (nn.h); layers that do not support masks (Conv1D,
 * TCN) drop it, as TF 2 does; a masked input to Concatenate is refused.
 * hard_sigmoid is the one of the Keras that wrote the file (keras_version):
 * 0.2 x + 0.5 before Keras 3, x / 6 + 0.5 from Keras 3.
 * Options must be those the engine computes: channels_last, padding
 * valid/same (Conv1D also causal), no stateful/backwards/unrolled-state
 * recurrent layers, and so on.  Anything else is an error
 * (SV_ERR_UNSUPPORTED) naming the layer and the class or option.
 *
 * The network's inputs are reordered so that a stamp input (rank 3,
 * H x W x C) is network input 0 and a feature vector (rank 1) input 1.
 *
 * Provenance recorded in the model: SRCFILE (base name of the HDF5 file),
 * SRCCK (the SHA-256 of the file, 64 hex digits; SRCCKALG = "sha256"),
 * ARCHFILE/ARCHCK for a separate architecture JSON, KERASVER
 * (keras_version attribute), CREATOR ("stampvet <version> import-keras"),
 * LCMASK (the first Masking layer's mask value).  No date and no folder:
 * importing the same file with the same options gives the same model
 * file, byte for byte (sv_model_write_fits).
 *
 * Thread safety: not thread-safe.  libhdf5 (serial build) is not, and the
 * import silences HDF5's automatic error printing for the duration of the
 * call (saved and restored), which is process-wide HDF5 state.  Import is an
 * offline step; do not run it concurrently with other HDF5 users.
 */
#ifndef SV_KERAS_IMPORT_H
#define SV_KERAS_IMPORT_H

#include "model/model.h"
#include "model/model_import.h"
#include "core/sv_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The options of an import (model_import.h). */
typedef sv_import_options sv_keras_options;

/* sv_import_options_defaults() */
sv_keras_options sv_keras_options_defaults(void);

/* Import the Keras model in h5_path (and opt->arch_path if set) into a new
 * model (*out, to free with sv_model_free).  The network is finalised, holds
 * the file's weights, and the model passes sv_model_validate.  Returns 0, or
 * a status with err naming the file and the problem:
 *   SV_ERR_IO           the file cannot be opened / is not HDF5 / is corrupt;
 *   SV_ERR_FORMAT       no model_config and no arch_path, bad JSON, missing
 *                       or mis-shaped weights, weights for unknown layers;
 *   SV_ERR_UNSUPPORTED  a layer class or option the engine does not run
 *                       (the message names the layer and the option);
 *   SV_ERR_ARG          options that do not fit the model (class count,
 *                       feature count, channel count).
 * Not thread-safe (see above). */
int sv_keras_import(const char *h5_path, const sv_keras_options *opt,
                    sv_model **out, sv_error *err);

/* Only the network with its weights, from h5_path (and arch_path, or NULL
 * to read `model_config`): no model description, any input and output
 * shapes.  Used by sv_keras_import and by tests that compare layer outputs.
 * Returns 0 with *out set (finalised; free with nn_net_free), or a status
 * as sv_keras_import.  Not thread-safe (HDF5). */
int sv_keras_import_net(const char *h5_path, const char *arch_path, nn_net **out,
                        sv_error *err);

/* Build only the network from architecture JSON text (no weights; zero
 * parameters).  Used by the importer and by tests.  `src` names the JSON's
 * origin for messages.  Returns 0 with *out set, or a status as above.
 * Thread-safe (no HDF5 involved). */
int sv_keras_net_from_json(const char *json_text, const char *src, nn_net **out,
                           sv_error *err);

#ifdef __cplusplus
}
#endif
#endif
