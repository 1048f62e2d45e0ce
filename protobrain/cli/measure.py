"""`bench` and `profile`: how fast and how big models are on a board, counted exactly."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from protobrain.boards import load_board
from protobrain.cli.options import KERNELS, MODEL_NAMES, OPTIMIZE, PLANNER, SEEDS, IntRange, console
from protobrain.errors import ProtobrainError
from protobrain.firmware.programs import load_programs
from protobrain.measure import profile as profiler
from protobrain.measure.bench import check_bit_exact, run_bench, write_reports


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--board", "-b", required=True, help="Board to measure on (see protobrain build --help for the list).")
@click.option("-o", "--output", "out_dir", default="bench", show_default=True, type=click.Path(file_okay=False),
              help="Folder for bench.json, bench.md and bench.png.")
@click.option("-n", "n_inputs", default=20, show_default=True, type=IntRange(1, 1000),
              help="Different inputs per model (the spread of the count over them is reported).")
@click.option("--port", help="Real board: its serial port (the firmware must be flashed already).")
@click.option("--firmware", "fw_dir", type=click.Path(file_okay=False), help="Real board: the build folder of the flashed firmware.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--per-computed-mac", "per_computed", is_flag=True,
              help="Also show the MACs actually computed (less those of the output channels a fast tier skips, "
                   "whose weights are all zero) and the count per computed MAC, per model and layer: kernel "
                   "efficiency apart from what the graph saves.")
@click.option("--seed", default=0, show_default=True, type=SEEDS)
@MODEL_NAMES
@PLANNER
@KERNELS
@OPTIMIZE
def bench(models, board, out_dir, n_inputs, port, fw_dir, as_json, per_computed, seed, names, planner, kernels, optimize):
    """Measure MODELS on a board: instructions (QEMU plugin) or cycles per model and layer,
    RAM, flash (the models' weights and the code apart), stack, and the spread of the count
    over different inputs.

    Every counted run is checked against TFLite Micro: when any output differs, bench
    writes its reports, then exits 1 naming the model and the first differing value.
    """
    b = load_board(board)
    progs, blobs = load_programs(models, planner, kernels, [board], names, optimize)
    err = Console(stderr=True, highlight=False)
    with Progress(console=err, transient=True) as progress:
        report = run_bench(b, progs, list(models), blobs, n_inputs=n_inputs, seed=seed, port=port,
                           fw_dir=Path(fw_dir) if fw_dir else None, progress=progress)
    files = write_reports(report, Path(out_dir), per_computed)
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_bench(report, per_computed)
        console.print("wrote " + ", ".join(str(f) for f in files))
    check_bit_exact(report)  # after the reports are written, so they show which model differs


def _print_bench(report, per_computed: bool = False) -> None:
    unit = report.models[0].count_kind
    tiers = ", ".join(dict.fromkeys(m.kernels for m in report.models))
    table = Table(title=f"bench on {report.board} ({report.core}, {tiers}): {unit}", title_justify="left")
    computed = ("computed MACs", "per computed MAC") if per_computed else ()
    for col in ("model", "MACs", unit, "per MAC", *computed, "spread", "bit-exact", "arena", "activation lower bound",
                "scratch", "TFLM arena", "weights", "code", "stack", "heap"):
        table.add_column(col, justify="left" if col in ("model", "heap") else "right")
    for m in report.models:
        beside = (f"{m.computed_macs:,}", f"{m.per_computed_mac:.2f}" if m.per_computed_mac else "-") \
            if per_computed else ()
        table.add_row(m.name, f"{m.macs:,}", f"{m.count:,}", f"{m.per_mac:.2f}" if m.per_mac else "-", *beside,
                      f"{m.spread:,}",
                      "yes" if m.bit_exact else "[red]NO[/red]", f"{m.arena:,}", f"{m.activation_lower_bound:,}",
                      f"{m.largest_scratch:,}", f"{m.tflm_arena:,}" if m.tflm_arena else "-", f"{m.weights_flash:,}",
                      f"{m.code_flash:,}", f"{m.stack_used:,}", ", ".join(m.heap_symbols) or "none")
    console.print(table)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--board", "-b", required=True, help="A simulated (QEMU) board, e.g. qemu-mps2-an386.")
@click.option("-o", "--output", "out_dir", default="profile", show_default=True, type=click.Path(file_okay=False),
              help="Folder for profile.txt (annotated disassembly), profile.json (per function and per PC) "
                   "and firmware.elf (the profiled firmware).")
@click.option("--top", default=8, show_default=True, type=IntRange(1, 1000),
              help="How many of the hottest functions profile.txt disassembles.")
@click.option("--seed", default=0, show_default=True, type=SEEDS, help="Seed of the random input the inference runs on.")
@PLANNER
@KERNELS
@OPTIMIZE
def profile(model, board, out_dir, top, seed, planner, kernels, optimize):
    """Count every instruction of one inference of MODEL on a simulated board, by function
    and by instruction.

    Builds the firmware `protobrain bench` builds, runs one inference in QEMU under the
    instruction-counting plugin in profile mode, and prints the functions by instructions
    executed (the total is the inference's exact count, as bench measures it). Writes the
    hottest functions' disassembly with per-instruction counts to profile.txt in the output folder.
    """
    b = load_board(board)
    profiler.check_board(b)
    if not Path(model).is_file():
        raise ProtobrainError(f"model file {model} not found")
    progs, blobs = load_programs([model], planner, kernels, [board], optimize=optimize)
    out = Path(out_dir)
    elf = out / "firmware.elf"
    result = profiler.run_profile(b, progs[0], blobs[0], elf, seed=seed)
    console.print(f"profile of {result.model} on {result.board} ({result.core}, {progs[0].kernels_text}): "
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
    files = profiler.write_reports(b, result, elf, out, top)
    console.print(f"total        {result.total:,} instructions (= the counted inference, marks before and after it)")
    console.print("wrote " + ", ".join(str(f) for f in files + [elf]))


COMMANDS = [bench, profile]
