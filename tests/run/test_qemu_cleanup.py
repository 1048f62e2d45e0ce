"""Every way a protobrain process ends stops the simulator it started: SIGTERM (kill, a
service manager, a CI runner's timeout) and SIGHUP (the terminal closed) as well as Ctrl-C.
SIGTERM used to kill protobrain without unwinding, and QEMU ran on, orphaned."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
from conftest import needs_simulator, shared_model

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model

CLI = [sys.executable, "-m", "protobrain.cli.main"]


@pytest.fixture(scope="module")
def an386_build(tmp_path_factory):
    from protobrain.firmware.build import build

    board = needs_simulator("qemu-mps2-an386")
    path = shared_model("kws_ref_model")
    out = tmp_path_factory.mktemp("fw") / "an386"
    build(board, [build_program(read_model(path))], [path.read_bytes()], out)
    return path, out


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent to read its status counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(c) for c in f.read().split()]


def _start(args):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # a session of its own, so that the test's signal reaches protobrain alone, as `kill PID` does;
    # SIGHUP at its default, as in a terminal, even when the suite runs under nohup (which
    # leaves it ignored, and protobrain then rightly keeps it so)
    return subprocess.Popen([*CLI, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))


def _wait_for_qemu(proc, timeout=60.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        qemu = [c for c in _children(proc.pid) if "qemu" in open(f"/proc/{c}/cmdline").read()]
        if qemu:
            return qemu[0]
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.1)
    raise AssertionError("protobrain started no QEMU")


def _signal_and_check(proc, qemu: int, signum) -> None:
    try:
        time.sleep(1.0)  # well inside the run
        os.kill(proc.pid, signum)
        proc.wait(timeout=90)  # a loaded machine can take long to schedule the handler
        deadline = time.monotonic() + 10
        while _alive(qemu) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(qemu), f"QEMU (pid {qemu}) still runs after protobrain got {signum.name}"
        assert proc.returncode == 128 + signum, (proc.returncode, proc.stderr.read())
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_flash_on_a_simulated_board_stops_qemu_when_terminated(signum, an386_build):
    _, fw = an386_build
    proc = _start(["flash", "-b", "qemu-mps2-an386", "--firmware", fw])
    line = proc.stdout.readline()
    shown = re.search(r"running in QEMU \(pid (\d+)\)", line)
    assert shown, line + proc.stderr.read()
    qemu = int(shown.group(1))
    assert qemu in _children(proc.pid)
    _signal_and_check(proc, qemu, signum)


def test_verify_on_a_simulated_board_stops_qemu_when_terminated(an386_build):
    path, fw = an386_build
    proc = _start(["verify", path, "-b", "qemu-mps2-an386", "--firmware", fw, "-n", "100000"])
    _signal_and_check(proc, _wait_for_qemu(proc), signal.SIGTERM)


def test_ctrl_c_still_stops_qemu_and_exits_cleanly(an386_build):
    _, fw = an386_build
    proc = _start(["flash", "-b", "qemu-mps2-an386", "--firmware", fw])
    qemu = int(re.search(r"pid (\d+)", proc.stdout.readline()).group(1))
    try:
        time.sleep(1.0)
        os.killpg(proc.pid, signal.SIGINT)  # the terminal sends Ctrl-C to the whole foreground group
        proc.wait(timeout=90)  # a loaded machine can take long to schedule the handler
        assert proc.returncode == 0 and not _alive(qemu)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
