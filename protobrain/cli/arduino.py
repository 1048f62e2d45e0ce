"""`export arduino`: one model as an Arduino library, its kernel tier chosen at compile time."""

from __future__ import annotations

from pathlib import Path

import click

from protobrain.audio.companion import model_extras
from protobrain.cli.options import EXPORT_NAMES, OPTIMIZE, PLANNER, console, export_names
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model
from protobrain.compiler.run_info import model_path
from protobrain.firmware.arduino import TIERS
from protobrain.firmware.arduino import export_arduino as write_arduino
from protobrain.firmware.platformio import check_output
from protobrain.firmware.programs import given_names
from protobrain.verify.compare import test_inputs
from protobrain.verify.reference import Reference


def _expected(model: Path, inputs):
    """TensorFlow Lite Micro's outputs for the example's input, or None where it cannot run
    the model (the example then prints the output without comparing it)."""
    try:
        out = Reference(model).run(*inputs)
    except Exception:
        return None
    return out if isinstance(out, list) else [out]


@click.command("arduino")
@click.argument("model", type=click.Path())
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(), help="Library folder (new or empty).")
@EXPORT_NAMES
@click.option("--library", default=None, help="Arduino library name (default: the model's name).")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output folder.")
@PLANNER
@OPTIMIZE
def export_arduino(model, out_dir, names, library, force, planner, optimize):
    """An Arduino library of MODEL (a .tflite file or a training run's folder): src/ with the
    model generated for every kernel tier, the tier chosen at compile time from the core's
    macros (Helium, DSP, else portable), and an example sketch that runs the model on a
    test input and prints its output over Serial."""
    path = model_path(model)
    name = given_names([path], export_names(names, [path])).get(0)
    check_output(Path(out_dir), force)
    programs = {tier: build_program(read_model(path, name), planner, tier, optimize=optimize) for tier in TIERS}
    portable = programs["portable"]
    g = portable.graph
    extras = model_extras(portable, path)
    inputs = list(test_inputs([g.tensors[i] for i in g.inputs], 1)[0])
    expected = _expected(path, inputs)
    folder_of = write_arduino(programs, path.name, Path(out_dir), force, extras, inputs, expected, library)
    console.print(f"exported Arduino library {library or g.name} to {out_dir}: library.properties, src/ "
                  f"({', '.join(sorted(set(folder_of.values())))} kernels, chosen at compile time), "
                  f"examples/{g.name}/{g.name}.ino")
    for tier, folder in folder_of.items():
        p = programs[folder]
        console.print(f"  {tier:<9} src/{folder + '/':<10} arena {p.arena_size:,} B, weights {p.const_bytes:,} B")
    if expected is None:
        console.print("example      prints the output; TensorFlow Lite Micro could not run the model here, so it "
                      "does not compare it")
    else:
        console.print("example      prints the output and whether it equals TensorFlow Lite Micro's")
