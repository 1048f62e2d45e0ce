"""The external tools every stage asks for: the host C compiler, a board's cross tools
(gcc, objcopy, nm, size, objdump), what nm and size say about a linked image, and the
cache folder. One place finds a tool or says how to install it; nm and size run once per
image (their answers are cached by the file's path, size and modification time)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from protobrain.boards import Board
from protobrain.errors import ToolchainError

# Allocator entry points: an image that defines any of them can allocate at run time.
HEAP_SYMBOLS = {"malloc", "free", "calloc", "realloc", "_malloc_r", "_free_r", "_calloc_r", "_realloc_r",
                "_sbrk", "_sbrk_r", "sbrk"}


def cache_dir() -> Path:
    """Where compiled host libraries are cached (PROTOBRAIN_CACHE, else ~/.cache/protobrain)."""
    base = os.environ.get("PROTOBRAIN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "protobrain")
    path = Path(base) / "host"
    path.mkdir(parents=True, exist_ok=True)
    return path


def host_cc() -> str:
    cc = os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise ToolchainError(f"host C compiler '{cc}' not found; install gcc (apt-get install gcc) or set CC")
    return cc


def cross_tool(board: Board, tool: str) -> str:
    """The board's cross tool (gcc, objcopy, nm, size, objdump), or how to install it."""
    exe = board.toolchain_prefix + tool
    if shutil.which(exe) is None:
        pkg = "gcc-arm-none-eabi libnewlib-arm-none-eabi" if board.arch == "arm" else "gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf"
        raise ToolchainError(f"{exe} not found; install it with: apt-get install {pkg} (or run make setup)")
    return exe


def _stamp(elf: Path) -> tuple[str, int, int]:
    st = Path(elf).stat()
    return str(Path(elf).resolve()), st.st_size, st.st_mtime_ns


@functools.lru_cache(maxsize=64)
def _run_cached(tool: str, args: tuple[str, ...], stamp: tuple[str, int, int]) -> str:
    return subprocess.run([tool, *args, stamp[0]], capture_output=True, text=True, check=True).stdout


def section_sizes(board: Board, elf: Path) -> tuple[int, int, int]:
    """text, data and bss of a linked image (`size -B`)."""
    out = _run_cached(cross_tool(board, "size"), ("-B",), _stamp(elf))
    text, data, bss = (int(v) for v in out.splitlines()[1].split()[:3])
    return text, data, bss


@dataclass
class Symbol:
    address: int
    size: int


def _nm(board: Board, elf: Path) -> list[tuple[int, int | None, str, str]]:
    """(address, size or None, type, name) of every defined symbol (`nm -S`, one run per image)."""
    out = _run_cached(cross_tool(board, "nm"), ("-S", "--defined-only"), _stamp(elf))
    rows = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            rows.append((int(parts[0], 16), int(parts[1], 16), parts[2], parts[3]))
        elif len(parts) == 3:  # no size: labels, section and linker symbols
            rows.append((int(parts[0], 16), None, parts[1], parts[2]))
    return rows


def elf_symbols(board: Board, elf: Path) -> dict[str, Symbol]:
    """Defined symbols that have a size (Thumb bit cleared, so addresses are instruction addresses)."""
    return {name: Symbol(address & ~1, size) for address, size, _, name in _nm(board, elf) if size is not None}


def function_symbols(board: Board, elf: Path) -> list[tuple[int, int, str]]:
    """Code symbols (nm types t/T/w/W) as (address, size, name), sorted by address, Thumb bit cleared."""
    found = {}
    for address, size, kind, name in _nm(board, elf):
        if kind in "tTwW" and size and (address & ~1, size) not in found:
            found[(address & ~1, size)] = name
    return sorted((a, n, name) for (a, n), name in found.items())


def heap_symbols(board: Board, elf: Path) -> list[str]:
    """The allocator symbols an image defines (none for protobrain firmware)."""
    return sorted(HEAP_SYMBOLS & {name for _, _, _, name in _nm(board, elf)})
