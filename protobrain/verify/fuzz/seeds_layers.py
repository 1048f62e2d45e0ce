"""Seed models of the layers with weights and state: a 16x8 model (int16 activations,
int8 weights), transposed convolution and batch matmul, the recurrent layers (LSTM, SVDF:
variable tensors kept between invocations) and resource variables (VAR_HANDLE, CALL_ONCE
with its initializer subgraph, READ_VARIABLE, ASSIGN_VARIABLE).
"""

from __future__ import annotations

import numpy as np

from protobrain.verify.fuzz.seeds_net import Net

_NONE = {"FusedActivationFunction": 0}


def tiny_16x8() -> bytes:
    """int16 CONV_2D, DEPTHWISE_CONV_2D, TRANSPOSE_CONV, FULLY_CONNECTED, BATCH_MATMUL, ADD,
    SUB, MUL, MAX/AVERAGE_POOL_2D, TANH, LOGISTIC, RELU, SOFTMAX, MEAN and QUANTIZE to int8."""
    n = Net(9)
    s_x = 1 / 2048
    x = n.act([1, 4, 4, 2], "int16", scale=s_x, zp=0, name="input")
    w = [0.004, 0.006, 0.005]
    c = n.act([1, 4, 4, 3], "int16", scale=1 / 1024, zp=0)
    n.op("CONV_2D", [x, n.weights([3, 3, 3, 2], w), n.const(n.rng.integers(-9000, 9000, 3), "int64",
                                                            scale=[s_x * v for v in w])],
         c, "Conv2DOptions", Padding=0, StrideW=1, StrideH=1, FusedActivationFunction=0, DilationWFactor=1,
         DilationHFactor=1)
    d = n.act([1, 2, 2, 3], "int16", scale=1 / 512, zp=0)
    n.op("DEPTHWISE_CONV_2D", [c, n.weights([1, 3, 3, 3], w, axis=3),
                               n.const(n.rng.integers(-900, 900, 3), "int64", scale=[v / 1024 for v in w])],
         d, "DepthwiseConv2DOptions", Padding=0, StrideW=2, StrideH=2, DepthMultiplier=1, DilationWFactor=1,
         DilationHFactor=1, FusedActivationFunction=1)
    tc = n.act([1, 4, 4, 2], "int16", scale=1 / 256, zp=0)
    n.op("TRANSPOSE_CONV", [n.const([1, 4, 4, 2]), n.weights([2, 3, 3, 3], [0.01, 0.02], axis=0), d,
                            n.const(n.rng.integers(-2000, 2000, 2), "int64", scale=[0.01 / 512, 0.02 / 512])],
         tc, "TransposeConvOptions", Padding=0, StrideW=2, StrideH=2, **_NONE)
    ad = n.act([1, 4, 4, 2], "int16", scale=1 / 256, zp=0)
    n.op("ADD", [tc, x], ad, "AddOptions", FusedActivationFunction=0, PotScaleInt16=False)
    mu = n.act([1, 4, 4, 2], "int16", scale=1 / 128, zp=0)
    n.op("MUL", [ad, n.const([3000, -9000], "int16", scale=1 / 4096, zp=0)], mu, "MulOptions", **_NONE)
    sb = n.act([1, 4, 4, 2], "int16", scale=1 / 128, zp=0)
    n.op("SUB", [mu, ad], sb, "SubOptions", FusedActivationFunction=0, PotScaleInt16=False)
    mp = n.act([1, 2, 2, 2], "int16", scale=1 / 128, zp=0)
    n.op("MAX_POOL_2D", [sb], mp, "Pool2DOptions", Padding=1, StrideW=2, StrideH=2, FilterWidth=2, FilterHeight=2,
         **_NONE)
    ap = n.act([1, 2, 2, 2], "int16", scale=1 / 128, zp=0)
    n.op("AVERAGE_POOL_2D", [mu], ap, "Pool2DOptions", Padding=0, StrideW=2, StrideH=2, FilterWidth=3,
         FilterHeight=3, FusedActivationFunction=1)
    th = n.act([1, 2, 2, 2], "int16", scale=1 / 32768, zp=0)
    n.op("TANH", [mp], th)
    lg = n.act([1, 2, 2, 2], "int16", scale=1 / 32768, zp=0)
    n.op("LOGISTIC", [ap], lg)
    bm = n.act([1, 2, 2, 2], "int16", scale=1 / 16384, zp=0)
    n.op("BATCH_MATMUL", [th, lg], bm, "BatchMatMulOptions", AdjX=False, AdjY=True, AsymmetricQuantizeInputs=False)
    rl = n.act([1, 2, 2, 2], "int16", scale=1 / 16384, zp=0)
    n.op("RELU", [bm], rl)
    fc = n.act([1, 5], "int16", scale=1 / 512, zp=0)
    n.op("FULLY_CONNECTED", [rl, n.weights([5, 8], 0.01), n.const(n.rng.integers(-300, 300, 5), "int64",
                                                                   scale=0.01 / 16384)],
         fc, "FullyConnectedOptions", FusedActivationFunction=0, KeepNumDims=False)
    sm = n.act([1, 5], "int16", scale=1 / 32768, zp=0, name="softmax")
    n.op("SOFTMAX", [fc], sm, "SoftmaxOptions", Beta=1.0)
    mean = n.act([1, 2], "int16", scale=1 / 256, zp=0)
    n.op("MEAN", [tc, n.const([1, 2])], mean, "ReducerOptions", KeepDims=False)
    q = n.act([1, 2], "int8", scale=1 / 64, zp=-1, name="mean")
    n.op("QUANTIZE", [mean], q, "QuantizeOptions")
    return n.build([x], [sm, q], "tiny_16x8")


