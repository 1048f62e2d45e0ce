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

from protobrain import __version__
from protobrain.boards import board_names, load_board
from protobrain.codegen import render as codegen
from protobrain.compiler.ops.tiers.select import TIERS, tier_for
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model
from protobrain.errors import ProtobrainError
from protobrain.firmware.build import build as build_firmware
from protobrain.firmware.platformio import (
    check_output,
    export_project,
    require_platformio,
)
from protobrain.firmware.platformio import (
    export_library as write_library,
)
from protobrain.measure.bench import check_bit_exact, run_bench, write_reports
from protobrain.run import targets as runner
from protobrain.run.qemu import QemuBoard
from protobrain.run.renode import write_renode
from protobrain.train.cli import COMMANDS
from protobrain.verify import layers as layers_check
from protobrain.verify.compare import compare, test_inputs
from protobrain.verify.reference import Reference

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


_KERNELS = click.option(
    "--kernels", default="auto", show_default=True, type=click.Choice(["auto", "portable", "dsp", "mve"]),
    help="Kernel tier: auto takes the fastest the board's core has (mve on M55, dsp on M4/M7/M33, "
         "portable elsewhere and on the host); dsp on the host runs the DSP kernels' C form.",
)


def _tier(kernels: str, *boards) -> tuple[str, int | None]:
    """The kernel tier for these boards ("host" or a board name), the fastest all of them
    run, and the smallest flash among them (what the tier may spend on faster weights)."""
    loaded = [load_board(b) for b in boards if b != "host"]
    budget = min((b.flash.length for b in loaded), default=None)
    if kernels != "auto":
        return kernels, budget
    tiers = [tier_for(b.features) for b in loaded] + ["portable"] * (len(boards) - len(loaded))
    return min(tiers, key=TIERS.index) if tiers else "portable", budget


def _build(model: str, planner: str):
    return build_program(read_model(model), planner)


def _shape(g, idx) -> str:
    return "x".join(map(str, g.tensors[idx].shape)) or "scalar"


def _tflm_arena(model: str) -> int | None:
    try:
        from protobrain.verify.reference import Reference

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


def _boards_help() -> str:
    return "Board name: " + ", ".join(board_names()) + ", or host (this computer)."


def _load_programs(models, planner, target=("portable", None)):
    """target: (kernel tier, flash budget) from _tier."""
    progs, blobs = [], []
    for m in models:
        progs.append(build_program(read_model(m), planner, *target))
        blobs.append(Path(m).read_bytes())
    names = [p.graph.name for p in progs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ProtobrainError(f"two models are both named {', '.join(sorted(dup))}; rename one of the files")
    return progs, blobs


def _print_image(image) -> None:
    b = image.board
    console.print(f"firmware     {image.elf}")
    console.print(f"flash        {image.flash_bytes:,} / {b.flash.length:,} B ({100 * image.flash_bytes / b.flash.length:.1f}%)")
    console.print(f"RAM          {image.ram_bytes:,} / {b.ram.length:,} B ({100 * image.ram_bytes / b.ram.length:.1f}%), "
                  f"of which stack {image.stack:,} B and arenas " + " + ".join(f"{m['arena']:,}" for m in image.models) + " B")
    console.print(f"stack bound  {image.stack_note}", markup=False)


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--board", "-b", required=True, help="Target board (see boards/).")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Build folder.")
@_PLANNER
@_KERNELS
def build(models, board, out_dir, planner, kernels):
    """Build firmware with MODELS for a board; prints flash and RAM against its limits.

    A model set that does not fit the board fails here, with the numbers, before any flashing.
    """
    b = load_board(board)
    progs, blobs = _load_programs(models, planner, _tier(kernels, board))
    image = build_firmware(b, progs, blobs, Path(out_dir))
    console.print(f"built {', '.join(p.graph.name for p in progs)} for {b.name} ({b.description}), {progs[0].tier if progs else 'portable'} kernels")
    _print_image(image)


@main.group()
def export():
    """Export the generated code for another build system: a PlatformIO project or library."""


