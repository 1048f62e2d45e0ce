"""The QEMU sample: valid mutants as firmware on the simulated boards (QEMU_BOARDS: the DSP
tier on the Cortex-M4 qemu-mps2-an386, Helium on the Cortex-M55 qemu-mps3-an547), built
as `build` builds them for the board and invoked over serial. pick_qemu chooses the
mutants small enough to run there; run_on_board runs them, several models to a firmware,
and returns each one's outputs per input case, or RunFailed.
"""

from __future__ import annotations

import collections
import shutil
from functools import lru_cache
from pathlib import Path

from protobrain.boards import load_board
from protobrain.errors import ProtobrainError
from protobrain.firmware.build import build
from protobrain.run.device import Device
from protobrain.run.qemu import QemuBoard
from protobrain.verify.fuzz.cases import RunFailed, ValidMutant

QEMU_BOARDS = {"dsp": "qemu-mps2-an386", "mve": "qemu-mps3-an547"}  # tier -> the simulated board that runs it


@lru_cache(maxsize=None)
def board_flash(tier: str) -> int:
    """The flash bytes of the QEMU board that runs `tier` (what `build` gives the tier to spend)."""
    return load_board(QEMU_BOARDS[tier]).flash.length


def pick_qemu(sample: list[ValidMutant], count: int, max_macs: int = 20_000_000, max_arena: int = 512 << 10,
              max_const: int = 200 << 10, max_io: int = 4096) -> list[ValidMutant]:
    """Up to `count` mutants of `sample` to run in QEMU as well, round robin over the seed
    models: those that fit both boards' memory with room to spare and whose inputs cross
    the serial line (about 10 KiB/s in QEMU) quickly; distinct programs first."""
    groups = collections.defaultdict(list)
    for v in sorted(sample, key=lambda v: v.same_as_seed):
        if v.macs <= max_macs and v.arena <= max_arena and v.const_bytes <= max_const and v.io_bytes <= max_io:
            groups[v.seed].append(v)
    picked = []
    while len(picked) < count and any(groups.values()):
        for name in sorted(groups):
            if groups[name] and len(picked) < count:
                picked.append(groups[name].pop(0))
    return picked


def qemu_available() -> str | None:
    """None when the QEMU boards of QEMU_BOARDS can be built for and run here, else why not."""
    for name in QEMU_BOARDS.values():
        b = load_board(name)
        missing = [t for t in (b.toolchain_prefix + "gcc", b.run.get("qemu", "qemu-system-arm")) if not shutil.which(t)]
        if missing:
            return f"{', '.join(missing)} not installed (make setup installs it)"
    return None


def run_on_board(tier: str, items: list[tuple[int, ValidMutant, list]], out: Path, timeout: float,
                  done, per_firmware: int = 8) -> dict[int, list]:
    """Each (k, mutant, cases) of `items` as `build` makes it for the tier's QEMU board
    (QEMU_BOARDS), several models to a firmware, invoked over serial on every case.
    Returns {k: outputs per case}, or {k: RunFailed} for a mutant whose firmware does not
    build or that does not answer (QEMU then restarts for the models after it)."""
    board = load_board(QEMU_BOARDS[tier])
    results: dict[int, object] = {}
    progs = {}
    for k, vm, _ in items:
        try:  # the board's flash budget, as `build --board` gives the tier
            progs[k] = vm.program(tier, f"m{k}", board.flash.length)
        except ProtobrainError as e:
            results[k] = RunFailed("build-failed", str(e))
            done()
    cases = {k: c for k, _, c in items}
    data = {k: vm.data for k, vm, _ in items}

    def run_group(group: list[int]) -> None:
        try:
            image = build(board, [progs[k] for k in group], [data[k] for k in group], out / f"fw-{tier}-{group[0]}")
        except ProtobrainError as e:
            if len(group) == 1:
                results[group[0]] = RunFailed("build-failed", str(e))
                done()
            else:  # find the model(s) it is about
                run_group(group[:len(group) // 2])
                run_group(group[len(group) // 2:])
            return
        pending = list(range(len(group)))
        while pending:
            with QemuBoard(board, image.elf) as q, Device(q.port, timeout=timeout, retries=1) as dev:
                while pending:
                    j = pending.pop(0)
                    k = group[j]
                    try:
                        results[k] = [dev.invoke(j, *case).outputs for case in cases[k]]
                    except ProtobrainError as e:
                        results[k] = RunFailed("device", str(e))
                        break  # the firmware may be stuck: a fresh QEMU for the rest
                    finally:
                        done()

    ready = [k for k, _, _ in items if k in progs]
    for start in range(0, len(ready), per_firmware):
        run_group(ready[start:start + per_firmware])
    return results
