"""Firmware built for one board and run as another is refused up front, in one line, from
the build's info.json (or a running device's INFO), before QEMU starts or a board is
flashed: it used to surface as a dead serial link."""

import subprocess
import sys
import time

import pytest
from conftest import needs_simulator, shared_model

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model

CLI = [sys.executable, "-m", "protobrain.cli.main"]


@pytest.fixture(scope="module")
def builds(tmp_path_factory):
    """hello_world built for qemu-mps2-an386 and for nucleo_f446re."""
    from protobrain.boards import load_board
    from protobrain.firmware.build import build

    needs_simulator("qemu-mps2-an386")
    path = shared_model("hello_world_int8")
    root = tmp_path_factory.mktemp("builds")
    for name in ("qemu-mps2-an386", "nucleo_f446re"):
        build(load_board(name), [build_program(read_model(path))], [path.read_bytes()], root / name)
    return path, root


def _refused(args, built_for, running_as, code=2):
    t0 = time.monotonic()
    proc = subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=120)
    err = proc.stderr.strip()
    assert proc.returncode == code, proc.stdout + err
    assert len(err.splitlines()) == 1, err
    assert f"built for {built_for}, not {running_as}" in err, err
    assert time.monotonic() - t0 < 30  # refused at once, not after the serial link's retries
    return err


def test_verify_refuses_a_build_for_another_simulated_board(builds):
    path, root = builds
    err = _refused(["verify", path, "-b", "qemu-mps2-an385", "--firmware", root / "qemu-mps2-an386", "-n", "1"],
                   "qemu-mps2-an386", "qemu-mps2-an385")
    assert "--board qemu-mps2-an386" in err


def test_flash_refuses_a_build_for_another_real_board(builds, tmp_path):
    _, root = builds
    drive = tmp_path / "RPI-RP2"
    drive.mkdir()
    (drive / "INFO_UF2.TXT").write_text("UF2 Bootloader v3.0\n")
    _refused(["flash", "-b", "rpi_pico", "--firmware", root / "nucleo_f446re", "--drive", drive],
             "nucleo_f446re", "rpi_pico")
    assert [p.name for p in drive.iterdir()] == ["INFO_UF2.TXT"]  # nothing copied to the boot drive


def test_bench_refuses_a_build_for_another_board_before_opening_the_port(builds, tmp_path):
    path, root = builds
    _refused(["bench", path, "-b", "qemu-mps2-an385", "--port", "socket://127.0.0.1:9", "--firmware",
              root / "qemu-mps2-an386", "-o", tmp_path / "bench"], "qemu-mps2-an386", "qemu-mps2-an385")
    assert not (tmp_path / "bench").exists()


def test_verify_over_a_port_refuses_a_device_running_another_boards_firmware(builds):
    from protobrain.boards import load_board
    from protobrain.run.qemu import QemuBoard

    path, root = builds
    with QemuBoard(load_board("qemu-mps2-an386"), root / "qemu-mps2-an386" / "firmware.elf") as q:
        _refused(["verify", path, "-b", "qemu-mps2-an500", "--port", q.port, "-n", "1"],
                 "qemu-mps2-an386", "qemu-mps2-an500", code=3)


def test_the_right_board_is_accepted(builds):
    path, root = builds
    proc = subprocess.run([*CLI, "verify", str(path), "-b", "qemu-mps2-an386", "--firmware", str(root / "qemu-mps2-an386"),
                           "-n", "1"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "bit-exact" in proc.stdout, proc.stderr
