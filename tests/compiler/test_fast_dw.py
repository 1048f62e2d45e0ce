"""The DSP tier's depthwise lines form (dsp/pb_depthwise_conv.c: 3x3 stride 1 on widened int16 lines)
and rows form (3x3 stride 1 or 2 on a ring of widened padded rows): which layers take them,
and their results bit-exact with TFLite Micro on the simulated M4 (and the rows form's C on the
host) for the shapes the operator sweep leaves out (valid padding, even and odd lines, lines
down the columns, short lines; strides, odd and tiny sizes)."""

from __future__ import annotations

import test_op_conv as op_conv
from conftest import assert_bit_exact, needs_simulator
from devices import mismatches_on_device
from test_fast_kernels import dw_bytes

from protobrain.compiler.ops.tiers import dsp as fast_dsp
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes

SHAPES = [
    dict(hw=(7, 9)),                       # odd lines along the rows
    dict(hw=(8, 6), padding="valid"),      # valid: no padding at all
    dict(hw=(12, 5)),                      # lines down the columns (out_h > out_w), odd
    dict(hw=(10, 3), padding="valid"),     # down the columns, even, valid
    dict(hw=(3, 4), cin=12),               # short lines: the per-line step count 2
]


def _spec(**kw) -> dict:
    return op_conv.D(cin=kw.pop("cin", 8), **kw).values[0]


def _lines_calls(program):
    return [s.call for s in program.steps if s.call is not None and s.call.function == "pb_fast_dw_s8"]


def test_lines_form_is_chosen_for_3x3_stride_1_only(monkeypatch):
    monkeypatch.setattr(fast_dsp, "DW_LINES_MIN", 1)
    monkeypatch.setattr(fast_dsp, "DW_ROWS_LINES_MIN", 1)  # not the rows form instead
    for s, lines in ((_spec(hw=(7, 9)), 1), (_spec(hw=(7, 9), strides=2), 0), (_spec(hw=(7, 9), act="n1to1"), 0)):
        (call,) = _lines_calls(build_program(read_model_bytes(dw_bytes(s), "m"), tier="dsp"))
        assert call.fields["lines"] == lines, s
        # the lines form plans its ring of lines; the generic form takes none (NULL)
        assert call.scratch_bytes > 0 if lines else (call.scratch_bytes == 0 and call.takes_scratch), s
        if lines:
            c = call.fields["channels"]
            assert len(call.fields["weights"].values) == 10 * c


def test_lines_form_bit_exact_on_simulated_m4(monkeypatch, tmp_path):

    board = needs_simulator("qemu-mps2-an386")
    monkeypatch.setattr(fast_dsp, "DW_LINES_MIN", 1)  # every 3x3 stride-1 shape takes the lines form
    monkeypatch.setattr(fast_dsp, "DW_ROWS_LINES_MIN", 1)
    blobs = [dw_bytes(_spec(**kw)) for kw in SHAPES]
    programs = [build_program(read_model_bytes(data, f"dwl{k}"), tier="dsp") for k, data in enumerate(blobs)]
    for p in programs:
        (call,) = _lines_calls(p)
        assert call.fields["lines"] == 1
    assert {_lines_calls(p)[0].fields["transposed"] for p in programs} == {0, 1}
    failures, _ = mismatches_on_device(board, programs, blobs, tmp_path / "fw")
    assert not failures, "\n".join(failures)


