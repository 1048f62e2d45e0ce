"""Where generated code runs for verify: this host (ctypes) or a board over serial."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import numpy as np

from protobrain.boards import load_board
from protobrain.compiler.program import Program
from protobrain.errors import ProtobrainError
from protobrain.firmware.build import build
from protobrain.run.device import Device, DeviceError
from protobrain.run.flashing import firmware_elf
from protobrain.run.host import CompiledModel, build_shared_library
from protobrain.run.qemu import QemuBoard, timer_figure
from protobrain.verify.layers import capture_layers


class HostTarget:
    def __init__(self):
        self._loaded = {}  # model name -> CompiledModel: build and load each model once

    def _compiled(self, program: Program):
        name = program.graph.name
        if name not in self._loaded:
            self._loaded[name] = CompiledModel(program, build_shared_library(program, name))
        return self._loaded[name]

    def runner(self, program: Program):
        return self._compiled(program).run

    def layer_runner(self, program: Program):
        return self._compiled(program).run_layers

    def last_count_text(self) -> str:
        return "-"


class DeviceTarget:
    def __init__(self, device, board=None):
        self.device = device
        self.board = board  # the board it runs on: a simulated board's timer counts virtual time
        self.counts: list[int] = []
        self.kind = ""

    def runner(self, program: Program):
        index = self.device.model_index(program.graph.name)

        def run(*xs):
            r = self.device.invoke(index, *xs)
            count, self.kind = timer_figure(self.board, r.count, r.count_kind) if self.board else (r.count, r.count_kind)
            self.counts.append(count)
            return r.outputs[0] if len(r.outputs) == 1 else r.outputs

        self.counts = []
        return run

    def layer_runner(self, program: Program):
        dev, index = self.device, self.device.model_index(program.graph.name)
        return lambda *xs: capture_layers(program, xs, lambda off, data: dev.write_arena(index, off, data),
                                          lambda k: dev.run_steps(index, k, k + 1),
                                          lambda off, n: dev.read_arena(index, off, n))

    def last_count_text(self) -> str:
        if not self.counts:
            return "-"
        return f"{int(np.median(self.counts)):,} {self.kind}"


@contextlib.contextmanager
def open_target(board: str, programs: list[Program], blobs: list[bytes], fw_dir=None, port=None,
                serial="tcp", console=None):
    if board == "host":
        if port or fw_dir:
            raise ProtobrainError("--port and --firmware need --board NAME (the board the firmware was built for)")
        yield HostTarget()
        return
    b = load_board(board)
    if fw_dir:
        firmware_elf(fw_dir, b)  # a build for another board is refused before anything starts
    if port:
        with Device(port) as dev:
            runs = dev.info().get("board")
            if runs != b.name:
                raise DeviceError(f"the device on {port} runs firmware built for {runs}, not {b.name}: "
                                  f"pass --board {runs}, or flash a build for {b.name}")
            yield DeviceTarget(dev, b)
        return
    if not b.simulated:
        raise ProtobrainError(f"{b.name} is a real board: flash it, then pass its serial port with --port")
    with tempfile.TemporaryDirectory(prefix="pb-fw-") as tmp:
        if fw_dir:
            elf = firmware_elf(fw_dir, b)
        else:
            if console:
                console.print(f"building firmware for {b.name} ...")
            elf = build(b, programs, blobs, Path(tmp) / "fw").elf
        with QemuBoard(b, elf, serial=serial) as q, Device(q.port) as dev:
            if console:
                console.print(f"{b.name} running in QEMU, serial {q.port}")
            yield DeviceTarget(dev, b)
