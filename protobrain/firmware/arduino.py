"""An Arduino library of one model: `protobrain export arduino MODEL -o DIR`.

    DIR/library.properties
    DIR/README.md
    DIR/src/<name>.h               the API: includes the chosen tier's header
    DIR/src/pb_arduino_tier.h      the tier, from the core's macros at compile time
    DIR/src/<tier>/...             the model generated for each tier (portable, dsp, mve)
    DIR/src/pb_frontend.c/.h       a speech run's audio frontend (any tier)
    DIR/examples/<name>/<name>.ino runs the model on a test input, prints the output

The Arduino build compiles every .c under src/ with the board's flags and no way for a
library to add its own, so the tier cannot be chosen by the build: each tier's generated C
(weights in its own layout, its kernels, its arena plan) sits in a folder of its own, and
every .c file there is wrapped in `#if PB_ARDUINO_USE_<TIER>`, which pb_arduino_tier.h
sets from __ARM_FEATURE_MVE / __ARM_FEATURE_DSP. One folder compiles; the others are empty
translation units. A tier whose code for this model equals a slower tier's is not shipped
twice: it uses that folder.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from protobrain import __version__
from protobrain.codegen import render as codegen
from protobrain.codegen.c import c_array_body, env
from protobrain.compiler.ir import C_TYPES
from protobrain.compiler.program import Program
from protobrain.errors import ProtobrainError
from protobrain.firmware.platformio import _install, check_output, companion_readme

TIERS = ("portable", "dsp", "mve")  # slowest first: a tier equal to a slower one uses its folder
TIER_MACRO = {"portable": "PB_ARDUINO_PORTABLE", "dsp": "PB_ARDUINO_DSP", "mve": "PB_ARDUINO_MVE"}
_LIBRARY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _guarded(text: str, folder: str, stem: str) -> str:
    """A .c file of a tier's folder, compiled only when pb_arduino_tier.h picks that folder."""
    return (f"/* protobrain: the {folder} tier's copy; it compiles only where pb_arduino_tier.h picks that tier. */\n"
            f'#include "../pb_arduino_tier.h"\n#if PB_ARDUINO_USE_{folder.upper()}\n\n{text.rstrip()}\n\n#else\n'
            f"typedef int pb_arduino_{folder}_{stem}_not_compiled; /* ISO C wants a declaration in every file */\n"
            "#endif\n")


def _tier_texts(program: Program, source: str, extras: codegen.Extras) -> dict[str, str]:
    """One tier's generated files as {name: text}."""
    texts = codegen.render(program, source, extras=replace(extras, files=()))
    return texts | {f.name: f.read_text() for f in codegen.kernel_files(program)}


def _values(values: np.ndarray, ctype: str) -> str:
    return c_array_body(np.asarray(values).reshape(-1), ctype)