def _check_new_output(out_dir: str, force: bool) -> None:
    check_output(Path(out_dir), force)


@export.command("platformio")
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--board", "-b", "boards", multiple=True, required=True,
              help="A board whose file has a [platformio] section; repeat for several (one environment each).")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(), help="Project folder (new or empty).")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output folder.")
@_PLANNER
@_KERNELS
def export_platformio(models, boards, out_dir, force, planner, kernels):
    """A PlatformIO project of MODELS, one environment per board, bare-metal (no framework).

    `pio run` in it builds the firmware `protobrain build` makes (same sources, flags,
    linker script); `pio run -e BOARD -t upload` flashes it.
    """
    bs = [load_board(b) for b in boards]
    for b in bs:
        require_platformio(b)
    _check_new_output(out_dir, force)
    progs, blobs = _load_programs(models, planner, _tier(kernels, *boards))
    bs = export_project(bs, progs, blobs, Path(out_dir), force)
    names = ", ".join(p.graph.name for p in progs)
    console.print(f"exported {names} to {out_dir}: a PlatformIO project, one environment per board, no framework")
    for b in bs:
        arena = sum(p.arena_size for p in progs)
        console.print(f"  env:{b.name:<16} {b.platformio['platform']} / {b.platformio['board']:<16} "
                      f"RAM for arena and stack {arena + b.stack_bytes:,} / {b.ram.length:,} B")
    first = bs[0].name
    console.print(f"build        pio run -d {out_dir}")
    console.print(f"upload       pio run -d {out_dir} -e {first} -t upload")
    console.print(f"verify       protobrain verify {' '.join(models)} --board {first} --port PORT")


@export.command("library")
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(), help="Library folder (new or empty).")
@click.option("--name", default=None, help="Library name (default: the model's name; protobrain_models for several models).")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output folder.")
@_PLANNER
def export_library(models, out_dir, name, force, planner):
    """A PlatformIO library (library.json) of MODELS' generated C, for your own project:
    put it in lib/ or lib_deps, include <model>.h and call pb_<model>_invoke()."""
    _check_new_output(out_dir, force)
    progs, _ = _load_programs(models, planner)
    lib = write_library(progs, list(models), Path(out_dir), name, force)
    console.print(f"exported library {lib} to {out_dir}: library.json, include/ (the API), src/ (model, weights, kernels)")
    for p in progs:
        console.print(f"  {p.graph.name}: #include \"{p.graph.name}.h\", pb_{p.graph.name}_invoke(...); "
                      f"arena {p.arena_size:,} B, weights {p.const_bytes:,} B")


@main.command()
@click.argument("models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--board", "-b", required=True, help="Target board (see boards/).")
@click.option("--firmware", "fw_dir", required=True, type=click.Path(file_okay=False, exists=True), help="Build folder from `protobrain build`.")
@click.option("--serial", type=click.Choice(["tcp", "pty"]), default="tcp", show_default=True, help="Simulated boards: how QEMU exposes the UART.")
@click.option("--tool", type=click.Choice(["platformio", "pyocd", "openocd", "uf2"]), default=None,
              help="Real boards: flash tool (default: UF2 copy for boards with a USB boot drive, else the first installed of PlatformIO/pyOCD/OpenOCD the board file names).")
@click.option("--drive", type=click.Path(file_okay=False, exists=True), help="UF2 boards: mount point of the boot drive (found automatically under /media otherwise).")
@click.option("--port", help="Real boards: the board's serial port; after flashing, the firmware there must answer as the one built "
                             "(board, models, model hashes), and MODELS given are verified bit-exact over it.")
