"""The lookup-table int8 ADD (protobrain/compiler/ops/tiers/add_lut.py, templates/kernels/dsp/pb_elementwise.c)
against TFLite Micro, compiled for the host.

Two-input ADD models built like test_op_pool_elementwise.py's: no activation, RELU,
RELU6, RELU_N1_TO_1, inputs of different scales and of very different scales (one input
multiplied by a constant first). Each model runs with the FAST requantization where the
generator picks it, and again forced to the EXACT one. One model feeds all 65536 pairs of
int8 inputs at once. accelerate_add must decline every call it does not cover.
"""

import numpy as np
import pytest
from builders import convert
from conftest import RecordedReference, assert_bit_exact
from test_op_pool_elementwise import _RANGES, _activation, _binary, _convert_two

from protobrain.compiler.ops.tiers import add_lut as fast_add
from protobrain.compiler.ops.tiers.add_lut import (
    ADD_LUT_EXACT,
    ADD_LUT_FAST,
    ADD_LUT_FAST_FULL,
    accelerate_add,
)
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.run.host import CompiledModel, build_shared_library
from protobrain.verify.reference import Reference

S = (4, 4, 8)


def _two_input_model(kind, shape, act, scale=1.0, mode="int8", rng=None):
    import tensorflow as tf

    def make():
        a = tf.keras.Input(shape, batch_size=1, name="in_a")
        b = tf.keras.Input(shape, batch_size=1, name="in_b")
        if kind == "add_ratio":  # the second input rescaled first: the ADD's input scales differ by `scale`
            y = tf.keras.layers.Add()([a, b * scale])
        else:
            y = _binary(kind, a, b)
        return tf.keras.Model([a, b], _activation(y, act))

    data_range = rng or _RANGES[act]
    return _convert_two(make, [shape, shape], mode, f"fast-add-{kind}-{shape}-{act}-{scale}", data_range)


def _programs(data: bytes, name: str):
    """The model's dsp-tier program with every same-shape int8 ADD as the lookup-table kernel."""
    prog = build_program(read_model_bytes(data, name), tier="dsp")
    for s in prog.steps:
        if s.call is not None and s.call.function == "pb_add_s8":
            fast = accelerate_add(s.call, prog.tier)
            if fast is not None:
                s.call = fast
    return prog


def _lut_calls(prog):
    return [s.call for s in prog.steps if s.call is not None and s.call.function == "pb_add_lut_s8"]


def _check(data: bytes, name: str, monkeypatch, want_fast: bool | None = True, extra_inputs=(), arena_size=None):
    """Bit-exact with TFLite Micro as the generator chooses, and with EXACT forced."""
    reference = RecordedReference(Reference(data, arena_size=arena_size))
    prog = _programs(data, name)
    calls = _lut_calls(prog)
    assert calls, "no ADD was rewritten to pb_add_lut_s8"
    if want_fast is not None:
        assert all((c.fields["mode"] in (ADD_LUT_FAST, ADD_LUT_FAST_FULL)) == want_fast for c in calls), \
            [c.fields for c in calls]
    assert_bit_exact(CompiledModel(prog, build_shared_library(prog)), reference, n_random=20,
                     extra_inputs=extra_inputs)

    with monkeypatch.context() as m:
        m.setattr(fast_add, "_fast_constants", lambda *a: None)
        prog = _programs(data, name + "_exact")
        calls = _lut_calls(prog)
        assert calls and all(c.fields["mode"] == ADD_LUT_EXACT for c in calls)
        assert_bit_exact(CompiledModel(prog, build_shared_library(prog)), reference, n_random=20,
                         extra_inputs=extra_inputs)


@pytest.mark.parametrize("kind,act", [
    ("add", None), ("add", "relu"), ("add", "relu6"), ("add", "n1to1"),
    ("add_op", None), ("add_scaled", None), ("add_scaled", "relu"),
])
def test_add_lut(kind, act, monkeypatch):
    _check(_two_input_model(kind, S, act), f"fastadd_{kind}_{act or 'none'}", monkeypatch)


@pytest.mark.parametrize("scale,act", [(0.01, None), (40.0, None), (1000.0, "relu"), (1e-4, "relu6")])
def test_add_lut_large_scale_ratio(scale, act, monkeypatch):
    data = _two_input_model("add_ratio", S, act, scale=scale)
    _check(data, f"fastadd_ratio_{str(scale).replace('.', '_').replace('-', 'm')}", monkeypatch)


