"""The fast kernel tiers (protobrain/compiler/ops/tiers/, templates/kernels/dsp/ and mve/).

The fast kernels compute the same int8 CONV_2D, FULLY_CONNECTED and DEPTHWISE_CONV_2D as
the portable ones, from constants re-laid out and folded at generation time. What can go
wrong is checked here: which calls a tier takes over (a call it cannot compute must stay
portable), the folded requantization constants (checked against TFLite's arithmetic over
the whole accumulator range, not only the inputs a test happens to draw), and the
operator sweep run bit-exact on the simulated cores the DSP and MVE tiers are for.
On the host, every operator case also runs the DSP tier's C form (conftest.check_model_bytes).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import test_op_conv as op_conv
import test_op_fully_connected as op_fc
from builders import convert
from conftest import needs_simulator
from devices import mismatches_on_device

from protobrain.compiler.fixedpoint import mul_by_quantized_mult_array
from protobrain.compiler.ops.base import ConstArray
from protobrain.compiler.ops.tiers import dsp as dsp_tier
from protobrain.compiler.ops.tiers import mve as fast_mve
from protobrain.compiler.ops.tiers import select as fast
from protobrain.compiler.ops.tiers.common import depthwise_as_conv, pass_order
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
# each tier's matrix-multiply and depthwise functions, and its kernels: (tier, family)
TIER_FUNCTIONS = {"dsp": {"pb_fast_mm_s8", "pb_fast_dw_s8", "pb_fast_dw_one_s8"},
                  "mve": {"pb_fast_mve_mm_s8", "pb_fast_mve_dw_s8"}}
TIER_KERNELS = {t: {(t, "pb_conv"), (t, "pb_depthwise_conv")} for t in ("dsp", "mve")}
FAST_FUNCTIONS = TIER_FUNCTIONS["dsp"] | TIER_FUNCTIONS["mve"]
ACCELERATED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


# ---- the operator sweep's models (built and cached by the op test modules' builders) ---------


def conv_bytes(s) -> bytes:
    data = convert(op_conv._maker(op_conv.conv_layer, s), [(*s["hw"], s["cin"])], mode=s["mode"],
                   per_channel=s["pc"], key=op_conv._key("conv2d", s))
    return data if s["bias"] else op_conv._drop_bias(data)


def dw_bytes(s) -> bytes:
    return convert(op_conv._maker(op_conv.dw_layer, s), [(*s["hw"], s["cin"])], mode=s["mode"],
                   per_channel=s["pc"], key=op_conv._key("dwconv2d", s))


def fc_bytes(features, units, act, bias, mode, per_channel) -> bytes:
    """The model test_op_fully_connected builds for one CASES row (same cache key)."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((features,), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Dense(units, activation=act, use_bias=bias)(x))

    return convert(make, [(features,)], mode=mode, per_channel=per_channel, key=f"fc-{features}-{units}-{act}-{bias}")


