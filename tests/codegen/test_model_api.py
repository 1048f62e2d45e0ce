"""The generated model header's contract, held to what the C does: one static arena that
PB_ARENA_SECTION places in a section of the user's choice, invoke's status codes (each
documented, each returned when it says), and input/output accessors typed per tensor."""

import re
import shutil
import subprocess

import pytest
from conftest import shared_model

from protobrain.codegen import render as codegen
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model

NAME = "hello_world_int8"
PREFIX = f"pb_{NAME}"
UPPER = NAME.upper()


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    out = tmp_path_factory.mktemp("api")
    codegen.write(build_program(read_model(shared_model(NAME))), out, source=f"{NAME}.tflite")
    return out


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        pytest.skip(f"{name} not installed (make setup installs it)")
    return exe


def test_header_says_what_the_code_promises_and_what_it_does_not(generated):
    header = (generated / f"{NAME}.h").read_text()
    text = " ".join(" ".join(ln.strip().lstrip("/*").split()) for ln in header.splitlines())
    for promise in ("one static arena", "not re-entrant", "one thread or one interrupt level", "PB_ARENA_SECTION"):
        assert promise.lower() in text.lower(), promise
    # every status invoke returns is a macro with a comment that says what it means
    codes = re.findall(rf"#define (PB_{UPPER}_(?:OK|ERROR_\w+)) (-?\d+) /\* (.+?) \*/", header)
    assert {c[0] for c in codes} == {f"PB_{UPPER}_OK", f"PB_{UPPER}_ERROR_NULL_POINTER", f"PB_{UPPER}_ERROR_BUSY"}
    assert len({c[1] for c in codes}) == 3 and all(len(c[2]) > 20 for c in codes)
    assert re.search(rf"\nint {PREFIX}_invoke\(const int8_t \*input0, int8_t \*output0\);", header)


def test_arena_section_macro_places_the_arena(generated, tmp_path):
    cc, objdump = _tool("arm-none-eabi-gcc"), _tool("arm-none-eabi-objdump")
    flags = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16", "-std=c99", "-O2",
             "-Wall", "-Wextra", "-Werror", "-I", str(generated)]

    def arena_section(*defines) -> str:
        obj = tmp_path / "model.o"
        subprocess.run([cc, *flags, *defines, "-c", str(generated / f"{NAME}.c"), "-o", str(obj)], check=True)
        table = subprocess.run([objdump, "-t", str(obj)], capture_output=True, text=True, check=True).stdout
        rows = [ln.split() for ln in table.splitlines() if ln.split()[-1:] == ["arena"]]
        assert len(rows) == 1, table
        return rows[0][-3]  # ... flags section size name

    assert arena_section() == ".bss"
    assert arena_section("-DPB_ARENA_SECTION=__attribute__((section(\".myram\")))") == ".myram"


HARNESS = r"""
#include <stdio.h>
#include <string.h>
#include "NAME.h"

static int nested = -100;
static int8_t nested_in[PB_UPPER_INPUT0_SIZE], nested_out[PB_UPPER_OUTPUT0_SIZE];

/* Called after every step of a run: what an interrupt handler that calls invoke sees. */
void step_hook(int step)
{
    if (step == 0) {
        nested = PREFIX_invoke(nested_in, nested_out);
    }
}

int main(void)
{
    int8_t in[PB_UPPER_INPUT0_SIZE], out[PB_UPPER_OUTPUT0_SIZE];
    int8_t *typed_in = PREFIX_input0();          /* typed: no cast, -Werror would refuse a mismatch */
    const int8_t *typed_out = PREFIX_output0();
    int rc;
    memset(in, 3, sizeof(in));
    if ((void *)typed_in != PREFIX_input(0) || (const void *)typed_out != PREFIX_output(0)) return 10;
    if (PREFIX_invoke(NULL, out) != PB_UPPER_ERROR_NULL_POINTER) return 11;
    if (PREFIX_invoke(in, NULL) != PB_UPPER_ERROR_NULL_POINTER) return 12;
    rc = PREFIX_invoke(in, out);
    if (rc != PB_UPPER_OK) return 13;
    if (nested != PB_UPPER_ERROR_BUSY) return 14;
    if (memcmp(out, typed_out, sizeof(out)) != 0) return 15;
    nested = -100;
    if (PREFIX_invoke(in, out) != PB_UPPER_OK || nested != PB_UPPER_ERROR_BUSY) return 16;  /* busy is cleared */
    printf("ok\n");
    return 0;
}
"""


def test_invoke_returns_each_documented_status_and_accessors_are_typed(generated, tmp_path):
    cc = _tool("gcc")
    main = tmp_path / "main.c"
    main.write_text(HARNESS.replace("PB_UPPER", f"PB_{UPPER}").replace("PREFIX", PREFIX).replace("NAME", NAME))
    exe = tmp_path / "harness"
    sources = [str(p) for p in sorted(generated.glob("*.c"))]
    subprocess.run([cc, "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-DPB_STEP_HOOK=step_hook",
                    "-I", str(generated), str(main), *sources, "-o", str(exe), "-lm"], check=True)
    proc = subprocess.run([str(exe)], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "ok\n", proc.returncode
