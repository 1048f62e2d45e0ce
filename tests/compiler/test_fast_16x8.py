"""The fast tiers' 16x8 kernels (int16 activations, int8 weights: protobrain/compiler/ops/
tiers/wide16.py, templates/kernels/{dsp,mve}/pb_conv16.c and pb_depthwise_conv16.c).

What is checked: which 16x8 calls each tier takes over; that every requantization form the
generator picks (PB_W16_HI, R64, R32) equals TFLite Micro's 64-bit (or 32-bit) arithmetic
over the whole range a channel's weights allow; and models built here (a DS-CNN keyword
net, a deep FULLY_CONNECTED whose sums need 64 bits, a convolution with an int32 bias) run
byte for byte as TFLite Micro runs them: on the host (the DSP tier's C form, int8 and int16
weights) and on the simulated Cortex-M4 (DSP) and Cortex-M55 (Helium). The operator sweep's
16x8 cases also run the DSP tier's C form on the host (conftest.check_model_bytes).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import test_op_conv as op_conv
import test_op_fully_connected as op_fc
from builders import cache_root, convert
from conftest import RecordedReference, assert_bit_exact
from conftest import needs_simulator as needs
from devices import pack, running_firmware, verify_on_device
from test_fast_kernels import conv_bytes, dw_bytes, fc_bytes

from protobrain.compiler.ops.base import ConstArray
from protobrain.compiler.ops.tiers import select as fast
from protobrain.compiler.ops.tiers import wide16
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.measure import built_models as built_models_lib
from protobrain.run.host import CompiledModel, build_shared_library
from protobrain.verify.reference import Reference

FAST_BOARDS = {"dsp": "qemu-mps2-an386", "mve": "qemu-mps3-an547"}
FAST_16 = {"pb_fast_mm_s16", "pb_fast_dw_s16", "pb_fast_mve_mm_s16", "pb_fast_mve_dw_s16"}


# ---- models -------------------------------------------------------------------------------


def keyword_net_bytes() -> bytes:
    """The DS-CNN keyword net `make bench` measures (protobrain.measure.built_models: as
    `protobrain train speech` builds it, 64 channels, two blocks, logits out, batch norms
    with random statistics), quantized 16x8."""
    return built_models_lib.load("dscnn_kws_16x8", cache_root())


def deep_fc_bytes() -> bytes:
    """A FULLY_CONNECTED over 2,400 inputs: its sums can pass int32 (64-bit form, R64)."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((2400,), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Dense(6)(x))

    return convert(make, [(2400,)], mode="16x8", key="deep-fc-16x8")


def conv_b32_bytes() -> bytes:
    """A 16x8 convolution with an int32 bias (TFLite Micro's 32-bit 16x8 form, R32)."""
    s = dict(hw=(7, 6), cin=4, filters=5, dm=1, kernel=3, strides=1, padding="same", dilation=1, act="relu",
             bias=True, groups=1)
    return op_conv._convert_custom(op_conv._maker(op_conv.conv_layer, s), (7, 6, 4), key="fast16-b32",
                                   mode="16x8", bias32=True)