def fc_3d_bytes() -> bytes:
    """test_fully_connected_batched_3d_input's model: six rows through one FULLY_CONNECTED."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((6, 8), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Dense(4)(x))

    return convert(make, [(6, 8)], key="fc-3d")


def conv_batch2_bytes() -> bytes:
    """test_batch_of_two's CONV_2D model (batch 2: the fast kernel's rows span batches)."""
    s = dict(hw=(6, 7), cin=3, filters=4, dm=2, kernel=3, strides=2, padding="same", dilation=1, act=None,
             bias=True, groups=1)
    return op_conv._convert_custom(op_conv._maker(op_conv.conv_layer, s, batch_size=2), (6, 7, 3),
                                   key="batch2-conv", batch=2)


def dead_channels_bytes(kind: str) -> bytes:
    """A layer where some output channels have all-zero weights (as in vww_96_int8's deep
    layers): the fast kernels skip them and copy their constant. conv: 3x3 with ReLU, 11 of
    16 channels live, the first and the last dead; conv1x1: an odd number (5) live; fc: 3
    of 10 units live; conv_even and conv1x1_even: 12 of 16 and 6 of 9 live (an even count:
    the DSP tier's channel-loop routine, its sparse form)."""
    def make():
        import tensorflow as tf

        shape, layer = {"conv": ((6, 7, 8), tf.keras.layers.Conv2D(16, 3, padding="same", activation="relu")),
                        "conv_even": ((6, 7, 8), tf.keras.layers.Conv2D(16, 3, padding="same")),
                        "conv1x1": ((5, 4, 12), tf.keras.layers.Conv2D(9, 1)),
                        "conv1x1_even": ((5, 3, 16), tf.keras.layers.Conv2D(9, 1)),
                        "fc": ((24,), tf.keras.layers.Dense(10))}[kind]
        x = tf.keras.Input(shape, batch_size=1)
        model = tf.keras.Model(x, layer(x))
        w, b = layer.get_weights()
        dead = {"conv": [0, 3, 4, 9, 15], "conv_even": [0, 3, 9, 15], "conv1x1": [1, 2, 5, 7],
                "conv1x1_even": [1, 2, 5], "fc": [0, 1, 2, 4, 5, 6, 9]}[kind]
        w[..., dead] = 0.0
        b[dead[::2]] = np.linspace(-0.5, 0.5, len(dead[::2]))  # some dead channels with a bias
        layer.set_weights([w, b])
        return model

    shape = {"conv": (6, 7, 8), "conv_even": (6, 7, 8), "conv1x1": (5, 4, 12), "conv1x1_even": (5, 3, 16),
             "fc": (24,)}[kind]
    return convert(make, [shape], key=f"dead-channels-{kind}")


GENERAL_REQUANT_LAYERS = {  # kind: (input shape, output channels, kernel, stride)
    "conv1x1": ((5, 3, 16), 7, 1, 1),        # 16 taps, 15 rows, 7 channels: odd row, last block partial
    "conv1x1tail": ((4, 4, 20), 8, 1, 1),    # 16 taps and a tail of 4
    "conv1x1short": ((4, 4, 8), 8, 1, 1),    # a tail alone
    "conv1x1stride2": ((6, 6, 16), 8, 1, 2),  # read in place, not one after another
    "conv3x3": ((6, 5, 3), 6, 3, 1),         # im2col rows
    "fc": ((24,), 6, None, None),
}


def general_requant_bytes(kind: str) -> bytes:
    """A layer whose requantization needs TFLite's general form: channel 1's effective scale
    is about 2 (a left shift), channel 2's about 0.76 (a right shift of 0). Both see only
    input channel 0 through a large weight and a bias that lets ReLU pass only the top of
    its range; channel 0 (weight 1, bias -0.5) sets the output scale; the rest are small."""
    shape, channels, kernel, stride = GENERAL_REQUANT_LAYERS[kind]

    def make():
        import tensorflow as tf

        if kernel is None:
            layer = tf.keras.layers.Dense(channels, activation="relu")
        else:
            layer = tf.keras.layers.Conv2D(channels, kernel, strides=stride, padding="same", activation="relu")
        x = tf.keras.Input(shape, batch_size=1)
        model = tf.keras.Model(x, layer(x))
        w, b = layer.get_weights()
        rng = np.random.default_rng(3)
        w[:] = rng.uniform(-0.01, 0.01, w.shape)
        b[:] = 0.0
        centre = (w.shape[0] // 2, w.shape[1] // 2) if kernel is not None else ()
        for c, (weight, bias) in enumerate([(1.0, -0.5), (64.0, -63.7), (24.0, -23.6)]):
            w[..., c] = 0.0
            w[centre + (0, c)] = weight
            b[c] = bias
        layer.set_weights([w, b])
        return model

    return convert(make, [shape], key=f"general-requant-{kind}")


def _specs(cases, mode=None):
    return [p.values[0] for p in cases if mode is None or p.values[0]["mode"] == mode]


def _expect_conv(s, tier):
    return s["mode"] == "int8" and s["groups"] == 1


def _expect_dw(s, tier):
    """Any multiplier; channel counts that are whole depthwise steps, or fewer channels than
    one step (the equal CONV_2D's matrix multiply; on the DSP tier one channel has its own)."""
    step = {"dsp": 4, "mve": 8}[tier]
    return s["mode"] == "int8" and (s["cin"] % step == 0 or s["cin"] < step)


def sweep_models(mode="int8"):
    """(name, model bytes, expected(tier) -> bool: the tier runs it on pb_fast, description)."""
    models = []
    for k, s in enumerate(_specs(op_conv.CONV_CASES, mode)):
        models.append((f"conv{k:02d}", conv_bytes(s), lambda t, s=s: _expect_conv(s, t), op_conv._key("conv2d", s)))
    for k, s in enumerate(_specs(op_conv.DW_CASES, mode)):
        models.append((f"dw{k:02d}", dw_bytes(s), lambda t, s=s: _expect_dw(s, t), op_conv._key("dwconv2d", s)))
    for k, row in enumerate(r for r in op_fc.CASES if mode is None or r[4] == mode):
        models.append((f"fc{k:02d}", fc_bytes(*row), lambda t, row=row: row[4] == "int8", f"fc{row}"))
    if mode in (None, "int8"):
        models.append(("fc3d", fc_3d_bytes(), lambda t: True, "fc-3d"))
        for k, row in enumerate(ONE_ROW_EXTRA):
            models.append((f"fcrow{k}", fc_bytes(*row), lambda t: True, f"fc{row}"))
        models.append(("convbatch2", conv_batch2_bytes(), lambda t: True, "batch2-conv"))
        for kind in ("conv", "conv_even", "conv1x1", "conv1x1_even", "fc"):
            models.append((f"dead{kind}", dead_channels_bytes(kind), lambda t: True, f"dead-channels-{kind}"))
        for kind in GENERAL_REQUANT_LAYERS:
            models.append((f"gen{kind}", general_requant_bytes(kind), lambda t: True, f"general-requant-{kind}"))
    return models


def _calls(data: bytes, tier: str = "portable"):
    program = build_program(read_model_bytes(data, "m"), tier=tier)
    return [s.call for s in program.steps if s.call is not None and s.op.name in ACCELERATED_OPS]


def _only_call(data: bytes):
    (call,) = _calls(data)
    return call


# ---- which calls each tier takes ---------------------------------------------------------


def _narrow_depthwise(call, channels: int):
    """A real depthwise call cut to its first `channels` channels: the sweep has no layer
    with a channel count that is a multiple of 4 but not of 8."""
    f = dict(call.fields)
    taps = f["filter_h"] * f["filter_w"]
    filt = np.asarray(f["filter"].values, np.int8).reshape(taps, f["in_c"])[:, :channels]
    f["filter"] = ConstArray(f["filter"].name, "int8_t", filt.reshape(-1))
    for key in ("mults", "shifts", "bias"):
        if isinstance(f[key], ConstArray):
            f[key] = ConstArray(f[key].name, f[key].ctype, np.asarray(f[key].values)[:channels])
    f["in_c"] = channels
    return dataclasses.replace(call, fields=f)


def test_tier_for_board_features():
    assert fast.tier_for(["fpu", "dsp", "mve"]) == "mve"
    assert fast.tier_for(["fpu", "dsp"]) == "dsp"
    assert fast.tier_for(["fpu"]) == "portable"
    assert fast.tier_for([]) == "portable"


def test_unknown_tier_is_refused():
    call = _only_call(conv_bytes(_specs(op_conv.CONV_CASES)[2]))
    with pytest.raises(ValueError, match="unknown kernel tier 'helium'"):
        fast.accelerate(call, "helium")
    with pytest.raises(ValueError, match="unknown kernel tier"):
        build_program(read_model_bytes(conv_bytes(_specs(op_conv.CONV_CASES)[2]), "m"), tier="neon")


def test_portable_tier_changes_nothing():
    """Every sweep call, all modes: the portable tier returns the call object itself."""
    calls = [c for _, data, _, _ in sweep_models(mode=None) for c in _calls(data)]
    assert len(calls) > 100
    assert all(fast.accelerate(c, "portable") is c for c in calls)
    assert not any(c.function in FAST_FUNCTIONS for c in calls)


@pytest.mark.parametrize("tier", ["dsp", "mve"])
def test_which_sweep_calls_are_accelerated(tier):
    """Grouped convolution, depthwise channels past one step but not a multiple of it and
    16x8 stay portable; every other int8 call becomes the tier's call."""
    fast_kinds, portable_kinds = set(), set()
    for name, data, expected, desc in sweep_models(mode=None):
        for portable in _calls(data):
            if "_s16" in portable.function:
                continue  # 16x8 has kernels of its own: test_fast_16x8.py
            call = fast.accelerate(portable, tier)
            if expected(tier):
                assert (call.tier, call.kernel) in TIER_KERNELS[tier] and call.function in TIER_FUNCTIONS[tier], \
                    f"{desc} stayed portable"
                assert call.inputs == portable.inputs and call.outputs == portable.outputs
                assert call.macs == portable.macs
                fast_kinds.add(call.function)
            else:
                assert call is portable, f"{desc} was rewritten to {call.function}"
                portable_kinds.add(portable.function)
    assert fast_kinds == TIER_FUNCTIONS[tier]
    # grouped CONV_2D (every int8 depthwise of the sweep has a fast form now)
    assert "pb_conv_s8" in portable_kinds, portable_kinds


def test_depthwise_channel_step_per_tier():
    """4 channels: a DSP step, but fewer than an MVE step (8): the equal CONV_2D there; 8
    channels: both; 3: the equal CONV_2D on both."""
    s8 = next(s for s in _specs(op_conv.DW_CASES, "int8") if s["cin"] == 8 and s["dm"] == 1)
    call8 = _only_call(dw_bytes(s8))
    assert call8.fields["in_c"] == 8 and call8.fields["depth_multiplier"] == 1
    call4 = _narrow_depthwise(call8, 4)
    call3 = _narrow_depthwise(call8, 3)
    assert fast.accelerate(call4, "dsp").function == "pb_fast_dw_s8"
    assert fast.accelerate(call4, "mve").function == "pb_fast_mve_mm_s8"
    assert fast.accelerate(call8, "mve").function == "pb_fast_mve_dw_s8"
    assert fast.accelerate(call3, "dsp").function == "pb_fast_mm_s8"
    assert fast.accelerate(call3, "mve").function == "pb_fast_mve_mm_s8"
    call12 = _narrow_depthwise(call8, 8)
    call12.fields["in_c"] = 12  # past one MVE step, not a multiple of it (the fields need not agree)
    assert fast.accelerate(call12, "mve") is call12


def test_depth_multiplier_is_fast_and_groups_stay_portable():
    dm2 = next(s for s in _specs(op_conv.DW_CASES, "int8") if s["cin"] == 8 and s["dm"] == 2)
    grouped = next(s for s in _specs(op_conv.CONV_CASES, "int8") if s["groups"] > 1)
    for tier in ("dsp", "mve"):
        call = _only_call(dw_bytes(dm2))
        fast_call = fast.accelerate(call, tier)
        assert fast_call.function in TIER_FUNCTIONS[tier] and fast_call.fields["multiplier"] == 2
        call = _only_call(conv_bytes(grouped))
        assert call.fields["filter_c"] < call.fields["in_c"]
        assert fast.accelerate(call, tier) is call


def test_fully_connected_with_a_weight_zero_point_stays_portable():
    call = _only_call(fc_bytes(*op_fc.CASES[1]))
    assert call.fields["filter_offset"] == 0
    assert fast.accelerate(call, "dsp").function == "pb_fast_mm_s8"
    shifted = dataclasses.replace(call, fields={**call.fields, "filter_offset": 3})
    assert fast.accelerate(shifted, "dsp") is shifted
    assert fast.accelerate(shifted, "mve") is shifted


def _mm_weights_back(call) -> np.ndarray:
    """[out_c][depth_pad] of a DSP matrix multiply's weights read back from pb_conv.c's order,
    per channel pair and block of 4: int16 (halved when doubled), each channel's (w0,w2),
    (w1,w3); or int8, each channel's 4 (lean: the odd bytes' coding undone)."""
    f = call.fields
    dp = f["depth_pad"]
    words = np.asarray(f["weights"].values, np.int64).astype("<i4")
    if f["wide_weights"]:
        w = words.view("<i2").astype(np.int64).reshape(-1, dp // 4, 2, 2, 2).transpose(0, 2, 1, 4, 3).reshape(-1, dp)
        return w // 2 if f["requant"] == fast.REQUANT_FAST else w
    w = words.view(np.int8).astype(np.int64).reshape(-1, dp // 4, 2, 4).transpose(0, 2, 1, 3).reshape(-1, dp)
    if f["lean_weights"]:
        w[:, 1::2] += w[:, 0::2] < 0
    return w


def test_split_rows_where_in_c_is_not_a_multiple_of_4():
    """DSP tier, in_c not a multiple of 4 (an RGB image's first layer) and dilation_w 1: the
    taps in the split layout, every filter row's whole words, then every row's last
    (filter_w * in_c) % 4 taps, no tap padded (depth_pad is the depth rounded up to the
    block), so pb_conv.c widens a window straight from the input with word loads;
    dilation_w above 1 keeps the taps contiguous. The sweep's cases on the simulated M4
    (test_sweep_bit_exact_on_simulated_core) run both."""
    split = 0
    for s in _specs(op_conv.CONV_CASES, "int8"):
        if s["groups"] != 1 or s["cin"] % 4 == 0:
            continue
        portable = _only_call(conv_bytes(s))
        call = fast.accelerate(portable, "dsp")
        f = call.fields
        fh, fw, cin = f["filter_h"], f["filter_w"], f["in_c"]
        assert f["depth_pad"] == -(-fh * fw * cin // dsp_tier.DEPTH_BLOCK) * dsp_tier.DEPTH_BLOCK, s
        w, *_ = _layer(portable)
        rows = w.reshape(w.shape[0], fh, fw * cin)
        body = fw * cin // 4 * 4
        if f["dilation_w"] != 1:
            assert f["split_rows"] == 0, s
            order = w
        else:
            assert f["split_rows"] == 1, s
            order = np.concatenate([rows[:, :, :body].reshape(w.shape[0], -1),
                                    rows[:, :, body:].reshape(w.shape[0], -1)], axis=1)
            split += body != fw * cin
        if f["out_index"] != "NULL":
            continue
        want = np.zeros((w.shape[0], f["depth_pad"]), np.int64)
        want[:, : order.shape[1]] = order
        assert np.array_equal(_mm_weights_back(call)[: w.shape[0]], want), s
    assert split >= 5


# A FULLY_CONNECTED past the one-row form's chunks: 150 values (38 groups, two runs of
# pb_rows4.h's routine) into 140 channels (35 blocks, two passes), and one into 6 channels
ONE_ROW_EXTRA = [(150, 140, "relu", True, "int8", True), (130, 6, None, False, "int8", False)]


def _rows4_back(call) -> np.ndarray:
    """[out_c rounded up to 4][depth rounded up to 4] of a one-row call's weights read back
    from pb_rows4.h's blocks (chunks of 32 groups; per block of four channels and group, each
    channel's (w0, w2), (w1, w3) int16 pairs), halved when doubled."""
    f = call.fields
    groups, blocks = -(-f["depth"] // 4), -(-f["out_c"] // 4)
    h = np.asarray(f["weights"].values, np.int64).astype("<i4").view("<i2").astype(np.int64)
    w = np.zeros((blocks, groups, 4, 4), np.int64)  # [block][group][channel][value]
    at = 0
    for g0 in range(0, groups, dsp_tier.ROWS4_GROUPS):
        ng = min(dsp_tier.ROWS4_GROUPS, groups - g0)
        chunk = h[at:at + blocks * ng * 16].reshape(blocks, ng, 4, 2, 2)  # [..][channel][word][half]
        w[:, g0:g0 + ng, :, [0, 2]] = chunk[:, :, :, 0, :]
        w[:, g0:g0 + ng, :, [1, 3]] = chunk[:, :, :, 1, :]
        at += blocks * ng * 16
    assert at == len(h)
    w = w.transpose(0, 2, 1, 3).reshape(4 * blocks, 4 * groups)
    return w // 2 if f["requant"] == fast.REQUANT_FAST else w


def test_one_row_layers_take_rows_of_four():
    """DSP tier with int16 weights, a FULLY_CONNECTED on one row: pb_fast_mm_one_row_* (its
    requantization form in the name), the weights in pb_rows4.h's blocks (zero past the channels and the depth),
    each channel's bias' in row_bias (out_c rounded up to 4). On the simulated M4 the sweep
    (test_sweep_bit_exact_on_simulated_core) runs them, ONE_ROW_EXTRA's chunks too."""
    for row in [r for r in op_fc.CASES if r[4] == "int8"] + ONE_ROW_EXTRA:
        portable = _only_call(fc_bytes(*row))
        call = fast.accelerate(portable, "dsp", wide_weights=True)
        f = call.fields
        full = f["act_min"] == -128 and f["act_max"] == 127
        form = ("fast_full" if full else "fast_clamped") if f["requant"] == fast.REQUANT_FAST else "exact"
        assert call.entry == f"pb_fast_mm_one_row_{form}", row
        w, *_ = _layer(portable)
        want = np.zeros((-(-w.shape[0] // 4) * 4, -(-w.shape[1] // 4) * 4), np.int64)
        want[: w.shape[0], : w.shape[1]] = w
        assert np.array_equal(_rows4_back(call), want), row
        q, _ = _quant_words(call, f["out_c"])
        bias = np.asarray(f["row_bias"].values, np.int64)
        assert len(bias) == want.shape[0] and np.array_equal(bias[: f["out_c"]], q[:, 0]), row
        assert not bias[f["out_c"]:].any(), row


# ---- the folded requantization constants --------------------------------------------------


def _per_channel(f, n):
    if isinstance(f["mults"], ConstArray):
        return np.asarray(f["mults"].values, np.int64), np.asarray(f["shifts"].values, np.int64)
    return np.full(n, f["mult"], np.int64), np.full(n, f["shift"], np.int64)


def _layer(call):
    """(weights [channel, taps], bias, input offset, output offset, mults, shifts) of a
    portable call, read from its own fields."""
    f = call.fields
    if call.function == "pb_depthwise_conv_s8":
        c = f["in_c"] * f["depth_multiplier"]
        w = np.asarray(f["filter"].values, np.int64).reshape(-1, c).T
    elif call.function == "pb_conv_s8":
        w = np.asarray(f["filter"].values, np.int64).reshape(f["out_c"], -1)
    else:
        w = np.asarray(f["filter"].values, np.int64).reshape(f["output_depth"], f["accum_depth"])
    n = w.shape[0]
    bias = np.asarray(f["bias"].values, np.int64) if isinstance(f["bias"], ConstArray) else np.zeros(n, np.int64)
    mults, shifts = _per_channel(f, n)
    return w, bias, f["input_offset"], f["output_offset"], mults, shifts


def _doubled(fast_call, tier) -> bool:
    """DSP tier, FAST mode: depthwise and int16 matrix-multiply weights are stored as 2 * w
    and the bias as 2 * bias', so the accumulator is the rounded high multiply's operand."""
    f = fast_call.fields
    return (tier == "dsp" and f["requant"] == fast.REQUANT_FAST
            and (fast_call.function in ("pb_fast_dw_s8", "pb_fast_dw_one_s8") or bool(f.get("wide_weights"))))


def _quant_words(fast_call, channels):
    """Each channel's (bias', multiplier, shift, rounding), as the plain int8 form stores them:
    a DSP layer's shared words spread to every channel, and its lean form's bias'
    (256 * (bias' + 127 * the odd-depth weights' sum)) undone."""
    f = fast_call.fields
    if fast_call.function == "pb_fast_dw_s8" and f.get("rows_form"):  # the rows form: in its weight blocks
        b = np.asarray(f["weights"].values, np.int64).reshape(-1, 34)
        m = b[:, 22:].reshape(-1, 4, 3)  # multiplier, rounding, shift
        words = np.stack([b[:, :4], m[..., 0], m[..., 2], m[..., 1]], axis=-1).reshape(-1, 4)
        return words[:channels], words.reshape(-1)
    q = np.asarray(f["quant"].values, np.int64)
    if isinstance(f.get("quant_shared"), ConstArray):
        shared = np.asarray(f["quant_shared"].values, np.int64)
        words = np.column_stack([q[:channels], np.tile(shared[1:], (channels, 1))])
    else:
        words = q[: 4 * channels].reshape(channels, 4).copy()
    if f.get("lean_weights"):
        w = np.asarray(f["weights"].values, np.int64).astype("<i4").view(np.int8).astype(np.int64)
        dp = f["depth_pad"]
        w = w.reshape(-1, dp // 4, 2, 4).transpose(0, 2, 1, 3).reshape(-1, dp)[:channels]
        w[:, 1::2] += w[:, 0::2] < 0  # the odd bytes' coding undone
        assert np.all(words[:, 0] % 256 == 0)
        words[:, 0] = words[:, 0] // 256 - 127 * w[:, 1::2].sum(axis=1)
    return words, q


def _fast_requant(acc, q):
    """The DSP tier's FAST requantization (dsp/pb_requant.h), in int64 with each int32 step range-checked:
    v = (2*acc*mult + 2^31) >> 32 (SMMULR), then (v + rounding - (acc < 0)) >> right_shift (one SMMLAR:
    the sign of the operand, not the product's)."""
    bias, mult, rs, rounding = (int(x) for x in q)
    doubled = 2 * acc
    assert np.all(np.abs(doubled) < 2**31), "2 * acc overflows int32"
    v = (doubled * mult + 2**31) >> 32
    s = v + rounding - (doubled < 0)
    assert s.min() >= INT32_MIN and s.max() <= INT32_MAX, "v + rounding overflows int32"
    assert 1 <= rs <= 31
    return s >> rs


def _int8_layer_calls():
    return [(desc, c) for _, data, _, desc in sweep_models("int8") for c in _calls(data)]


@pytest.mark.parametrize("tier", ["dsp", "mve"])
def test_requantization_words_reproduce_tflite(tier):
    """For every accelerated int8 layer of the sweep: bias' is the bias with the input offset
    folded in, and where the mode is FAST, the one-multiply form equals TFLite's
    MultiplyByQuantizedMultiplier plus the output offset for random accumulators all over
    the range the weights allow (and at its ends). The MVE tier's vector form (quant groups
    of four lanes) is checked for every channel, whatever its mode."""
    rng = np.random.default_rng(1)
    fast_channels = 0
    for desc, portable in _int8_layer_calls():
        call = fast.accelerate(portable, tier)
        if call is portable:
            continue
        if portable.function == "pb_depthwise_conv_s8" and call.kernel == "pb_conv":
            portable = depthwise_as_conv(portable)  # the matrix multiply computes the equal CONV_2D
        w, bias, in_off, out_off, mults, shifts = _layer(portable)
        if call.function in ("pb_fast_dw_s8", "pb_fast_mve_dw_s8"):  # channels in pass order
            order = pass_order(portable.fields["in_c"], portable.fields["depth_multiplier"])
            w, bias, mults, shifts = w[order], bias[order], np.asarray(mults)[order], np.asarray(shifts)[order]
        index = call.fields.get("out_index")
        if call.function == "pb_fast_mve_mm_s8":
            index = fast_mve.stream_blocks(call.fields)[2]
        elif isinstance(index, ConstArray):
            index = np.asarray(index.values)
        else:
            index = None
        if index is not None:  # channels with all-zero weights are skipped
            live = index[: call.fields["out_c"]]
            assert np.all(w[np.setdiff1d(np.arange(w.shape[0]), live)] == 0) and np.all(w[live].any(axis=1)), desc
            w, bias, mults, shifts = w[live], bias[live], np.asarray(mults)[live], np.asarray(shifts)[live]
        n = w.shape[0]
        if tier == "mve":
            fast_channels += _check_mve_groups(call, desc, rng, w, bias, in_off, out_off, mults, shifts)
            continue
        q, words = _quant_words(call, n)
        if _doubled(call, tier):  # the kernel accumulates 2 * acc: bias' is stored doubled
            assert np.all(q[:, 0] % 2 == 0), desc
            q = q.copy()
            q[:, 0] //= 2
        # bias': the accumulator of raw int8 inputs equals TFLite's of offset inputs
        x = rng.integers(-128, 127, size=w.shape[1], endpoint=True)
        assert np.array_equal(q[:, 0] + w @ x, bias + w @ (x + in_off)), desc
        assert np.array_equal(q[:, 1], mults), desc
        if call.function == "pb_fast_dw_s8":
            assert len(words) == 4 * n, desc
        if call.fields["requant"] == fast.REQUANT_EXACT:
            assert np.array_equal(q[:, 2], shifts), desc
            continue
        assert call.fields["requant"] == fast.REQUANT_FAST
        xmax = max(abs(-128 + in_off), abs(127 + in_off))
        peaks = np.abs(w).sum(axis=1) * xmax + np.abs(bias)
        for c in range(n):
            acc = _accumulators(rng, int(peaks[c]))
            want = mul_by_quantized_mult_array(acc, int(mults[c]), int(shifts[c])) + out_off
            got = _fast_requant(acc, q[c])
            bad = np.flatnonzero(got != want)
            assert bad.size == 0, (f"{desc} channel {c}: acc {acc[bad[0]]} gives {got[bad[0]]}, "
                                   f"TFLite {want[bad[0]]} (words {q[c].tolist()})")
            fast_channels += 1
    assert fast_channels > 100, "too few FAST channels checked for the test to mean anything"


def _accumulators(rng, peak: int) -> np.ndarray:
    """Accumulators all over [-peak, peak] a channel's weights allow, and its ends."""
    return np.concatenate([rng.integers(-peak, peak, size=4000, endpoint=True),
                           [-peak, peak, 0, 1, -1]]).astype(np.int64)


def _check_mve_groups(call, desc, rng, w, bias, in_off, out_off, mults, shifts) -> int:
    """The MVE tier's quant groups ([lanes/4][bias', mult, -right, left, mask][4]): per
    channel, bias' folds the input offset, and fast_mve.requant_reference (the kernel's
    VQRDMULH / VRSHL sequence) equals TFLite plus the output offset and the clamp."""
    n = w.shape[0]
    if call.function == "pb_fast_mve_dw_s8":  # lanes per 8 channels: even channels, then odd
        g = np.asarray(call.fields["quant"].values, np.int64).reshape(-1, 5, 4)
        lane_of = np.argsort(np.arange(n).reshape(-1, 4, 2).transpose(0, 2, 1).reshape(-1))
    else:  # the block stream: its weights are the computed channels', lane by lane
        stream_w, g, _ = fast_mve.stream_blocks(call.fields)
        assert np.array_equal(stream_w[:n, :w.shape[1]], w) and not stream_w[:n, w.shape[1]:].any(), desc
        lane_of = np.arange(n)
    q = g.transpose(0, 2, 1).reshape(-1, 5)[lane_of]
    x = rng.integers(-128, 127, size=w.shape[1], endpoint=True)
    assert np.array_equal(q[:, 0] + w @ x, bias + w @ (x + in_off)), desc
    assert np.array_equal(q[:, 1], mults), desc
    fast_mode = call.fields["requant"] == fast_mve.REQUANT_FAST
    assert fast_mode == bool(np.all(shifts <= -1)), desc
    lo, hi = call.fields["act_min"], call.fields["act_max"]
    xmax = max(abs(-128 + in_off), abs(127 + in_off))
    peaks = np.abs(w).sum(axis=1) * xmax + np.abs(bias)
    for c in range(n):
        acc = _accumulators(rng, int(peaks[c]))
        want = np.clip(mul_by_quantized_mult_array(acc, int(mults[c]), int(shifts[c])) + out_off, lo, hi)
        got = fast_mve.requant_reference(acc, q[c], out_off, lo, hi)
        bad = np.flatnonzero(got != want)
        assert bad.size == 0, (f"{desc} channel {c}: acc {acc[bad[0]]} gives {got[bad[0]]}, "
                               f"TFLite {want[bad[0]]} (words {q[c].tolist()})")
    return n


def test_requantization_falls_back_to_exact_when_unproven():
    """A left shift, or an accumulator bound past 2^30, keeps TFLite's step-by-step form."""
    s = next(s for s in _specs(op_conv.CONV_CASES, "int8") if not s["pc"] and s["bias"] and s["groups"] == 1)
    call = _only_call(conv_bytes(s))  # per-tensor: scalar mult and shift
    assert not isinstance(call.fields["mults"], ConstArray) and isinstance(call.fields["bias"], ConstArray)
    assert fast.accelerate(call, "dsp").fields["requant"] == fast.REQUANT_FAST
    left = fast.accelerate(dataclasses.replace(call, fields={**call.fields, "shift": 1}), "dsp")
    assert left.fields["requant"] == fast.REQUANT_EXACT
    q, _ = _quant_words(left, call.fields["out_c"])
    assert np.all(q[:, 2] == 1)
    b = call.fields["bias"]
    big = ConstArray(b.name, b.ctype, np.full_like(np.asarray(b.values), 2**30 + 1))
    huge = fast.accelerate(dataclasses.replace(call, fields={**call.fields, "bias": big}), "dsp")
    assert huge.fields["requant"] == fast.REQUANT_EXACT


# ---- the sweep on the simulated cores the tiers are for ------------------------------------


@pytest.mark.parametrize("board_name,tier", [("qemu-mps2-an386", "dsp"), ("qemu-mps3-an547", "mve")])
def test_sweep_bit_exact_on_simulated_core(board_name, tier, tmp_path):
    """Every int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED case of the operator sweep,
    generated for the board's tier, run in QEMU: each output byte equals TFLite Micro's."""

    board = needs_simulator(board_name)
    assert fast.tier_for(board.features) == tier
    models = sweep_models("int8")
    # with the board's flash as the budget, as `protobrain build` does: int16 weights on the M4
    programs = [build_program(read_model_bytes(data, name), tier=tier, flash_budget=board.flash.length)
                for name, data, _, _ in models]
    n_fast = 0
    for (name, _, expected, desc), prog in zip(models, programs):
        assert prog.tier == tier
        layers = [s for s in prog.steps if s.op.name in ACCELERATED_OPS]
        assert layers, desc
        if expected(tier):
            assert all((s.call.tier, s.call.kernel) in TIER_KERNELS[tier] for s in layers), f"{desc}: {prog.kernels()}"
            n_fast += 1
        else:
            assert not TIER_KERNELS[tier] & set(prog.kernels()), f"{desc}: {prog.kernels()}"
    assert n_fast >= 50
    wide = [s.call.fields["wide_weights"] for p in programs for s in p.steps
            if s.call is not None and s.call.function in ("pb_fast_mm_s8", "pb_fast_mve_mm_s8")]
    assert all(wide) if tier == "dsp" else not any(wide)

    by_name = {name: desc for name, _, _, desc in models}
    failures, compared = mismatches_on_device(
        board, programs, [m[1] for m in models], tmp_path / "fw",
        describe=lambda prog: f"{prog.graph.name} [{by_name[prog.graph.name]}] on {board_name}/{tier} "
                              f"({', '.join(prog.kernels())})")
    assert not failures, "\n".join(failures)
    assert compared == 6 * len(models)


@pytest.mark.parametrize("tier", ["dsp", "mve"])
@pytest.mark.parametrize("name", ["kws_ref_model", "vww_96_int8", "pretrainedResnet_quant", "ad01_int8"])
def test_scratch_keeps_ram_within_bound(name, tier):
    """The fast kernels' scratch (im2col rows, depthwise lines) is planned with the
    activations: the arena stays within the activation lower bound plus the largest scratch
    buffer (ad01's FULLY_CONNECTED layers on Helium read their rows in place: none)."""
    from conftest import shared_model

    from protobrain.compiler.reader import read_model

    path = shared_model(name)
    portable = build_program(read_model(path))
    program = build_program(read_model(path), tier=tier, flash_budget=4 << 20)
    scratch = [s.call.scratch_bytes for s in program.steps if s.call is not None and s.call.scratch_bytes]
    assert scratch or (name, tier) == ("ad01_int8", "mve"), "no step of the fast tier uses scratch"
    assert program.arena_size <= portable.lower_bound + max(scratch, default=0)
    assert set(program.scratch) == {k for k, s in enumerate(program.steps) if s.call and s.call.scratch_bytes}


# ---- the channel-loop form (dsp/pb_conv.c's pb_fast_mm_short_pairs) -------------------------

SHORT_CASES = [  # depth 3, 8, 27 (RGB 3x3) and more; odd sizes and row counts, SAME/VALID, strides, dilation;
    # pointwise layers (1x1, stride 1: each row its input pixel) and the other widenings;
    # layers whose blocks after the first enter the eight-block turns at each of their
    # entries (depth_pad 20, 40, 56, 64, 144: 4, 9, 13, 15 and 35 blocks after the first,
    # 4, 1, 5, 7 and 3 the first turn; 28 taps (RGB 3x3), 36 and 12 below: 6, 8 and 2)
    dict(hw=(4, 5), cin=20, filters=6, kernel=1, strides=1, padding="valid"),
    dict(hw=(5, 6), cin=40, filters=6, kernel=1, strides=1, padding="valid"),
    dict(hw=(3, 5), cin=56, filters=4, kernel=1, strides=1, padding="same"),
    dict(hw=(4, 3), cin=64, filters=10, kernel=1, strides=1, padding="valid"),
    dict(hw=(5, 5), cin=16, filters=6, kernel=3, strides=1, padding="same"),
    dict(hw=(7, 9), cin=3, filters=8, kernel=1, strides=1, padding="same"),
    dict(hw=(6, 7), cin=8, filters=16, kernel=1, strides=2, padding="valid"),
    dict(hw=(11, 13), cin=3, filters=8, kernel=3, strides=2, padding="same"),
    dict(hw=(9, 7), cin=3, filters=6, kernel=3, strides=1, padding="valid"),
    dict(hw=(5, 5), cin=4, filters=10, kernel=3, strides=1, padding="same"),
    dict(hw=(8, 6), cin=3, filters=4, kernel=3, strides=1, padding="same", dilation=2),
    dict(hw=(5, 3), cin=16, filters=2, kernel=(3, 1), strides=(2, 1), padding="same"),
    dict(hw=(4, 5), cin=5, filters=12, kernel=(2, 3), strides=1, padding="same"),
    dict(hw=(5, 3), cin=4, filters=6, kernel=1, strides=1, padding="same"),  # pointwise, depth_pad past in_c
    dict(hw=(3, 3), cin=12, filters=2, kernel=1, strides=1, padding="valid"),
    dict(hw=(6, 7), cin=8, filters=14, kernel=1, strides=1, padding="valid"),  # 8 channels, out_c not of 4
]
PW8_CASES = [  # pointwise from 8 channels (pb_fast_mm_wide_pw8_full): odd row counts, out_c 4 to 24
    dict(hw=(6, 7), cin=8, filters=16, kernel=1, strides=1, padding="valid"),
    dict(hw=(5, 3), cin=8, filters=4, kernel=1, strides=1, padding="same"),
    dict(hw=(3, 9), cin=8, filters=24, kernel=1, strides=1, padding="same"),
]
FORMS = {"pb_fast_mm_wide_short_full": SHORT_CASES, "pb_fast_mm_wide_pw8_full": PW8_CASES}


def short_bytes(case: dict) -> bytes:
    s = {**dict(dilation=1, act=None, bias=True, mode="int8", pc=True, groups=1), **case}
    return conv_bytes(s)


def test_short_form_chosen_only_where_it_applies():
    """pb_fast_mm_wide_short_full: wide FAST, no clamp but int8's and an even channel count,
    whatever the depth; with skipped channels its _sparse form, whatever their count;
    anything else keeps its generic instance."""
    f = dict(act_min=-128, act_max=127, requant=1, wide_weights=1, lean_weights=0, out_index="NULL",
             quant_shared="NULL", out_c=8, depth_pad=32, in_c=3, filter_h=3, filter_w=3,
             stride_h=1, stride_w=1, pad_top=1, pad_left=1, in_h=5, in_w=5, out_h=5, out_w=5)
    assert dsp_tier.mm_instance(f) == "pb_fast_mm_wide_short_full"
    assert dsp_tier.mm_instance({**f, "depth_pad": 2304, "in_c": 256}) == "pb_fast_mm_wide_short_full"
    assert dsp_tier.mm_instance({**f, "out_index": "idx"}) == "pb_fast_mm_wide_short_full_sparse"
    assert dsp_tier.mm_instance({**f, "out_index": "idx", "out_c": 7}) == "pb_fast_mm_wide_short_full_sparse"
    for change in (dict(act_min=0), dict(out_c=7), dict(requant=0), dict(wide_weights=0)):
        assert dsp_tier.mm_instance({**f, **change}) != "pb_fast_mm_wide_short_full", change
    pw = {**f, "in_c": 8, "depth_pad": 8, "filter_h": 1, "filter_w": 1, "pad_top": 0, "pad_left": 0}
    assert dsp_tier.mm_instance(pw) == "pb_fast_mm_wide_pw8_full"
    for change in (dict(out_c=6), dict(in_c=4), dict(stride_w=2), dict(out_w=4), dict(filter_h=3),
                   dict(act_max=100), dict(out_index="idx")):
        assert dsp_tier.mm_instance({**pw, **change}) != "pb_fast_mm_wide_pw8_full", change


def test_pointwise8_c_form_bit_exact_on_host():
    """pb_fast_mm_wide_pw8_full's plain C (any core but the DSP extension's) reads the same
    per-channel records as its assembly and matches TFLite Micro byte for byte."""
    from conftest import RecordedReference, assert_bit_exact

    from protobrain.run.host import CompiledModel, build_shared_library
    from protobrain.verify.reference import Reference

    for k, case in enumerate(PW8_CASES):
        data = short_bytes(case)
        prog = build_program(read_model_bytes(data, f"pw8{k}"), tier="dsp", optimize="speed")
        assert [s.call.entry for s in prog.steps if s.op.name == "CONV_2D"] == ["pb_fast_mm_wide_pw8_full"]
        compiled = CompiledModel(prog, build_shared_library(prog, f"<pw8{k}>"))
        assert_bit_exact(compiled, RecordedReference(Reference(data)), n_random=5, seed=k)


def test_one_row_form_yields_to_a_linked_pair_instance():
    """A one-row layer keeps pb_fast_mm_one_row_* unless the pair instance it would take
    otherwise is linked by another layer of the model (dsp.shared_instances): alone, every
    FULLY_CONNECTED case takes it; beside the first case on two rows, those whose pair
    instance that layer links go back to it, and the rest keep the one-row form."""
    fcs = [_only_call(fc_bytes(*r)) for r in op_fc.CASES if r[4] == "int8"]
    for call in fcs:
        (alone,) = fast.accelerate_all([call], "dsp", optimize="speed")
        assert alone.entry.startswith("pb_fast_mm_one_row_"), call.fields
    two_rows = dataclasses.replace(fcs[0], fields={**fcs[0].fields, "batches": 2})
    *mixed, two = fast.accelerate_all(fcs + [two_rows], "dsp", optimize="speed")
    assert not two.entry.startswith("pb_fast_mm_one_row_")
    kinds = set()
    for portable, call in zip(fcs, mixed):
        pair = dsp_tier.accelerate(portable, True, one_row=False).entry
        shared = pair == two.entry
        assert (call.entry == pair) if shared else call.entry.startswith("pb_fast_mm_one_row_"), (pair, call.entry)
        kinds.add(shared)
    assert kinds == {True, False}


def test_one_row_c_form_bit_exact_on_host():
    """pb_fast_mm_one_row's plain C (pb_rows4.h's routine in C, any core but the DSP
    extension's) over the FULLY_CONNECTED cases and ONE_ROW_EXTRA's chunks, int16 weights
    (--optimize speed), matches TFLite Micro byte for byte."""
    from conftest import RecordedReference, assert_bit_exact

    from protobrain.run.host import CompiledModel, build_shared_library
    from protobrain.verify.reference import Reference

    rows = [r for r in op_fc.CASES if r[4] == "int8"] + ONE_ROW_EXTRA
    for k, row in enumerate(rows):
        data = fc_bytes(*row)
        prog = build_program(read_model_bytes(data, f"row{k}"), tier="dsp", optimize="speed")
        assert [s.call.entry[:19] for s in prog.steps if s.op.name == "FULLY_CONNECTED"] == ["pb_fast_mm_one_row_"]
        compiled = CompiledModel(prog, build_shared_library(prog, f"<row{k}>"))
        assert_bit_exact(compiled, RecordedReference(Reference(data)), n_random=5, seed=k)


def test_sparse_channel_loop_bit_exact_on_simulated_core(tmp_path):
    """Layers with skipped channels take the channel-loop routine's sparse form on the M4
    (each computed channel stored where out_index puts it, the rest the constant row; an odd
    count's last pair ends with a copy of its last channel) and match TFLite Micro byte for
    byte: 12 and 6 computed channels, and 11 and 5."""
    board = needs_simulator("qemu-mps2-an386")
    blobs = [dead_channels_bytes(kind) for kind in ("conv_even", "conv1x1_even", "conv", "conv1x1")]
    programs = [build_program(read_model_bytes(data, f"sparse{k}"), tier="dsp", flash_budget=board.flash.length)
                for k, data in enumerate(blobs)]
    for prog in programs:
        (step,) = [s for s in prog.steps if s.op.name == "CONV_2D"]
        assert step.call.entry == "pb_fast_mm_wide_short_full_sparse", step.call.entry
    failures, _ = mismatches_on_device(board, programs, blobs, tmp_path / "fw", n_random=4, seed=2)
    assert not failures, "\n".join(failures)


def test_short_form_bit_exact_on_simulated_core(tmp_path):
    """Every SHORT_CASES and PW8_CASES layer takes its form on the M4 and each output byte
    equals TFLite Micro's, run in QEMU (the forms are assembly there)."""

    board = needs_simulator("qemu-mps2-an386")
    cases = [(entry, c) for entry, cs in FORMS.items() for c in cs]
    blobs = [short_bytes(c) for _, c in cases]
    programs = [build_program(read_model_bytes(data, f"short{k}"), tier="dsp", flash_budget=board.flash.length)
                for k, data in enumerate(blobs)]
    for (entry, case), prog in zip(cases, programs):
        (step,) = [s for s in prog.steps if s.op.name == "CONV_2D"]
        assert step.call.entry == entry, (case, step.call.entry)
    failures, _ = mismatches_on_device(board, programs, blobs, tmp_path / "fw", n_random=4, seed=1)
    assert not failures, "\n".join(failures)
