"""TRANSPOSE_CONV against TFLite Micro: Keras Conv2DTranspose / Conv1DTranspose converted by
TF 2.21, int8 (per-channel and per-tensor) and 16x8 (int64 bias), with and without bias,
SAME/VALID, strides, kernel sizes and the fused activations the converter folds in;
hand-written models for what the converter does not write (16x8 with int16 bias, batches).
check_model_bytes runs the portable kernel and the DSP tier's C form; the int8 cases with
stride 1 run the DSP tier's matrix multiply (a convolution with the filter turned round),
the others its own kernel (tiers/transpose_conv.py)."""

from __future__ import annotations

import numpy as np
import pytest
from builders import convert
from conftest import check_model_bytes

from protobrain.compiler.ops import REGISTRY, Unsupported
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model

N_RANDOM = 8
_FUSED = {None: "NONE", "relu": "RELU", "relu6": "RELU6", "n1to1": "RELU_N1_TO_1"}


def _maker(s):
    def make():
        import tensorflow as tf

        x = tf.keras.Input((*s["hw"], s["cin"]), batch_size=1)
        act = s["act"] if s["act"] in ("relu", "relu6") else None
        y = tf.keras.layers.Conv2DTranspose(
            s["filters"], s["kernel"], strides=s["strides"], padding=s["padding"], activation=act,
            use_bias=s["bias"], bias_initializer=tf.keras.initializers.RandomUniform(-0.3, 0.3, seed=7))(x)
        if s["act"] == "n1to1":
            y = tf.keras.ops.clip(y, -1.0, 1.0)
        return tf.keras.Model(x, y)

    return make


def T(hw=(5, 6), cin=3, filters=4, kernel=3, strides=2, padding="same", act=None, bias=True, mode="int8",
      pc=True):
    s = dict(hw=hw, cin=cin, filters=filters, kernel=kernel, strides=strides, padding=padding, act=act,
             bias=bias, mode=mode, pc=pc)
    ident = (f"{hw[0]}x{hw[1]}x{cin}-f{filters}-k{kernel}-s{strides}-{padding}-{act}"
             f"-{'b' if bias else 'nb'}-{mode}-{'pc' if pc else 'pt'}").replace(" ", "").replace(",", "_")
    return pytest.param(s, id=ident)


CASES = [
    # strides with SAME and VALID, square and odd kernels
    T(), T(padding="valid"), T(strides=1), T(strides=1, padding="valid"),
    T(strides=3, kernel=5, hw=(4, 5)), T(strides=3, kernel=5, padding="valid"), T(strides=3, kernel=2),
    T(strides=(2, 1), kernel=(3, 2)), T(strides=(1, 3), kernel=(2, 4), padding="valid"),
    T(strides=2, kernel=4, hw=(6, 6)), T(strides=2, kernel=1), T(strides=1, kernel=1, cin=8, filters=5),
    T(strides=2, kernel=2, padding="valid", cin=8, filters=8), T(strides=4, kernel=3, hw=(3, 4)),
    T(strides=1, kernel=5, hw=(7, 6), cin=1), T(strides=2, kernel=(5, 3), hw=(4, 7), cin=5, filters=3),
    # channels
    T(cin=1, filters=1), T(cin=16, filters=8, hw=(4, 4)), T(cin=8, filters=16, hw=(3, 3), strides=1),
    T(cin=12, filters=6, kernel=3, strides=2, hw=(4, 5)),
    # fused activations
    T(act="relu"), T(act="relu6", padding="valid"), T(act="relu", strides=1, kernel=5), T(act="relu6", strides=1),
    # without bias, per-tensor weights
    T(bias=False), T(bias=False, strides=1), T(pc=False), T(pc=False, strides=1, act="relu6"),
    T(pc=False, bias=False, padding="valid"),
    # 16x8 (int64 bias)
    T(mode="16x8"), T(mode="16x8", padding="valid", strides=3, kernel=5), T(mode="16x8", strides=1, act="relu"),
    T(mode="16x8", bias=False), T(mode="16x8", pc=False, strides=(1, 2), kernel=(2, 3)),
    T(mode="16x8", act="relu6", cin=8, filters=8, hw=(4, 4)),
]


def _check_op(data, s):
    g = read_model_bytes(data)
    names = [op.name for op in g.operators]
    assert names == ["TRANSPOSE_CONV"], names
    op = g.operators[0]
    assert op.options["fused_activation_function"] == _FUSED[s["act"]]
    stride = s["strides"] if isinstance(s["strides"], tuple) else (s["strides"],) * 2
    assert (op.options["stride_h"], op.options["stride_w"]) == stride
    assert op.options["padding"] == s["padding"].upper()
    assert (len(op.inputs) > 3 and op.inputs[3] >= 0) == s["bias"]
    inp = g.tensors[op.inputs[2]]
    assert inp.dtype == ("int16" if s["mode"] == "16x8" else "int8")
    if s["bias"]:
        assert g.tensors[op.inputs[3]].dtype == ("int64" if s["mode"] == "16x8" else "int32")
    assert g.tensors[op.inputs[1]].quant.per_channel == (s["pc"] and s["filters"] > 1)
    return g