def dw12_bytes() -> bytes:
    """A 16x8 depthwise layer of 12 channels (a multiple of 4, not of 8: Helium's 4-channel
    step) with ReLU6 (a clamp inside int16's range), stride 2."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((7, 9, 12), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x))

    return convert(make, [(7, 9, 12)], mode="16x8", key="dw12-16x8")


def built_models() -> list[tuple[str, bytes]]:
    return [("kws16", keyword_net_bytes()), ("deepfc16", deep_fc_bytes()), ("convb32", conv_b32_bytes()),
            ("dw12", dw12_bytes())]


def _specs(cases):
    return [p.values[0] for p in cases if p.values[0]["mode"] == "16x8"]


def sweep_16x8() -> list[tuple[str, bytes, bool]]:
    """The operator sweep's 16x8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED cases, with
    whether the fast tiers take them (no groups; depth multiplier 1 and channels a multiple of 4)."""
    models = [(f"conv{k:02d}", conv_bytes(s), s["groups"] == 1) for k, s in enumerate(_specs(op_conv.CONV_CASES))]
    models += [(f"dw{k:02d}", dw_bytes(s), s["dm"] == 1 and s["cin"] % 4 == 0)
               for k, s in enumerate(_specs(op_conv.DW_CASES))]
    models += [(f"fc{k:02d}", fc_bytes(*row), True) for k, row in enumerate(r for r in op_fc.CASES if r[4] == "16x8")]
    return models


def _calls(data: bytes, tier: str = "portable", flash_budget=None):
    program = build_program(read_model_bytes(data, "m"), tier=tier, flash_budget=flash_budget)
    return [s.call for s in program.steps if s.call is not None
            and s.op.name in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")]


# ---- which calls the tiers take -------------------------------------------------------------


@pytest.mark.parametrize("tier", ["dsp", "mve"])
def test_which_16x8_calls_are_accelerated(tier):
    taken = set()
    for name, data, expected in sweep_16x8():
        for portable in _calls(data):
            call = fast.accelerate(portable, tier)
            if expected:
                assert call.function in FAST_16 and call.tier == tier, f"{name} stayed portable"
                assert (call.inputs, call.outputs, call.macs) == (portable.inputs, portable.outputs, portable.macs)
                taken.add(call.function)
            else:
                assert call is portable, f"{name} was rewritten to {call.function}"
    assert taken == {f for f in FAST_16 if ("mve" in f) == (tier == "mve")}


def test_grouped_and_weight_zero_point_stay_portable():
    grouped = next(s for s in _specs(op_conv.CONV_CASES) if s["groups"] > 1)
    (call,) = _calls(conv_bytes(grouped))
    fc = _calls(fc_bytes(*next(r for r in op_fc.CASES if r[4] == "16x8")))[0]
    shifted = dataclasses.replace(fc, fields={**fc.fields, "filter_offset": 1})
    for tier in ("dsp", "mve"):
        assert fast.accelerate(call, tier) is call
        assert fast.accelerate(shifted, tier) is shifted
        assert fast.accelerate(fc, "portable") is fc


# ---- the requantization forms ---------------------------------------------------------------


def _reference64(acc: np.ndarray, bias: int, mult: int, shift: int) -> np.ndarray:
    """TFLite Micro's 16x8 requantization of acc + bias (pb_mul_by_quantized_mult64), with
    Python integers (exact), truncated to int32 as the reference's cast."""
    red = wide16.reduced_multiplier(mult)
    ts = 15 - shift
    out = [((int(a) + bias) * red + (1 << (ts - 1))) >> ts for a in acc]
    return np.array([(v + 2**31) % 2**32 - 2**31 for v in out], np.int64)


def _kernel64(acc: np.ndarray, q: np.ndarray, mode: int) -> np.ndarray:
    """pb_w16_out32's MULR and HI and pb_w16_out64's R64 arithmetic (pb_fast16.h), before the
    clamp; checks that each int32 or int64 step stays within its type."""
    k = (int(q[1]) << 32) | (int(q[0]) & 0xFFFFFFFF)
    out = []
    for a in acc:
        a = int(a)
        if mode == wide16.W16_MULR:
            x = a + int(q[0])
            assert -(2**31) <= a < 2**31 and -(2**31) <= x < 2**31 and 0 <= int(q[1]) < 2**31
            v = (x * int(q[1]) + 2**31) >> 32
        elif mode == wide16.W16_HI:
            assert -(2**31) <= a < 2**31
            v = k + a * int(q[2])
            assert -(2**63) <= v < 2**63
            v >>= 32
        else:
            v = k + a * int(q[2])
            assert -(2**63) <= v < 2**63
            v >>= int(q[3])
        out.append((v + 2**31) % 2**32 - 2**31)
    return np.array(out, np.int64)


def _layer64(portable):
    """(weights [channel][taps], bias, mults, shifts) of a 64-bit 16x8 call."""
    f = portable.fields
    if portable.function == "pb_depthwise_conv_s16":
        w = np.asarray(f["filter"].values, np.int64).reshape(-1, f["in_c"]).T
    else:
        n = f["out_c"] if "out_c" in f else f["output_depth"]
        w = np.asarray(f["filter"].values, np.int64).reshape(n, -1)
    n = w.shape[0]
    bias = np.asarray(f["bias64"].values, np.int64) if isinstance(f["bias64"], ConstArray) else np.zeros(n, np.int64)
    if isinstance(f["mults"], ConstArray):
        mults, shifts = np.asarray(f["mults"].values, np.int64), np.asarray(f["shifts"].values, np.int64)
    else:
        mults, shifts = np.full(n, f["mult"], np.int64), np.full(n, f["shift"], np.int64)
    return w, bias, mults, shifts


