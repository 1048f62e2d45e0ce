"""The ARMv6-M kernel tier (protobrain/compiler/ops/tiers/armv6m.py, templates/kernels/armv6m/):
which calls it takes over, and the int8 operator sweep bit-exact against TFLite Micro in its
plain-C form on this host and in its Thumb-1 form (inline assembly) on simulated boards: the
AN385 built for cortex-m0plus, and the micro:bit's Cortex-M0 for the cases that fit it."""

from __future__ import annotations

import pytest
import test_fast_kernels as fk
import test_op_conv as op_conv
from conftest import RecordedReference, assert_bit_exact, needs_simulator
from devices import mismatches_on_device

from protobrain.compiler.ops.tiers import select as fast
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes

KERNELS = {("armv6m", "pb_conv"), ("armv6m", "pb_depthwise_conv")}


def _wanted():
    """desc -> whether the tier takes the sweep case: every int8 one but grouped convolution
    and depth multipliers above 1 (FULLY_CONNECTED and the extra models always)."""
    conv = {op_conv._key("conv2d", s): s["groups"] == 1 for s in fk._specs(op_conv.CONV_CASES, "int8")}
    dw = {op_conv._key("dwconv2d", s): s["dm"] == 1 for s in fk._specs(op_conv.DW_CASES, "int8")}
    return conv | dw


def _check_tier(models, programs):
    wanted = _wanted()
    n_fast = 0
    for (_, _, _, desc), prog in zip(models, programs):
        layers = [s for s in prog.steps if s.op.name in fk.ACCELERATED_OPS]
        assert layers, desc
        if wanted.get(desc, True):
            assert all((s.call.tier, s.call.kernel) in KERNELS for s in layers), f"{desc}: {prog.kernels()}"
            n_fast += 1
        else:
            assert not KERNELS & set(prog.kernels()), f"{desc}: {prog.kernels()}"
    return n_fast


def test_boards_of_armv6m_cores_choose_the_tier():
    from protobrain.boards import load_board

    for name in ("qemu-microbit", "rpi_pico", "qemu-mps2-an385-armv6m"):
        assert fast.tier_for(load_board(name).features) == "armv6m", name
    assert fast.tier_for(load_board("qemu-mps2-an385").features) == "portable"
    assert fast.tier_for(load_board("qemu-mps2-an386").features) == "dsp"


def test_sweep_bit_exact_on_host():
    """Every int8 CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED case of the operator sweep,
    the ARMv6-M tier's C form compiled for this host: each output byte equals TFLite Micro's."""
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    models = fk.sweep_models("int8")
    programs = [build_program(read_model_bytes(data, name), tier="armv6m") for name, data, _, _ in models]
    assert _check_tier(models, programs) >= 50
    for name, data, _, desc in models:
        compiled = compile_bytes(data, name, tier="armv6m")
        assert_bit_exact(compiled, RecordedReference(Reference(data)), n_random=5, seed=1)


@pytest.mark.parametrize("board_name", ["qemu-mps2-an385-armv6m", "qemu-microbit"])
def test_sweep_bit_exact_on_simulated_core(board_name, tmp_path):
    """The same sweep in QEMU, built with the board's flags (Thumb-1 inline assembly): on the
    AN385 every case, on the micro:bit (16 KB of RAM) the cases that fit it."""
    from protobrain.firmware.build import DoesNotFit

    board = needs_simulator(board_name)
    assert fast.tier_for(board.features) == "armv6m"
    models = fk.sweep_models("int8")
    programs = [build_program(read_model_bytes(data, name), tier="armv6m") for name, data, _, _ in models]
    _check_tier(models, programs)
    if board_name == "qemu-microbit":
        keep = [k for k, p in enumerate(programs) if p.arena_size < 6 * 1024]
        models, programs = [models[k] for k in keep], [programs[k] for k in keep]
        assert len(models) >= 20
    by_name = {name: desc for name, _, _, desc in models}
    try:
        failures, compared = mismatches_on_device(
            board, programs, [m[1] for m in models], tmp_path / "fw",
            describe=lambda prog: f"{prog.graph.name} [{by_name[prog.graph.name]}] on {board_name}")
    except DoesNotFit as e:
        pytest.fail(f"a single sweep case does not fit {board_name}: {e}")
    assert not failures, "\n".join(failures)
    assert compared == 6 * len(models)