@click.option("-n", "n_random", default=20, show_default=True, help="With MODELS and --port: random inputs per model (plus 3 edge inputs).")
@_PLANNER
@_KERNELS
def flash(models, board, fw_dir, serial, tool, drive, port, n_random, planner, kernels):
    """Put the firmware on a board: simulated boards run in QEMU until Ctrl-C (prints the
    serial port); real boards are flashed as the board file says: a UF2 copy to the USB
    boot drive (Raspberry Pi Pico), PlatformIO upload (a project is written next to the
    firmware), or pyOCD / OpenOCD through a debug probe. With --port, the flashed board is
    then checked over its serial port, and MODELS (the built ones) run bit-exact against
    TFLite Micro as `protobrain verify` runs them."""
    b = load_board(board)
    elf = Path(fw_dir) / "firmware.elf"
    if not elf.exists():
        raise ProtobrainError(f"{elf} not found; build it first with: protobrain build MODEL --board {board} -o {fw_dir}")
    if not b.simulated:
        from protobrain.run.device import Device
        from protobrain.run.flashing import check_flashed, copy_uf2, flash_real_board, wait_for_port
        from protobrain.run.targets import DeviceTarget

        if models and not port:
            raise ProtobrainError("MODELS are verified on the board over its serial port; pass --port (e.g. /dev/ttyACM0)")
        progs = _load_programs(models, planner, _tier(kernels, board))[0] if models else []
        if tool == "uf2" or (tool is None and b.run.get("method") == "uf2"):
            if "uf2_family" not in b.run:
                raise ProtobrainError(f"{b.name} has no UF2 boot loader; use --tool pyocd or --tool openocd")
            dest = copy_uf2(b, Path(fw_dir) / "firmware.uf2", drive)
            console.print(f"copied {dest.name} to {dest.parent}: {b.name} flashes itself and restarts")
        else:
            cmd = flash_real_board(b, elf, tool)
            console.print(f"flashed {b.name}: {' '.join(cmd)}")
        if port:
            wait_for_port(port)
            with Device(port) as dev:
                info = check_flashed(b, dev.info(), Path(fw_dir))
                console.print(f"{port}: {info['firmware']} on {info['board']}, models: "
                              + ", ".join(f"{m['name']} ({m['sha256']})" for m in info["models"]) + ": the firmware just built")
                if progs and not _verify_on(DeviceTarget(dev), b.name, progs, models, n_random):
                    sys.exit(1)
        return
    if models:
        raise ProtobrainError(f"{b.name} is simulated: check MODELS with protobrain verify MODEL --board {b.name} --firmware {fw_dir}")
    with QemuBoard(b, elf, serial=serial) as q:
        console.print(f"{b.name} running in QEMU (pid {q.proc.pid}); serial: {q.port}")
        console.print("press Ctrl-C to stop")
        try:
            q.proc.wait()
        except KeyboardInterrupt:
            pass


@main.command()
@click.option("--board", "-b", required=True, help="A board Renode has a platform for (disco_f746ng, nrf52840_dk, nucleo_f446re).")
@click.option("--firmware", "fw_dir", required=True, type=click.Path(file_okay=False, exists=True), help="Build folder from `protobrain build`.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the .resc and .robot files.")
def renode(board, fw_dir, out_dir):
    """Write a Renode script (.resc) and a Robot test (.robot) that boot the firmware and check its UART."""
    import json

    b = load_board(board)
    elf = Path(fw_dir) / "firmware.elf"
    if not elf.exists():
        raise ProtobrainError(f"{elf} not found; build it first with: protobrain build MODEL --board {board} -o {fw_dir}")
    info = Path(fw_dir) / "info.json"
    models = [m["name"] for m in json.loads(info.read_text())["models"]] if info.exists() else []
    for f in write_renode(b, elf, Path(out_dir), models):
        console.print(f"wrote {f}")
    console.print("run with: renode-test " + str(Path(out_dir) / f"{b.name.replace('-', '_')}.robot") + "  (Renode is not installed here)")


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--board", "-b", default="host", show_default=True, help="host, or a board: firmware is built and started unless --firmware/--port say otherwise.")
@click.option("--firmware", "fw_dir", type=click.Path(file_okay=False), help="Use this built firmware instead of building one.")
@click.option("--port", help="Serial port of a running board (/dev/ttyACM0, /dev/pts/N, socket://host:port).")
@click.option("--serial", type=click.Choice(["tcp", "pty"]), default="tcp", show_default=True, help="Simulated boards: how QEMU exposes the UART.")
@click.option("-n", "n_random", default=100, show_default=True, help="Random inputs per model (plus 3 edge inputs: all min, all max, zeros).")
@click.option("--inputs", "npy", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help=".npy file of inputs (one or many, in the model's input dtype); repeatable.")
@click.option("--seed", default=0, show_default=True)
@click.option("--layers", is_flag=True, help="Also compare every intermediate tensor (on the host or the device) and name the first layer that differs.")
@_PLANNER
@_KERNELS
def verify(models, board, fw_dir, port, serial, n_random, npy, seed, layers, planner, kernels):
    """Run MODELS on the host or a board and compare every output byte with TFLite Micro.

    Exits 1 on any mismatch, naming the first differing index.
    """
    progs, blobs = _load_programs(models, planner, _tier(kernels, board))
    with runner.open_target(board, progs, blobs, fw_dir=fw_dir, port=port, serial=serial, console=console) as target:
        ok = _verify_on(target, board, progs, models, n_random, npy, seed, layers)
    if not ok:
        sys.exit(1)


