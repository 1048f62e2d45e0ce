"""`inspect` and `generate`: one model file, read and compiled on this computer."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
from rich.table import Table

from protobrain.audio.companion import model_extras
from protobrain.boards import board_names
from protobrain.cli.options import KERNELS, OPTIMIZE, PLANNER, console
from protobrain.codegen import render as codegen
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model
from protobrain.compiler.run_info import model_path
from protobrain.errors import ProtobrainError
from protobrain.firmware.programs import kernel_tier
from protobrain.measure.plan_plot import FORMATS as PLOT_FORMATS
from protobrain.measure.plan_plot import TflmArena, plot_plan
from protobrain.verify.reference import Reference


def _shape(g, idx) -> str:
    return "x".join(map(str, g.tensors[idx].shape)) or "scalar"


def _tflm_arena(model: str) -> TflmArena | None:
    try:
        ref = Reference(model)
        total = ref.arena_bytes()
        return TflmArena(total, ref.arena_bytes("head")) if total else None
    except Exception:
        return None


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@PLANNER
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of tables.")
@click.option("--no-reference", is_flag=True, help="Skip loading the model in TFLite Micro to read its arena size.")
@click.option("--board", default="host", show_default=True, type=click.Choice(["host", *board_names()]),
              help="The board whose core picks the kernel tier (with --kernels auto) and whose flash bounds it.")
@KERNELS
@OPTIMIZE
@click.option("--plot", type=click.Path(dir_okay=False),
              help="Draw the memory plan into this .png/.svg/.pdf: each activation tensor a box (operators "
                   "across, arena offset up), the lower bound and TFLite Micro's arena marked.")
def inspect(model, planner, as_json, no_reference, board, kernels, optimize, plot):
    """Show MODEL's operators, shapes, MACs, parameters, the kernel and tier each runs, and planned RAM."""
    if plot and Path(plot).suffix.lower() not in PLOT_FORMATS:
        raise ProtobrainError(f"--plot {plot}: give a file name ending in {', '.join(PLOT_FORMATS)}")
    tier, budget = kernel_tier(kernels, board)
    program = build_program(read_model(model), planner, tier, budget, optimize)
    g = program.graph
    tflm = None if no_reference else _tflm_arena(model)
    rows = []
    for k, step in enumerate(program.steps):
        op = step.op
        acts = [i for i in op.inputs if i >= 0 and not g.tensors[i].is_const]
        rows.append({
            "step": k,
            "op": op.name,
            "inputs": [_shape(g, i) for i in acts],
            "output": _shape(g, op.outputs[0]),
            "dtype": g.tensors[op.outputs[0]].dtype,
            "macs": step.call.macs if step.call else 0,
            "params_bytes": step.call.const_bytes if step.call else 0,
            "kernel": (step.call.entry or step.call.function) if step.call else "(view)",
            "tier": step.call.tier if step.call else "-",
        })
    summary = {
        "model": str(model),
        "name": g.name,
        "operators": len(program.steps),
        "macs": program.macs,
        "flash_const_bytes": program.const_bytes,
        "arena_bytes": program.arena_size,
        "planner": program.plan.strategy,
        "activation_lower_bound": program.lower_bound,
        "state_bytes": program.state_size,
        "tier": program.tier,
        "optimize": program.optimize,
        "weights_form": program.weights_form,
        "tflm_arena_bytes": tflm.total if tflm else None,
        "tflm_arena_head_bytes": tflm.head if tflm else None,
        "inputs": [{"shape": list(g.tensors[i].shape), "dtype": g.tensors[i].dtype} for i in g.inputs],
        "outputs": [{"shape": list(g.tensors[i].shape), "dtype": g.tensors[i].dtype} for i in g.outputs],
    }
    if plot:
        why = "TFLite Micro's arena is not marked: " + ("--no-reference" if no_reference
                                                         else "TFLite Micro did not run this model here")
        plot_plan(program, plot, tflm, why)
    if as_json:
        click.echo(json.dumps({"summary": summary, "layers": rows}, indent=2))
        return
    table = Table(title=f"{g.name}: {len(program.steps)} operators", title_justify="left")
    for col, just in (("#", "right"), ("operator", "left"), ("input", "left"), ("output", "left"),
                      ("type", "left"), ("MACs", "right"), ("params B", "right"), ("kernel", "left"),
                      ("tier", "left")):
        table.add_column(col, justify=just)
    for r in rows:
        table.add_row(str(r["step"]), r["op"], ", ".join(r["inputs"]), r["output"], r["dtype"],
                      f"{r['macs']:,}", f"{r['params_bytes']:,}", r["kernel"], r["tier"])
    console.print(table)
    _print_summary(summary)
    if plot:
        console.print(f"plot         {plot}" + ("" if tflm else f" ({why})"), markup=False)


