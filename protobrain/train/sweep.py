"""`protobrain sweep`: train one architecture at several widths and measure what each
costs on the device (exact instruction counts on a simulated board, with the kernel tier
`build` would take for it: by default the fastest its core runs) and what it scores (int8
accuracy of the generated C on held-out data)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

from protobrain import fanout
from protobrain.boards import load_board
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model
from protobrain.errors import ProtobrainError
from protobrain.firmware.programs import AUTO, kernel_tier
from protobrain.measure.bench import run_bench
from protobrain.train import progress
from protobrain.train.classifier import TrainConfig, TrainResult


# A trial's TensorFlow thread count: fixed, because it changes the trained bytes
TRIAL_THREADS = 1


@dataclass
class SweepPoint:
    width: float
    params: int
    macs: int
    conv_macs: int            # CONV_2D layers only: the ones whose cost scales with width squared
    instructions: int
    conv_instructions: int
    float_acc: float
    quant_acc: float


def sweep_tier(board_name: str, kernels: str = AUTO) -> str:
    """The kernel tier a sweep measures with on `board_name` (kernels auto: the fastest its
    core runs, as `build` takes), checked before any training: the board must be simulated."""
    if not load_board(board_name).simulated:   # counts come from the simulator
        raise ProtobrainError(f"{board_name} is a real board; sweep counts instructions on a simulated one "
                              "(e.g. -b qemu-mps2-an386)")
    return kernel_tier(kernels, board_name)[0]


def measure(result: TrainResult, board_name: str, kernels: str = AUTO,
            optimize: str = "balanced") -> tuple[int, int, int, int]:
    """(MACs, conv MACs, instructions, conv instructions) of one inference on `board_name`,
    compiled as `build` compiles it for that board (kernels auto: its fastest tier)."""
    board = load_board(board_name)
    path = result.run.path / "model.tflite"
    tier, budget = kernel_tier(kernels, board_name)
    program = build_program(read_model(path), tier=tier, flash_budget=budget, optimize=optimize)
    report = run_bench(board, [program], [str(path)], [path.read_bytes()], n_inputs=1)
    fig = report.models[0]
    conv = [layer for layer in fig.layers if layer.op == "CONV_2D"]
    return (fig.macs, sum(layer.macs for layer in conv), fig.count, sum(layer.count for layer in conv))


def sweep_trial(job: dict, train_fn: Callable[[TrainConfig, Path], TrainResult], cfg: TrainConfig,
                out_dir: Path, board: str, kernels: str = AUTO, optimize: str = "balanced") -> SweepPoint:
    """One width: train, quantize, measure. Runs in a worker process: the one worker of a
    sequential run, or a Ray trial (protobrain.fanout)."""
    w = job["width"]
    wcfg = TrainConfig(**{**cfg.__dict__, "width": w, "progress": False})
    result = train_fn(wcfg, out_dir / f"width-{w:g}")
    macs, conv_macs, count, conv_count = measure(result, board, kernels, optimize)
    return SweepPoint(w, result.run.info["params"], macs, conv_macs, count, conv_count,
                      result.test.float_acc, result.test.quant_acc)


def run_sweep(task: str, train_fn: Callable[[TrainConfig, Path], TrainResult], widths: list[float],
              cfg: TrainConfig, out_dir: Path, board: str, workers: int | None = None,
              address: str | None = None, kernels: str = AUTO, optimize: str = "balanced") -> list[SweepPoint]:
    """Every width is one trial, fanned out through Ray Tune (`workers`, `address`: see
    protobrain.fanout). Each trial seeds itself and trains on one thread in a worker process,
    in a Ray trial as in a one-worker run, so the points (and the models' bytes, which depend
    on TensorFlow's thread count) equal a sequential run's, and two trials at once use two
    cores. Every width is measured with one kernel tier (sweep_tier)."""
    tier = sweep_tier(board, kernels)   # before any training
    out_dir = Path(out_dir).resolve()   # trials may run in another working directory
    out_dir.mkdir(parents=True, exist_ok=True)
    with progress.task(f"sweeping {task}", len(widths), cfg.progress) as advance:
        def done(i: int, p: SweepPoint) -> None:
            advance(1, status=f"width {p.width:g}: {p.quant_acc:.1%}, {p.instructions:,} instructions")

        # widest (slowest) first, so that parallel workers finish close together
        jobs = [{"width": w} for w in sorted(widths, reverse=True)]
        points = fanout.run_all(sweep_trial, jobs, workers=workers, address=address,
                                shared={"train_fn": train_fn, "cfg": cfg, "out_dir": out_dir, "board": board,
                                        "kernels": tier, "optimize": optimize},
                                what="sweep's trials", on_done=done, threads_per_job=TRIAL_THREADS)
    points.sort(key=lambda p: p.width)
    write_reports(task, points, board, out_dir, tier, optimize)
    return points


def markdown(task: str, points: list[SweepPoint], board: str, tier: str) -> str:
    base = max(points, key=lambda p: p.width)
    lines = [f"Sweep of `{task}` on {board} with the {tier} kernels (instructions counted exactly in the "
             "simulator; accuracy of the int8 generated C on held-out data).", "",
             "| width | params | MACs | conv MACs | instructions | conv instructions | (width ratio)² "
             "| conv MACs vs widest | conv instr. vs widest | float acc. | int8 acc. |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for p in sorted(points, key=lambda p: p.width):
        lines.append(f"| {p.width:g} | {p.params:,} | {p.macs:,} | {p.conv_macs:,} | {p.instructions:,} | "
                     f"{p.conv_instructions:,} | {(p.width / base.width) ** 2:.3f} | {p.conv_macs / base.conv_macs:.3f} | "
                     f"{p.conv_instructions / base.conv_instructions:.3f} | {p.float_acc:.2%} | {p.quant_acc:.2%} |")
    lines += ["", "The first convolution sees the image's own channels, so its cost scales with the width, "
              "not its square; every output also pays a fixed requantization cost, which weighs more in "
              "narrow layers."]
    return "\n".join(lines) + "\n"


def chart(task: str, points: list[SweepPoint], path: Path, where: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = sorted(points, key=lambda p: p.width)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p.instructions for p in pts], [100 * p.quant_acc for p in pts], "o-", label="int8 (generated C)")
    ax.plot([p.instructions for p in pts], [100 * p.float_acc for p in pts], "s--", alpha=0.6, label="float")
    for p in pts:
        ax.annotate(f"width {p.width:g}", (p.instructions, 100 * p.quant_acc), textcoords="offset points",
                    xytext=(5, -12), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("instructions per inference")
    ax.set_ylabel("held-out accuracy (%)")
    ax.set_title(f"{task}: accuracy against cost ({where})")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_reports(task: str, points: list[SweepPoint], board: str, out_dir: Path, tier: str,
                  optimize: str = "balanced") -> list[Path]:
    md, js, png = out_dir / "sweep.md", out_dir / "sweep.json", out_dir / "sweep.png"
    md.write_text(markdown(task, points, board, tier))
    js.write_text(json.dumps({"task": task, "board": board, "kernels": tier, "optimize": optimize,
                              "points": [asdict(p) for p in points]},
                             indent=2) + "\n")
    chart(task, points, png, f"{board}, {tier} kernels")
    return [md, js, png]
