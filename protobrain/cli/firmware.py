"""`build`, `export platformio|library`, `flash`, `renode` and `verify`: models on a board
(or this host), from the firmware image to the bit-exact check against TFLite Micro."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from rich.table import Table

from protobrain.audio.companion import model_extras
from protobrain.boards import board_names, load_board
from protobrain.cli.options import EXPORT_NAMES, KERNELS, MODEL_NAMES, OPTIMIZE, PLANNER, SEEDS, IntRange, console, export_names
from protobrain.compiler.run_info import model_path
from protobrain.errors import ProtobrainError
from protobrain.firmware.build import build as build_firmware
from protobrain.firmware.platformio import check_output, export_project, require_platformio
from protobrain.firmware.platformio import export_library as write_library
from protobrain.firmware.programs import load_programs, programs_per_board
from protobrain.run.flashing import firmware_elf, open_flashed
from protobrain.run.flashing import flash as flash_board
from protobrain.run.qemu import QemuBoard
from protobrain.run.renode import write_renode
from protobrain.run.targets import DeviceTarget, open_target
from protobrain.verify.compare import check_models


def _print_image(image) -> None:
    b = image.board
    console.print(f"firmware     {image.elf}")
    console.print(f"flash        {image.flash_bytes:,} / {b.flash.length:,} B ({100 * image.flash_bytes / b.flash.length:.1f}%)")
    console.print(f"RAM          {image.ram_bytes:,} / {b.ram.length:,} B ({100 * image.ram_bytes / b.ram.length:.1f}%), "
                  f"of which stack {image.stack:,} B and arenas " + " + ".join(f"{m['arena']:,}" for m in image.models) + " B")
    console.print(f"stack bound  {image.stack_note}", markup=False)


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--board", "-b", required=True, help="Target board (see boards/).")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Build folder.")
@MODEL_NAMES
@PLANNER
@KERNELS
@OPTIMIZE
def build(models, board, out_dir, names, planner, kernels, optimize):
    """Build firmware with MODELS for a board; prints flash and RAM against its limits.

    A model set that does not fit the board fails here, with the numbers, before any flashing.
    """
    b = load_board(board)
    progs, blobs = load_programs(models, planner, kernels, [board], names, optimize=optimize)
    image = build_firmware(b, progs, blobs, Path(out_dir))
    console.print(f"built {', '.join(p.graph.name for p in progs)} for {b.name} ({b.description}), {progs[0].kernels_text if progs else 'portable kernels'}")
    _print_image(image)


@click.group()
def export():
    """Export the generated code for another build system: a PlatformIO project or library."""


@export.command("platformio")
@click.argument("models", nargs=-1, required=True, type=click.Path())
@click.option("--board", "-b", "boards", multiple=True, required=True,
              help="A board whose file has a [platformio] section; repeat for several (one environment each).")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(), help="Project folder (new or empty).")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output folder.")
@EXPORT_NAMES
@PLANNER
@KERNELS
@OPTIMIZE
def export_platformio(models, boards, out_dir, force, names, planner, kernels, optimize):
    """A PlatformIO project of MODELS, one environment per board, bare-metal (no framework).

    `pio run` in it builds the firmware `protobrain build` makes for each board (same
    sources, kernel tier, flags, linker script); `pio run -e BOARD -t upload` flashes it.
    A MODEL may be a training run's folder: a classifier's header gets its labels, a speech
    net the audio frontend it was trained on, as `export library` ships them.
    """
    bs = [load_board(b) for b in boards]
    for b in bs:
        require_platformio(b)
    check_output(Path(out_dir), force)
    models = [str(model_path(m)) for m in models]  # a run's folder: its model.tflite
    progs, blobs = programs_per_board(models, planner, kernels, boards, export_names(names, models), optimize=optimize)
    extras = {b: [model_extras(p, m) for p, m in zip(ps, models)] for b, ps in progs.items()}
    bs = export_project(bs, progs, blobs, Path(out_dir), force, extras)
    names = ", ".join(p.graph.name for p in progs[bs[0].name])
    console.print(f"exported {names} to {out_dir}: a PlatformIO project, one environment per board, no framework")
    for b in bs:
        arena = sum(p.arena_size for p in progs[b.name])
        console.print(f"  env:{b.name:<16} {b.platformio['platform']} / {b.platformio['board']:<16} "
                      f"{progs[b.name][0].kernels_text}, RAM for arena and stack {arena + b.stack_bytes:,} / {b.ram.length:,} B")
    first = bs[0].name
    console.print(f"build        pio run -d {out_dir}")
    console.print(f"upload       pio run -d {out_dir} -e {first} -t upload")
    console.print(f"verify       protobrain verify {' '.join(models)} --board {first} --port PORT")


@export.command("library")
@click.argument("models", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(), help="Library folder (new or empty).")
@EXPORT_NAMES
@click.option("--library", default=None, help="Library name (default: the model's name; protobrain_models for "
                                               "several models).")
@click.option("--force", is_flag=True, help="Replace an existing non-empty output folder.")
@click.option("--board", default="host", show_default=True, type=click.Choice(["host", *board_names()]),
              help="The board the library is for: its core picks the kernel tier (with --kernels auto) "
                   "and its flash bounds it.")
@PLANNER
@KERNELS
@OPTIMIZE
def export_library(models, out_dir, names, library, force, board, planner, kernels, optimize):
    """A PlatformIO library (library.json) of MODELS' generated C, for your own project:
    put it in lib/ or lib_deps, include <model>.h and call pb_<model>_invoke(). A MODEL may be
    a training run's folder: a classifier's header gets its labels, a speech net the audio
    frontend it was trained on."""
    check_output(Path(out_dir), force)
    models = [str(model_path(m)) for m in models]  # a run's folder: its model.tflite
    pairs = export_names(names, models, "; the library's own name is --library")
    progs, _ = load_programs(models, planner, kernels, [board], pairs, optimize=optimize)
    extras = [model_extras(p, m) for p, m in zip(progs, models)]
    lib = write_library(progs, list(models), Path(out_dir), library, force, extras)
    console.print(f"exported library {lib} to {out_dir}: library.json, include/ (the API), src/ (model, weights, "
                  f"{progs[0].kernels_text})")
    for p in progs:
        console.print(f"  {p.graph.name}: #include \"{p.graph.name}.h\", pb_{p.graph.name}_invoke(...); "
                      f"arena {p.arena_size:,} B, weights {p.const_bytes:,} B")


@click.command()
@click.argument("models", nargs=-1, type=click.Path(dir_okay=False))
@click.option("--board", "-b", required=True, help="Target board (see boards/).")
@click.option("--firmware", "fw_dir", required=True, type=click.Path(file_okay=False, exists=True), help="Build folder from `protobrain build`.")
@click.option("--serial", type=click.Choice(["tcp", "pty"]), default="tcp", show_default=True, help="Simulated boards: how QEMU exposes the UART.")
@click.option("--tool", type=click.Choice(["platformio", "pyocd", "openocd", "uf2"]), default=None,
              help="Real boards: flash tool (default: UF2 copy for boards with a USB boot drive, else the first installed of PlatformIO/pyOCD/OpenOCD the board file names).")
@click.option("--drive", type=click.Path(file_okay=False, exists=True), help="UF2 boards: mount point of the boot drive (found automatically under /media otherwise).")
@click.option("--port", help="Real boards: the board's serial port; after flashing, the firmware there must answer as the one built "
                             "(board, models, model hashes), and MODELS given are verified bit-exact over it.")
@click.option("-n", "n_random", default=20, show_default=True, type=IntRange(0, 1_000_000),
              help="With MODELS and --port: random inputs per model (plus 3 edge inputs).")
@MODEL_NAMES
@PLANNER
@KERNELS
@OPTIMIZE
def flash(models, board, fw_dir, serial, tool, drive, port, n_random, names, planner, kernels, optimize):
    """Put the firmware on a board: simulated boards run in QEMU until Ctrl-C (prints the
    serial port); real boards are flashed as the board file says: a UF2 copy to the USB
    boot drive (Raspberry Pi Pico), PlatformIO upload (a project is written next to the
    firmware), or pyOCD / OpenOCD through a debug probe. With --port, the flashed board is
    then checked over its serial port, and MODELS (the built ones) run bit-exact against
    TFLite Micro as `protobrain verify` runs them."""
    b = load_board(board)
    if b.simulated:
        real_only = [opt for opt, param in (("--port", "port"), ("-n", "n_random"), ("--tool", "tool"), ("--drive", "drive"))
                     if click.get_current_context().get_parameter_source(param) != ParameterSource.DEFAULT]
        if real_only:
            raise ProtobrainError(f"{b.name} is simulated: {', '.join(real_only)} {'is' if len(real_only) == 1 else 'are'} "
                                  f"for real boards (QEMU prints its serial port; check models with protobrain verify "
                                  f"MODEL --board {b.name} --firmware {fw_dir} -n N)")
    elf = firmware_elf(fw_dir, b)
    if b.simulated:
        if models:
            raise ProtobrainError(f"{b.name} is simulated: check MODELS with protobrain verify MODEL --board {b.name} --firmware {fw_dir}")
        with QemuBoard(b, elf, serial=serial) as q:
            console.print(f"{b.name} running in QEMU (pid {q.proc.pid}); serial: {q.port}")
            console.print("press Ctrl-C to stop")
            try:
                q.proc.wait()
            except KeyboardInterrupt:
                pass
        return
    if models and not port:
        raise ProtobrainError("MODELS are verified on the board over its serial port; pass --port (e.g. /dev/ttyACM0)")
    progs = load_programs(models, planner, kernels, [board], names, optimize=optimize)[0] if models else []
    done = flash_board(b, Path(fw_dir), tool, drive)
    if done.uf2:
        console.print(f"copied {done.uf2.name} to {done.uf2.parent}: {b.name} flashes itself and restarts")
    else:
        console.print(f"flashed {b.name}: {' '.join(done.command)}")
    if port:
        with open_flashed(b, port, Path(fw_dir)) as (dev, info):
            console.print(f"{port}: {info['firmware']} on {info['board']}, models: "
                          + ", ".join(f"{m['name']} ({m['sha256']})" for m in info["models"]) + ": the firmware just built")
            if progs and not _print_checks(b.name, check_models(DeviceTarget(dev, b), progs, models, n_random,
                                                                console=console), progs[0].kernels_text):
                sys.exit(1)


@click.command()
@click.option("--board", "-b", required=True, help="A board Renode has a platform for (disco_f746ng, nrf52840_dk, nucleo_f446re).")
@click.option("--firmware", "fw_dir", required=True, type=click.Path(file_okay=False, exists=True), help="Build folder from `protobrain build`.")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Folder for the .resc and .robot files.")
def renode(board, fw_dir, out_dir):
    """Write a Renode script (.resc) and a Robot test (.robot) that boot the firmware and check its UART."""
    b = load_board(board)
    elf = firmware_elf(fw_dir, b)
    info = Path(fw_dir) / "info.json"
    models = [m["name"] for m in json.loads(info.read_text())["models"]] if info.exists() else []
    for f in write_renode(b, elf, Path(out_dir), models):
        console.print(f"wrote {f}")
    console.print("run with: renode-test " + str(Path(out_dir) / f"{b.name.replace('-', '_')}.robot") + "  (Renode is not installed here)")


@click.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--board", "-b", default="host", show_default=True, help="host, or a board: firmware is built and started unless --firmware/--port say otherwise.")
@click.option("--firmware", "fw_dir", type=click.Path(file_okay=False), help="Use this built firmware instead of building one.")
@click.option("--port", help="Serial port of a running board (/dev/ttyACM0, /dev/pts/N, socket://host:port).")
@click.option("--serial", type=click.Choice(["tcp", "pty"]), default="tcp", show_default=True, help="Simulated boards: how QEMU exposes the UART.")
@click.option("-n", "n_random", default=100, show_default=True, type=IntRange(0, 1_000_000),
              help="Random inputs per model (plus 3 edge inputs: all min, all max, zeros).")
@click.option("--inputs", "npy", multiple=True, type=click.Path(dir_okay=False, exists=True),
              help=".npy file of inputs (one or many, in the model's input dtype); repeatable.")
@click.option("--seed", default=0, show_default=True, type=SEEDS)
@click.option("--layers", is_flag=True, help="Also compare every intermediate tensor (on the host or the device) and name the first layer that differs.")
@MODEL_NAMES
@PLANNER
@KERNELS
@OPTIMIZE
def verify(models, board, fw_dir, port, serial, n_random, npy, seed, layers, names, planner, kernels, optimize):
    """Run MODELS on the host or a board and compare every output byte with TFLite Micro.

    Exits 1 on any mismatch, naming the first differing index.
    """
    progs, blobs = load_programs(models, planner, kernels, [board], names, optimize=optimize)
    with open_target(board, progs, blobs, fw_dir=fw_dir, port=port, serial=serial, console=console) as target:
        checks = check_models(target, progs, models, n_random, npy, seed, layers, console)
        ok = _print_checks(board, checks, progs[0].kernels_text)
    if not ok:
        sys.exit(1)


def _print_checks(board: str, checks, kernels: str) -> bool:
    """The table of check_models' results and the first mismatch of each model that
    differs; True when everything was bit-exact."""
    table = Table(title=f"verify on {board} ({kernels}): generated code vs TFLite Micro", title_justify="left")
    for col in ("model", "inputs", "values compared", "mismatching inputs", "count/inference", "result"):
        table.add_column(col)
    for c in checks:
        r = c.result
        table.add_row(r.model, str(r.cases), f"{r.values:,}", str(len(r.mismatches)), c.count,
                      "[green]bit-exact[/green]" if r.ok else "[red]MISMATCH[/red]")
    console.print(table)
    for r in (c.result for c in checks if not c.result.ok):
        m = r.mismatches[0]
        click.echo(f"protobrain: mismatch in {r.model}: input case {m.case}, output {m.output}: {m.count} values differ, "
                   f"first at index {m.index} (device {m.got} vs TFLite Micro {m.want})", err=True)
    return all(c.result.ok and c.layers_ok for c in checks)


COMMANDS = [build, export, flash, renode, verify]