@pytest.mark.parametrize("s", CASES)
def test_transpose_conv(s):
    data = convert(_maker(s), [(*s["hw"], s["cin"])], mode=s["mode"], per_channel=s["pc"],
                   key="tconv-" + "-".join(f"{k}={s[k]}" for k in sorted(s)))
    g = _check_op(data, s)
    check_model_bytes(data, "tconv", n_random=N_RANDOM)
    if s["mode"] == "int8":
        # the DSP tier takes every int8 case: the convolution's multiply at stride 1, its own kernel otherwise
        call = build_program(g, tier="dsp").steps[0].call
        stride = s["strides"] if isinstance(s["strides"], tuple) else (s["strides"],) * 2
        assert call.tier == "dsp"
        assert call.function == ("pb_fast_mm_s8" if stride == (1, 1) else "pb_fast_tconv_s8"), call.function


def test_conv1d_transpose():
    """Conv1DTranspose converts to RESHAPE -> TRANSPOSE_CONV (height 1) -> RESHAPE."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((9, 4), batch_size=1)
        y = tf.keras.layers.Conv1DTranspose(6, 3, strides=2, padding="same",
                                            bias_initializer=tf.keras.initializers.RandomUniform(-0.3, 0.3))(x)
        return tf.keras.Model(x, y)

    for mode in ("int8", "16x8"):
        data = convert(make, [(9, 4)], mode=mode, key="tconv1d")
        names = [op.name for op in read_model_bytes(data).operators]
        assert "TRANSPOSE_CONV" in names, names
        check_model_bytes(data, "tconv1d", n_random=N_RANDOM)


def test_autoencoder():
    """A small convolutional autoencoder: strided CONV_2D down, TRANSPOSE_CONV back up."""
    def make():
        import tensorflow as tf

        L = tf.keras.layers
        x = tf.keras.Input((12, 12, 1), batch_size=1)
        y = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
        y = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(y)
        y = L.Conv2DTranspose(16, 3, strides=2, padding="same", activation="relu")(y)
        y = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(y)
        return tf.keras.Model(x, L.Conv2DTranspose(1, 3, strides=1, padding="same")(y))

    for mode in ("int8", "16x8"):
        data = convert(make, [(12, 12, 1)], mode=mode, key="tconv-autoencoder")
        names = [op.name for op in read_model_bytes(data).operators]
        assert names.count("TRANSPOSE_CONV") == 3, names
        check_model_bytes(data, "autoencoder", n_random=N_RANDOM)


# ---- hand-written models: what the converter does not write ---------------------------------


def _tconv_model(*, in_shape=(1, 4, 5, 3), oc=4, k=(3, 3), stride=(2, 2), padding="SAME", dtype="int8",
                 bias_type="int32", act="NONE", in_zp=3, out_zp=-5, seed=0, out_hw=None, w_fill=None):
    rng = np.random.default_rng(seed)
    n, ih, iw, ic = in_shape
    if out_hw is None:
        out_hw = tuple(i * s if padding == "SAME" else (i - 1) * s + f for i, s, f in zip((ih, iw), stride, k))
    wide = dtype == "int16"
    zp_in, zp_out = (0, 0) if wide else (in_zp, out_zp)
    weights = rng.integers(-127, 128, (oc, *k, ic)) if w_fill is None else np.full((oc, *k, ic), w_fill)
    tensors = [
        {"shape": [4], "type": "int32", "data": np.array([n, *out_hw, oc], np.int32)},
        {"shape": [oc, *k, ic], "type": "int8", "data": weights.astype(np.int8),
         "scale": list(rng.uniform(0.002, 0.01, oc)), "zp": 0, "axis": 0},
        {"shape": list(in_shape), "type": dtype, "scale": 0.05 if not wide else 0.0005, "zp": zp_in},
        {"shape": [n, *out_hw, oc], "type": dtype, "scale": 0.1 if not wide else 0.002, "zp": zp_out},
    ]
    ins = [0, 1, 2]
    if bias_type is not None:
        npt = {"int32": np.int32, "int64": np.int64, "int16": np.int16}[bias_type]
        lim = 3000 if bias_type == "int16" else 20000
        tensors.append({"shape": [oc], "type": bias_type, "data": rng.integers(-lim, lim, oc).astype(npt),
                        "scale": 1e-5, "zp": 0})
        ins.append(4)
    ops = [("TRANSPOSE_CONV", ins, [3], "TransposeConvOptions",
            {"Padding": {"SAME": 0, "VALID": 1}[padding], "StrideH": stride[0], "StrideW": stride[1],
             "FusedActivationFunction": {"NONE": 0, "RELU": 1, "RELU_N1_TO_1": 2, "RELU6": 3}[act]})]
    return write_model(tensors, ops, [2], [3])


@pytest.mark.parametrize("kw", [
    dict(dtype="int16", bias_type="int16"),
    dict(dtype="int16", bias_type="int16", stride=(1, 1), act="RELU"),
    dict(dtype="int16", bias_type="int64", in_shape=(2, 3, 4, 5), stride=(3, 2), k=(4, 3)),
    dict(in_shape=(2, 3, 4, 5), stride=(2, 3), k=(3, 5), act="RELU6"),
    dict(in_shape=(3, 2, 2, 4), stride=(1, 1), k=(2, 2), padding="VALID"),
    dict(act="RELU_N1_TO_1"), dict(act="RELU_N1_TO_1", stride=(1, 1), dtype="int16", bias_type="int64"),
    dict(bias_type=None, in_zp=-128, out_zp=127, stride=(2, 2)),
    # an output larger than the strides reach (the rest is the bias) and VALID with a
    # filter larger than the output (TFLite Micro's padding check fails: no padding)
    dict(out_hw=(11, 13), stride=(2, 2), padding="VALID"),
    dict(out_hw=(2, 3), k=(4, 5), stride=(1, 1), padding="VALID", in_shape=(1, 2, 2, 3)),
], ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()).replace(" ", ""))
def test_written_models(kw):
    data = _tconv_model(**kw)
    check_model_bytes(data, "tconv_w", n_random=N_RANDOM)


def _lower(data):
    g = read_model_bytes(data)
    return REGISTRY["TRANSPOSE_CONV"](g.operators[0], g)


def test_refusals():
    """Cases TFLite Micro does not compute (or computes from garbage) are refused with a reason."""
    with pytest.raises(Unsupported, match="bias type int32 with int16"):
        _lower(_tconv_model(dtype="int16", bias_type="int32"))  # TFLite Micro reads it as int64
    with pytest.raises(Unsupported, match="bias type int64 with int8"):
        _lower(_tconv_model(bias_type="int64"))
    with pytest.raises(Unsupported, match="accumulator"):
        _lower(_tconv_model(in_shape=(1, 2, 2, 6000), oc=1, k=(5, 5), w_fill=127))
    ok = _lower(_tconv_model())
    assert ok.function == "pb_transpose_conv_s8" and ok.fields["pad_top"] == 0


def test_stride_one_with_wide_weights():
    """With flash to spare the DSP tier stores the turned-round filter as int16 (doubled
    weights, FAST requantization): still bit-exact."""
    from conftest import RecordedReference, assert_bit_exact

    from protobrain.run.host import CompiledModel, build_shared_library
    from protobrain.verify.reference import Reference

    s = CASES[2].values[0]
    assert s["strides"] == 1
    data = convert(_maker(s), [(*s["hw"], s["cin"])], mode=s["mode"], per_channel=s["pc"],
                   key="tconv-" + "-".join(f"{k}={s[k]}" for k in sorted(s)))
    program = build_program(read_model_bytes(data, "tconv_wide"), tier="dsp", flash_budget=1 << 30)
    call = program.steps[0].call
    assert call.function == "pb_fast_mm_s8" and call.fields["wide_weights"] == 1
    compiled = CompiledModel(program, build_shared_library(program, "<tconv_wide>"))
    assert_bit_exact(compiled, RecordedReference(Reference(data)), n_random=N_RANDOM)


def test_phases_gather_the_filter_taps():
    """Each phase's window holds the filter taps its outputs gather, turned round: summed
    over the phases, every tap once; a phase whose rows meet no tap has none."""
    from protobrain.compiler.ops.tiers.transpose_conv import phases

    rng = np.random.default_rng(1)
    for (fh, fw), (sh, sw) in (((3, 3), (2, 2)), ((4, 5), (2, 3)), ((1, 2), (2, 3))):
        w = rng.integers(-127, 128, (2, fh, fw, 3)).astype(np.int8)
        f = {"out_c": 2, "filter_h": fh, "filter_w": fw, "in_c": 3, "stride_h": sh, "stride_w": sw,
             "filter": type("C", (), {"values": w.reshape(-1)})()}
        ps = phases(f)
        assert len(ps) == sh * sw
        assert sum(p.w2d.size for p in ps) == w.size
        for k, p in enumerate(ps):
            ry, rx = divmod(k, sw)
            assert (p.taps_h, p.taps_w) == (len(range(ry, fh, sh)), len(range(rx, fw, sw)))
            if p.w2d.size:
                window = p.w2d.reshape(2, p.taps_h, p.taps_w, 3)
                # window tap (0, 0) is the phase's last filter tap in both axes
                assert np.array_equal(window[:, 0, 0], w[:, ry + sh * (p.taps_h - 1), rx + sw * (p.taps_w - 1)])
                assert np.array_equal(window[:, -1, -1], w[:, ry, rx])
