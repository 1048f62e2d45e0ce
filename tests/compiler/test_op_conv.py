"""CONV_2D, DEPTHWISE_CONV_2D and folded dilated convolutions against TFLite Micro.

Every model is a real TF 2.21 converter output. Keras layers get a random bias so the bias
path is exercised (Keras initializes biases to zero). "Without bias" CONV_2D cases omit the
zero bias the converter still writes (input index -1, patched in the flatbuffer); depthwise
cases keep it, because TFLite Micro's depthwise Prepare crashes on an omitted bias.

A dilated Keras convolution becomes a native dilated CONV_2D/DEPTHWISE_CONV_2D when the batch
size is fixed, and the SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND form when it is not.
The fold tests compare the folded form with TFLite Micro running the native twin of the same
layer (same seed, same weights and quantization), because TFLite Micro cannot run the
unfolded form exactly (see test_fold_pass).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from builders import cache_root, convert
from conftest import assert_bit_exact, check_model_bytes

N_RANDOM = 10


# ---- model builders ------------------------------------------------------------------------


def _bias_init(s=None):
    import tensorflow as tf

    if s is not None and s.get("zero_bias"):
        return "zeros"
    return tf.keras.initializers.RandomUniform(-0.3, 0.3, seed=7)


def _activation(y, act):
    import tensorflow as tf

    if act == "n1to1":  # the converter fuses a clip to [-1, 1] as RELU_N1_TO_1
        return tf.keras.ops.clip(y, -1.0, 1.0)
    return y


def _keras_act(act):
    return act if act in ("relu", "relu6") else None


def conv_layer(s):
    import tensorflow as tf

    return tf.keras.layers.Conv2D(
        s["filters"], s["kernel"], strides=s["strides"], padding=s["padding"], dilation_rate=s["dilation"],
        groups=s["groups"], use_bias=s["bias"], activation=_keras_act(s["act"]), bias_initializer=_bias_init(s))


def dw_layer(s):
    import tensorflow as tf

    return tf.keras.layers.DepthwiseConv2D(
        s["kernel"], strides=s["strides"], padding=s["padding"], dilation_rate=s["dilation"],
        depth_multiplier=s["dm"], use_bias=s["bias"], activation=_keras_act(s["act"]),
        bias_initializer=_bias_init(s))


def _maker(layer_fn, s, batch_size=1):
    def make():
        import tensorflow as tf

        x = tf.keras.Input((*s["hw"], s["cin"]), batch_size=batch_size)
        return tf.keras.Model(x, _activation(layer_fn(s)(x), s["act"]))

    return make


def _key(prefix, s) -> str:
    return prefix + "-" + "-".join(f"{k}={s[k]}" for k in sorted(s))


def _graph(data: bytes):
    from protobrain.compiler.reader import read_model_bytes

    return read_model_bytes(data)


def _convert_custom(make, input_shape, *, key, batch=1, mode="int8", bias32=False) -> bytes:
    """Like builders.convert, for what it cannot ask for: a batch > 1, int32 bias in 16x8."""
    digest = hashlib.sha256(f"conv-custom|{key}|{input_shape}|{batch}|{mode}|{bias32}".encode()).hexdigest()[:20]
    path = cache_root() / f"{digest}.tflite"
    if path.exists():
        return path.read_bytes()
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    model = make()
    rng = np.random.default_rng(0)

    def representative():
        for _ in range(32):
            yield [rng.uniform(-1.0, 1.0, size=(batch, *input_shape)).astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    if mode == "16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    if bias32:
        conv._experimental_full_integer_quantization_bias_type = tf.int32
    data = conv.convert()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def _drop_bias(data: bytes) -> bytes:
    """The converter gives a bias-less Keras conv a zero bias; omit it (input index -1) instead.

    Patched in place in the flatbuffer, so the model is otherwise the converter's own.
    """
    import struct

    import tflite

    names = [op.name for op in _graph(data).operators]
    buf = bytearray(data)
    sg = tflite.Model.GetRootAs(buf, 0).Subgraphs(0)
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        if names[k] in ("CONV_2D", "DEPTHWISE_CONV_2D") and op.InputsLength() == 3:
            o = op._tab.Offset(6)  # Operator.inputs
            struct.pack_into("<i", buf, op._tab.Vector(o) + 8, -1)
    return bytes(buf)


_FUSED = {None: "NONE", "relu": "RELU", "relu6": "RELU6", "n1to1": "RELU_N1_TO_1"}


def _check_single_op(data, name, s):
    """The converter produced the one operator the case is about, with the asked-for options."""
    g = _graph(data)
    assert [op.name for op in g.operators] == [name], [op.name for op in g.operators]
    op = g.operators[0]
    assert op.options["fused_activation_function"] == _FUSED[s["act"]]
    d = s["dilation"] if isinstance(s["dilation"], tuple) else (s["dilation"], s["dilation"])
    assert (op.options["dilation_h_factor"], op.options["dilation_w_factor"]) == d
    assert (len(op.inputs) > 2 and op.inputs[2] >= 0) == s["bias"]
    out_channels = g.tensors[op.outputs[0]].shape[-1]
    assert g.tensors[op.inputs[1]].quant.per_channel == (s["pc"] and out_channels > 1)
    return g


# ---- CONV_2D -------------------------------------------------------------------------------


def C(hw=(7, 9), cin=3, filters=4, kernel=3, strides=1, padding="same", dilation=1, act=None, bias=True,
      mode="int8", pc=True, groups=1):
    s = dict(hw=hw, cin=cin, filters=filters, kernel=kernel, strides=strides, padding=padding,
             dilation=dilation, act=act, bias=bias, mode=mode, pc=pc, groups=groups)
    ident = (f"{hw[0]}x{hw[1]}x{cin}-f{filters}-k{kernel}-s{strides}-{padding}-d{dilation}-{act}"
             f"-{'b' if bias else 'nb'}-{mode}-{'pc' if pc else 'pt'}-g{groups}").replace(" ", "").replace(",", "_")
    return pytest.param(s, id=ident)


CONV_CASES = [
    # kernel sizes, SAME and VALID
    C(kernel=1), C(kernel=1, padding="valid", cin=8, filters=5),
    C(kernel=3), C(kernel=3, padding="valid"),
    C(kernel=5, hw=(13, 5)), C(kernel=5, hw=(13, 5), padding="valid"),
    C(kernel=(1, 3)), C(kernel=(3, 1), padding="valid"), C(kernel=(2, 5), hw=(7, 9)),
    C(kernel=(2, 5), padding="valid", hw=(13, 5), cin=1), C(kernel=(5, 2), hw=(6, 6)), C(kernel=(2, 2), hw=(8, 8)),
    # strides, equal and unequal, with odd sizes
    C(strides=2), C(strides=2, padding="valid"), C(strides=3, hw=(13, 5)), C(strides=3, padding="valid", hw=(13, 11)),
    C(strides=(1, 2)), C(strides=(2, 1), padding="valid"), C(strides=(3, 2), kernel=5, hw=(13, 9)),
    C(strides=(2, 3), kernel=(2, 5), hw=(9, 13), padding="valid"), C(strides=2, kernel=1, cin=8),
    C(strides=2, kernel=(1, 3), hw=(8, 8)), C(strides=3, kernel=5, hw=(7, 9), padding="same", cin=1),
    # native dilation (fixed batch size)
    C(dilation=2), C(dilation=2, padding="valid", hw=(9, 11)), C(dilation=3, hw=(13, 11)),
    C(dilation=3, padding="valid", hw=(13, 11)), C(dilation=(2, 3), hw=(9, 11)), C(dilation=(3, 1), kernel=(3, 2)),
    C(dilation=2, kernel=(2, 5), hw=(7, 13), cin=8), C(dilation=2, kernel=5, hw=(13, 13), padding="valid", cin=1),
    # channels
    C(cin=1, filters=1), C(cin=1, filters=8), C(cin=8, filters=1), C(cin=8, filters=8, hw=(5, 5)),
    C(cin=3, filters=8, hw=(9, 7)),
    # fused activations
    C(act="relu"), C(act="relu6"), C(act="n1to1"), C(act="relu", strides=2, padding="valid"),
    C(act="relu6", kernel=5, hw=(13, 5)), C(act="n1to1", dilation=2, hw=(9, 11)),
    # without bias
    C(bias=False), C(bias=False, kernel=1, cin=8), C(bias=False, strides=2, act="relu"),
    # per-tensor weights
    C(pc=False), C(pc=False, kernel=5, hw=(13, 5), padding="valid"), C(pc=False, act="relu6", strides=2),
    C(pc=False, bias=False, dilation=2), C(pc=False, kernel=(2, 5), cin=8),
    # grouped convolution (filter depth < input depth)
    C(groups=2, cin=4, filters=6), C(groups=3, cin=6, filters=3, padding="valid"),
    C(groups=8, cin=8, filters=8, strides=2), C(groups=2, cin=8, filters=4, dilation=2, hw=(9, 11)),
    # 16x8
    C(mode="16x8"), C(mode="16x8", padding="valid", kernel=5, hw=(13, 5)),
    C(mode="16x8", strides=2, act="relu"), C(mode="16x8", strides=(1, 3), kernel=(2, 5), act="relu6"),
    C(mode="16x8", dilation=2, hw=(9, 11)), C(mode="16x8", dilation=3, padding="valid", hw=(13, 11), act="n1to1"),
    C(mode="16x8", bias=False), C(mode="16x8", pc=False), C(mode="16x8", pc=False, bias=False, kernel=1, cin=8),
    C(mode="16x8", cin=8, filters=8, kernel=(3, 1)), C(mode="16x8", groups=2, cin=4, filters=4),
    C(mode="16x8", cin=1, filters=3, kernel=5, hw=(7, 9), strides=3),
]


@pytest.mark.parametrize("s", CONV_CASES)
def test_conv2d(s):
    data = convert(_maker(conv_layer, s), [(*s["hw"], s["cin"])], mode=s["mode"], per_channel=s["pc"],
                   key=_key("conv2d", s))
    data = data if s["bias"] else _drop_bias(data)
    g = _check_single_op(data, "CONV_2D", s)
    if s["mode"] == "16x8" and s["bias"]:
        assert g.tensors[g.operators[0].inputs[2]].dtype == "int64"
    check_model_bytes(data, "conv", n_random=N_RANDOM)


@pytest.mark.parametrize("s", [
    C(mode="16x8"), C(mode="16x8", kernel=5, cin=8, filters=8, hw=(9, 9), act="relu"),
    C(mode="16x8", pc=False, strides=2, dilation=1, padding="valid"), C(mode="16x8", dilation=2, hw=(9, 11)),
])
def test_conv2d_16x8_int32_bias(s):
    """16x8 with int32 bias: TFLite Micro accumulates in 32 bits and requantizes in 32 bits."""
    data = _convert_custom(_maker(conv_layer, s), (*s["hw"], s["cin"]), key=_key("conv2d-b32", s),
                           mode="16x8", bias32=True)
    g = _graph(data)
    assert g.tensors[g.operators[0].inputs[2]].dtype == "int32"
    check_model_bytes(data, "conv", n_random=N_RANDOM)


@pytest.mark.parametrize("layer", ["conv", "dw"])
def test_batch_of_two(layer):
    s = dict(hw=(6, 7), cin=3, filters=4, dm=2, kernel=3, strides=2, padding="same", dilation=1, act=None,
             bias=True, groups=1)

    def make():
        import tensorflow as tf

        x = tf.keras.Input((6, 7, 3), batch_size=2)
        return tf.keras.Model(x, (conv_layer if layer == "conv" else dw_layer)(s)(x))

    data = _convert_custom(make, (6, 7, 3), key=f"batch2-{layer}", batch=2)
    assert _graph(data).tensors[0].shape[0] == 2
    check_model_bytes(data, "conv", n_random=N_RANDOM)


def test_conv_refusals():
    """Options and quantization the reference kernels do not compute are refused, not guessed."""
    import dataclasses

    from protobrain.compiler.ir import Quantization
    from protobrain.compiler.ops import REGISTRY, Unsupported

    s = CONV_CASES[2].values[0]
    g = _graph(convert(_maker(conv_layer, s), [(*s["hw"], s["cin"])], key=_key("conv2d", s)))
    op = g.operators[0]
    lower = REGISTRY["CONV_2D"]
    assert lower(op, g).function == "pb_conv_s8"
    tanh = dataclasses.replace(op, options={**op.options, "fused_activation_function": "TANH"})
    with pytest.raises(Unsupported, match="fused activation TANH"):
        lower(tanh, g)
    flt = g.tensors[op.inputs[1]]
    zp = Quantization(flt.quant.scale, np.ones_like(flt.quant.zero_point), flt.quant.axis)
    tensors = list(g.tensors)
    tensors[flt.index] = dataclasses.replace(flt, quant=zp)
    with pytest.raises(Unsupported, match="filter zero point"):
        lower(op, dataclasses.replace(g, tensors=tensors))


# ---- DEPTHWISE_CONV_2D ---------------------------------------------------------------------


def D(hw=(7, 9), cin=3, dm=1, kernel=3, strides=1, padding="same", dilation=1, act=None, bias=True,
      mode="int8", pc=True):
    s = dict(hw=hw, cin=cin, dm=dm, kernel=kernel, strides=strides, padding=padding, dilation=dilation,
             act=act, bias=bias, mode=mode, pc=pc)
    ident = (f"{hw[0]}x{hw[1]}x{cin}-m{dm}-k{kernel}-s{strides}-{padding}-d{dilation}-{act}"
             f"-{'b' if bias else 'nb'}-{mode}-{'pc' if pc else 'pt'}").replace(" ", "").replace(",", "_")
    return pytest.param(s, id=ident)


DW_CASES = [
    D(), D(padding="valid"), D(kernel=1), D(kernel=5, hw=(13, 5)), D(kernel=5, hw=(13, 5), padding="valid"),
    D(kernel=(1, 3)), D(kernel=(3, 1), padding="valid"), D(kernel=(2, 5)), D(kernel=(2, 5), padding="valid", hw=(13, 5)),
    # depth multipliers and channel counts
    D(dm=2), D(dm=3), D(dm=2, cin=1), D(dm=3, cin=8, hw=(5, 5)), D(cin=1), D(cin=8), D(dm=2, cin=8, padding="valid"),
    # strides
    D(strides=2), D(strides=2, padding="valid"), D(strides=3, hw=(13, 5)), D(strides=(1, 2)), D(strides=(2, 1), dm=2),
    D(strides=(3, 2), kernel=5, hw=(13, 9), padding="valid"), D(strides=2, kernel=(2, 5), dm=3, cin=1, hw=(9, 13)),
    # native dilation
    D(dilation=2, hw=(9, 11)), D(dilation=2, padding="valid", hw=(9, 11), dm=2), D(dilation=3, hw=(13, 11)),
    D(dilation=3, padding="valid", hw=(13, 11)), D(dilation=(2, 3), kernel=(3, 2), hw=(9, 11), dm=3),
    # fused activations
    D(act="relu"), D(act="relu6", dm=2), D(act="n1to1"), D(act="relu6", strides=2, padding="valid"),
    # bias and per-tensor weights
    D(bias=False), D(bias=False, dm=2, strides=2), D(pc=False), D(pc=False, dm=3, kernel=5, hw=(13, 5)),
    D(pc=False, bias=False, dilation=2, hw=(9, 11)), D(pc=False, act="n1to1", cin=8),
    # 16x8
    D(mode="16x8"), D(mode="16x8", dm=2, padding="valid"), D(mode="16x8", strides=2, act="relu", kernel=5, hw=(13, 5)),
    D(mode="16x8", dilation=2, hw=(9, 11), act="relu6"), D(mode="16x8", bias=False, dm=3, cin=1),
    D(mode="16x8", cin=8, kernel=(2, 5)), D(mode="16x8", strides=(3, 2), act="n1to1", hw=(13, 9)),
]


@pytest.mark.parametrize("s", DW_CASES)
def test_depthwise_conv2d(s):
    data = convert(_maker(dw_layer, s), [(*s["hw"], s["cin"])], mode=s["mode"], per_channel=s["pc"],
                   key=_key("dwconv2d", s))
    # Without use_bias the converter still writes a (zero) bias. It is kept here: TFLite Micro's
    # depthwise Prepare crashes on an omitted bias (it releases the missing tensor).
    g = _check_single_op(data, "DEPTHWISE_CONV_2D", dict(s, bias=True))
    assert g.operators[0].options["depth_multiplier"] == s["dm"]
    check_model_bytes(data, "dwconv", n_random=N_RANDOM)


def test_depthwise_16x8_int32_bias_is_refused():
    """TFLite Micro reads a 16x8 depthwise bias as int64 whatever its type: refuse int32."""
    from protobrain.errors import UnsupportedError
    from protobrain.run.host import compile_bytes

    s = dict(hw=(6, 7), cin=3, dm=1, kernel=3, strides=1, padding="valid", dilation=1, act=None, bias=True)
    data = _convert_custom(_maker(dw_layer, s), (6, 7, 3), key="dw-16x8-b32", mode="16x8", bias32=True)
    with pytest.raises(UnsupportedError, match="bias type int32"):
        compile_bytes(data, "dwb32")


# ---- dilated convolutions written as SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND -----------


def F(kind="conv", hw=(9, 11), cin=3, filters=4, dm=1, kernel=3, padding="same", dilation=2, bias=True,
      mode="int8", pc=True):
    # Zero bias: with a dynamic batch the converter moves a non-zero bias into an ADD after
    # BATCH_TO_SPACE_ND, which the native twin fuses instead (different arithmetic).
    s = dict(kind=kind, hw=hw, cin=cin, filters=filters, dm=dm, kernel=kernel, strides=1, padding=padding,
             dilation=dilation, act=None, bias=bias, mode=mode, pc=pc, groups=1, zero_bias=True)
    ident = (f"{kind}-{hw[0]}x{hw[1]}x{cin}-{filters if kind == 'conv' else 'm%d' % dm}-k{kernel}-{padding}"
             f"-d{dilation}-{'b' if bias else 'nb'}-{mode}-{'pc' if pc else 'pt'}").replace(" ", "").replace(",", "_")
    return pytest.param(s, id=ident)


FOLD_CASES = [
    F(), F(padding="valid"), F(dilation=3, hw=(13, 11)), F(dilation=3, padding="valid", hw=(13, 11)),
    F(dilation=(2, 3)), F(dilation=(3, 2), padding="valid", kernel=(2, 3)), F(kernel=5, hw=(13, 13), cin=1),
    F(kernel=(1, 3), hw=(7, 9), dilation=2), F(bias=False, cin=8), F(pc=False, kernel=(2, 5), hw=(7, 13)),
    F(kind="dw"), F(kind="dw", dm=2, padding="valid"), F(kind="dw", dm=3, dilation=3, hw=(13, 11)),
    F(kind="dw", dilation=(2, 3), kernel=(3, 2), cin=8), F(kind="dw", pc=False, bias=False, hw=(8, 8)),
    F(mode="16x8"), F(mode="16x8", dilation=3, padding="valid", hw=(13, 11)), F(mode="16x8", pc=False, bias=False),
    F(kind="dw", mode="16x8", dm=2), F(kind="dw", mode="16x8", dilation=3, padding="valid", hw=(13, 11)),
]


def _fold_twins(s):
    """(S2B-form model, native dilated model) of one layer: same seed, same weights."""
    layer = conv_layer if s["kind"] == "conv" else dw_layer
    shape = [(*s["hw"], s["cin"])]
    unfolded = convert(_maker(layer, s, batch_size=None), shape, mode=s["mode"], per_channel=s["pc"],
                       key=_key("fold-s2b", s))
    native = convert(_maker(layer, s, batch_size=1), shape, mode=s["mode"], per_channel=s["pc"],
                     key=_key("fold-native", s))
    if not s["bias"] and s["kind"] == "conv":
        unfolded, native = _drop_bias(unfolded), _drop_bias(native)
    return unfolded, native


@pytest.mark.parametrize("s", FOLD_CASES)
def test_folded_dilated_conv(s):
    from protobrain.compiler.program import build_program
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    unfolded, native = _fold_twins(s)
    name = "CONV_2D" if s["kind"] == "conv" else "DEPTHWISE_CONV_2D"
    assert [op.name for op in _graph(unfolded).operators] == ["SPACE_TO_BATCH_ND", name, "BATCH_TO_SPACE_ND"]
    g_native = _graph(native)
    assert [op.name for op in g_native.operators] == [name]
    program = build_program(_graph(unfolded))
    assert [st.op.name for st in program.steps] == [name]
    assert program.steps[0].call.fields["dilation_h"] == g_native.operators[0].options["dilation_h_factor"]
    compiled = compile_bytes(unfolded, "fold")
    assert_bit_exact(compiled, Reference(native), n_random=N_RANDOM)


def test_fold_pass():
    """The pass itself: two operators fewer, input graph untouched, same results as the native op.

    TFLite Micro's SPACE_TO_BATCH_ND fills padding from a parameter it never initializes
    (SpaceToBatchParams.output_offset), and with a dynamic batch the converter stores the
    intermediate tensors with batch 1, so TFLite Micro computes only one of the block
    offsets. The folded convolution instead matches the native dilated convolution in
    TFLite Micro, and LiteRT's reference kernels on the unfolded model, which pad with
    the zero point.
    """
    import copy

    from protobrain.compiler.passes import PASSES, fold_dilated_convolutions
    from protobrain.verify.reference import Reference

    assert fold_dilated_convolutions in PASSES
    s = dict(kind="conv", hw=(9, 11), cin=3, filters=4, dm=1, kernel=3, strides=1, padding="same", dilation=2,
             act=None, bias=True, mode="int8", pc=True, groups=1, zero_bias=True)
    unfolded, native = _fold_twins(s)
    g = _graph(unfolded)
    before = copy.deepcopy(g.operators)
    folded = fold_dilated_convolutions(g)
    assert len(folded.operators) == len(g.operators) - 2
    assert [op.name for op in folded.operators] == ["CONV_2D"]
    assert [(op.name, op.inputs, op.outputs, op.options) for op in g.operators] == \
        [(op.name, op.inputs, op.outputs, op.options) for op in before]
    op = folded.operators[0]
    assert op.inputs[0] == g.inputs[0] and op.outputs == g.outputs
    assert all(0 <= i < len(folded.tensors) for i in op.inputs + op.outputs)
    assert op.options["padding"] == "EXPLICIT" and (op.options["pad_top"], op.options["pad_left"]) == (2, 2)
    assert (op.options["dilation_h_factor"], op.options["dilation_w_factor"]) == (2, 2)

    from protobrain.run.host import compile_bytes

    compiled = compile_bytes(unfolded, "foldunit")
    assert_bit_exact(compiled, Reference(native), n_random=N_RANDOM)
    # The input zero point is not 0 here: padded taps must contribute nothing.
    assert g.tensors[g.inputs[0]].quant.zp != 0
    litert = pytest.importorskip("ai_edge_litert.interpreter")
    interp = litert.Interpreter(model_content=unfolded,
                                experimental_op_resolver_type=litert.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    rng = np.random.default_rng(1)
    for _ in range(5):
        x = rng.integers(-128, 127, size=(1, 9, 11, 3), endpoint=True, dtype=np.int8)
        interp.set_tensor(interp.get_input_details()[0]["index"], x)
        interp.invoke()
        want = interp.get_tensor(interp.get_output_details()[0]["index"])
        assert compiled.run(x).tobytes() == want.tobytes()


def test_fold_leaves_other_patterns_alone():
    """A space-to-batch tensor with a second consumer, or a strided inner conv: no fold."""
    import dataclasses

    from protobrain.compiler.passes import fold_dilated_convolutions

    s = dict(kind="conv", hw=(9, 11), cin=3, filters=4, dm=1, kernel=3, strides=1, padding="same", dilation=2,
             act=None, bias=True, mode="int8", pc=True, groups=1, zero_bias=True)
    g = _graph(_fold_twins(s)[0])
    s2b, conv, b2s = g.operators
    extra_out = dataclasses.replace(g, outputs=g.outputs + [s2b.outputs[0]])
    assert fold_dilated_convolutions(extra_out) is extra_out
    strided = dataclasses.replace(conv, options={**conv.options, "stride_h": 2})
    g2 = dataclasses.replace(g, operators=[s2b, strided, b2s])
    assert fold_dilated_convolutions(g2) is g2
    other_crops = dataclasses.replace(b2s, inputs=[b2s.inputs[0], b2s.inputs[1], s2b.inputs[2]])
    g3 = dataclasses.replace(g, operators=[s2b, conv, other_crops])
    assert fold_dilated_convolutions(g3) is g3


# ---- dilated Conv1D ------------------------------------------------------------------------


@pytest.mark.parametrize("padding,dilation", [("same", 2), ("causal", 4), ("valid", 3)])
def test_conv1d_dilated(padding, dilation):
    """Keras Conv1D with a fixed batch: [PAD +] RESHAPE + CONV_2D (dilation_w) + RESHAPE."""
    from protobrain.compiler.ops import REGISTRY

    def make():
        import tensorflow as tf

        x = tf.keras.Input((20, 3), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Conv1D(4, 3, dilation_rate=dilation, padding=padding,
                                                        bias_initializer=_bias_init())(x))

    data = convert(make, [(20, 3)], key=f"conv1d-{padding}-{dilation}")
    g = _graph(data)
    conv = [op for op in g.operators if op.name == "CONV_2D"]
    assert len(conv) == 1 and conv[0].options["dilation_w_factor"] == dilation
    missing = {op.name for op in g.operators} - set(REGISTRY)
    if missing:
        pytest.skip(f"needs {', '.join(sorted(missing))}")
    check_model_bytes(data, "conv1d", n_random=N_RANDOM)


def _conv1d_maker(s, batch_size):
    def make():
        import tensorflow as tf

        x = tf.keras.Input((s["w"], s["cin"]), batch_size=batch_size)
        if s["kind"] == "conv":
            layer = tf.keras.layers.Conv1D(s["filters"], s["kernel"], dilation_rate=s["dilation"],
                                           padding=s["padding"])
        else:
            layer = tf.keras.layers.DepthwiseConv1D(s["kernel"], dilation_rate=s["dilation"], padding=s["padding"],
                                                    depth_multiplier=s["dm"])
        return tf.keras.Model(x, layer(x))

    return make


def F1(kind="conv", w=20, cin=3, filters=4, dm=1, kernel=3, padding="same", dilation=2, mode="int8"):
    s = dict(kind=kind, w=w, cin=cin, filters=filters, dm=dm, kernel=kernel, padding=padding, dilation=dilation,
             mode=mode)
    return pytest.param(s, id=f"{kind}-{w}x{cin}-k{kernel}-{padding}-d{dilation}-m{dm}-{mode}")


@pytest.mark.parametrize("s", [
    F1(), F1(padding="valid", dilation=3), F1(padding="causal", dilation=4, w=23), F1(kernel=5, dilation=3, w=31),
    F1(mode="16x8", padding="causal"), F1(mode="16x8", padding="valid", dilation=3, cin=8),
    F1(kind="dw", dm=2), F1(kind="dw", padding="valid", dilation=3, w=21), F1(kind="dw", mode="16x8", cin=8),
])
def test_folded_dilated_conv1d(s):
    """Dilated Conv1D/DepthwiseConv1D with a dynamic batch, against the fixed-batch twin."""
    from protobrain.compiler.ops import REGISTRY
    from protobrain.compiler.program import build_program
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    shape = [(s["w"], s["cin"])]
    unfolded = convert(_conv1d_maker(s, None), shape, mode=s["mode"], key=_key("fold1d-s2b", s))
    native = convert(_conv1d_maker(s, 1), shape, mode=s["mode"], key=_key("fold1d-native", s))
    names = [op.name for op in _graph(unfolded).operators]
    assert "SPACE_TO_BATCH_ND" in names and "BATCH_TO_SPACE_ND" in names
    program = build_program(_graph(unfolded)) if not ({"PAD", "EXPAND_DIMS", "RESHAPE"} - set(REGISTRY)) else None
    if program is None:
        pytest.skip("needs PAD, EXPAND_DIMS and RESHAPE")
    conv = "CONV_2D" if s["kind"] == "conv" else "DEPTHWISE_CONV_2D"
    assert [st.op.name for st in program.steps if st.call is not None and "CONV" in st.op.name] == [conv]
    assert len(program.steps) == len(names) - (4 if s["kind"] == "conv" else 2)
    assert_bit_exact(compile_bytes(unfolded, "fold1d"), Reference(native), n_random=N_RANDOM)