def test_requantization_words_reproduce_tflite_micro():
    """Every 64-bit layer of the sweep and the built models, both forms where they apply: the
    kernels' arithmetic equals the reference for sums all over the range the weights allow."""
    rng = np.random.default_rng(5)
    seen = {wide16.W16_MULR: 0, wide16.W16_HI: 0, wide16.W16_R64: 0}
    models = [d for _, d, _ in sweep_16x8()] + [d for _, d in built_models()]
    for data in models:
        for portable in _calls(data):
            if portable.function not in ("pb_conv_s16", "pb_fully_connected_s16", "pb_depthwise_conv_s16"):
                continue
            w, bias, mults, shifts = _layer64(portable)
            peaks = np.abs(w).sum(axis=1) * wide16.X_MAX
            for allow_mulr in (True, False):  # the form picked, and HI where MULR would do
                q, mode, fits32 = wide16.quant16(w, bias, mults, shifts, allow_mulr=allow_mulr)  # offset 0 (16x8)
                assert fits32 == bool(np.all(peaks < 2**31))
                for c in range(len(w)):
                    p = int(peaks[c])
                    acc = np.concatenate([rng.integers(-p, p, size=150, endpoint=True), [-p, p, 0, 1, -1]])
                    want = _reference64(acc, int(bias[c]), int(mults[c]), int(shifts[c]))
                    assert np.array_equal(_kernel64(acc, q[c], mode), want), (portable.function, c, q[c].tolist())
                    seen[mode] += 1
    assert seen[wide16.W16_MULR] > 100 and seen[wide16.W16_HI] > 100 and seen[wide16.W16_R64] >= 6, seen


def test_deep_sums_take_the_64_bit_form_in_int32_chunks():
    (call,) = _calls(deep_fc_bytes(), "dsp")
    assert call.function == "pb_fast_mm_s16" and call.fields["requant"] == wide16.W16_R64
    assert call.fields["chunk"] == wide16.CHUNK_BLOCKS < call.fields["depth_pad"] // 4
    # a chunk's int32 sum cannot overflow whatever the weights
    assert 4 * wide16.CHUNK_BLOCKS * 128 * wide16.X_MAX < 2**31
    (kws_fc,) = [c for c in _calls(keyword_net_bytes(), "dsp") if c.fields.get("depth") == 64 and c.fields.get("rows") == 1]
    assert kws_fc.fields["requant"] == wide16.W16_MULR and kws_fc.fields["chunk"] == kws_fc.fields["depth_pad"] // 4


def test_int32_bias_keeps_the_32_bit_form():
    (call,) = _calls(conv_b32_bytes(), "mve")
    assert call.function == "pb_fast_mve_mm_s16" and call.fields["requant"] == wide16.W16_R32


# ---- bit-exact on the host ------------------------------------------------------------------


@pytest.mark.parametrize("wide", [False, True])
@pytest.mark.parametrize("name", ["kws16", "deepfc16", "convb32", "dw12"])
def test_built_models_bit_exact_on_host_dsp_form(name, wide):
    data = dict(built_models())[name]
    program = build_program(read_model_bytes(data, name), tier="dsp", flash_budget=(1 << 30) if wide else None)
    calls = [s.call for s in program.steps if s.call is not None and s.call.function in FAST_16]
    assert calls and all(bool(c.fields.get("wide_weights", wide)) == wide for c in calls)
    if name == "kws16":
        assert {c.function for c in calls} == {"pb_fast_mm_s16", "pb_fast_dw_s16"}
    compiled = CompiledModel(program, build_shared_library(program, f"<{name}>"))
    assert_bit_exact(compiled, RecordedReference(Reference(data)), n_random=8, seed=1)


# ---- bit-exact on the simulated cores -------------------------------------------------------