def _print_summary(s: dict) -> None:
    ins = ", ".join(f"{i['dtype']}[{'x'.join(map(str, i['shape']))}]" for i in s["inputs"])
    outs = ", ".join(f"{o['dtype']}[{'x'.join(map(str, o['shape']))}]" for o in s["outputs"])
    console.print(f"I/O          {ins} -> {outs}")
    console.print(f"MACs         {s['macs']:,}")
    console.print(f"flash        {s['flash_const_bytes']:,} B of weights and parameters (plus code)")
    line = f"RAM          {s['arena_bytes']:,} B arena (planner {s['planner']}; live-tensor lower bound {s['activation_lower_bound']:,} B"
    if s.get("tflm_arena_bytes"):
        line += f"; TFLite Micro arena {s['tflm_arena_bytes']:,} B"
        if s.get("tflm_arena_head_bytes"):
            line += f", activations and scratch {s['tflm_arena_head_bytes']:,} B"
    console.print(line + ")")
    if s.get("state_bytes"):
        console.print(f"state        {s['state_bytes']:,} B kept between invocations (pb_<name>_reset() restarts it)")
    if s.get("tier") and s["tier"] != "portable":
        console.print(f"kernels      {s['tier']} tier where it has a kernel, portable elsewhere"
                      + (f"; {s['weights_form']}" if s.get("weights_form") else ""))


@click.command()
@click.argument("model", type=click.Path())
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the generated C (created; existing files of the same name are replaced).")
@click.option("--name", default=None, help="C name of the model (default: from the file name).")
@click.option("--board", default="host", show_default=True, type=click.Choice(["host", *board_names()]),
              help="The board whose core picks the kernel tier (with --kernels auto) and whose flash bounds it.")
@PLANNER
@KERNELS
@OPTIMIZE
def generate(model, out_dir, name, board, planner, kernels, optimize):
    """Generate static-memory C for MODEL into a folder: <name>.h/.c, weights, kernels.

    MODEL is a .tflite file or a training run's folder. A run's classifier gets its class
    labels in its header; a speech run's net also gets the audio frontend it was trained on
    (pb_frontend.h/.c, with its streaming API)."""
    t0 = time.perf_counter()
    model = model_path(model)
    tier, budget = kernel_tier(kernels, board)
    program = build_program(read_model(model, name), planner, tier, budget, optimize)
    extras = model_extras(program, model)
    files = codegen.write(program, out_dir, source=model.name, extras=extras)
    elapsed = time.perf_counter() - t0
    g = program.graph
    console.print(f"generated {len(files)} files in {out_dir} ({elapsed:.2f} s): "
                  + ", ".join(f.name for f in files if not f.name.startswith("pb_")) + f" + {sum(f.name.startswith('pb_') and f.name not in dict(extras.files) for f in files)} kernel files")
    console.print(f"API          int pb_{g.name}_invoke(...) in {g.name}.h")
    _print_extras(g.name, extras)
    console.print(f"kernels      {program.tier}"
                  + (" where it has a kernel, portable elsewhere" if program.tier != "portable" else "")
                  + (f"; {program.weights_form}" if program.weights_form else ""))
    _print_summary({
        "inputs": [{"shape": list(g.tensors[i].shape), "dtype": g.tensors[i].dtype} for i in g.inputs],
        "outputs": [{"shape": list(g.tensors[i].shape), "dtype": g.tensors[i].dtype} for i in g.outputs],
        "macs": program.macs, "flash_const_bytes": program.const_bytes, "arena_bytes": program.arena_size,
        "planner": program.plan.strategy, "activation_lower_bound": program.lower_bound,
    })


def _print_extras(name: str, extras) -> None:
    if extras.labels:
        console.print(f"labels       {len(extras.labels)} classes, pb_{name}_labels[]: {', '.join(extras.labels)}",
                      markup=False)
    if extras.feature_input:
        console.print(f"frontend     {', '.join(n for n, _ in extras.files)}: audio in, the features "
                      f"{name} was trained on (streaming API in {extras.feature_input['frontend']}.h)")


COMMANDS = [inspect, generate]
