"""`protobrain export arduino`: an Arduino library whose sources compile as an Arduino core
compiles them (every .c under src/ with the board's flags, no flags of the library's own),
warning-free, with the kernel tier chosen by the core's macros: DSP on the Nano 33 BLE's
Cortex-M4F, portable on a Cortex-M0+, Helium on a Cortex-M55. The Arduino cores are not
reachable here, so arm-none-eabi-gcc stands in for them, and the example sketch also runs
on this host (portable and DSP C forms) against a stand-in Serial and must report that its
output is TensorFlow Lite Micro's."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SHARED_MODELS

CLI = [sys.executable, "-m", "protobrain.cli.main"]
ARM = {
    "cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],  # Nano 33 BLE
    "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb"],
    "cortex-m55": ["-mcpu=cortex-m55", "-mthumb", "-mfloat-abi=hard"],
}
WARN = ["-Wall", "-Wextra", "-Werror"]
# The start of the symbols each tier's matrix multiply alone defines.
TIER_SYMBOL = {"cortex-m4": "pb_fast_mm_", "cortex-m55": "pb_fast_mve_mm_"}

ARDUINO_H = r"""
/* A stand-in for the Arduino core's Arduino.h: what the example sketch uses. */
#pragma once
#include <stdint.h>
#include <string.h>
class HardwareSerial {
public:
    void begin(unsigned long baud);
    operator bool();
    void print(const char *s);
    void print(char c);
    void print(long v);
    void print(unsigned long v);
    void print(double v, int digits = 2);
    void println(const char *s = "");
};
extern HardwareSerial Serial;
unsigned long micros(void);
"""

HOST_CORE = r"""
#include <stdio.h>
#include "Arduino.h"
HardwareSerial Serial;
void HardwareSerial::begin(unsigned long) {}
HardwareSerial::operator bool() { return true; }
void HardwareSerial::print(const char *s) { fputs(s, stdout); }
void HardwareSerial::print(char c) { putchar(c); }
void HardwareSerial::print(long v) { printf("%ld", v); }
void HardwareSerial::print(unsigned long v) { printf("%lu", v); }
void HardwareSerial::print(double v, int digits) { printf("%.*f", digits, v); }
void HardwareSerial::println(const char *s) { puts(s); }
unsigned long micros(void) { return 0; }
void setup();
int main() { setup(); return 0; }
"""


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """kws_ref_model from the shared models, else a small net built here."""
    path = SHARED_MODELS / "kws_ref_model.tflite"
    if path.exists():
        return path
    from builders import small_net_bytes

    path = tmp_path_factory.mktemp("model") / "kws_ref_model.tflite"
    path.write_bytes(small_net_bytes())
    return path


@pytest.fixture(scope="module")
def library(model, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("arduino") / "kws"
    proc = subprocess.run([*CLI, "export", "arduino", str(model), "-o", str(out)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} not installed (make setup installs gcc-arm-none-eabi)")
    return exe


def _properties(lib: Path) -> dict:
    return dict(ln.split("=", 1) for ln in (lib / "library.properties").read_text().splitlines() if "=" in ln)


def test_the_library_has_the_arduino_layout(library):
    props = _properties(library)
    assert props["name"] == "kws_ref_model" and props["architectures"] == "*" and props["includes"] == "kws_ref_model.h"
    assert {"version", "author", "maintainer", "sentence", "paragraph", "category", "url"} <= set(props)
    assert (library / "src" / "kws_ref_model.h").is_file() and (library / "src" / "pb_arduino_tier.h").is_file()
    assert (library / "examples" / "kws_ref_model" / "kws_ref_model.ino").is_file()
    assert "Serial" in (library / "examples" / "kws_ref_model" / "kws_ref_model.ino").read_text()


@pytest.mark.parametrize("cpu", ARM)
def test_every_source_compiles_warning_free_as_the_core_would_and_picks_the_cores_tier(library, cpu, tmp_path):
    cc, ld, nm = _tool("arm-none-eabi-gcc"), _tool("arm-none-eabi-ld"), _tool("arm-none-eabi-nm")
    sources = sorted((library / "src").rglob("*.c")) + sorted((library / "src").rglob("*.cpp"))
    objects = []
    for k, src in enumerate(sources):
        obj = tmp_path / f"{k}.o"
        proc = subprocess.run([cc, *ARM[cpu], "-std=gnu11", "-Os", *WARN, "-ffunction-sections", "-fdata-sections",
                               "-I", str(library / "src"), "-c", str(src), "-o", str(obj)], capture_output=True, text=True)
        if proc.returncode != 0 and "unrecognized" in proc.stderr and cpu == "cortex-m55":
            pytest.skip(f"{cc} does not know the Cortex-M55")
        assert proc.returncode == 0 and not proc.stderr, f"{src.relative_to(library)}: {proc.stderr[:2000]}"
        objects.append(str(obj))
    linked = tmp_path / "library.o"  # one tier only: no symbol defined twice
    subprocess.run([ld, "-r", "-o", str(linked), *objects], check=True)
    symbols = {ln.split()[-1] for ln in subprocess.run([nm, str(linked)], capture_output=True, text=True,
                                                       check=True).stdout.splitlines()}
    assert "pb_kws_ref_model_invoke" in symbols
    for other_cpu, prefix in TIER_SYMBOL.items():
        assert any(s.startswith(prefix) for s in symbols) == (other_cpu == cpu), (cpu, prefix)


def test_the_example_sketch_compiles_as_cpp_for_the_nano(library, tmp_path):
    cxx = _tool("arm-none-eabi-g++")
    (tmp_path / "Arduino.h").write_text(ARDUINO_H)
    sketch = library / "examples" / "kws_ref_model" / "kws_ref_model.ino"
    proc = subprocess.run([cxx, *ARM["cortex-m4"], "-std=gnu++17", "-Os", *WARN, "-I", str(tmp_path),
                           "-I", str(library / "src"), "-x", "c++", "-include", "Arduino.h", "-c", str(sketch),
                           "-o", str(tmp_path / "sketch.o")], capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr, proc.stderr[:2000]


@pytest.mark.parametrize("tier", ["portable", "dsp"])
def test_the_example_prints_tensorflow_lite_micros_output(library, tier, tmp_path):
    """On this host the core macros pick the portable kernels; -DPB_KERNELS_DSP runs the DSP
    tier's plain-C form (same layouts, same arithmetic)."""
    cc, cxx = _tool("gcc"), _tool("g++")
    (tmp_path / "Arduino.h").write_text(ARDUINO_H)
    (tmp_path / "core.cpp").write_text(HOST_CORE)
    flags = ["-O2", *WARN, "-I", str(tmp_path), "-I", str(library / "src")]
    if tier == "dsp":
        flags.append("-DPB_KERNELS_DSP")
    objects = []
    for k, src in enumerate(sorted((library / "src").rglob("*.c"))):
        objects.append(str(tmp_path / f"{k}.o"))
        subprocess.run([cc, "-std=gnu11", *flags, "-c", str(src), "-o", objects[-1]], check=True)
    sketch = library / "examples" / "kws_ref_model" / "kws_ref_model.ino"
    exe = tmp_path / "sketch"
    subprocess.run([cxx, "-std=gnu++17", *flags, "-x", "c++", "-include", "Arduino.h", str(sketch),
                    str(tmp_path / "core.cpp"), "-x", "none", *objects, "-o", str(exe), "-lm"], check=True)
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.splitlines()
    assert lines[0].startswith("kws_ref_model: one inference in") and lines[1].startswith("output 0: ")
    assert lines[-1] == "matches TensorFlow Lite Micro: yes"