def _verify_on(target, board: str, progs, models, n_random: int, npy=(), seed: int = 0, layers: bool = False) -> bool:
    """Compare every output byte of MODELS on a target with TFLite Micro; print the table
    and the first mismatch of each model. True when everything was bit-exact."""
    table = Table(title=f"verify on {board}: generated code vs TFLite Micro", title_justify="left")
    for col in ("model", "inputs", "values compared", "mismatching inputs", "count/inference", "result"):
        table.add_column(col)
    failures, layer_failures = [], []
    for prog, path in zip(progs, models):
        run = target.runner(prog)
        cases = test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], n_random, seed, list(npy))
        if layers and not layers_check.first_bad_layer(prog, path, cases, console, target.layer_runner(prog)):
            layer_failures.append(prog.graph.name)
        result = compare(run, Reference(path), cases, prog.graph.name)
        count = target.last_count_text()
        table.add_row(prog.graph.name, str(result.cases), f"{result.values:,}", str(len(result.mismatches)), count,
                      "[green]bit-exact[/green]" if result.ok else "[red]MISMATCH[/red]")
        if not result.ok:
            failures.append(result)
    console.print(table)
    for r in failures:
        m = r.mismatches[0]
        click.echo(f"protobrain: mismatch in {r.model}: input case {m.case}, output {m.output}: {m.count} values differ, "
                   f"first at index {m.index} (device {m.got} vs TFLite Micro {m.want})", err=True)
    return not failures and not layer_failures


@main.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--board", "-b", required=True, help="Board to measure on (see protobrain build --help for the list).")
@click.option("-o", "--output", "out_dir", default="bench", show_default=True, type=click.Path(file_okay=False),
              help="Folder for bench.json, bench.md and bench.png.")
@click.option("-n", "n_inputs", default=20, show_default=True, type=click.IntRange(1, 1000),
              help="Different inputs per model (the spread of the count over them is reported).")
@click.option("--port", help="Real board: its serial port (the firmware must be flashed already).")
@click.option("--firmware", "fw_dir", type=click.Path(file_okay=False), help="Real board: the build folder of the flashed firmware.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--seed", default=0, show_default=True)
@_PLANNER
@_KERNELS
def bench(models, board, out_dir, n_inputs, port, fw_dir, as_json, seed, planner, kernels):
    """Measure MODELS on a board: instructions (QEMU plugin) or cycles per model and layer,
    RAM, flash, stack, and the spread of the count over different inputs.

    Every counted run is checked against TFLite Micro: when any output differs, bench
    writes its reports, then exits 1 naming the model and the first differing value.
    """
    from rich.progress import Progress

    b = load_board(board)
    progs, blobs = _load_programs(models, planner, _tier(kernels, board))
    err = Console(stderr=True, highlight=False)
    with Progress(console=err, transient=True) as progress:
        report = run_bench(b, progs, list(models), blobs, n_inputs=n_inputs, seed=seed, port=port,
                           fw_dir=Path(fw_dir) if fw_dir else None, progress=progress)
    files = write_reports(report, Path(out_dir))
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_bench(report)
        console.print("wrote " + ", ".join(str(f) for f in files))
    check_bit_exact(report)  # after the reports are written, so they show which model differs