ROWS_SHAPES = [
    dict(hw=(7, 9)),                                   # stride 1, odd rows
    dict(hw=(8, 6), padding="valid"),                  # stride 1, no padding
    dict(hw=(7, 9), strides=2),                        # stride 2, odd: padding on all sides
    dict(hw=(8, 6), strides=2, cin=12),                # stride 2, even: padding below and right only
    dict(hw=(9, 7), strides=2, padding="valid"),
    dict(hw=(5, 9), strides=(1, 2), cin=12),           # strides differing by axis
    dict(hw=(6, 5), strides=(2, 1)),
    dict(hw=(3, 3), cin=16),                           # 3x3: every pixel on a border
    dict(hw=(1, 5)),                                   # one row: two of the window's rows padding
    dict(hw=(2, 3), strides=2, cin=4),                 # one output pixel, one group of channels
    dict(hw=(6, 7), act="relu6"),                      # activations whose range is all of int8's
    dict(hw=(6, 6), strides=2, act="n1to1"),
]
# where the rows form does not apply: whatever form they take, still exact
ROWS_OTHERS = [dict(hw=(7, 9), cin=6), dict(hw=(7, 9), act="n1to1")]  # (the latter's clamp: 126)


def _force_rows(monkeypatch):
    monkeypatch.setattr(fast_dsp, "DW_ROWS_MIN", 1)  # every row length takes the rows form
    monkeypatch.setattr(fast_dsp, "DW_ROWS_LINES_MIN", 1 << 20)  # and no stride-1 layer the lines form


def test_rows_form_is_chosen_for_3x3_stride_1_and_2_over_all_of_int8(monkeypatch):
    _force_rows(monkeypatch)
    for kw in ROWS_SHAPES:
        (call,) = _lines_calls(build_program(read_model_bytes(dw_bytes(_spec(**kw)), "m"), tier="dsp"))
        f = call.fields
        assert (f["rows_form"], f["lines"], f["quant"], call.entry) == (1, 0, "NULL", "pb_fast_dw_rows_s8"), kw
        assert len(f["weights"].values) == 34 * f["channels"] // 4, kw
        assert call.scratch_bytes == 48 * ((f["out_w"] - 1) * f["stride_w"] + 3), kw
    for kw in ROWS_OTHERS:  # channels not a multiple of 4, clamped activations
        calls = _lines_calls(build_program(read_model_bytes(dw_bytes(_spec(**kw)), "m"), tier="dsp"))
        assert all(c.fields["rows_form"] == 0 for c in calls), kw
    # the generator's own choice: long stride-1 lines keep the lines form, short rows the generic one
    monkeypatch.undo()
    for kw, form in ((dict(hw=(30, 30)), "pb_fast_dw_lines_s8"), (dict(hw=(12, 12)), "pb_fast_dw_rows_s8"),
                     (dict(hw=(24, 24), strides=2), "pb_fast_dw_rows_s8"),
                     (dict(hw=(3, 3)), "pb_fast_dw_3x3_fast_full_s8"),
                     (dict(hw=(12, 12), strides=2), "pb_fast_dw_3x3_fast_full_s8")):
        (call,) = _lines_calls(build_program(read_model_bytes(dw_bytes(_spec(**kw)), "m"), tier="dsp"))
        assert call.entry == form, kw


def test_rows_form_c_bit_exact_on_host(monkeypatch):
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    _force_rows(monkeypatch)
    for k, kw in enumerate(ROWS_SHAPES + ROWS_OTHERS):
        data = dw_bytes(_spec(**kw))
        assert_bit_exact(compile_bytes(data, f"dwr{k}", tier="dsp"), Reference(data), n_random=5)


def test_rows_form_bit_exact_on_simulated_m4(monkeypatch, tmp_path):

    board = needs_simulator("qemu-mps2-an386")
    _force_rows(monkeypatch)
    blobs = [dw_bytes(_spec(**kw)) for kw in ROWS_SHAPES + ROWS_OTHERS]
    programs = [build_program(read_model_bytes(data, f"dwr{k}"), tier="dsp") for k, data in enumerate(blobs)]
    assert sum(c.fields["rows_form"] for p in programs for c in _lines_calls(p)) == len(ROWS_SHAPES)
    failures, _ = mismatches_on_device(board, programs, blobs, tmp_path / "fw")
    assert not failures, "\n".join(failures)