def tiny_matmul() -> bytes:
    """int8 TRANSPOSE_CONV (per-channel weights, bias), BATCH_MATMUL of two activations and
    by a constant (a FULLY_CONNECTED), then RELU6."""
    n = Net(10)
    x = n.act([1, 3, 3, 2], scale=0.05, zp=3, name="input")
    ws = [0.004, 0.008, 0.006]
    tc = n.act([1, 6, 6, 3], scale=0.1, zp=-5)
    n.op("TRANSPOSE_CONV", [n.const([1, 6, 6, 3]), n.weights([3, 3, 3, 2], ws, axis=0), x,
                            n.const(n.rng.integers(-3000, 3000, 3), "int32", scale=[0.05 * v for v in ws])],
         tc, "TransposeConvOptions", Padding=0, StrideW=2, StrideH=2, FusedActivationFunction=1)
    sq = n.act([1, 6, 18], scale=0.1, zp=-5)
    n.op("RESHAPE", [tc, n.const([1, 6, 18])], sq, "ReshapeOptions", NewShape=[1, 6, 18])
    bm = n.act([1, 6, 6], scale=0.5, zp=2)
    n.op("BATCH_MATMUL", [sq, sq], bm, "BatchMatMulOptions", AdjX=False, AdjY=True, AsymmetricQuantizeInputs=False)
    by = n.act([1, 6, 4], scale=0.6, zp=-1)
    n.op("BATCH_MATMUL", [bm, n.weights([6, 4], 0.02)], by, "BatchMatMulOptions", AdjX=False, AdjY=False,
         AsymmetricQuantizeInputs=False)
    r6 = n.act([1, 6, 4], scale=6 / 255, zp=-128, name="output")
    n.op("RELU6", [by], r6)
    return n.build([x], [r6], "tiny_matmul")