def _print_bench(report) -> None:
    unit = report.models[0].count_kind
    table = Table(title=f"bench on {report.board} ({report.core}): {unit}", title_justify="left")
    for col in ("model", "MACs", unit, "per MAC", "spread", "bit-exact", "arena", "activation lower bound", "scratch",
                "TFLM arena", "weights", "code", "stack", "heap"):
        table.add_column(col, justify="left" if col in ("model", "heap") else "right")
    for m in report.models:
        table.add_row(m.name, f"{m.macs:,}", f"{m.count:,}", f"{m.per_mac:.2f}" if m.per_mac else "-", f"{m.spread:,}",
                      "yes" if m.bit_exact else "[red]NO[/red]", f"{m.arena:,}", f"{m.activation_lower_bound:,}",
                      f"{m.largest_scratch:,}", f"{m.tflm_arena:,}" if m.tflm_arena else "-", f"{m.weights_flash:,}",
                      f"{m.code_flash:,}", f"{m.stack_used:,}", ", ".join(m.heap_symbols) or "none")
    console.print(table)


@main.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--board", "-b", required=True, help="A simulated (QEMU) board, e.g. qemu-mps2-an386.")
@click.option("-o", "--output", "out_dir", default="profile", show_default=True, type=click.Path(file_okay=False),
              help="Folder for profile.txt (annotated disassembly), profile.json (per function and per PC) "
                   "and firmware.elf (the profiled firmware).")
@click.option("--top", default=8, show_default=True, type=click.IntRange(1, 1000),
              help="How many of the hottest functions profile.txt disassembles.")
@click.option("--seed", default=0, show_default=True, help="Seed of the random input the inference runs on.")
@_PLANNER
@_KERNELS
def profile(model, board, out_dir, top, seed, planner, kernels):
    """Count every instruction of one inference of MODEL on a simulated board, by function
    and by instruction.

    Builds the firmware `protobrain bench` builds, runs one inference in QEMU under the
    instruction-counting plugin in profile mode, and prints the functions by instructions
    executed (the total is the inference's exact count, as bench measures it). Writes the
    hottest functions' disassembly with per-instruction counts to profile.txt in the output folder.
    """
    from protobrain.measure.profile import check_board, run_profile, write_reports

    b = load_board(board)
    check_board(b)
    if not Path(model).is_file():
        raise ProtobrainError(f"model file {model} not found")
    progs, blobs = _load_programs([model], planner, _tier(kernels, board))
    out = Path(out_dir)
    elf = out / "firmware.elf"
    result = run_profile(b, progs[0], blobs[0], elf, seed=seed)
    console.print(f"profile of {result.model} on {result.board} ({result.core}, {result.tier} kernels): "
                  f"{result.total:,} instructions in one inference")
    table = Table(title="functions by instructions executed", title_justify="left")
    for col in ("#", "function", "instructions", "share", "cumulative"):
        table.add_column(col, justify="left" if col == "function" else "right")
    running = 0
    for k, f in enumerate(result.functions, 1):
        running += f.count
        table.add_row(str(k), f.name, f"{f.count:,}", f"{100 * f.count / result.total:.1f}%",
                      f"{100 * running / result.total:.1f}%")
    console.print(table)
    files = write_reports(b, result, elf, out, top)
    console.print(f"total        {result.total:,} instructions (= the counted inference, marks before and after it)")
    console.print("wrote " + ", ".join(str(f) for f in files + [elf]))


def _register_training() -> None:
    for command in COMMANDS:
        main.add_command(command)


def _register_protobrain() -> None:
    from protobrain.cli.bundle import COMMANDS

    for command in COMMANDS:
        main.add_command(command)


_register_training()
_register_protobrain()

if __name__ == "__main__":
    main()
