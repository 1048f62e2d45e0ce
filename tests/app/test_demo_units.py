"""What a demo's figures are, on each kind of target: exact instructions from QEMU's plugin,
a real board's cycles named by its timer (DWT, SysTick, mcycle), and on a simulated board
reached over a port (no plugin) instructions from its virtual clock; never a bare "timer
count"."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from protobrain.app.demo import Protobrain
from protobrain.boards import load_board
from protobrain.cli.bundle import _rate
from protobrain.run.qemu import VIRTUAL_CLOCK, virtual_clock_instructions

HOP = 4


class FakeBundle:
    """A bundle firmware as seen over a port: its INFO, its timer's kind, fixed counts."""

    def __init__(self, board: str, kind: str):
        self.port_name = "/dev/ttyFAKE"
        self.kind = kind
        self.frames = 0
        self._info = {
            "board": board, "clock_hz": 64_000_000,
            "models": [{"name": "vision", "inputs": [{"shape": [1, 2, 2, 1], "dtype": "int8", "scale": 1 / 128,
                                                      "zero_point": 0}],
                        "outputs": [{"scale": 1 / 256, "zero_point": -128}]}],
            "protobrain": {"vision": {"model": 0, "classes": ["a", "b"]},
                           "synth": {"keywords": ["yes"], "temperature": 0.0, "sample_rate": 8000}},
        }

    def info(self):
        return self._info

    def profile(self):
        return SimpleNamespace(count_kind=self.kind)

    def invoke(self, model, x):
        return SimpleNamespace(outputs=[np.array([[10, 90]], np.int8)], count=40_000, count_kind=self.kind)

    def speak(self, keyword, temperature_q8, seed):
        return 2, HOP

    def speak_next(self):
        self.frames += 1
        return (np.zeros(HOP, np.int16), 1_000) if self.frames <= 2 else (np.zeros(0, np.int16), 0)


def test_a_real_board_reports_its_cycles_by_timer_kind():
    pb = Protobrain(FakeBundle("nucleo_f446re", "cycles (DWT)"))
    seen = pb.see(np.zeros((1, 2, 2, 1), np.float32))
    assert (seen.count, seen.unit) == (40_000, "cycles (DWT)")
    spoken = pb.speak("yes")
    assert (spoken.per_sample, spoken.unit) == (2_000 / (2 * HOP), "cycles (DWT)")
    assert "timer" not in seen.unit


def test_a_simulated_board_over_a_port_reports_instructions_from_its_virtual_clock():
    board = load_board("qemu-mps2-an386")
    pb = Protobrain(FakeBundle(board.name, "cycles (SysTick)"))
    seen = pb.see(np.zeros((1, 2, 2, 1), np.float32))
    assert seen.unit == VIRTUAL_CLOCK and seen.count == virtual_clock_instructions(board, 40_000)
    spoken = pb.speak("yes")
    assert spoken.per_sample == virtual_clock_instructions(board, 2_000) / (2 * HOP)


def test_a_core_without_a_timer_says_so():
    pb = Protobrain(FakeBundle("nucleo_f446re", "none"))
    assert "no timer" in pb.see(np.zeros((1, 2, 2, 1), np.float32)).unit


@pytest.mark.parametrize("unit, estimate", [("cycles (DWT)", False), ("instructions", True),
                                            (VIRTUAL_CLOCK, True)])
def test_real_time_factor_says_when_it_assumes_one_instruction_per_cycle(unit, estimate):
    text = _rate(37_563, unit, 25_000_000, 8000)
    assert text.startswith(f"37,563 {unit} per sample") and "allows 3,125 cycles" in text
    assert ("one instruction per cycle" in text) == estimate
