"""LOGISTIC, TANH, RELU, RELU6, LEAKY_RELU, SOFTMAX, QUANTIZE, DEQUANTIZE against TFLite Micro.

int8 activations are checked on every one of the 256 input values at several input scales
and zero points; 16x8 LOGISTIC/TANH/RELU/RELU6/LEAKY_RELU on all 65536 int16 values.
Cases the converter cannot emit (SOFTMAX beta != 1, int8 -> int16 SOFTMAX, int8/int16
requantizing QUANTIZE, power-of-two int16 input scales) use small hand-built flatbuffers,
still judged by TFLite Micro.
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import convert
from conftest import assert_bit_exact

RANGES = [(-0.5, 0.5), (-4.0, 4.0), (-20.0, 20.0), (0.0, 6.0), (-3.0, 1.0)]


def _check(data: bytes, name: str, extra=(), n_random: int = 10):
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    compiled = compile_bytes(data, name)
    assert_bit_exact(compiled, Reference(data, arena_size=1 << 22), n_random=n_random, extra_inputs=list(extra))
    return compiled


ALL_INT8 = np.arange(-128, 128).astype(np.int8).reshape(1, 16, 16)
ALL_INT16 = np.arange(-32768, 32768).astype(np.int16).reshape(1, 256, 256)


def _layer(make_layer, shape):
    def make():
        import tensorflow as tf

        x = tf.keras.Input(shape, batch_size=1)
        return tf.keras.Model(x, make_layer(tf)(x))

    return make


ACTIVATIONS = {
    "relu": lambda tf: tf.keras.layers.ReLU(),
    "relu6": lambda tf: tf.keras.layers.ReLU(max_value=6.0),
    "leaky": lambda tf: tf.keras.layers.LeakyReLU(negative_slope=0.2),
    "sigmoid": lambda tf: tf.keras.layers.Activation("sigmoid"),
    "tanh": lambda tf: tf.keras.layers.Activation("tanh"),
}


def _leaky(alpha: float):
    if alpha >= 0:
        return lambda tf: tf.keras.layers.LeakyReLU(negative_slope=alpha)
    return lambda tf: tf.keras.layers.Lambda(lambda x: tf.nn.leaky_relu(x, alpha=alpha))


# ---- int8: every input value, several input scales and zero points ------------------------


@pytest.mark.parametrize("data_range", RANGES, ids=lambda r: f"{r[0]}_{r[1]}")
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_int8_exhaustive(act, data_range):
    data = convert(_layer(ACTIVATIONS[act], (16, 16)), [(16, 16)], key=f"act8-{act}", data_range=data_range)
    _check(data, f"a8_{act}", extra=[ALL_INT8], n_random=5)


@pytest.mark.parametrize("data_range", [(-4.0, 4.0), (0.0, 6.0)], ids=lambda r: f"{r[0]}_{r[1]}")
@pytest.mark.parametrize("alpha", [0.01, 0.2, 0.5, 1.3, -0.5])
def test_int8_leaky_relu_alpha(alpha, data_range):
    data = convert(_layer(_leaky(alpha), (16, 16)), [(16, 16)], key=f"leaky8-{alpha}", data_range=data_range)
    from protobrain.compiler.reader import read_model_bytes

    g = read_model_bytes(data)
    assert [op.name for op in g.operators] == ["LEAKY_RELU"]
    _check(data, "leaky8", extra=[ALL_INT8], n_random=5)


# ---- 16x8: every int16 input value ------------------------------------------------------


@pytest.mark.parametrize("data_range", [(-0.5, 0.5), (-4.0, 4.0), (-20.0, 20.0), (-1.0, 9.0)],
                         ids=lambda r: f"{r[0]}_{r[1]}")
@pytest.mark.parametrize("act", ["sigmoid", "tanh"])
def test_int16_sigmoid_tanh_exhaustive(act, data_range):
    data = convert(_layer(ACTIVATIONS[act], (256, 256)), [(256, 256)], mode="16x8",
                   key=f"act16-{act}", data_range=data_range)
    _check(data, f"a16_{act}", extra=[ALL_INT16], n_random=2)


@pytest.mark.parametrize("data_range", [(-4.0, 4.0), (0.0, 6.0)], ids=lambda r: f"{r[0]}_{r[1]}")
@pytest.mark.parametrize("act", ["relu", "relu6", "leaky"])
def test_int16_relu_exhaustive(act, data_range):
    data = convert(_layer(ACTIVATIONS[act], (256, 256)), [(256, 256)], mode="16x8",
                   key=f"act16-{act}", data_range=data_range)
    _check(data, f"a16_{act}", extra=[ALL_INT16], n_random=2)


@pytest.mark.parametrize("alpha", [0.01, 1.3, -0.5])
def test_int16_leaky_relu_alpha(alpha):
    data = convert(_layer(_leaky(alpha), (256, 256)), [(256, 256)], mode="16x8",
                   key=f"leaky16-{alpha}", data_range=(-3.0, 5.0))
    _check(data, "leaky16", extra=[ALL_INT16], n_random=2)


# ---- SOFTMAX -------------------------------------------------------------------------------

SOFTMAX_SHAPES = [(2,), (10,), (37,), (128,), (4, 4, 10), (2, 3, 37)]


@pytest.mark.parametrize("data_range", [(-4.0, 4.0), (-20.0, 20.0)], ids=lambda r: f"{r[0]}_{r[1]}")
@pytest.mark.parametrize("shape", SOFTMAX_SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_softmax_int8(shape, data_range):
    data = convert(_layer(lambda tf: tf.keras.layers.Softmax(), shape), [shape],
                   key=f"softmax8-{shape}", data_range=data_range)
    rng = np.random.default_rng(1)
    # Rows with a few large values and many far below: exercises diff_min and saturation.
    peaky = rng.integers(-128, -60, size=(1, *shape)).astype(np.int8)
    peaky.reshape(-1)[:: max(1, shape[-1] // 3)] = 127
    _check(data, "softmax8", extra=[peaky], n_random=30)


@pytest.mark.parametrize("shape", [(2,), (10,), (37,), (128,), (4, 4, 10)], ids=lambda s: "x".join(map(str, s)))
def test_softmax_int16(shape):
    data = convert(_layer(lambda tf: tf.keras.layers.Softmax(), shape), [shape], mode="16x8",
                   key=f"softmax16-{shape}", data_range=(-6.0, 6.0))
    _check(data, "softmax16", n_random=30)


# ---- QUANTIZE / DEQUANTIZE through float input/output models ----------------------------


def _float_probes(t_in_scale: float, shape) -> list[np.ndarray]:
    """Float inputs at and next to half-way points of the input quantization grid, plus
    values far outside the range: exercises QUANTIZE's rounding and saturation."""
    n = int(np.prod(shape))
    k = np.arange(n, dtype=np.float64) - n // 2
    halves = ((k + 0.5) * t_in_scale).astype(np.float32)
    out = [halves.reshape(1, *shape),
           np.nextafter(halves, np.float32(np.inf)).reshape(1, *shape),
           np.nextafter(halves, np.float32(-np.inf)).reshape(1, *shape)]
    # (Quotients beyond the int32 range are left out: there the reference's float to int
    # conversion is undefined and differs between hosts; protobrain saturates.)
    big = np.resize(np.array([2e9 * t_in_scale, -2e9 * t_in_scale, 3e4, -3e4, 0.0, -0.0], np.float32), n)
    out.append(big.reshape(1, *shape))
    return out


