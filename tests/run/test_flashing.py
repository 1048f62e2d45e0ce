"""Real-board flashing builds the right pyOCD / OpenOCD command (run here with stand-in tools
that record their arguments, since no board is attached)."""

import os
import stat

import pytest

from protobrain.boards import load_board
from protobrain.errors import ToolchainError
from protobrain.run.flashing import flash_command, flash_real_board


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


# --- Raspberry Pi Pico: boot loader, UF2 image, drag-and-drop flashing -------------------

def test_rp2040_boot_rom_crc_is_crc32_mpeg2():
    from protobrain.firmware.rp2040 import crc32_boot_rom, seal

    assert crc32_boot_rom(b"123456789") == 0x0376E6E7  # the published check value of these parameters
    sealed = seal(b"\x01\x02\x03")
    assert len(sealed) == 256 and int.from_bytes(sealed[252:], "little") == crc32_boot_rom(sealed[:252])
    with pytest.raises(ToolchainError, match="at most 252"):
        seal(b"\x00" * 253)


@pytest.fixture(scope="module")
def pico_firmware(tmp_path_factory):
    import shutil

    from builders import small_net_bytes

    from protobrain.compiler.program import build_program
    from protobrain.compiler.reader import read_model_bytes
    from protobrain.firmware.build import build

    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed (make setup installs it)")
    data = small_net_bytes()
    prog = build_program(read_model_bytes(data, "pico_net"))
    out = tmp_path_factory.mktemp("pico") / "fw"
    return build(load_board("rpi_pico"), [prog], [data], out), out


def test_pico_firmware_starts_with_a_sealed_boot_loader_and_its_vectors(pico_firmware):
    import subprocess

    from protobrain.firmware.rp2040 import crc32_boot_rom
    from protobrain.toolchain import elf_symbols

    image, out = pico_firmware
    board = load_board("rpi_pico")
    binary = (out / "firmware.bin").read_bytes()
    assert int.from_bytes(binary[252:256], "little") == crc32_boot_rom(binary[:252])
    symbols = elf_symbols(board, image.elf)
    assert symbols["pb_boot2_image"].address == 0x10000000 and symbols["pb_vectors"].address == 0x10000100
    # the boot loader is Thumb code that starts the vector table at 0x10000100
    words = [int.from_bytes(binary[k:k + 4], "little") for k in range(0, 252, 4)]
    assert 0x10000100 in words and 0xE000ED08 in words  # application vectors and VTOR
    reset = int.from_bytes(binary[0x104:0x108], "little")
    assert reset & 1 and 0x10000100 < reset < 0x10000000 + len(binary)  # Thumb, inside the image
    sp = int.from_bytes(binary[0x100:0x104], "little")
    assert 0x20000000 < sp <= 0x20042000
    # no FPU or DSP instructions on the M0+: the image disassembles as ARMv6-M
    dis = subprocess.run(["arm-none-eabi-objdump", "-d", str(image.elf)], capture_output=True, text=True).stdout
    assert "vmla" not in dis and "smlad" not in dis and "sdiv" not in dis


def test_pico_uf2_holds_the_image_at_flash_addresses(pico_firmware):
    from protobrain.firmware import uf2

    _, out = pico_firmware
    base, image, family = uf2.decode((out / "firmware.uf2").read_bytes())
    binary = (out / "firmware.bin").read_bytes()
    assert base == 0x10000000 and family == 0xE48BFF56
    assert image[:len(binary)] == binary and set(image[len(binary):]) <= {0}


def test_pico_flash_copies_the_uf2_to_the_boot_drive(pico_firmware, tmp_path):
    import subprocess
    import sys

    _, out = pico_firmware
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    cmd = [sys.executable, "-m", "protobrain.cli.main", "flash", "--board", "rpi_pico", "--firmware", str(out)]
    # not a boot drive: refused in one line
    proc = subprocess.run(cmd + ["--drive", str(drive)], capture_output=True, text=True)
    assert proc.returncode == 2 and "INFO_UF2.TXT" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\nModel: Raspberry Pi RP2\nBoard-ID: RPI-RP2\n")
    proc = subprocess.run(cmd + ["--drive", str(drive)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert (drive / "firmware.uf2").read_bytes() == (out / "firmware.uf2").read_bytes()


def test_pico_flash_without_a_drive_says_how_to_get_one(pico_firmware, monkeypatch):
    from protobrain.run import flashing

    _, out = pico_firmware
    monkeypatch.setattr(flashing, "MOUNT_ROOTS", ("/nonexistent/{label}",))
    with pytest.raises(ToolchainError, match="hold BOOTSEL"):
        flashing.copy_uf2(load_board("rpi_pico"), out / "firmware.uf2")


def test_platformio_upload_builds_a_project_of_the_firmware(tmp_path, monkeypatch):
    """Boards whose file says method "platformio" upload through a generated PlatformIO
    project: protobrain's own sources, the board's linker script, no framework."""
    import configparser
    import shutil

    from builders import small_net_bytes

    from protobrain.compiler.program import build_program
    from protobrain.compiler.reader import read_model_bytes
    from protobrain.firmware.build import build

    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed (make setup installs it)")
    board = load_board("nucleo_f446re")
    data = small_net_bytes()
    image = build(board, [build_program(read_model_bytes(data, "net"))], [data], tmp_path / "fw")
    log = tmp_path / "calls.txt"
    fake_tool(tmp_path, "pio", log)
    fake_tool(tmp_path, "pyocd", log)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    cmd = flash_real_board(board, image.elf)  # the board file's method comes first
    project = tmp_path / "fw" / "platformio"
    assert cmd[1:] == ["run", "-d", str(project), "-e", board.name, "-t", "upload"]
    assert log.read_text().split() == cmd[1:]
    ini = configparser.ConfigParser()
    ini.read(project / "platformio.ini")
    env = ini[f"env:{board.name}"]
    assert env["board"] == "nucleo_f446re" and env["platform"] == "ststm32"
    assert (project / env["board_build.ldscript"]).read_text() == (tmp_path / "fw" / "link.ld").read_text()
    assert "-DPB_STEP_HOOK=pb_step_done" in env["build_flags"] and "-Werror" in env["build_flags"]
    built = {p.name for p in (tmp_path / "fw").iterdir() if p.suffix in (".c", ".h")}
    sources = {p.name for p in (project / "src" / board.name).iterdir()}
    assert built | {"link.ld"} == sources | {"net.h"} and "main.c" in sources  # the model's API header is in include/
    assert (project / "include" / "net.h").read_text() == (tmp_path / "fw" / "net.h").read_text()
    assert env["build_src_filter"] == f"+<{board.name}/>" and "-mfloat-abi=hard" in env["custom_link_flags"]
    # pyOCD is still there when asked for
    assert flash_real_board(board, image.elf, "pyocd")[0] == "pyocd"
