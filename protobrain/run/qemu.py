"""Start a simulated board in QEMU with its UART on a local TCP port, and stop it cleanly on
every way out: a `with` block's end, an exception, Ctrl-C, and SIGTERM or SIGHUP, which
would otherwise end Python at once and leave QEMU running, orphaned. And what the
firmware's timer counts mean there."""

from __future__ import annotations

import selectors
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from protobrain.boards import Board
from protobrain.errors import ToolchainError

# -icount shift=N: every guest instruction advances QEMU's virtual clock by 2**N ns, so
# counts repeat exactly from run to run.
ICOUNT_SHIFT = 0
VIRTUAL_CLOCK = "instructions (from the virtual clock)"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def virtual_clock_instructions(board: Board, count: int) -> int:
    """A timer count read in QEMU, as instructions. The simulated timers count virtual
    time, not cycles: SysTick ticks at the machine's clock in QEMU (the board file's
    run.timer_hz, else its clock_hz), RISC-V's mcycle reads the virtual nanoseconds
    (timer_hz 1 GHz); each instruction is 2**ICOUNT_SHIFT ns of that time."""
    hz = board.run.get("timer_hz", board.clock_hz)
    return round(count * 1_000_000_000 / (hz * 2 ** ICOUNT_SHIFT))


def timer_figure(board: Board, count: int, kind: str) -> tuple[int, str]:
    """What a device's timer count says, and its unit: cycles of a real board's DWT,
    SysTick or mcycle; on a simulated board, instructions from the virtual clock."""
    if board.simulated and kind != "none":
        return virtual_clock_instructions(board, count), VIRTUAL_CLOCK
    return count, kind


# SIGTERM (kill, service managers, CI timeouts) and SIGHUP (the terminal closed) end a
# Python process without unwinding; while a QEMU runs they terminate it, then exit as
# SystemExit(128 + signal), so `with` blocks (which reap QEMU) and temporary folders are
# cleaned up too.
_SIGNALS = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None]
_running: list["QemuBoard"] = []
_installed: set[int] = set()  # the signals whose handler this module set


def _on_signal(signum, frame) -> None:
    for s in _SIGNALS:  # a second signal must not cut the cleanup short (_unwatch restores them)
        signal.signal(s, signal.SIG_IGN)
    for q in list(_running):
        # signal only: the interrupted code may be inside q.proc.wait(), whose lock a wait here would deadlock on
        if q.proc.returncode is None:
            q.proc.terminate()
    raise SystemExit(128 + signum)


def _watch(q: "QemuBoard") -> None:
    """The first running QEMU installs the handler, where the process has none of its own."""
    if not _running and threading.current_thread() is threading.main_thread():
        for s in _SIGNALS:
            if signal.getsignal(s) is signal.SIG_DFL:
                signal.signal(s, _on_signal)
                _installed.add(s)
    _running.append(q)


def _unwatch(q: "QemuBoard") -> None:
    if q in _running:
        _running.remove(q)
    if not _running and threading.current_thread() is threading.main_thread():
        for s in _SIGNALS:
            if s in _installed and signal.getsignal(s) in (_on_signal, signal.SIG_IGN):
                signal.signal(s, signal.SIG_DFL)
            _installed.discard(s)


class QemuBoard:
    """A running QEMU; `port` is a pyserial URL (socket://...) or a pty path."""

    def __init__(self, board: Board, elf: Path, serial: str = "tcp", extra_args: list[str] | None = None):
        exe = board.run.get("qemu", "qemu-system-arm")
        if shutil.which(exe) is None:
            pkg = "qemu-system-arm" if exe.endswith("arm") else "qemu-system-misc"
            raise ToolchainError(f"{exe} not found; install it with: apt-get install {pkg} (or run make setup)")
        cmd = [exe, "-machine", board.run["machine"], "-nographic", "-monitor", "none", "-no-reboot",
               "-icount", f"shift={ICOUNT_SHIFT}"]
        if board.run.get("bios"):
            cmd += ["-bios", board.run["bios"]]
        cmd += ["-kernel", str(elf)]
        if serial == "pty":
            cmd += ["-serial", "pty"]
        else:
            self.tcp_port = _free_port()
            cmd += ["-serial", f"tcp:127.0.0.1:{self.tcp_port},server=on,wait=off,nodelay=on"]
        cmd += list(extra_args or [])
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _watch(self)
        try:
            self.port = self._wait_ready(serial)
        except BaseException:  # no `with` block holds it yet: stop it here
            self.stop()
            raise

    def _wait_ready(self, serial: str) -> str:
        deadline = time.monotonic() + 10
        if serial == "pty":
            # QEMU announces "char device redirected to /dev/pts/N (label serial0)".
            sel = selectors.DefaultSelector()
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            sel.register(self.proc.stderr, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                for key, _ in sel.select(timeout=0.2):
                    line = key.fileobj.readline()
                    if "/dev/pts/" in line:
                        sel.close()
                        return line.split("redirected to ")[1].split()[0]
            self.stop()
            raise ToolchainError(f"QEMU did not report its pty: {' '.join(self.cmd)}")
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().strip()
                raise ToolchainError(f"QEMU exited at start ({err.splitlines()[-1] if err else self.proc.returncode})")
            try:
                with socket.create_connection(("127.0.0.1", self.tcp_port), timeout=0.2):
                    pass
                return f"socket://127.0.0.1:{self.tcp_port}"
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise ToolchainError("QEMU's serial port did not open within 10 s")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f:
                f.close()
        _unwatch(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
