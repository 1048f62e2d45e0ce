"""The protobrain command line: inspect and generate (more stages plug in as subcommands)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from . import __version__
from .errors import ProtobrainError

# Wide tables when piped to a file or CI log; the terminal's own width when interactive.
console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)


class _Group(click.Group):
    """Turns every ProtobrainError into one line on stderr and its exit code."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ProtobrainError as e:
            click.echo(f"protobrain: error: {e}", err=True)
            sys.exit(e.exit_code)
        except KeyboardInterrupt:
            click.echo("protobrain: interrupted", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, SystemExit):
            raise
        except Exception as e:
            if os.environ.get("PROTOBRAIN_DEBUG"):
                raise
            click.echo(f"protobrain: internal error: {type(e).__name__}: {e} (rerun with PROTOBRAIN_DEBUG=1 for a traceback)", err=True)
            sys.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="protobrain")
def main():
    """protobrain: int8 TFLite models in, static-memory C and firmware out.

    Bit-exact with TensorFlow Lite Micro; weights in flash, one arena planned offline,
    no interpreter and no heap.
    """


_PLANNER = click.option(
    "--planner", default="best", show_default=True,
    type=click.Choice(["best", "greedy-size", "greedy-conflicts", "first-fit", "no-reuse"]),
    help="Memory planning strategy ('best' tries each and keeps the smallest arena).",
)


def _build(model: str, planner: str):
    from .compiler import build_program
    from .reader import read_model

    return build_program(read_model(model), planner)


def _shape(g, idx) -> str:
    return "x".join(map(str, g.tensors[idx].shape)) or "scalar"


def _tflm_arena(model: str) -> int | None:
    try:
        from .reference import Reference

        return Reference(model).arena_bytes()
    except Exception:
        return None


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@_PLANNER
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of tables.")
@click.option("--no-reference", is_flag=True, help="Skip loading the model in TFLite Micro to read its arena size.")
def inspect(model, planner, as_json, no_reference):
    """Show MODEL's operators, shapes, MACs, parameters and planned RAM."""
    program = _build(model, planner)
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
            "kernel": step.call.function if step.call else "(view)",
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
        "tflm_arena_bytes": tflm,
        "inputs": [{"shape": list(g.tensors[i].shape), "dtype": g.tensors[i].dtype} for i in g.inputs],
        "outputs": [{"shape": list(g.tensors[i].shape), "dtype": g.tensors[i].dtype} for i in g.outputs],
    }
    if as_json:
        click.echo(json.dumps({"summary": summary, "layers": rows}, indent=2))
        return
    table = Table(title=f"{g.name}: {len(program.steps)} operators", title_justify="left")
    for col, just in (("#", "right"), ("operator", "left"), ("input", "left"), ("output", "left"),
                      ("type", "left"), ("MACs", "right"), ("params B", "right"), ("kernel", "left")):
        table.add_column(col, justify=just)
    for r in rows:
        table.add_row(str(r["step"]), r["op"], ", ".join(r["inputs"]), r["output"], r["dtype"],
                      f"{r['macs']:,}", f"{r['params_bytes']:,}", r["kernel"])
    console.print(table)
    _print_summary(summary)


def _print_summary(s: dict) -> None:
    ins = ", ".join(f"{i['dtype']}[{'x'.join(map(str, i['shape']))}]" for i in s["inputs"])
    outs = ", ".join(f"{o['dtype']}[{'x'.join(map(str, o['shape']))}]" for o in s["outputs"])
    console.print(f"I/O          {ins} -> {outs}")
    console.print(f"MACs         {s['macs']:,}")
    console.print(f"flash        {s['flash_const_bytes']:,} B of weights and parameters (plus code)")
    line = f"RAM          {s['arena_bytes']:,} B arena (planner {s['planner']}; live-tensor lower bound {s['activation_lower_bound']:,} B"
    if s.get("tflm_arena_bytes"):
        line += f"; TFLite Micro arena {s['tflm_arena_bytes']:,} B"
    console.print(line + ")")


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for the generated C (created; existing files of the same name are replaced).")
@click.option("--name", default=None, help="C name of the model (default: from the file name).")
@_PLANNER
def generate(model, out_dir, name, planner):
    """Generate static-memory C for MODEL into a folder: <name>.h/.c, weights, kernels."""
    from . import codegen
    from .compiler import build_program
    from .reader import read_model

    t0 = time.perf_counter()
    program = build_program(read_model(model, name), planner)
    files = codegen.write(program, out_dir, source=Path(model).name)
    elapsed = time.perf_counter() - t0
    g = program.graph
    console.print(f"generated {len(files)} files in {out_dir} ({elapsed:.2f} s): "
                  + ", ".join(f.name for f in files if not f.name.startswith("pb_")) + f" + {sum(f.name.startswith('pb_') for f in files)} kernel files")
    console.print(f"API          int pb_{g.name}_invoke(...) in {g.name}.h")
    _print_summary({
        "inputs": [{"shape": list(g.tensors[i].shape), "dtype": g.tensors[i].dtype} for i in g.inputs],
        "outputs": [{"shape": list(g.tensors[i].shape), "dtype": g.tensors[i].dtype} for i in g.outputs],
        "macs": program.macs, "flash_const_bytes": program.const_bytes, "arena_bytes": program.arena_size,
        "planner": program.plan.strategy, "activation_lower_bound": program.lower_bound,
    })


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("-n", "n_random", default=100, show_default=True, help="Random inputs (plus 3 edge inputs: all min, all max, zeros).")
@click.option("--inputs", "npy", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help=".npy file of inputs (one or many, in the model's input dtype); repeatable.")
@click.option("--seed", default=0, show_default=True)
@_PLANNER
def verify(model, n_random, npy, seed, planner):
    """Compile MODEL's generated C for this host and compare every output byte with TFLite Micro.

    Exits 1 on any mismatch and names the first differing index.
    """
    from .host import CompiledModel, build_shared_library
    from .reference import Reference
    from .verify import compare, test_inputs

    program = _build(model, planner)
    compiled = CompiledModel(program, build_shared_library(program, str(model)))
    cases = test_inputs(compiled.inputs, n_random, seed, list(npy))
    result = compare(compiled.run, Reference(model), cases, program.graph.name)
    table = Table(title=f"{program.graph.name}: generated C (host) vs TFLite Micro", title_justify="left")
    for col in ("inputs", "values compared", "mismatching inputs", "result"):
        table.add_column(col)
    table.add_row(str(result.cases), f"{result.values:,}", str(len(result.mismatches)),
                  "[green]bit-exact[/green]" if result.ok else "[red]MISMATCH[/red]")
    console.print(table)
    if not result.ok:
        m = result.mismatches[0]
        click.echo(f"protobrain: mismatch: input case {m.case}, output {m.output}: {m.count} values differ, "
                   f"first at index {m.index} (generated {m.got} vs TFLite Micro {m.want})", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
