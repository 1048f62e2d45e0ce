"""Real-board flashing builds the right pyOCD / OpenOCD command (run here with stand-in tools
that record their arguments, since no board is attached)."""

import os
import stat

import pytest

from protobrain.boards import load_board
from protobrain.errors import ToolchainError
from protobrain.flashing import flash_command, flash_real_board


def fake_tool(bin_dir, name, log, rc=0):
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\nexit {rc}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


@pytest.mark.parametrize("name", ["nucleo_f446re", "nucleo_l4r5zi", "disco_f746ng", "nrf52840_dk"])
def test_flash_uses_the_board_files_tool(name, tmp_path, monkeypatch):
    board = load_board(name)
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    log = tmp_path / "calls.txt"
    fake_tool(tmp_path, "pyocd", log)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    cmd = flash_real_board(board, elf)
    assert cmd[:4] == ["pyocd", "flash", "--target", board.run["pyocd_target"]]
    assert log.read_text().split() == cmd[1:]
    assert flash_command(board, elf, "openocd")[-1] == f"program {elf} verify reset exit"


def test_flash_failure_and_missing_tool_are_clear(tmp_path, monkeypatch):
    board = load_board("nucleo_f446re")
    elf = tmp_path / "firmware.elf"
    elf.write_bytes(b"\x7fELF")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ToolchainError, match="pip install pyocd"):
        flash_real_board(board, elf)
    fake_tool(tmp_path, "openocd", tmp_path / "log", rc=1)
    with pytest.raises(ToolchainError, match="openocd failed to flash nucleo_f446re"):
        flash_real_board(board, elf, "openocd")
