"""PlatformIO: an exported project builds with `pio run` into the firmware `protobrain build`
makes, for every real board; an exported library drops into a user's project; `protobrain
flash` uploads through PlatformIO and then verifies the board over the same port.

PlatformIO's registry is not reachable here, so pio_local sets up an offline PlatformIO in
the test's temporary folder (stand-in ststm32 / nordicnrf52 / raspberrypi platforms that
build with Debian's arm-none-eabi-gcc, PyPI's SCons as tool-scons), and every test checks
that PlatformIO never tried the network.
"""

import configparser
import json
import os
import re
import shutil
import stat
import subprocess
import sys

import pio_local
import pytest
from conftest import needs_simulator, shared_model

CLI = [sys.executable, "-m", "protobrain.cli.main"]
BOARDS = ["nucleo_f446re", "nucleo_l4r5zi", "disco_f746ng", "nrf52840_dk", "rpi_pico"]
# A build takes 1-5 s here; one registry look-up alone would cost about a minute.
PIO_SECONDS = 30


@pytest.fixture(scope="module")
def pio(tmp_path_factory):
    why = pio_local.missing()
    if why:
        pytest.skip(why)
    local = pio_local.setup(tmp_path_factory.mktemp("platformio"))
    yield local
    local.close()


@pytest.fixture(scope="module")
def kws():
    from protobrain.compiler.program import build_program
    from protobrain.compiler.reader import read_model

    path = shared_model("kws_ref_model")
    return path, build_program(read_model(path)), path.read_bytes()


def _per_board(path, boards=BOARDS):
    """Each board's Programs as `protobrain build -b BOARD` compiles them (its own tier)."""
    from protobrain.firmware.programs import programs_per_board

    return programs_per_board([str(path)], "best", "auto", boards)[0]


def _durations(pio_output: str) -> dict[str, float]:
    """Seconds per environment from PlatformIO's summary table."""
    found = {}
    for env, status, h, m, s in re.findall(r"^(\S+)\s+(SUCCESS|FAILED)\s+(\d+):(\d+):([\d.]+)\s*$", pio_output, re.M):
        found[env] = int(h) * 3600 + int(m) * 60 + float(s)
    return found


