/* nn_ops_list.h — the layer-kind registry (see nn/nn_ops.h): one line per
 * kind, NN_OP(enum name, numeric value, descriptor).  No include guard: it
 * is expanded several times with different NN_OP definitions.
 *
 * The values are the nn_kind enum (nn.h).  They must be consecutive from 0
 * in this order (nn_ops.c checks it when compiling), and a kind's value
 * never changes: append new kinds at the end. */
NN_OP(NN_INPUT, 0, nn_op_input)
NN_OP(NN_CONV2D, 1, nn_op_conv2d)
NN_OP(NN_DEPTHWISE_CONV2D, 2, nn_op_depthwise_conv2d)
NN_OP(NN_SEPARABLE_CONV2D, 3, nn_op_separable_conv2d)
NN_OP(NN_MAXPOOL2D, 4, nn_op_maxpool2d)
NN_OP(NN_AVGPOOL2D, 5, nn_op_avgpool2d)
NN_OP(NN_GLOBAL_AVGPOOL2D, 6, nn_op_global_avgpool2d)
NN_OP(NN_DENSE, 7, nn_op_dense)
NN_OP(NN_FLATTEN, 8, nn_op_flatten)
NN_OP(NN_DROPOUT, 9, nn_op_dropout)
NN_OP(NN_BATCHNORM, 10, nn_op_batchnorm)
NN_OP(NN_CONCAT, 11, nn_op_concat)
NN_OP(NN_GRU, 12, nn_op_gru)
NN_OP(NN_ACTIVATION, 13, nn_op_activation)
NN_OP(NN_LSTM, 14, nn_op_lstm)
NN_OP(NN_CONV1D, 15, nn_op_conv1d)
NN_OP(NN_ADD, 16, nn_op_add)
NN_OP(NN_MASKING, 17, nn_op_masking)
NN_OP(NN_GLOBAL_AVGPOOL1D, 18, nn_op_global_avgpool1d)