@pytest.mark.parametrize("tier,optimize,mulr", [("dsp", "speed", True), ("dsp", "size", False),
                                                ("mve", "balanced", True), ("mve", "balanced", False)])
def test_16x8_bit_exact_on_simulated_core(tier, optimize, mulr, tmp_path, monkeypatch):
    """The built models and the sweep's 16x8 cases, generated for the board's tier as
    `protobrain build` does (on the M4 with either weight form), each output byte equal to
    TFLite Micro's in QEMU; without MULR, its layers take the HI forms."""
    board = needs(FAST_BOARDS[tier])
    monkeypatch.setattr(wide16, "ALLOW_MULR", mulr)
    models = built_models() + [(n, d) for n, d, _ in sweep_16x8()]
    blobs = dict(models)
    programs = [build_program(read_model_bytes(d, n), tier=tier, flash_budget=board.flash.length, optimize=optimize)
                for n, d in models]
    fast_calls = [[s.call for s in p.steps if s.call is not None and s.call.function in FAST_16] for p in programs]
    assert sum(map(bool, fast_calls)) >= 15
    calls = [c for cs in fast_calls for c in cs]
    # every form of the matrix multiply's requantization runs, and the weight form asked for
    first = wide16.W16_MULR if mulr else wide16.W16_HI
    assert {c.fields["requant"] for c in calls if "mm" in c.function} == {first, wide16.W16_R64, wide16.W16_R32}
    assert {c.fields["requant"] for c in calls if "dw" in c.function} == {first}
    # Helium's MULR depthwise takes 8 channels a step where they divide
    assert {c.fields["step"] for c in calls if "dw" in c.function} == ({4, 8} if tier == "mve" and mulr else {4})
    if tier == "dsp":
        assert {c.fields["wide_weights"] for c in calls if "mm" in c.function} == {int(optimize == "speed")}
    checked = []
    for k, group in enumerate(pack(board, programs)):
        with running_firmware(board, group, [blobs[p.graph.name] for p in group], tmp_path / f"fw{k}") as dev:
            for prog in group:
                result = verify_on_device(dev, Reference(blobs[prog.graph.name]), prog, n_random=3, seed=k)
                assert result.ok, f"{prog.graph.name} on {board.name} ({tier}): first mismatch {result.mismatches[0]}"
                checked.append(prog.graph.name)
    assert sorted(checked) == sorted(blobs)


# The rounded high multiply of the MULR forms made a plain one (no rounding), on Arm only
# (the host's C form is left alone): in pb_fast16.h's SMMULR and Helium depthwise's VRMULH.
CORRUPTIONS = [("pb_fast16.h", '"smmulr %0, %1, %2"', '"smmul %0, %1, %2"'),
               ("mve/pb_depthwise_conv16.c", "vrmulhq_s32(", "vmulhq_s32(")]


@pytest.mark.parametrize("tier", sorted(FAST_BOARDS))
def test_a_corrupted_16x8_rounding_fails_the_device_check(tier, tmp_path, monkeypatch):
    """With the requantization's rounding corrupted, the keyword net's device check must
    fail, or it could not see a kernel bug."""
    import shutil

    import protobrain.codegen.kernels
    from protobrain.resources import kernels_dir

    board = needs(FAST_BOARDS[tier])
    kdir = tmp_path / "corrupted-kernels"
    shutil.copytree(kernels_dir(), kdir)
    for name, old, new in CORRUPTIONS:
        text = (kdir / name).read_text()
        assert old in text, f"{name} changed: update CORRUPTIONS"
        (kdir / name).write_text(text.replace(old, new))
    monkeypatch.setattr(protobrain.codegen.kernels, "kernels_dir", lambda: kdir)
    data = keyword_net_bytes()
    prog = build_program(read_model_bytes(data, "kws16"), tier=tier, flash_budget=board.flash.length)
    assert {s.call.fields["requant"] for s in prog.steps if s.call is not None and s.call.function in FAST_16} \
        == {wide16.W16_MULR}
    with running_firmware(board, [prog], [data], tmp_path / "fw") as dev:
        result = verify_on_device(dev, Reference(data), prog, n_random=3, seed=0)
    assert not result.ok, f"the {tier} 16x8 kernels with a corrupted rounding still matched TFLite Micro"
