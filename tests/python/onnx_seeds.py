#!/usr/bin/python3
"""onnx_seeds.py OUTDIR -- small ONNX models made here with onnx.helper
(python3-onnx), the fuzz seeds of the ONNX importer (tests/fuzz/onnx/).

Each uses operators of the importer's table (stage/model/import/onnx_import.c) on a
small stamp so that a file stays well under the fuzz runner's 64 KiB:
  cnn.onnx   3x8x8 stamp: Conv (same pads), Relu, MaxPool, Flatten, Gemm,
             Softmax
  two.onnx   a 3x8x8 stamp (Conv, BatchNormalization, LeakyRelu,
             GlobalAveragePool, Flatten) and 4 features (MatMul + Add,
             Tanh), Concat, Gemm, Sigmoid
  res.onnx   Conv, Add of two tensors (a residual), AveragePool, Reshape
             to (batch, -1), Dropout, Identity, Gemm
Weights come from a fixed seed, so the files are the same on every run.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(11)


def const(name, *shape):
    return numpy_helper.from_array(rng.normal(0, 0.3, shape).astype(np.float32), name)


def model(nodes, inputs, outputs, inits, name):
    g = helper.make_graph(nodes, name, inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="onnx_seeds.py")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def stamp(name="stamp"):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", 3, 8, 8])


def out(name, n):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["N", n])


def cnn():
    nodes = [
        helper.make_node("Conv", ["stamp", "w1", "b1"], ["c1"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p1"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p1"], ["f"], axis=1),
        helper.make_node("Gemm", ["f", "w2", "b2"], ["g"], transB=1),
        helper.make_node("Softmax", ["g"], ["prob"], axis=-1),
    ]
    inits = [const("w1", 4, 3, 3, 3), const("b1", 4), const("w2", 2, 64), const("b2", 2)]
    return model(nodes, [stamp()], [out("prob", 2)], inits, "cnn")


def two():
    feats = helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 4])
    bn = [numpy_helper.from_array(np.abs(rng.normal(1, 0.1, 4)).astype(np.float32), n)
          for n in ("scale", "bias", "mean", "var")]
    nodes = [
        helper.make_node("Conv", ["stamp", "w1", "b1"], ["c1"], kernel_shape=[3, 3]),
        helper.make_node("BatchNormalization", ["c1", "scale", "bias", "mean", "var"], ["n1"]),
        helper.make_node("LeakyRelu", ["n1"], ["r1"], alpha=0.1),
        helper.make_node("GlobalAveragePool", ["r1"], ["gp"]),
        helper.make_node("Flatten", ["gp"], ["f1"], axis=1),
        helper.make_node("MatMul", ["features", "wf"], ["m1"]),
        helper.make_node("Add", ["m1", "bf"], ["a1"]),
        helper.make_node("Tanh", ["a1"], ["t1"]),
        helper.make_node("Concat", ["f1", "t1"], ["cat"], axis=1),
        helper.make_node("Gemm", ["cat", "w2", "b2"], ["g"], transB=1),
        helper.make_node("Sigmoid", ["g"], ["prob"]),
    ]
    inits = [const("w1", 4, 3, 3, 3), const("b1", 4), const("wf", 4, 5), const("bf", 5),
             const("w2", 1, 9), const("b2", 1)] + bn
    return model(nodes, [stamp(), feats], [out("prob", 1)], inits, "two")


def res():
    shape = numpy_helper.from_array(np.array([0, -1], dtype=np.int64), "shape")
    nodes = [
        helper.make_node("Conv", ["stamp", "w1", "b1"], ["c1"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["r1", "c2"], ["s"]),
        helper.make_node("AveragePool", ["s"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Reshape", ["p", "shape"], ["f"]),
        helper.make_node("Dropout", ["f"], ["d"]),
        helper.make_node("Identity", ["d"], ["i"]),
        helper.make_node("Gemm", ["i", "w3", "b3"], ["prob"], transB=1),
    ]
    inits = [const("w1", 4, 3, 3, 3), const("b1", 4), const("w2", 4, 4, 3, 3), const("b2", 4),
             const("w3", 1, 64), const("b3", 1), shape]
    return model(nodes, [stamp()], [out("prob", 1)], inits, "res")


def main():
    os.makedirs(sys.argv[1], exist_ok=True)
    for name, m in (("cnn", cnn()), ("two", two()), ("res", res())):
        onnx.save(m, os.path.join(sys.argv[1], name + ".onnx"))


if __name__ == "__main__":
    main()