def test_export_arduino_errors_are_one_line_and_write_nothing(model, tmp_path):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    for args, words in (([str(model), "-o", str(busy)], "not empty"),
                        ([str(tmp_path / "missing.tflite"), "-o", str(tmp_path / "new")], "missing.tflite"),
                        ([str(model), "-o", str(tmp_path / "new"), "--library", "bad name!"], "library name")):
        proc = subprocess.run([*CLI, "export", "arduino", *args], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and words in proc.stderr, proc.stderr
    assert [p.name for p in busy.iterdir()] == ["keep.txt"] and not (tmp_path / "new").exists()


def test_the_nano_33_ble_board_file_keeps_the_bootloader(model, tmp_path):
    from protobrain.boards import load_board

    board = load_board("arduino_nano33ble")
    assert board.flash.origin + board.flash.length == 1 << 20 and board.ram.length == 256 * 1024
    assert "dsp" in board.features and "-mfpu=fpv4-sp-d16" in board.cflags
    _tool("arm-none-eabi-gcc")
    proc = subprocess.run([*CLI, "build", str(model), "-b", "arduino_nano33ble", "-o", str(tmp_path / "fw")],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    nm = subprocess.run([_tool("arm-none-eabi-nm"), str(tmp_path / "fw" / "firmware.elf")], capture_output=True,
                        text=True, check=True).stdout
    vectors = next(ln for ln in nm.splitlines() if ln.endswith(" pb_vectors"))
    assert int(vectors.split()[0], 16) == 0x10000  # after Arduino's 64 KB bootloader
