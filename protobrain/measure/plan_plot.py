"""A picture of a Program's memory plan (`protobrain inspect MODEL --plot plan.png`).

Each arena buffer is a box: operators (steps) along x, from the first step that writes it
to the last that reads it; arena offset up y, from its offset to offset + size. Activation
tensors are coloured (tensors that share memory, such as a RESHAPE's, are one box), a fast
kernel's scratch is grey. Lines mark protobrain's arena, the live-tensor lower bound (the
most activation bytes alive at one step; the curve under the boxes is the bytes alive at
each step) and TensorFlow Lite Micro's arena for the same model: its head (its own plan of
activations and scratch, what protobrain's arena replaces) and its total (plus the data it
keeps per tensor and operator), when they are known.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from protobrain.compiler.program import Program
from protobrain.errors import ProtobrainError

FORMATS = (".png", ".svg", ".pdf")


@dataclass(frozen=True)
class TflmArena:
    """TensorFlow Lite Micro's arena for the model, from its allocation report."""

    total: int
    head: int | None  # its non-persistent part: planned activations and scratch


def live_bytes(program: Program) -> list[int]:
    """Activation bytes alive at each step (the lower bound is their maximum)."""
    acts = [b for b in program.plan.buffers if b.tensors]
    return [sum(b.size for b in acts if b.first <= k <= b.last) for k in range(len(program.steps))]


def _label(program: Program, buf) -> str:
    t = program.graph.tensors[buf.tensors[0]]
    return "x".join(map(str, t.shape[1:] if len(t.shape) > 1 and t.shape[0] == 1 else t.shape))


def plot_plan(program: Program, path: str | Path, tflm: TflmArena | None = None, tflm_note: str = "") -> Path:
    """Draw the plan into `path` (.png, .svg or .pdf). tflm_note says why TensorFlow Lite
    Micro's arena is not marked when tflm is None."""
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise ProtobrainError(f"--plot {path}: give a file name ending in {', '.join(FORMATS)}")
    try:
        import matplotlib
    except ImportError:
        raise ProtobrainError("--plot needs matplotlib: pip install matplotlib (or 'protobrain[train]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    g = program.graph
    n_steps = max(len(program.steps), 1)
    fig, ax = plt.subplots(figsize=(11, 6))
    colours = plt.get_cmap("tab20").colors
    top = max(program.arena_size, 1)
    for k, b in enumerate(sorted(program.plan.buffers, key=lambda b: (b.first, b.offset))):
        x0, width = b.first - 0.42, b.last - b.first + 0.84
        if b.tensors:
            ax.add_patch(Rectangle((x0, b.offset), width, b.size, facecolor=colours[k % len(colours)],
                                   edgecolor="black", linewidth=0.5, alpha=0.85))
            if b.size >= 0.06 * top:  # a one-step box gets its label upright
                ax.text(b.first + (b.last - b.first) / 2, b.offset + b.size / 2, _label(program, b), ha="center",
                        va="center", fontsize=7, rotation=0 if width >= 1.5 else 90)
        else:
            ax.add_patch(Rectangle((x0, b.offset), width, b.size, facecolor="0.85", edgecolor="0.4",
                                   linewidth=0.5, hatch="///"))
    live = live_bytes(program)
    ax.step(range(len(live)), live, where="mid", color="black", linewidth=0.8, alpha=0.4,
            label="activation bytes alive at each step")
    marks = [(program.arena_size, "black", "-", f"protobrain arena {program.arena_size:,} B ({program.plan.strategy})"),
             (program.lower_bound, "tab:green", "--", f"live-tensor lower bound {program.lower_bound:,} B")]
    if tflm is not None:
        if tflm.head is not None:
            marks.append((tflm.head, "tab:red", "--", f"TFLite Micro activations + scratch (arena head) {tflm.head:,} B"))
        marks.append((tflm.total, "tab:red", ":", f"TFLite Micro whole arena {tflm.total:,} B"))
    for y, colour, style, text in marks:
        ax.axhline(y, color=colour, linestyle=style, linewidth=1.2, label=text)
    if any(not b.tensors for b in program.plan.buffers):
        ax.add_patch(Rectangle((0, 0), 0, 0, facecolor="0.85", edgecolor="0.4", hatch="///",
                               label="fast kernels' scratch"))
    ax.set_xlim(-1, n_steps)
    ax.set_ylim(0, 1.05 * max([y for y, *_ in marks] + [1]))
    ax.set_xlabel("operator (step of the generated code)")
    ax.set_ylabel("arena offset (bytes)")
    title = f"{g.name}: memory plan, {n_steps} operators, {program.tier} kernels"
    if program.state_size:
        title += f" (+{program.state_size:,} B of state outside the arena)"
    ax.set_title(title + (f"\n{tflm_note}" if tflm is None and tflm_note else ""), fontsize=10)
    ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{int(v):,}"))
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(loc="upper right", fontsize=8, framealpha=0.9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
