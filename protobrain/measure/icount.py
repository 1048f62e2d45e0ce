"""Exact instruction counts from QEMU: build the pb_icount TCG plugin and read its marks.

The firmware calls pb_mark() before an inference, after every step and after the last;
the plugin appends its running instruction count to a file at each mark. Differences of
consecutive marks are per-step instruction counts, identical from run to run.

In profile mode the plugin also counts executions per guest PC between two marks (by
their index in the run) and writes them as "pc count" lines: read_profile reads them.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from protobrain.boards import Board
from protobrain.errors import ProtobrainError, ToolchainError
from protobrain.resources import templates_dir
from protobrain.toolchain import cache_dir, elf_symbols, host_cc

HEADER_ENV = "PROTOBRAIN_QEMU_PLUGIN_H"
# Where a QEMU install (or `make setup`, from Debian's qemu source package) puts the API header.
HEADER_PLACES = ["/usr/local/include/qemu-plugin.h", "/usr/include/qemu-plugin.h", "/usr/include/qemu/qemu-plugin.h"]


def find_header() -> Path:
    given = os.environ.get(HEADER_ENV)
    if given:
        if not Path(given).is_file():
            raise ToolchainError(f"{HEADER_ENV}={given} is not a file; point it at qemu-plugin.h from your QEMU's source")
        return Path(given)
    for place in HEADER_PLACES:
        if Path(place).is_file():
            return Path(place)
    raise ToolchainError("qemu-plugin.h not found: run `make setup` (it fetches the header from Debian's qemu "
                         f"source package) or set {HEADER_ENV} to the header from your QEMU's source")


def build_plugin() -> Path:
    """Compile the plugin for this host (cached by source and header content)."""
    source = templates_dir() / "qemu_plugin" / "pb_icount.c"
    header = find_header()
    key = hashlib.sha256(source.read_bytes() + header.read_bytes()).hexdigest()[:16]
    lib = cache_dir().parent / "plugin" / f"pb_icount-{key}.so"
    if lib.exists():
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pb-plugin-") as tmp:
        inc = Path(tmp) / "include"
        inc.mkdir()
        shutil.copyfile(header, inc / "qemu-plugin.h")
        built = Path(tmp) / "pb_icount.so"
        proc = subprocess.run([host_cc(), "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared",
                               "-I", str(inc), "-o", str(built), str(source)], capture_output=True, text=True)
        if proc.returncode != 0:
            first = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else proc.returncode
            raise ToolchainError(f"the QEMU instruction-counting plugin failed to compile: {first}")
        shutil.move(str(built), lib)
    return lib


def read_profile(path: Path) -> dict[int, int]:
    """The plugin's per-PC counts: {pc: executions}."""
    counts = {}
    for line in path.read_text().splitlines():
        pc, count = line.split()
        counts[int(pc, 16)] = int(count)
    return counts


class InstructionCounter:
    """The plugin's arguments for one firmware, and the marks it has logged so far."""

    def __init__(self, board: Board, elf: Path, log: Path, profile: Path | None = None,
                 profile_marks: tuple[int, int | None] = (0, None)):
        """profile: also count per PC, from mark profile_marks[0] to mark profile_marks[1]
        (indices from the start of the run; None: the last mark), into this file."""
        symbols = elf_symbols(board, elf)
        for name in ("pb_marker", "pb_mark"):
            if name not in symbols:
                raise ProtobrainError(f"{elf} has no symbol {name}: rebuild it with this version of protobrain")
        mark = symbols["pb_mark"]
        args = [f"out={log}", f"marker={symbols['pb_marker'].address:#x}",
                f"mark_lo={mark.address:#x}", f"mark_hi={mark.address + mark.size:#x}"]
        skip = symbols.get("SysTick_Handler")
        if skip:
            args += [f"skip_lo={skip.address:#x}", f"skip_hi={skip.address + skip.size:#x}"]
        if profile is not None:
            first, last = profile_marks
            args += [f"profile={profile}", f"from={first}"] + ([f"to={last}"] if last is not None else [])
        self.qemu_args = ["-plugin", ",".join([str(build_plugin())] + args)]
        self.log = log
        self._offset = 0  # bytes of the log already read

    def new_marks(self) -> list[int]:
        """Instruction counts at each mark logged since the last call."""
        if not self.log.exists():
            return []
        with self.log.open("rb") as f:
            f.seek(self._offset)
            text = f.read()
        whole = text[:text.rfind(b"\n") + 1]  # a line is complete once the plugin wrote its newline
        self._offset += len(whole)
        return [int(v) for v in whole.split()]