@pytest.mark.parametrize("act", ["relu", "relu6", "leaky", "sigmoid", "tanh", "softmax"])
@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_float_io(mode, act):
    make = ACTIVATIONS.get(act) or (lambda tf: tf.keras.layers.Softmax())
    shape = (64,)
    data = convert(_layer(make, shape), [shape], mode=mode, float_io=True, key=f"fio-{act}", data_range=(-3.0, 5.0))
    from protobrain.compiler.reader import read_model_bytes

    g = read_model_bytes(data)
    names = [op.name for op in g.operators]
    assert names[0] == "QUANTIZE" and names[-1] == "DEQUANTIZE", names
    scale = float(g.tensors[g.operators[0].outputs[0]].quant.s)
    _check(data, "fio", extra=_float_probes(scale, shape), n_random=20)


@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_requantize_from_concatenation(mode):
    """Concatenating LOGISTIC and TANH outputs (fixed, different scales) makes the converter
    requantize both to a common scale with QUANTIZE int8->int8 (int16->int16 in 16x8)."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((8, 16), batch_size=1)
        a = tf.keras.layers.Activation("sigmoid")(x)
        b = tf.keras.layers.Activation("tanh")(x)
        return tf.keras.Model(x, tf.keras.layers.Concatenate()([a, b]))

    data = convert(make, [(8, 16)], mode=mode, key="requant-concat", data_range=(-4.0, 4.0))
    from protobrain.compiler.reader import read_model_bytes

    g = read_model_bytes(data)
    quants = [op for op in g.operators if op.name == "QUANTIZE"]
    assert quants and all(g.tensors[op.inputs[0]].dtype == g.tensors[op.outputs[0]].dtype for op in quants)
    from protobrain.compiler.ops import REGISTRY

    if "CONCATENATION" not in REGISTRY:
        pytest.skip("CONCATENATION is not lowered yet")
    _check(data, "requant", n_random=20)


# ---- hand-built single-operator models ------------------------------------------------------


def single_op_model(op_name: str, inp, out, options=None) -> bytes:
    """A one-operator .tflite: inp/out are (dtype, shape, scale or None, zero point)."""
    import flatbuffers
    import tflite
    from tflite.BuiltinOperator import BuiltinOperator
    from tflite.BuiltinOptions import BuiltinOptions
    from tflite.TensorType import TensorType

    types = {"float32": TensorType.FLOAT32, "int8": TensorType.INT8, "int16": TensorType.INT16}
    b = flatbuffers.Builder(1024)

    def table_vector(start, items):
        start(b, len(items))
        for o in reversed(items):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    def tensor(i, spec):
        dtype, shape, scale, zp = spec
        name = b.CreateString(f"t{i}")
        dims = b.CreateNumpyVector(np.array(shape, np.int32))
        quant = None
        if scale is not None:
            sv = b.CreateNumpyVector(np.array([scale], np.float32))
            zv = b.CreateNumpyVector(np.array([zp], np.int64))
            tflite.QuantizationParametersStart(b)
            tflite.QuantizationParametersAddScale(b, sv)
            tflite.QuantizationParametersAddZeroPoint(b, zv)
            quant = tflite.QuantizationParametersEnd(b)
        tflite.TensorStart(b)
        tflite.TensorAddShape(b, dims)
        tflite.TensorAddType(b, types[dtype])
        tflite.TensorAddBuffer(b, 0)
        tflite.TensorAddName(b, name)
        if quant is not None:
            tflite.TensorAddQuantization(b, quant)
        return tflite.TensorEnd(b)

    tensors = [tensor(0, inp), tensor(1, out)]
    opts = None
    if options is not None:
        kind, value = options
        if kind == "beta":
            tflite.SoftmaxOptionsStart(b)
            tflite.SoftmaxOptionsAddBeta(b, float(value))
            opts, opts_type = tflite.SoftmaxOptionsEnd(b), BuiltinOptions.SoftmaxOptions
        else:
            tflite.LeakyReluOptionsStart(b)
            tflite.LeakyReluOptionsAddAlpha(b, float(value))
            opts, opts_type = tflite.LeakyReluOptionsEnd(b), BuiltinOptions.LeakyReluOptions
    io0 = b.CreateNumpyVector(np.array([0], np.int32))
    io1 = b.CreateNumpyVector(np.array([1], np.int32))
    tflite.OperatorStart(b)
    tflite.OperatorAddOpcodeIndex(b, 0)
    tflite.OperatorAddInputs(b, io0)
    tflite.OperatorAddOutputs(b, io1)
    if opts is not None:
        tflite.OperatorAddBuiltinOptionsType(b, opts_type)
        tflite.OperatorAddBuiltinOptions(b, opts)
    op = tflite.OperatorEnd(b)
    tensor_vec = table_vector(tflite.SubGraphStartTensorsVector, tensors)
    op_vec = table_vector(tflite.SubGraphStartOperatorsVector, [op])
    g_in = b.CreateNumpyVector(np.array([0], np.int32))
    g_out = b.CreateNumpyVector(np.array([1], np.int32))
    sg_name = b.CreateString("main")
    tflite.SubGraphStart(b)
    tflite.SubGraphAddTensors(b, tensor_vec)
    tflite.SubGraphAddInputs(b, g_in)
    tflite.SubGraphAddOutputs(b, g_out)
    tflite.SubGraphAddOperators(b, op_vec)
    tflite.SubGraphAddName(b, sg_name)
    subgraph = tflite.SubGraphEnd(b)
    code = getattr(BuiltinOperator, op_name)
    tflite.OperatorCodeStart(b)
    tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(code, 127))
    tflite.OperatorCodeAddBuiltinCode(b, code)
    tflite.OperatorCodeAddVersion(b, 1)
    opcode = tflite.OperatorCodeEnd(b)
    tflite.BufferStart(b)
    empty = tflite.BufferEnd(b)
    codes = table_vector(tflite.ModelStartOperatorCodesVector, [opcode])
    subgraphs = table_vector(tflite.ModelStartSubgraphsVector, [subgraph])
    buffers = table_vector(tflite.ModelStartBuffersVector, [empty])
    desc = b.CreateString("single operator")
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes)
    tflite.ModelAddSubgraphs(b, subgraphs)
    tflite.ModelAddBuffers(b, buffers)
    tflite.ModelAddDescription(b, desc)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())


REQUANT = [
    (("int8", [1, 16, 16], 0.05, 3), ("int8", [1, 16, 16], 0.02, -7)),
    (("int8", [1, 16, 16], 0.01, -100), ("int8", [1, 16, 16], 0.37, 90)),
    (("int8", [1, 16, 16], 0.05, 3), ("int16", [1, 16, 16], 0.0003, 0)),
    (("int16", [1, 256, 256], 0.0003, 0), ("int8", [1, 256, 256], 0.05, 3)),
    (("int16", [1, 256, 256], 0.0003, 0), ("int16", [1, 256, 256], 0.00017, 0)),
    (("int16", [1, 256, 256], 0.0002, 0), ("int16", [1, 256, 256], 0.0009, 0)),
    # the constant-time int16 kernel's corners: zero points on both sides, a left shift
    # (scale ratio 4.5), a long right shift (ratio 2^-17)
    (("int16", [1, 256, 256], 0.00031, 77), ("int8", [1, 256, 256], 0.011, -9)),
    (("int16", [1, 256, 256], 0.0009, -5), ("int16", [1, 256, 256], 0.0002, 300)),
    (("int16", [1, 256, 256], 0.0009, 0), ("int8", [1, 256, 256], 0.0009 * 2.0 ** 17 * 1.3, 11)),
]


@pytest.mark.parametrize("inp,out", REQUANT, ids=lambda s: f"{s[0]}_{s[2]}")
def test_requantize_exhaustive(inp, out):
    data = single_op_model("QUANTIZE", inp, out)
    info = np.iinfo(np.int8 if inp[0] == "int8" else np.int16)
    x = np.arange(info.min, info.max + 1).astype(info.dtype).reshape(inp[1])
    _check(data, "requant", extra=[x], n_random=3)


@pytest.mark.parametrize("inp,out", [r for r in REQUANT if r[0][0] == "int16"], ids=lambda s: f"{s[0]}_{s[2]}")
def test_requantize_int16_dsp_tier_exhaustive(inp, out):
    """The DSP tier's one-SMMLAR int16 requantization (dsp/pb_quantize.c), its plain C on the host."""
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    data = single_op_model("QUANTIZE", inp, out)
    compiled = compile_bytes(data, "requant_dsp", tier="dsp")
    assert compiled.program.steps[0].call.function.startswith("pb_fast_dsp_requantize_s16")
    x = np.arange(-32768, 32768).astype(np.int16).reshape(inp[1])
    assert_bit_exact(compiled, Reference(data, arena_size=1 << 22), n_random=3, extra_inputs=[x])


