"""Putting firmware on a real board with the board file's flash tool (pyOCD or OpenOCD)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from .boards import Board
from .errors import ProtobrainError, ToolchainError

TOOLS = ("pyocd", "openocd")


def flash_command(board: Board, elf: Path, tool: str) -> list[str]:
    run = board.run
    if tool == "pyocd":
        if "pyocd_target" not in run:
            raise ProtobrainError(f"boards/{board.name}.toml names no pyocd_target; use --tool openocd")
        return ["pyocd", "flash", "--target", run["pyocd_target"], "--format", "elf", str(elf)]
    if tool == "openocd":
        if "openocd_config" not in run:
            raise ProtobrainError(f"boards/{board.name}.toml names no openocd_config; use --tool pyocd")
        return ["openocd", "-f", run["openocd_config"], "-c", f"program {elf} verify reset exit"]
    raise ProtobrainError(f"unknown flash tool '{tool}'; choose {' or '.join(TOOLS)}")


def flash_real_board(board: Board, elf: Path, tool: str | None = None) -> list[str]:
    """Flash with the chosen tool, or the first of pyOCD/OpenOCD that is installed."""
    candidates = [tool] if tool else [t for t in TOOLS if (t == "pyocd" and "pyocd_target" in board.run)
                                      or (t == "openocd" and "openocd_config" in board.run)]
    for t in candidates:
        if shutil.which(t):
            cmd = flash_command(board, elf, t)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr or proc.stdout).strip().splitlines()
                raise ToolchainError(f"{t} failed to flash {board.name}: {last[-1] if last else proc.returncode}")
            return cmd
    raise ToolchainError(f"no flash tool for {board.name} found; install one: pip install pyocd (target "
                         f"{board.run.get('pyocd_target', '?')}) or apt-get install openocd")
