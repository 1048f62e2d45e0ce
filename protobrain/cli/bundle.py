"""`bundle` and `demo see|listen|speak|loop`: the protobrain's one firmware with three nets,
and the demos on it. Every demo talks to a running bundle firmware: the one in --bundle
started in QEMU (the default), or a real board on --port.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from protobrain.app import bundle as pb_bundle
from protobrain.app.demo import Protobrain, plot_listen, read_image, read_wav, write_wav
from protobrain.app.loop import run_loop
from protobrain.app.text import text_frames, voice_of
from protobrain.audio.frontend import FrontendConfig
from protobrain.boards import load_board
from protobrain.cli.options import KERNELS, OPTIMIZE, SEEDS, FloatRange, IntRange, console, name_pair
from protobrain.firmware.programs import AUTO

DEFAULT_BUNDLE = "out/protobrain"

_BUNDLE = click.option("--bundle", "bundle_dir", default=DEFAULT_BUNDLE, show_default=True,
                       type=click.Path(file_okay=False),
                       help="Folder from `protobrain bundle` for a simulated board (started in QEMU).")
_PORT = click.option("--port", help="Serial port of a real board running the protobrain (/dev/ttyACM0, ...); "
                                    "then --bundle is not needed.")


def _progress(quiet: bool = False) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeRemainingColumn(), console=Console(stderr=True), transient=True, disable=quiet)


def _rate(per_sample: float, unit: str, clock_hz: int, rate: int) -> str:
    """Real-time factor at the board's clock: exact from a real board's cycles; from
    instructions, an estimate that says it takes one instruction per cycle."""
    budget = clock_hz / rate
    how = "" if unit.startswith("cycles") else " (counting one instruction per cycle)"
    return (f"{per_sample:,.0f} {unit} per sample; real time at {clock_hz / 1e6:.0f} MHz and {rate} Hz allows "
            f"{budget:,.0f} cycles{how}: {real_time(per_sample / budget)}")


def real_time(factor: float) -> str:
    """A time over the real-time budget (12.02: twelve times the budget) as words that say
    which way it goes."""
    if factor > 1:
        return f"{factor:.1f}x slower than real time (renders to a buffer, then plays)"
    return f"{1 / factor:.1f}x faster than real time" if factor > 0 else "no time at all"


@click.command("bundle")
@click.argument("vision", type=click.Path(file_okay=False))
@click.argument("speech", type=click.Path(file_okay=False))
@click.argument("synth", type=click.Path(file_okay=False))
@click.option("--board", "-b", required=True, help="Target board (see boards/).")
@click.option("-o", "--output", "out_dir", required=True, type=click.Path(file_okay=False), help="Build folder.")
@click.option("--stride", default=4, show_default=True, type=IntRange(1, 49),
              help="The speech net runs every STRIDE feature frames (20 ms each).")
@click.option("--name", "names", multiple=True, metavar="NAME=PATH",
              callback=lambda ctx, param, values: tuple(name_pair(v) for v in values),
              help="C name of the net of the run PATH (one of VISION SPEECH SYNTH, or a file in it; SYNTH's "
                   "net is its conditioning net); repeatable. Default: vision, speech, conditioning.")
@KERNELS
@OPTIMIZE
def bundle(vision, speech, synth, board, out_dir, stride, names, kernels, optimize):
    """One firmware with three trained runs: VISION SPEECH SYNTH (from `protobrain train ...`)."""
    b = load_board(board)
    with console.status("reading and compiling the three nets"):
        parts = pb_bundle.load_parts(vision, speech, synth, stride=stride, names=names)
    with console.status(f"building the protobrain for {b.name}"):
        result = pb_bundle.build(parts, b, out_dir, tier=None if kernels == AUTO else kernels, optimize=optimize)
    print_memory(result.memory, b.name)
    console.print(f"kernels: {result.tier} tier"
                  + "".join(sorted({f", {p.weights_form}" for p in result.programs if p.weights_form}))
                  + f"; synth: {parts.vocoder.architecture} vocoder, "
                  f"{parts.fused.macs:,} MACs per sample")
    console.print(f"wrote {result.image.elf}")


def print_memory(mem, board: str) -> None:
    t = Table(title=f"protobrain on {board}: memory", title_justify="left")
    t.add_column("part")
    t.add_column("bytes", justify="right")
    for name, size in mem.plans.items():
        t.add_row(f"{name} net's planned arena", f"{size:,}")
    t.add_row("sum of the plans (separate arenas)", f"{mem.sum_of_plans:,}")
    t.add_row("shared arena (largest plan)", f"{mem.shared_arena:,}")
    t.add_row("frontend state and feature window", f"{mem.frontend:,}")
    t.add_row("synth state (rings, scratch, buffers)", f"{mem.synth:,}")
    t.add_row("stack", f"{mem.stack:,}")
    t.add_row("RAM total (.data + .bss)", f"{mem.ram:,}")
    t.add_row("flash total", f"{mem.flash:,}")
    console.print(t)


@click.group("demo")
def demo():
    """Demos on a running protobrain: see, listen, speak, loop."""


@demo.command("see")
@click.argument("image", type=click.Path(dir_okay=False, exists=True))
@_BUNDLE
@_PORT
def see(image, bundle_dir, port):
    """The device classifies IMAGE (PNG or JPEG, resized to the vision net's input)."""
    with Protobrain.open(bundle_dir, port) as pb:
        x = read_image(image, pb.spec["vision"]["input_shape"])
        r = pb.see(x)
    console.print(f"{Path(image).name}: [bold]{r.label}[/] (score {r.score:.3f}), {r.count:,} {r.unit}")


@demo.command("listen")
@click.argument("wav", type=click.Path(dir_okay=False, exists=True))
@_BUNDLE
@_PORT
@click.option("-o", "--out", "out_dir", default=".", show_default=True, type=click.Path(file_okay=False),
              help="Folder for the plot of the scores against time (WAV's name with .png).")
@click.option("--plot", type=click.Path(dir_okay=False), default=None,
              help="The plot's file instead (a PNG path).")
def listen(wav, bundle_dir, port, out_dir, plot):
    """Stream WAV to the device, which computes features and reports keywords over time."""
    with Protobrain.open(bundle_dir, port) as pb, _progress() as prog:
        rate = pb.spec["speech"]["sample_rate"]
        audio = read_wav(wav, rate)
        task = prog.add_task("streaming audio to the device", total=len(audio))
        heard = pb.listen(audio, progress=lambda done, total: prog.update(task, completed=done))
    for when, word, p in heard.detections:
        console.print(f"{when:6.2f} s  [bold]{word}[/]  ({p:.2f})")
    if not heard.detections:
        console.print("no keyword heard")
    console.print(f"{len(heard.times)} inferences, {heard.per_inference:,} {heard.unit} each")
    out = Path(plot) if plot else Path(out_dir) / Path(wav).with_suffix(".png").name  # never beside the WAV
    plot_listen(heard, audio, rate, out, f"{Path(wav).name}: keyword scores on the device")
    console.print(f"wrote {out}")


@demo.command("speak")
@click.argument("text")
@click.option("-o", "--output", "out", default="speak.wav", show_default=True, type=click.Path(dir_okay=False),
              help="WAV file to write.")
@_BUNDLE
@_PORT
@click.option("--temperature", type=FloatRange(0, 10), default=None,
              help="Sampling temperature (default: the synth run's; 0 is argmax).")
@click.option("--seed", default=1, show_default=True, type=SEEDS)
@click.option("--stream", is_flag=True, help="Stream TEXT's frames even when it is a stored keyword.")
def speak(text, out, bundle_dir, port, temperature, seed, stream):
    """The device says TEXT: a stored keyword from its own flash, anything else from frames
    this host computes (espeak-ng and the same integer frontend) and streams to it, one
    20 ms frame at a time. The host writes the WAV and prints the real-time factor."""
    with Protobrain.open(bundle_dir, port) as pb, _progress() as prog:
        sy = pb.spec["synth"]
        task = prog.add_task(f"the device says {text!r}", total=None)
        advance = lambda d, t: prog.update(task, completed=d, total=t)  # noqa: E731
        if text in sy["keywords"] and not stream:
            spoken = pb.speak(text, temperature, seed, progress=advance)
            how = "from its stored frames"
        else:
            frames = text_frames(text, voice_of(sy.get("voice", "en-us")), FrontendConfig(**sy["frontend"])
                                 if "frontend" in sy else FrontendConfig(), int(sy.get("lpc_order", 0)))
            spoken = pb.say(frames, temperature, seed, progress=advance)
            how = f"from {len(frames.features)} streamed frames"
        clock = pb.info["clock_hz"]
    write_wav(out, spoken.pcm, spoken.sample_rate)
    console.print(f"wrote {out}: {len(spoken.pcm) / spoken.sample_rate:.2f} s {how}")
    console.print(_rate(spoken.per_sample, spoken.unit, clock, spoken.sample_rate))


@demo.command("loop")
@_BUNDLE
@_PORT
@click.option("--seed", default=1, show_default=True, type=SEEDS)
@click.option("-o", "--output", "out_dir", default=None, type=click.Path(file_okay=False),
              help="Folder for the spoken WAV files (default: none written).")
def loop(bundle_dir, port, seed, out_dir):
    """The device speaks each keyword, then listens to what it said."""
    with Protobrain.open(bundle_dir, port) as pb:
        rows = run_loop(pb, seed, out_dir)
    t = Table(title="said and heard, both on the device", title_justify="left")
    for col in ("said", "heard", "score", f"{rows[0]['unit']} per sample" if rows else "per sample"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["said"], r["heard"] + (" ✓" if r["heard"] == r["said"] else ""), f"{r['score']:.2f}",
                  f"{r['per_sample']:,.0f}")
    console.print(t)
    console.print(f"heard right: {sum(r['heard'] == r['said'] for r in rows)} of {len(rows)}")


COMMANDS = [bundle, demo]