def test_requantize_int16_dsp_tier_falls_back_where_unproven():
    from protobrain.compiler.ops.tiers.requant16 import dsp_fields

    base = {"size": 4, "input_zero_point": 0, "output_zero_point": 0, "mult": 1 << 30}
    assert dsp_fields({**base, "shift": 14}) is not None
    assert dsp_fields({**base, "shift": 15}) is None, "2 * (x << 15) may overflow int32"
    assert dsp_fields({**base, "shift": -20, "output_zero_point": 3000}) is None, "zero point * 2^20 too large"
    assert dsp_fields({**base, "shift": -3, "output_zero_point": -7})["round"] == 4 - 7 * 8


@pytest.mark.parametrize("beta", [0.1, 0.5, 2.0])
@pytest.mark.parametrize("io", ["int8", "int8_int16", "int16"])
def test_softmax_beta(io, beta):
    shape = [3, 37]
    if io == "int8":
        data = single_op_model("SOFTMAX", ("int8", shape, 0.07, -5), ("int8", shape, 1 / 256, -128), ("beta", beta))
    elif io == "int8_int16":
        data = single_op_model("SOFTMAX", ("int8", shape, 0.07, -5), ("int16", shape, 1 / 65536, -32768), ("beta", beta))
    else:
        data = single_op_model("SOFTMAX", ("int16", shape, 0.0002, 0), ("int16", shape, 1 / 32768, 0), ("beta", beta))
    _check(data, "softmax_beta", n_random=30)


