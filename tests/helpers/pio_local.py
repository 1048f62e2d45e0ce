"""An offline PlatformIO for the tests, set up from scratch in a temporary folder.

PlatformIO's registry is not reachable where the tests run, and every registry look-up
PlatformIO tries costs about a minute before it gives up. So the tests give PlatformIO
everything it would download, built from what is on this machine:

- its own core folder (PLATFORMIO_CORE_DIR) inside the test's temporary folder, telemetry
  and the upgrade check off;
- `tool-scons`, the build engine PlatformIO runs every build with: a folder holding a
  `scons.py` launcher for the SCons that pip installed from PyPI into this Python, with a
  package manifest whose version encodes that SCons version the way PlatformIO numbers it
  (SCons 4.11.1 is tool-scons 4.41101.0) and owner `platformio`, so PlatformIO finds its
  core package installed and never asks the registry for it;
- one stand-in development platform per platform name the boards use (ststm32,
  nordicnrf52, raspberrypi), each with a board definition (boards/<id>.json: cpu, mcu,
  clock, memory sizes, written here from protobrain's board files) for each of its boards
  and a builder (builder/main.py, an SCons script) that compiles bare-metal C with
  Debian's arm-none-eabi-gcc. The builder knows nothing of protobrain: like a real
  platform's no-framework build it only sets the compiler, -mcpu/-mthumb from the board
  definition, and the firmware/size targets; everything else (flags, linker script) comes
  from the exported platformio.ini, which is what the tests check.

The packages are registered through PlatformIO's own `symlink://` installs. Every
PlatformIO process runs with HTTP(S) proxies pointing at a local listener that answers
nothing: `connections` counts any attempt to reach the network, and a PlatformIO
process that makes one is stopped at once (NetworkAttempt) instead of retrying for a
minute.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from protobrain.boards import load_board

# PlatformIO board id -> MCU name, per platform (the facts a board definition needs beyond
# protobrain's board file).
PLATFORMS = {
    "ststm32": {"nucleo_f446re": "stm32f446ret6", "nucleo_l4r5zi": "stm32l4r5zit6", "disco_f746ng": "stm32f746ngh6"},
    "nordicnrf52": {"nrf52840_dk": "nrf52840"},
    "raspberrypi": {"pico": "rp2040"},
}
# protobrain board name for each PlatformIO board id
PROTOBRAIN_BOARDS = {"nucleo_f446re": "nucleo_f446re", "nucleo_l4r5zi": "nucleo_l4r5zi", "disco_f746ng": "disco_f746ng",
                     "nrf52840_dk": "nrf52840_dk", "pico": "rpi_pico"}

BUILDER = '''\
"""Builder of a stand-in PlatformIO platform for protobrain's tests: bare-metal C, no
framework, with the system's arm-none-eabi-gcc. Compiler flags and the linker script come
from the project (build_flags, board_build.ldscript, extra scripts)."""

from os.path import join

from SCons.Script import AlwaysBuild, Default, DefaultEnvironment

env = DefaultEnvironment()
cpu = env.BoardConfig().get("build.cpu")
env.Replace(
    AR="arm-none-eabi-gcc-ar", AS="arm-none-eabi-as", CC="arm-none-eabi-gcc", CXX="arm-none-eabi-g++",
    OBJCOPY="arm-none-eabi-objcopy", RANLIB="arm-none-eabi-gcc-ranlib", SIZETOOL="arm-none-eabi-size",
    ARFLAGS=["rc"], PROGSUFFIX=".elf",
    SIZEPROGREGEXP=r"^(?:\\.text|\\.data|\\.rodata|\\.ARM\\.exidx)\\s+(\\d+).*",
    SIZEDATAREGEXP=r"^(?:\\.data|\\.bss|\\.noinit)\\s+(\\d+).*",
    SIZECHECKCMD="$SIZETOOL -A -d $SOURCES",
    SIZEPRINTCMD="$SIZETOOL -B -d $SOURCES",
)
if env.get("PROGNAME", "program") == "program":
    env.Replace(PROGNAME="firmware")
env.Append(CCFLAGS=["-mcpu=%s" % cpu, "-mthumb"], LINKFLAGS=["-mcpu=%s" % cpu, "-mthumb"])

elf = env.BuildProgram()
binary = env.Command(join("$BUILD_DIR", "${PROGNAME}.bin"), elf,
                     env.VerboseAction("$OBJCOPY -O binary $SOURCE $TARGET", "Building $TARGET"))
buildprog = env.Alias("buildprog", binary, binary)
AlwaysBuild(env.Alias("size", elf, env.VerboseAction("$SIZEPRINTCMD", "Calculating size $SOURCE")))
Default([buildprog])
'''

SCONS_LAUNCHER = '''\
"""PlatformIO runs `python scons.py ...`: start the SCons that pip installed in this Python."""
import sys

from SCons.Script.Main import main

sys.exit(main())
'''


def scons_version() -> str | None:
    try:
        import SCons
    except ImportError:
        return None
    return SCons.__version__


def tool_scons_version(version: str) -> str:
    """PlatformIO's numbering of its SCons package: 4.11.1 -> 4.41101.0."""
    major, minor, patch = (int(x) for x in (version.split(".") + ["0", "0"])[:3])
    return f"{major}.{major}{minor:02d}{patch:02d}.0"