def export_arduino(programs: dict[str, Program], source: str, out: Path, force: bool = False,
                   extras: codegen.Extras = codegen.Extras(), test_inputs=(), expected=None,
                   library: str | None = None) -> dict[str, str]:
    """Write the library. programs: the model compiled for every tier (by tier name);
    test_inputs: one array per input for the example; expected: TensorFlow Lite Micro's
    outputs for them, or None. Returns {tier: the folder its code is in}."""
    out = Path(out)
    first = programs["portable"]
    name = first.graph.name
    library = library or name
    if not _LIBRARY_NAME.match(library):
        raise ProtobrainError(f"library name '{library}' must be letters, digits, '_', '-' or '.', "
                              "starting with a letter or digit")
    check_output(out, force)
    texts, folder_of = {}, {}
    for tier in TIERS:
        t = _tier_texts(programs[tier], source, extras)
        same = next((f for f, other in texts.items() if other == t), None)
        folder_of[tier] = same or tier
        if same is None:
            texts[tier] = t
    serves = {folder: " || ".join(f"PB_ARDUINO_TIER == {TIER_MACRO[t]}" for t in TIERS if folder_of[t] == folder)
              for folder in texts}
    ctx = {"version": __version__, "name": name, "NAME": name.upper(), "prefix": f"pb_{name}", "source": source,
           "library": library, "folders": list(texts), "serves": serves,
           "aliases": {t: f for t, f in folder_of.items() if t != f},
           "arenas": ", ".join(f"{programs[f].arena_size:,} B arena with the {f} kernels" for f in texts),
           "labels": bool(extras.labels)}
    g = first.graph
    ctx["inputs"] = [{"dtype": g.tensors[i].dtype, "shape": g.tensors[i].shape, "ctype": C_TYPES[g.tensors[i].dtype],
                      "data": _values(x, C_TYPES[g.tensors[i].dtype])} for i, x in zip(g.inputs, test_inputs)]
    if len(ctx["inputs"]) != len(g.inputs):
        raise ValueError(f"{name} takes {len(g.inputs)} inputs, {len(test_inputs)} test inputs given")
    ctx["outputs"] = [{"dtype": g.tensors[i].dtype, "shape": g.tensors[i].shape, "ctype": C_TYPES[g.tensors[i].dtype],
                       "expected": _values(expected[k], C_TYPES[g.tensors[i].dtype]) if expected is not None else None}
                      for k, i in enumerate(g.outputs)]
    with tempfile.TemporaryDirectory(prefix="pb-arduino-") as tmp:
        lib = Path(tmp) / "library"
        src = lib / "src"
        for folder, files in texts.items():
            (src / folder).mkdir(parents=True)
            for fname, text in files.items():
                stem = re.sub(r"\W", "_", Path(fname).stem)
                (src / folder / fname).write_text(_guarded(text, folder, stem) if fname.endswith(".c") else text)
        for fname, text in extras.files:  # the frontend: the same C for every tier
            (src / fname).write_text(text)
        (src / "pb_arduino_tier.h").write_text(env().get_template("arduino/pb_arduino_tier.h.j2").render(ctx))
        (src / f"{name}.h").write_text(env().get_template("arduino/model.h.j2").render(ctx))
        example = lib / "examples" / name
        example.mkdir(parents=True)
        (example / f"{name}.ino").write_text(env().get_template("arduino/sketch.ino.j2").render(ctx))
        (lib / "library.properties").write_text(env().get_template("arduino/library.properties.j2").render(ctx))
        (lib / "README.md").write_text(_readme(ctx, programs, folder_of, extras))
        _install(lib, out)
    return folder_of


def _readme(ctx: dict, programs: dict[str, Program], folder_of: dict[str, str], extras: codegen.Extras) -> str:
    name = ctx["name"]
    p = programs["portable"]
    lines = [f"# {ctx['library']}", "",
             f"`{name}` as static-memory C for Arduino, generated by protobrain {__version__} from {ctx['source']}: "
             "bit-exact with TensorFlow Lite Micro, weights in flash, one arena planned offline, no interpreter and "
             "no heap.", "",
             "Install: copy this folder into your sketchbook's `libraries/` (or Sketch > Include Library > Add .ZIP "
             f"Library on a zip of it). Open File > Examples > {ctx['library']} > {name}: it runs the model once on "
             "a test input and prints the output over Serial (115200 baud), and whether it is exactly TensorFlow "
             "Lite Micro's.", "",
             "```cpp", f"#include <{name}.h>", "",
             f"memcpy(pb_{name}_input0(), my_input, PB_{name.upper()}_INPUT0_BYTES);",
             f"pb_{name}_run();",
             f"const {C_TYPES[p.graph.tensors[p.graph.outputs[0]].dtype]} *scores = pb_{name}_output0();",
             "```", "",
             f"`src/{name}.h` documents the API (`pb_{name}_invoke` copies buffers in and out and returns a status; "
             "the typed accessors above work in place), sizes, shapes and quantization.", "",
             "## Kernel tier", "",
             "The Arduino core's compiler flags say which kernels the board's core runs, and `src/pb_arduino_tier.h` "
             "picks them at compile time: Helium (`__ARM_FEATURE_MVE`: Cortex-M55), DSP (`__ARM_FEATURE_DSP`: "
             "Cortex-M4 such as the Nano 33 BLE's nRF52840, M7, M33), else portable C (Cortex-M0+, M3, other "
             "architectures). `-DPB_KERNELS_PORTABLE` forces the portable kernels.", "",
             "| tier | folder | arena | weights and parameters |", "|---|---|---|---|"]
    for tier, folder in folder_of.items():
        prog = programs[folder]
        lines.append(f"| {tier} | `src/{folder}/` | {prog.arena_size:,} B | {prog.const_bytes:,} B |")
    lines.append("")
    return "\n".join(lines + companion_readme(name, extras))
