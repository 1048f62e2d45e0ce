"""Figures on simulated boards: QEMU's timers count virtual time, not cycles, so every
command reports exact instructions (the plugin) or instructions from the virtual clock,
scaled by the rate the machine's timer ticks in QEMU, and never "cycles"."""

import re
import subprocess
import sys

import pytest
from conftest import needs_instruction_counter, shared_model

from protobrain.boards import board_names, load_board
from protobrain.firmware.programs import load_programs

CLI = [sys.executable, "-m", "protobrain.cli.main"]
SIMULATED = [b for b in board_names() if load_board(b).simulated]
MODEL = "micro_speech_quantized"  # fits every simulated board, the 16 KB micro:bit too


def _plugin_and_timer_counts(board, path, tmp_path, inputs=2):
    """(plugin count, timer count, timer kind) of a few inferences of one firmware."""
    from protobrain.firmware.build import build
    from protobrain.measure.bench import inference_counts
    from protobrain.measure.icount import InstructionCounter
    from protobrain.run.device import Device
    from protobrain.run.qemu import QemuBoard
    from protobrain.verify.compare import test_inputs

    progs, blobs = load_programs([str(path)], "best", "auto", [board.name])
    prog = progs[0]
    elf = build(board, progs, blobs, tmp_path / "fw").elf
    counter = InstructionCounter(board, elf, tmp_path / "marks.txt")
    found = []
    with QemuBoard(board, elf, extra_args=counter.qemu_args) as q, Device(q.port) as dev:
        for xs in test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], inputs, 0)[:inputs]:
            counter.new_marks()
            r = dev.invoke(0, *xs)
            exact, _ = inference_counts(prog, counter.new_marks())
            found.append((exact, r.count, r.count_kind))
    return prog, found


def _close(virtual: int, exact: int, board) -> bool:
    """The timer starts and stops a few instructions outside the marks, and reads whole ticks."""
    tick = 1e9 / board.run.get("timer_hz", board.clock_hz)
    return abs(virtual - exact) <= 2 * tick + 64 + exact / 1000


@pytest.mark.parametrize("name", SIMULATED)
def test_the_virtual_clock_scaled_is_the_instruction_count_on_every_simulated_board(name, tmp_path):
    from protobrain.run.qemu import VIRTUAL_CLOCK, timer_figure

    board = needs_instruction_counter(name)
    _, found = _plugin_and_timer_counts(board, shared_model(MODEL), tmp_path)
    for exact, count, kind in found:
        assert kind.startswith("cycles")  # what the firmware believes it counts
        virtual, unit = timer_figure(board, count, kind)
        assert unit == VIRTUAL_CLOCK
        assert _close(virtual, exact, board), f"{name}: {count:,} {kind} -> {virtual:,}, plugin {exact:,}"


def test_a_real_boards_timer_counts_are_cycles():
    from protobrain.run.qemu import timer_figure

    assert timer_figure(load_board("nucleo_f446re"), 1234, "cycles (DWT)") == (1234, "cycles (DWT)")


def test_verify_on_a_simulated_board_prints_instructions_not_cycles(tmp_path):
    """verify's count per inference is bench's exact count to within a timer tick."""
    board = needs_instruction_counter("qemu-mps2-an386")
    path = shared_model(MODEL)
    proc = subprocess.run([*CLI, "verify", str(path), "-b", board.name, "-n", "1"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "cycles" not in proc.stdout, proc.stdout
    shown = re.search(r"([\d,]+) instructions \(from the virtual clock\)", proc.stdout)
    assert shown, proc.stdout
    _, found = _plugin_and_timer_counts(board, path, tmp_path, inputs=1)
    assert _close(int(shown.group(1).replace(",", "")), found[0][0], board), (shown.group(0), found[0][0])


def test_bench_over_the_port_of_a_simulated_board_counts_virtual_instructions(tmp_path):
    """bench --port on QEMU started elsewhere (protobrain flash): no plugin, so the timer's
    virtual time, as instructions, per model and per layer."""
    from protobrain.firmware.build import build
    from protobrain.measure.bench import run_bench
    from protobrain.run.qemu import VIRTUAL_CLOCK, QemuBoard

    board = needs_instruction_counter("qemu-mps2-an386")
    path = shared_model(MODEL)
    progs, blobs = load_programs([str(path)], "best", "auto", [board.name])
    exact = run_bench(board, progs, [str(path)], blobs, n_inputs=1).models[0]
    image = build(board, progs, blobs, tmp_path / "fw")
    with QemuBoard(board, image.elf) as q:
        timed = run_bench(board, progs, [str(path)], blobs, n_inputs=1, port=q.port, fw_dir=tmp_path / "fw").models[0]
    assert exact.count_kind == "instructions" and timed.count_kind == VIRTUAL_CLOCK
    assert _close(timed.count, exact.count, board), (timed.count, exact.count)
    for mine, theirs in zip(timed.layers, exact.layers):
        assert _close(mine.count, theirs.count, board), (mine, theirs)