def missing() -> str | None:
    """Why the offline PlatformIO cannot be set up here, or None."""
    if shutil.which("arm-none-eabi-gcc") is None:
        return "arm-none-eabi-gcc not installed (make setup installs it)"
    try:
        import platformio  # noqa: F401
    except ImportError:
        return "platformio not installed (pip install -e '.[test]')"
    version = scons_version()
    if version is None:
        return "scons not installed (pip install -e '.[test]')"
    from platformio.dependencies import get_core_dependencies
    from semantic_version import SimpleSpec, Version

    wanted = get_core_dependencies()["tool-scons"]
    if Version(tool_scons_version(version)) not in SimpleSpec(wanted):
        return f"PlatformIO wants tool-scons {wanted} but PyPI's scons here is {version} ({tool_scons_version(version)})"
    return None


class NetworkAttempt(AssertionError):
    """PlatformIO tried to reach the network (a registry look-up)."""


class _Sink:
    """A TCP listener that counts connections and closes each one at once."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self):
        self.sock.close()


@dataclass
class LocalPlatformIO:
    root: Path
    env: dict
    sink: _Sink
    timings: list = field(default_factory=list)  # (what, seconds) of every pio call

    @property
    def connections(self) -> int:
        return self.sink.connections

    def pio(self, *args, cwd=None, timeout=60) -> subprocess.CompletedProcess:
        """Run PlatformIO; stop it at once (and raise NetworkAttempt) if it tries the network:
        PlatformIO retries a failed registry request for about a minute."""
        cmd = [sys.executable, "-m", "platformio", *map(str, args)]
        t0 = time.perf_counter()
        before = self.sink.connections
        proc = subprocess.Popen(cmd, cwd=cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        while True:
            try:
                out, err = proc.communicate(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                networked = self.sink.connections > before
                if networked or time.perf_counter() - t0 > timeout:
                    os.killpg(proc.pid, signal.SIGKILL)  # the pio process and the SCons it started
                    out, err = proc.communicate()
                    if networked:
                        raise NetworkAttempt(f"`pio {' '.join(map(str, args))}` tried to reach the network after "
                                             f"{time.perf_counter() - t0:.1f} s; stopped it. Output:\n{out[-2000:]}{err[-2000:]}")
                    raise subprocess.TimeoutExpired(cmd, timeout, out, err)
        self.timings.append((" ".join(map(str, args[:3])), time.perf_counter() - t0))
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    def run(self, project: Path, *envs: str, timeout=60) -> subprocess.CompletedProcess:
        """`pio run` on a project, for the given environments (default: all)."""
        return self.pio("run", "-d", project, *(a for e in envs for a in ("-e", e)), timeout=timeout)

    def close(self):
        self.sink.close()


def _board_json(pio_id: str, mcu: str) -> dict:
    b = load_board(PROTOBRAIN_BOARDS[pio_id])
    return {
        "build": {"cpu": b.core, "f_cpu": f"{b.clock_hz}L", "mcu": mcu},
        "frameworks": [],
        "name": b.description,
        "upload": {"maximum_ram_size": b.ram.length, "maximum_size": b.flash.length},
        "url": "https://docs.platformio.org/",
        "vendor": "protobrain test stand-in",
    }


def _write_platform(root: Path, name: str, boards: dict[str, str]) -> Path:
    pdir = root / f"platform-{name}"
    (pdir / "builder").mkdir(parents=True)
    (pdir / "boards").mkdir()
    manifest = {"name": name, "title": f"{name} (offline stand-in for protobrain's tests)",
                "description": "Bare-metal C with the system's arm-none-eabi-gcc", "version": "0.0.1",
                "engines": {"platformio": "^6"}, "frameworks": {}, "packages": {}}
    (pdir / "platform.json").write_text(json.dumps(manifest, indent=2))
    (pdir / "builder" / "main.py").write_text(BUILDER)
    for pio_id, mcu in boards.items():
        (pdir / "boards" / f"{pio_id}.json").write_text(json.dumps(_board_json(pio_id, mcu), indent=2))
    return pdir


def _write_tool_scons(root: Path) -> Path:
    tdir = root / "tool-scons"
    tdir.mkdir()
    version = tool_scons_version(scons_version())
    (tdir / "scons.py").write_text(SCONS_LAUNCHER)
    (tdir / "package.json").write_text(json.dumps({
        "name": "tool-scons", "version": version,
        "description": f"SCons {scons_version()} from PyPI, installed in {sys.executable}"}, indent=2))
    # PlatformIO looks its core packages up as owner "platformio"; a symlinked package keeps
    # the metadata file found in its folder.
    (tdir / ".piopm").write_text(json.dumps({
        "type": "tool", "name": "tool-scons", "version": version,
        "spec": {"owner": "platformio", "id": None, "name": "tool-scons", "requirements": None, "uri": None}}))
    return tdir


def setup(root: Path) -> LocalPlatformIO:
    """Create the core folder, the packages and the platforms under `root`, and install them."""
    root = Path(root)
    pkgs = root / "local-packages"
    pkgs.mkdir(parents=True)
    sink = _Sink()
    proxy = f"http://127.0.0.1:{sink.port}"
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY") and not k.startswith("PLATFORMIO_")}
    env.update({
        "PLATFORMIO_CORE_DIR": str(root / "core"),
        "PLATFORMIO_SETTING_ENABLE_TELEMETRY": "No",
        "PLATFORMIO_DISABLE_UPGRADE_CHECK": "true",
        "PLATFORMIO_DISABLE_PROGRESSBAR": "true",
        "PLATFORMIO_NO_ANSI": "true",
        "PLATFORMIO_RUN_JOBS": "2",
        "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "ALL_PROXY": proxy,
        "http_proxy": proxy, "https_proxy": proxy, "all_proxy": proxy,
    })
    local = LocalPlatformIO(root, env, sink)
    args = ["pkg", "install", "--global", "--skip-dependencies", "--tool", f"symlink://{_write_tool_scons(pkgs)}"]
    for name, boards in PLATFORMS.items():
        args += ["--platform", f"symlink://{_write_platform(pkgs, name, boards)}"]
    proc = local.pio(*args)
    if proc.returncode != 0:
        local.close()
        raise RuntimeError(f"installing the local PlatformIO packages failed:\n{proc.stdout}\n{proc.stderr}")
    return local