@pytest.mark.parametrize("op,scale", [("LOGISTIC", 2.0 ** -12), ("TANH", 2.0 ** -12), ("TANH", 2.0 ** -11)])
def test_int16_power_of_two_input_scale(op, scale):
    """Power-of-two input scales take the reference's shift-only rescaling path."""
    shape = [1, 256, 256]
    data = single_op_model(op, ("int16", shape, scale, 0), ("int16", shape, 2.0 ** -15, 0))
    _check(data, "pot", extra=[ALL_INT16], n_random=0)


def test_sigmoid_table_formula():
    """The int16 LOGISTIC/TANH node table: spot values of the defining formula."""
    from protobrain.compiler.fixedpoint import sigmoid_table_uint16

    t = sigmoid_table_uint16()
    assert t.dtype == np.uint16 and t.size == 256
    assert t[0] == 32768 and t[-1] == 65535
    assert np.all(np.diff(t.astype(np.int64)) >= 0)


@pytest.mark.parametrize("dtype,scale,zp", [("int8", 0.0123, -17), ("int8", 3.7, 127),
                                            ("int16", 0.00037, 0), ("int16", 3.1e-5, 123)])
def test_dequantize_exhaustive(dtype, scale, zp):
    x = ALL_INT8 if dtype == "int8" else ALL_INT16
    data = single_op_model("DEQUANTIZE", (dtype, list(x.shape), scale, zp), ("float32", list(x.shape), None, 0))
    _check(data, "deq", extra=[x], n_random=2)


@pytest.mark.parametrize("dtype,scale,zp", [("int8", 0.0123, -17), ("int8", 0.5, 0),
                                            ("int16", 0.00037, 0), ("int16", 1.0 / 3.0, -5)])
def test_quantize_from_float(dtype, scale, zp):
    shape = [1, 4096]
    data = single_op_model("QUANTIZE", ("float32", shape, None, 0), (dtype, shape, scale, zp))
    rng = np.random.default_rng(3)
    wide = (rng.standard_normal(shape) * 200 * scale).astype(np.float32)
    _check(data, "qf", extra=_float_probes(np.float32(scale), shape[1:]) + [wide], n_random=5)