@pytest.fixture(scope="module")
def kws_project(pio, kws, tmp_path_factory):
    """`protobrain export platformio` for all five boards, then one `pio run` of the project."""
    path, _, _ = kws
    out = tmp_path_factory.mktemp("export") / "kws"
    proc = subprocess.run([*CLI, "export", "platformio", str(path), *(a for b in BOARDS for a in ("--board", b)), "-o", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"pio run -d {out}" in proc.stdout
    run = pio.run(out, timeout=10 * PIO_SECONDS)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out, _durations(run.stdout)


def test_exported_project_layout(kws_project, kws):
    project, _ = kws_project
    path, _, _ = kws
    programs = _per_board(path)
    ini = configparser.ConfigParser()
    ini.read(project / "platformio.ini")
    assert [s for s in ini.sections() if s.startswith("env:")] == [f"env:{b}" for b in BOARDS]
    assert ini["env"]["extra_scripts"] == "post:protobrain_link.py" and (project / "protobrain_link.py").exists()
    assert ini["env:rpi_pico"]["board"] == "pico" and ini["env:rpi_pico"]["platform"] == "raspberrypi"
    assert ini["env:nrf52840_dk"]["platform"] == "nordicnrf52" and "framework" not in ini["env:nrf52840_dk"]
    # each board's own sources in src/<board>/, with its own tier: the DSP boards' arenas and
    # plans differ from the Pico's, so each board's folder has its own C API (none in include/)
    assert not any((project / "include").iterdir())
    for b in BOARDS:
        env = ini[f"env:{b}"]
        assert env["build_src_filter"] == f"+<{b}/>" and env["board_build.ldscript"] == f"src/{b}/link.ld"
        files = {p.name for p in (project / "src" / b).iterdir()}
        assert {"main.c", "link.ld", "kws_ref_model.c", "kws_ref_model_weights.c", "pb_board_config.h"} <= files
        (program,) = programs[b]
        tier = "armv6m" if b == "rpi_pico" else "dsp"  # the Pico's Cortex-M0+ runs the ARMv6-M tier
        assert program.tier == tier and f"pb_{tier}_conv.c" in files and ("pb_dsp_conv.c" in files) == (tier == "dsp")
        assert (f"#define PB_KWS_REF_MODEL_ARENA_SIZE {program.arena_size}u"
                in (project / "src" / b / "kws_ref_model.h").read_text())
    assert "boot2_image.c" in {p.name for p in (project / "src" / "rpi_pico").iterdir()}


@pytest.mark.parametrize("name", BOARDS)
def test_pio_run_builds_the_firmware_protobrain_builds(name, pio, kws, kws_project, tmp_path):
    """Same sources, flags, linker script and link order: the same size report, and the
    same flash image byte for byte."""
    from protobrain.boards import load_board
    from protobrain.firmware.build import build
    from protobrain.toolchain import section_sizes

    project, durations = kws_project
    path, _, blob = kws
    assert 0 < durations[name] < PIO_SECONDS, durations
    elf = project / ".pio" / "build" / name / "firmware.elf"
    assert elf.exists()
    board = load_board(name)
    image = build(board, _per_board(path, [name])[name], [blob], tmp_path / "fw")
    assert section_sizes(board, elf) == (image.text, image.data, image.bss)
    assert (elf.parent / "firmware.bin").read_bytes() == image.bin.read_bytes()
    assert pio.connections == 0, "PlatformIO tried to reach the network"


def test_library_builds_into_a_users_project(pio, kws, kws_project, tmp_path):
    """A user's project: their own firmware in src/ (here protobrain's, less the model), the
    model from `protobrain export library` in lib/."""
    path, program, _ = kws
    project, _ = kws_project
    user = tmp_path / "user"
    lib = user / "lib" / "kws"
    board = "nucleo_f446re"
    proc = subprocess.run([*CLI, "export", "library", str(path), "-o", str(lib), "--board", board],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    manifest = json.loads((lib / "library.json").read_text())
    assert manifest["name"] == "kws_ref_model" and manifest["build"]["flags"][0] == "-O2"
    assert sorted(p.name for p in (lib / "include").iterdir()) == ["kws_ref_model.h"]
    lib_files = {p.name for p in (lib / "src").iterdir()}
    assert {"kws_ref_model.c", "kws_ref_model_weights.c", "pb_common.h"} <= lib_files and "main.c" not in lib_files
    assert "pb_kws_ref_model_invoke" in (lib / "README.md").read_text()

    (user / "src" / board).mkdir(parents=True)
    for f in (project / "src" / board).iterdir():
        if f.name not in lib_files | {"kws_ref_model.h"}:
            shutil.copyfile(f, user / "src" / board / f.name)
    for f in ("platformio.ini", "protobrain_link.py"):
        shutil.copyfile(project / f, user / f)
    run = pio.run(user, board)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert "|-- kws_ref_model @ " in run.stdout and "Archiving .pio/build/nucleo_f446re/" in run.stdout  # found and built as a library
    assert 0 < _durations(run.stdout)[board] < PIO_SECONDS
    elf = user / ".pio" / "build" / board / "firmware.elf"
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    # the DSP tier's weights (op0_weights, in its block order): the library is built for the Nucleo's tier
    assert " T pb_kws_ref_model_run_range" in symbols and " t pb_kws_ref_model_op0_weights" in symbols
    from protobrain.boards import load_board
    from protobrain.toolchain import section_sizes

    b = load_board(board)
    assert section_sizes(b, elf) == section_sizes(b, project / ".pio" / "build" / board / "firmware.elf")
    assert pio.connections == 0, "PlatformIO tried to reach the network"


def test_each_environment_gets_its_own_boards_tier(tmp_path):
    """The Nucleo (Cortex-M4) and the Pico (Cortex-M0+) in one project: each environment holds
    exactly the sources `protobrain build -b BOARD` writes, with that board's kernel tier, not
    the slowest tier of the set (the Nucleo once got the Pico's kernels)."""
    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed (make setup installs it)")
    path = shared_model("kws_ref_model")
    out = tmp_path / "project"
    proc = subprocess.run([*CLI, "export", "platformio", str(path), "-b", "nucleo_f446re", "-b", "rpi_pico", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    for board, tier in (("nucleo_f446re", "dsp"), ("rpi_pico", "armv6m")):
        assert re.search(rf"env:{board} .* {tier} kernels", proc.stdout), proc.stdout
        fw = tmp_path / board
        built = subprocess.run([*CLI, "build", str(path), "-b", board, "-o", str(fw)], capture_output=True, text=True,
                               timeout=300)
        assert built.returncode == 0 and f"{tier} kernels" in built.stdout, built.stderr
        want = {p.name: p.read_bytes() for p in fw.iterdir() if p.suffix in (".c", ".h", ".S") or p.name == "link.ld"}
        got = {p.name: p.read_bytes() for p in (out / "include").iterdir()}
        got.update((p.name, p.read_bytes()) for p in (out / "src" / board).iterdir())
        assert sorted(got) == sorted(want) and got == want, board


def _small_board(tmp_path):
    """A board file with a [platformio] section and too little RAM for kws_ref_model."""
    from protobrain.boards import load_board

    text = (load_board("nucleo_f446re").path.read_text()
            .replace('name = "nucleo_f446re"', 'name = "tiny_f446"').replace("length = 0x00020000", "length = 0x00004000"))
    path = tmp_path / "tiny_f446.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("case", ["unknown board", "no platformio", "not empty", "a file", "does not fit", "library not empty"])
def test_export_errors_are_one_line_and_write_nothing(case, kws, tmp_path):
    path, _, _ = kws
    out = tmp_path / "out"
    board = "nucleo_f446re"
    cmd = ["export", "platformio", str(path), "--board", board, "-o", str(out)]
    want = {"unknown board": "unknown board 'nucleo_f999'", "no platformio": "qemu-mps2-an386 has no [platformio]",
            "not empty": "exists and is not empty", "a file": "is not a folder", "does not fit": "does not fit tiny_f446",
            "library not empty": "exists and is not empty"}[case]
    if case == "unknown board":
        cmd[4] = "nucleo_f999"
    elif case == "no platformio":
        cmd[3:3] = ["--board", "qemu-mps2-an386"]
    elif case in ("not empty", "library not empty"):
        out.mkdir()
        (out / "main.c").write_text("/* the user's own */\n")
        if case == "library not empty":
            cmd = ["export", "library", str(path), "-o", str(out)]
    elif case == "a file":
        out.write_text("x")
    elif case == "does not fit":
        cmd[4] = str(_small_board(tmp_path))
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    proc = subprocess.run([*CLI, *cmd], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert want in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before  # nothing written, nothing replaced


def test_export_force_replaces_a_project(kws, tmp_path):
    path, _, _ = kws
    out = tmp_path / "out"
    out.mkdir()
    (out / "stale.txt").write_text("old")
    proc = subprocess.run([*CLI, "export", "platformio", str(path), "-b", "rpi_pico", "-b", "rpi_pico", "-o", str(out), "--force"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not (out / "stale.txt").exists() and (out / "src" / "rpi_pico" / "main.c").exists()
    ini = configparser.ConfigParser()
    ini.read(out / "platformio.ini")
    assert [s for s in ini.sections() if s.startswith("env:")] == ["env:rpi_pico"]  # a board named twice is one env


def test_flash_uploads_with_platformio_then_verifies_over_the_port(tmp_path):
    """A real board as protobrain sees one (flashed by PlatformIO upload), played by QEMU:
    `protobrain flash MODEL --board B --firmware DIR --port PORT` runs `pio run -t upload`
    (a stand-in pio that records its arguments), then checks over PORT that the board runs
    the firmware just built and that MODEL is bit-exact there."""
    from protobrain.boards import load_board
    from protobrain.compiler.program import build_program
    from protobrain.compiler.reader import read_model
    from protobrain.firmware.build import build
    from protobrain.run.qemu import QemuBoard

    sim = needs_simulator("qemu-netduinoplus2")
    model = shared_model("hello_world_int8")
    # the simulated STM32 described as a real board that flashes through PlatformIO
    text = sim.path.read_text().replace('name = "qemu-netduinoplus2"', 'name = "bench_f405"').replace(
        'method = "qemu"', 'method = "platformio"')
    board_file = tmp_path / "bench_f405.toml"
    board_file.write_text(text + '\n[platformio]\nboard = "netduino_plus2"\nplatform = "ststm32"\n')
    board = load_board(str(board_file))
    fw = tmp_path / "fw"
    image = build(board, [build_program(read_model(model))], [model.read_bytes()], fw)
    kws = shared_model("kws_ref_model")
    other = build(board, [build_program(read_model(kws))], [kws.read_bytes()], tmp_path / "other")

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pio-calls.txt"
    (bin_dir / "pio").write_text(f"#!/bin/sh\necho \"$@\" >> {log}\n")
    (bin_dir / "pio").chmod((bin_dir / "pio").stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    flash = [*CLI, "flash", str(model), "--board", str(board_file), "--firmware", str(fw), "-n", "5"]

    with QemuBoard(sim, image.elf) as q:
        proc = subprocess.run([*flash, "--port", q.port], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert log.read_text().split() == ["run", "-d", str(fw / "platformio"), "-e", "bench_f405", "-t", "upload"]
    assert (fw / "platformio" / "src" / "bench_f405" / "main.c").exists()
    assert "the firmware just built" in proc.stdout and "bit-exact" in proc.stdout

    # the board answers with other firmware (the upload went elsewhere): refused in one line
    with QemuBoard(sim, other.elf) as q:
        proc = subprocess.run([*flash, "--port", q.port], capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 3 and "other firmware than" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_a_registry_look_up_is_caught_at_once(pio, tmp_path):
    """The guard behind every `connections == 0` above: a PlatformIO command that needs the
    registry is stopped as soon as it tries, not after PlatformIO's minute of retries."""
    local = pio_local.setup(tmp_path / "platformio")  # its own listener: the other tests' count stays 0
    try:
        with pytest.raises(pio_local.NetworkAttempt, match="tried to reach the network"):
            local.pio("pkg", "install", "--global", "--tool", "platformio/tool-openocd", timeout=PIO_SECONDS)
        assert local.connections > 0
    finally:
        local.close()


def test_a_runs_project_carries_its_labels_and_frontend(tmp_path):
    """A training run's folder exported as a PlatformIO project ships what `export library`
    and `export arduino` ship: the classifier's labels in its header, and for a speech run
    the audio frontend it was trained on (sources in the board's folder, header in
    include/), and the board's sources still compile warning-free into its firmware."""
    from protobrain.boards import load_board
    from protobrain.firmware.build import compile_firmware

    if shutil.which("arm-none-eabi-gcc") is None:
        pytest.skip("arm-none-eabi-gcc not installed (make setup installs it)")
    run = tmp_path / "speech"
    run.mkdir()
    shutil.copyfile(shared_model("kws_ref_model"), run / "model.tflite")
    classes = ["silence", "unknown", "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"]
    (run / "run.json").write_text(json.dumps({"task": "speech", "classes": classes, "frontend": {"n_mels": 10}}))
    out = tmp_path / "project"
    proc = subprocess.run([*CLI, "export", "platformio", str(run), "-b", "nucleo_f446re", "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    header = (out / "include" / "speech.h").read_text()
    assert "PB_SPEECH_CLASSES 12u" in header and "PB_SPEECH_FEATURE_MULTIPLIER" in header
    assert (out / "include" / "pb_frontend.h").is_file()
    src = out / "src" / "nucleo_f446re"
    assert (src / "pb_frontend.c").is_file() and '"stop"' in (src / "speech.c").read_text()
    assert "pb_frontend_push(&fe" in (out / "README.md").read_text()
    both = tmp_path / "both"
    shutil.copytree(src, both)
    for h in (out / "include").iterdir():
        shutil.copyfile(h, both / h.name)
    elf, _ = compile_firmware(load_board("nucleo_f446re"), both)
    assert elf.is_file()