@pytest.mark.parametrize("act", [None, "relu6"])
def test_add_lut_all_input_pairs(act, monkeypatch):
    """One inference over every (x, y) pair of int8 values."""
    data = _two_input_model("add", (256, 256), act, rng=(-3.0, 5.0))
    xs = np.arange(-128, 128, dtype=np.int8)
    a = np.repeat(xs, 256).reshape(1, 256, 256)
    b = np.tile(xs, 256).reshape(1, 256, 256)
    _check(data, f"fastadd_pairs_{act or 'none'}", monkeypatch, extra_inputs=[(a, b), (b, a)],
           arena_size=1 << 20)


def test_fast_matches_exact_arithmetic():
    """The FAST constants reproduce the exact requantization on every input pair, for
    scales spread over many octaves (the generator checks it too; this checks the check)."""
    from protobrain.compiler.ops.elementwise import _add_sub_params

    rng = np.random.default_rng(1)
    fast = full_seen = 0
    for _ in range(40):
        s1, s2, so = (np.float32(10.0 ** rng.uniform(-4, 1)) for _ in range(3))
        try:
            p = _add_sub_params(s1, s2, so, wide=False)
        except Exception:
            continue
        zp1, zp2, zpo = (int(v) for v in rng.integers(-128, 128, 3))
        t1 = fast_add.contribution_table(-zp1, 20, p["input1_mult"], p["input1_shift"])
        t2 = fast_add.contribution_table(-zp2, 20, p["input2_mult"], p["input2_shift"])
        # every other case with no activation (FAST_FULL: one SSAT), else ReLU (two USATs)
        lo = -128 if rng.integers(2) else max(zpo, -128)
        fields = {"output_mult": p["output_mult"], "output_shift": p["output_shift"], "output_offset": zpo,
                  "act_min": lo, "act_max": 127}
        got = fast_add._fast_constants(t1, t2, fields)
        if got is None:
            continue
        e, rnd, full = got
        assert full == (lo == -128)
        fast += 1
        full_seen += full
        sums = (t1[:, None] + t2[None, :]).reshape(-1)
        want = fast_add._requant_exact(sums, p["output_mult"], p["output_shift"], zpo, lo, 127)
        assert np.array_equal(fast_add._requant_fast(2 * sums, p["output_mult"], e, rnd, lo, 127, full), want)
    assert fast >= 10 and 3 <= full_seen <= fast - 3


# ---- where it does not apply -----------------------------------------------------------

def _first_call(data: bytes, name: str, function: str):
    prog = build_program(read_model_bytes(data, name), tier="portable")
    return next(s.call for s in prog.steps if s.call is not None and s.call.function == function)


def test_declines_other_calls():
    import dataclasses

    import tensorflow as tf

    call = _first_call(_two_input_model("add", S, None), "m", "pb_add_s8")
    assert accelerate_add(call, "dsp") is not None
    assert accelerate_add(call, "mve") is not None
    assert accelerate_add(call, "portable") is None

    # SUB and MUL, 16x8
    for kind, fn in (("sub", "pb_sub_s8"), ("mul", "pb_mul_s8")):
        assert accelerate_add(_first_call(_two_input_model(kind, S, None), "m", fn), "dsp") is None
    assert accelerate_add(_first_call(_two_input_model("add", S, None, mode="16x8"), "m", "pb_add_s16"), "dsp") is None

    # broadcasting: the lowering folds it into several loop levels or a stride of 0
    def make():
        a = tf.keras.Input(S, batch_size=1, name="in_a")
        b = tf.keras.Input((4, 1, 8), batch_size=1, name="in_b")
        return tf.keras.Model([a, b], a + b)

    data = _convert_two(make, [S, (4, 1, 8)], "int8", "fast-add-broadcast", (-1.0, 1.0))
    assert accelerate_add(_first_call(data, "m", "pb_add_s8"), "dsp") is None

    # a constant operand
    def make_const():
        x = tf.keras.Input(S, batch_size=1)
        return tf.keras.Model(x, x + tf.constant(np.linspace(-1.0, 1.0, S[-1], dtype=np.float32)))

    data = convert(make_const, [S], key="fast-add-const")
    const_call = _first_call(data, "m", "pb_add_s8_const")
    assert accelerate_add(const_call, "dsp") is None

    # the same call with its fields edited
    def edited(**changes):
        return dataclasses.replace(call, fields={**call.fields, **changes})

    assert accelerate_add(edited(stride2="{0, 0, 0, 0, 0, 0}"), "dsp") is None
    assert accelerate_add(edited(shape="{1, 1, 1, 1, 4, 32}", stride1="{0, 0, 0, 0, 32, 1}"), "dsp") is None
    assert accelerate_add(edited(const_input=1), "dsp") is None
    assert accelerate_add(dataclasses.replace(call, function="pb_sub_s8"), "dsp") is None
    assert accelerate_add(dataclasses.replace(call, inputs=call.inputs[:1]), "dsp") is None
