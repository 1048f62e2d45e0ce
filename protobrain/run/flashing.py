"""Putting firmware on a real board with the board file's flash tool: PlatformIO upload,
pyOCD or OpenOCD through a debug probe, or a UF2 copy to the board's USB boot drive
(RP2040); then checking over the board's serial port that it runs the firmware built."""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from protobrain.boards import Board
from protobrain.errors import ProtobrainError, ToolchainError
from protobrain.firmware.platformio import upload_command, write_project
from protobrain.run.device import Device, DeviceError, LinkError

TOOLS = ("platformio", "pyocd", "openocd")
# Where desktop Linux mounts removable drives.
MOUNT_ROOTS = ("/media/*/{label}", "/media/{label}", "/run/media/*/{label}", "/mnt/{label}")


@dataclass
class Flashed:
    """How the firmware went onto the board: a UF2 file copied to its boot drive, or the
    flash tool's command line."""

    uf2: Path | None = None
    command: list[str] = field(default_factory=list)


def firmware_elf(fw_dir, board: Board | str) -> Path:
    """The firmware.elf in a build folder for `board`, or an error saying how to build it.
    Firmware built for another board (its info.json names the board) is refused here, up
    front: on the wrong board or simulator it answers nothing, or the wrong thing."""
    name = board if isinstance(board, str) else board.name
    elf = Path(fw_dir) / "firmware.elf"
    if not elf.exists():
        raise ProtobrainError(f"{elf} not found; build it first with: protobrain build MODEL --board {name} -o {fw_dir}")
    built_for = _built_for(Path(fw_dir))
    if built_for is not None and built_for != name:
        raise ProtobrainError(f"{fw_dir} holds firmware built for {built_for}, not {name}: pass --board {built_for}, "
                              f"or build for {name} with: protobrain build MODEL --board {name} -o DIR")
    return elf


def _built_for(fw_dir: Path) -> str | None:
    """The board a build folder's info.json names (None: no info.json, or none readable)."""
    try:
        return json.loads((fw_dir / "info.json").read_text()).get("board")
    except (OSError, ValueError, AttributeError):
        return None


def find_uf2_drive(label: str) -> Path | None:
    """The mounted boot drive (it holds INFO_UF2.TXT), or None."""
    for pattern in MOUNT_ROOTS:
        for place in sorted(glob.glob(pattern.format(label=label))):
            if (Path(place) / "INFO_UF2.TXT").exists():
                return Path(place)
    return None


def copy_uf2(board: Board, uf2_file: Path, drive: str | None = None) -> Path:
    """Copy firmware.uf2 to the boot drive; the board flashes itself and restarts."""
    label = board.run.get("uf2_drive_label", "")
    target = Path(drive) if drive else find_uf2_drive(label)
    if target is None:
        raise ToolchainError(f"no {label} drive mounted: hold BOOTSEL while plugging in the {board.name}, "
                             "then run again (or pass --drive MOUNTPOINT)")
    if not (target / "INFO_UF2.TXT").exists():
        raise ProtobrainError(f"{target} is not a UF2 boot drive (no INFO_UF2.TXT)")
    if not uf2_file.exists():
        raise ProtobrainError(f"{uf2_file} not found; rebuild with: protobrain build MODEL --board {board.name}")
    dest = target / uf2_file.name
    shutil.copyfile(uf2_file, dest)
    return dest


def flash_command(board: Board, elf: Path, tool: str) -> list[str]:
    run = board.run
    if tool == "platformio":
        project = write_project(board, elf.parent, elf.parent / "platformio").parent
        return upload_command(board, project)
    if tool == "pyocd":
        if "pyocd_target" not in run:
            raise ProtobrainError(f"boards/{board.name}.toml names no pyocd_target; use --tool openocd")
        return ["pyocd", "flash", "--target", run["pyocd_target"], "--format", "elf", str(elf)]
    if tool == "openocd":
        if "openocd_config" not in run:
            raise ProtobrainError(f"boards/{board.name}.toml names no openocd_config; use --tool pyocd")
        return ["openocd", "-f", run["openocd_config"], "-c", f"program {elf} verify reset exit"]
    raise ProtobrainError(f"unknown flash tool '{tool}'; choose one of {', '.join(TOOLS)}")