def tiny_lstm() -> bytes:
    """UNIDIRECTIONAL_SEQUENCE_LSTM (int8, int16 cell; hidden and cell state variable
    tensors) over 3 steps, then FULLY_CONNECTED on the last step's output."""
    n = Net(11)
    steps, depth, units = 3, 4, 5
    s_x, s_h = 0.02, 1 / 128
    x = n.act([1, steps, depth], scale=s_x, zp=-7, name="input")
    gates = [n.weights([units, depth if k < 4 else units], float(n.rng.uniform(0.003, 0.008))) for k in range(8)]
    biases = [n.const(n.rng.integers(-3000, 3000, units), "int32",
                      scale=s_x * float(n.tensors[gates[k]]["scale"])) for k in range(4)]
    hidden = n.act([1, units], scale=s_h, zp=0, name="hidden", variable=True)
    cell = n.act([1, units], "int16", scale=2.0**-11, zp=0, name="cell", variable=True)
    y = n.act([1, steps, units], scale=s_h, zp=0)
    ins = [x, *gates, -1, -1, -1, *biases, -1, -1, hidden, cell, -1, -1, -1, -1]
    n.op("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, y, "UnidirectionalSequenceLSTMOptions", FusedActivationFunction=4,
         CellClip=10.0, ProjClip=0.0, TimeMajor=False, AsymmetricQuantizeInputs=False, DiagonalRecurrentTensors=False)
    flat = n.act([1, steps * units], scale=s_h, zp=0)
    n.op("RESHAPE", [y, n.const([1, steps * units])], flat, "ReshapeOptions", NewShape=[1, steps * units])
    out = n.act([1, 3], scale=0.05, zp=4, name="output")
    n.op("FULLY_CONNECTED", [flat, n.weights([3, steps * units], 0.01),
                             n.const(n.rng.integers(-200, 200, 3), "int32", scale=s_h * 0.01)],
         out, "FullyConnectedOptions", FusedActivationFunction=0, KeepNumDims=False)
    return n.build([x], [out], "tiny_lstm")


def tiny_svdf() -> bytes:
    """Two SVDFs (int8 state, rank 2; int16 state, rank 1), their states variable tensors."""
    n = Net(12)
    x = n.act([1, 8], scale=0.05, zp=-10, name="input")
    src, width = x, 8
    for k, (state, rank, memory, units, s_state, zp_state, s_wt) in enumerate(
            [("int8", 2, 4, 4, 0.02, -40, 0.01), ("int16", 1, 3, 3, 0.005, 0, 0.0002)]):
        filters, wide = units * rank, state == "int16"
        weights_time = n.const(n.rng.integers(-20000 if wide else -127, 20000 if wide else 128, (filters, memory)),
                               state, scale=s_wt)
        bias = n.const(n.rng.integers(-2000, 2000, units), "int32", scale=float(np.float32(s_state) * np.float32(s_wt)))
        ins = [src, n.weights([filters, width], 0.01), weights_time, bias,
               n.act([1, memory * filters], state, scale=s_state, zp=zp_state, name=f"state{k}", variable=True)]
        out = n.act([1, units], scale=2.0 if wide else 0.1, zp=0 if wide else -128, name=f"out{k}")
        n.op("SVDF", ins, out, "SVDFOptions", Rank=rank, FusedActivationFunction=0 if wide else 1,
             AsymmetricQuantizeInputs=False)
        src, width = out, units
    return n.build([x], [src], "tiny_svdf")


def tiny_variables() -> bytes:
    """A running sum in a resource variable: CALL_ONCE (its initializer subgraph assigns
    the start value), VAR_HANDLE, READ_VARIABLE, ADD, ASSIGN_VARIABLE."""
    n = Net(13)
    s, zp = 0.05, 7
    x = n.act([1, 5], scale=s, zp=zp, name="input")
    handle = n.act([], "resource", name="handle")
    v = n.act([1, 5], scale=s, zp=zp)
    y = n.act([1, 5], scale=s, zp=zp, name="output")
    n.op("CALL_ONCE", [], [], "CallOnceOptions", InitSubgraphIndex=1)
    n.op("VAR_HANDLE", [], handle, "VarHandleOptions", SharedName="acc")
    n.op("READ_VARIABLE", [handle], v, "ReadVariableOptions")
    n.op("ADD", [x, v], y, "AddOptions", **_NONE)
    n.op("ASSIGN_VARIABLE", [handle, y], [], "AssignVariableOptions")
    init = [{"shape": [], "type": "resource", "name": "h"},
            {"shape": [1, 5], "type": "int8", "scale": s, "zp": zp, "name": "init",
             "data": np.array([[-100, -1, 0, 5, 120]], np.int8)}]
    n.subgraphs.append((init, [("VAR_HANDLE", [], [0], "VarHandleOptions", {"SharedName": "acc"}),
                               ("ASSIGN_VARIABLE", [0, 1], [], None, {})], [], []))
    return n.build([x], [y], "tiny_variables")
