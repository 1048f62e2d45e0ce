"""The DSP tier's depthwise lines form (dsp/pb_depthwise_conv.c: 3x3 stride 1 on widened int16 lines):
which layers take it, and its results bit-exact with TFLite Micro on the simulated M4 for
the shapes the operator sweep leaves out (valid padding, even and odd lines, lines down the
columns, short lines)."""

from __future__ import annotations

import pytest
import test_op_conv as op_conv
from conftest import needs_simulator
from test_fast_kernels import _build_fitting, dw_bytes

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
    for s, lines in ((_spec(hw=(7, 9)), 1), (_spec(hw=(7, 9), strides=2), 0), (_spec(hw=(7, 9), act="n1to1"), 0)):
        (call,) = _lines_calls(build_program(read_model_bytes(dw_bytes(s), "m"), tier="dsp"))
        assert call.fields["lines"] == lines, s
        # the lines form plans its ring of lines; the generic form takes none (NULL)
        assert call.scratch_bytes > 0 if lines else (call.scratch_bytes == 0 and call.takes_scratch), s
        if lines:
            c = call.fields["channels"]
            assert len(call.fields["weights"].values) == 10 * c


def test_lines_form_bit_exact_on_simulated_m4(monkeypatch, tmp_path):
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard
    from protobrain.verify.compare import compare, test_inputs
    from protobrain.verify.reference import Reference

    board = needs_simulator("qemu-mps2-an386")
    monkeypatch.setattr(fast_dsp, "DW_LINES_MIN", 1)  # every 3x3 stride-1 shape takes the lines form
    blobs = [dw_bytes(_spec(**kw)) for kw in SHAPES]
    programs = [build_program(read_model_bytes(data, f"dwl{k}"), tier="dsp") for k, data in enumerate(blobs)]
    for p in programs:
        (call,) = _lines_calls(p)
        assert call.fields["lines"] == 1
    assert {_lines_calls(p)[0].fields["transposed"] for p in programs} == {0, 1}
    failures = []
    for progs, datas, image in _build_fitting(board, programs, blobs, tmp_path / "fw"):
        with QemuBoard(board, image.elf) as q, Device(q.port) as dev:
            for prog, data in zip(progs, datas):
                index = dev.model_index(prog.graph.name)

                def run(*xs, index=index):
                    return dev.invoke(index, *xs).outputs[0]

                cases = test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], 3, seed=0)
                result = compare(run, Reference(data), cases, prog.graph.name)
                if not result.ok:
                    failures.append(f"{prog.graph.name}: {len(result.mismatches)} of {result.cases} cases differ")
    assert not failures, "\n".join(failures)