def _installed(tool: str) -> bool:
    if tool == "platformio":
        return bool(shutil.which("pio") or shutil.which("platformio"))
    return bool(shutil.which(tool))


def flash_real_board(board: Board, elf: Path, tool: str | None = None) -> list[str]:
    """Flash with the chosen tool, or the first installed one the board file names:
    PlatformIO upload (method "platformio"), then pyOCD, then OpenOCD."""
    candidates = [tool] if tool else [t for t in TOOLS if (t == "platformio" and board.run.get("method") == "platformio"
                                                           and board.platformio)
                                      or (t == "pyocd" and "pyocd_target" in board.run)
                                      or (t == "openocd" and "openocd_config" in board.run)]
    for t in candidates:
        if _installed(t):
            cmd = flash_command(board, elf, t)
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                last = (proc.stderr or proc.stdout).strip().splitlines()
                raise ToolchainError(f"{t} failed to flash {board.name}: {last[-1] if last else proc.returncode}")
            return cmd
    raise ToolchainError(f"no flash tool for {board.name} found; install one: pip install platformio, pip install pyocd "
                         f"(target {board.run.get('pyocd_target', '?')}) or apt-get install openocd")


def wait_for_port(port: str, timeout: float = 10.0) -> None:
    """A board's USB serial port can vanish while the probe resets it: wait for a device
    path to come back (URLs such as socket://... are used as they are)."""
    if "://" in port or not port.startswith("/"):
        return
    deadline = time.monotonic() + timeout
    while not os.path.exists(port):
        if time.monotonic() > deadline:
            raise LinkError(f"serial port {port} did not appear within {timeout:.0f} s of flashing; "
                            "is the board plugged in (ls /dev/ttyACM* /dev/ttyUSB*)?")
        time.sleep(0.2)


def check_flashed(board: Board, info: dict, fw_dir: Path) -> dict:
    """The INFO a board answered must be that of the firmware in fw_dir (its info.json):
    same board, firmware version, and models with the same file hashes."""
    expected_file = Path(fw_dir) / "info.json"
    expected = json.loads(expected_file.read_text()) if expected_file.exists() else {"board": board.name}

    def models(d):
        return [(m.get("name"), m.get("sha256")) for m in d.get("models", [])]

    problems = []
    if info.get("board") != expected.get("board", board.name):
        problems.append(f"board {info.get('board')} (built for {expected.get('board', board.name)})")
    if "firmware" in expected and info.get("firmware") != expected["firmware"]:
        problems.append(f"firmware {info.get('firmware')} (built {expected['firmware']})")
    if "models" in expected and models(info) != models(expected):
        problems.append("models " + ", ".join(f"{n} {h}" for n, h in models(info))
                        + " (built " + ", ".join(f"{n} {h}" for n, h in models(expected)) + ")")
    if problems:
        raise DeviceError(f"the board answers with other firmware than {fw_dir}: " + "; ".join(problems)
                          + "; did the upload go to another board, or fail?")
    return info


def flash(board: Board, fw_dir: Path, tool: str | None = None, drive: str | None = None) -> Flashed:
    """Put a build folder's firmware on a real board: a UF2 copy to its boot drive (tool
    "uf2", or the board file's method), else flash_real_board with the tool or the first
    installed one the board file names."""
    if tool == "uf2" or (tool is None and board.run.get("method") == "uf2"):
        if "uf2_family" not in board.run:
            raise ProtobrainError(f"{board.name} has no UF2 boot loader; use --tool pyocd or --tool openocd")
        return Flashed(uf2=copy_uf2(board, Path(fw_dir) / "firmware.uf2", drive))
    return Flashed(command=flash_real_board(board, Path(fw_dir) / "firmware.elf", tool))


@contextlib.contextmanager
def open_flashed(board: Board, port: str, fw_dir: Path):
    """The board's serial port once it is back after flashing, checked to run the firmware
    of fw_dir: yields the open Device and the INFO it answered."""
    wait_for_port(port)
    with Device(port) as dev:
        yield dev, check_flashed(board, dev.info(), Path(fw_dir))
