"""Benchmarks measured on the device itself: instructions (QEMU plugin) or cycles (real
board) per model and per layer, memory against TFLite Micro and the activation lower bound,
flash split into weights and code, stack high-water mark, and the spread of the count over
different inputs (constant running time means zero spread).

Every counted run is checked bit-exact against TFLite Micro; a figure of code that computes
something else is no figure, so check_bit_exact fails the report when any run differs.

On a simulated board every model gets its own firmware (so flash and RAM are that model's
alone) and runs under the instruction-counting plugin. On a real board (`port`) the
firmware the user flashed is measured with its timer: DWT cycles, or SysTick. A simulated
board reached over a port (QEMU started by `protobrain flash`) has only a virtual clock:
its counts are converted to instructions and say so.

MACs are the model's own (every multiply its layers define); computed MACs leave out those
of the output channels a fast tier skips (all-zero weights: their output is a constant), so
the count per computed MAC measures the kernels and the whole-model figure the graph too.
"""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from protobrain.boards import Board
from protobrain.compiler.program import Program
from protobrain.errors import ProtobrainError
from protobrain.firmware.build import build
from protobrain.measure.icount import InstructionCounter
from protobrain.run.device import Device
from protobrain.run.flashing import firmware_elf
from protobrain.run.qemu import QemuBoard, timer_figure
from protobrain.toolchain import elf_symbols, heap_symbols, section_sizes
from protobrain.verify.compare import Mismatch, compare, test_inputs
from protobrain.verify.reference import Reference


class BenchError(ProtobrainError):
    pass


class NotBitExactError(BenchError):
    """A counted run's outputs differ from TFLite Micro's (exit 1, as verify's mismatch)."""

    exit_code = 1


@dataclass
class LayerFigures:
    step: int
    op: str
    macs: int
    count: int  # instructions or cycles, first input
    spread: int  # max - min over all inputs
    computed_macs: int = 0  # of macs, those the kernel computes (KernelCall.computed_macs)

    @property
    def per_mac(self) -> float | None:
        return self.count / self.macs if self.macs else None

    @property
    def per_computed_mac(self) -> float | None:
        return self.count / self.computed_macs if self.computed_macs else None


@dataclass
class ModelFigures:
    name: str
    macs: int
    count_kind: str  # "instructions" (simulator) or the device timer's kind
    count: int  # whole inference, first input
    count_min: int
    count_max: int
    inputs: int
    mismatches: list[Mismatch]  # per differing input case and output; empty when bit-exact
    tier: str  # kernel tier the model was compiled for
    arena: int  # planned: activations and the fast kernels' scratch
    activation_lower_bound: int  # live activation tensors only (Program.lower_bound)
    largest_scratch: int  # the largest scratch buffer one step's kernel uses (Program.largest_scratch)
    tflm_arena: int | None
    weights_flash: int
    code_flash: int
    ram: int
    stack_used: int
    stack_size: int
    heap_symbols: list[str]
    layers: list[LayerFigures] = field(default_factory=list)
    computed_macs: int = 0  # the layers' computed MACs: macs less the skipped channels'
    kernels: str = ""  # the tier as Program.kernels_text names it (with the DSP tier's weight form)
    wide_weights: bool = False  # the DSP tier's matrix-multiply weights int16 (else the lean int8 form)

    @property
    def bit_exact(self) -> bool:
        return not self.mismatches

    @property
    def spread(self) -> int:
        return self.count_max - self.count_min

    @property
    def per_mac(self) -> float | None:
        return self.count / self.macs if self.macs else None

    @property
    def per_computed_mac(self) -> float | None:
        return self.count / self.computed_macs if self.computed_macs else None

    @property
    def layer_sum(self) -> int:
        return sum(layer.count for layer in self.layers)


@dataclass
class BenchReport:
    board: str
    core: str
    clock_hz: int
    models: list[ModelFigures]

    def to_json(self) -> dict:
        def model(m: ModelFigures) -> dict:
            d = asdict(m)
            d.update(bit_exact=m.bit_exact, spread=m.spread, per_mac=m.per_mac,
                     per_computed_mac=m.per_computed_mac, layer_sum=m.layer_sum)
            for layer, obj in zip(d["layers"], m.layers):
                layer.update(per_mac=obj.per_mac, per_computed_mac=obj.per_computed_mac)
            return d

        return {"board": self.board, "core": self.core, "clock_hz": self.clock_hz,
                "models": [model(m) for m in self.models]}


def weights_bytes(symbols, model: str) -> int:
    """Flash held by one model's weights, biases, multipliers, tables and layer parameters."""
    prefix = re.compile(rf"pb_{re.escape(model)}_op\d+")
    return sum(s.size for name, s in symbols.items() if prefix.match(name))


@dataclass
class _Measured:
    """One model's raw measurements in a session."""
    wholes: list[int]  # whole-inference count per input
    steps: list[list[int]]  # per-step counts per input
    mismatches: list[Mismatch]
    kind: str
    tflm_arena: int | None


def inference_counts(prog: Program, marks: list[int]) -> tuple[int, list[int]]:
    """The plugin's marks of one inference (before it, after each step, after it) as the
    whole inference's count and each step's count. A request the host resent after its reply
    was late (a simulator starved of CPU) ran the same inference again: each run's marks are
    there, and their counts must repeat exactly."""
    per = len(prog.steps) + 2
    if not marks or len(marks) % per:
        raise BenchError(f"{prog.graph.name}: the plugin logged {len(marks)} marks for "
                         f"{len(prog.steps)} steps; rebuild the firmware with this protobrain")
    runs = [marks[i:i + per] for i in range(0, len(marks), per)]
    counts = {(r[-1] - r[0], tuple(b - a for a, b in zip(r[:-2], r[1:-1]))) for r in runs}
    if len(counts) != 1:
        raise BenchError(f"{prog.graph.name}: one input ran {len(runs)} times (a resent request) and counted "
                         "differently each time; the counts are not reproducible, so none is reported")
    whole, steps = counts.pop()
    return whole, list(steps)


def _measure_session(board: Board, programs: list[Program], paths: list[str], dev, counter,
                     n_inputs: int, seed: int, progress) -> list[_Measured]:
    """Invoke each model on n_inputs inputs, checked against TFLite Micro (verify.compare),
    recording the plugin's marks (simulator) or the device's own per-step timer stamps."""
    results = []
    for prog, path in zip(programs, paths):
        index = dev.model_index(prog.graph.name)
        ref = Reference(path)
        cases = test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], max(n_inputs - 3, 0), seed)[:n_inputs]
        m = _Measured([], [], [], "instructions", ref.arena_bytes())
        task = progress.add_task(f"{prog.graph.name} on {board.name}", total=len(cases)) if progress else None
        if counter:
            counter.new_marks()  # drop marks from anything before

        def run(*xs):
            result = dev.invoke(index, *xs)
            if counter:
                whole, steps = inference_counts(prog, counter.new_marks())
                m.wholes.append(whole)
                m.steps.append(steps)
            else:
                whole, m.kind = timer_figure(board, result.count, result.count_kind)
                m.wholes.append(whole)
                m.steps.append([timer_figure(board, n, result.count_kind)[0] for n in dev.profile().step_counts])
            if progress:
                progress.advance(task)
            return result.outputs[0] if len(result.outputs) == 1 else result.outputs

        m.mismatches = compare(run, ref, cases, prog.graph.name).mismatches
        results.append(m)
    return results


def run_bench(board: Board, programs: list[Program], paths: list[str], blobs: list[bytes], *, n_inputs: int = 20,
              seed: int = 0, port: str | None = None, fw_dir: Path | None = None, progress=None) -> BenchReport:
    if port and not fw_dir:
        raise BenchError("with --port, also give --firmware DIR: the build folder of the flashed firmware "
                         "(its ELF gives flash, weights and heap figures)")
    if not port and not board.simulated:
        raise BenchError(f"{board.name} is a real board: flash it, then pass --port and --firmware")
    flashed = firmware_elf(fw_dir, board) if port else None  # built for this board, or refused now
    figures: list[ModelFigures] = []
    with tempfile.TemporaryDirectory(prefix="pb-bench-") as tmp:
        # one session per model on a simulator (its own firmware); one session for all on a real board
        groups = [([p], [path], [blob]) for p, path, blob in zip(programs, paths, blobs)] if not port \
            else [(programs, paths, blobs)]
        for k, (progs, gpaths, gblobs) in enumerate(groups):
            if port:
                elf = flashed
            else:
                elf = build(board, progs, gblobs, Path(tmp) / f"fw{k}").elf
            text, data, bss = section_sizes(board, elf)
            symbols = elf_symbols(board, elf)
            heap = heap_symbols(board, elf)
            measured, stack = _run_group(board, progs, gpaths, elf, port, Path(tmp) / f"marks{k}.txt",
                                         n_inputs, seed, progress)
            all_weights = sum(weights_bytes(symbols, p.graph.name) for p in progs)
            for prog, m in zip(progs, measured):
                layers = []
                for j, step in enumerate(prog.steps):
                    per_input = [s[j] for s in m.steps if j < len(s)]
                    layers.append(LayerFigures(j, step.op.name, step.call.macs if step.call else 0,
                                               per_input[0] if per_input else 0,
                                               max(per_input) - min(per_input) if per_input else 0,
                                               step.call.computed_macs if step.call else 0))
                figures.append(ModelFigures(
                    name=prog.graph.name, macs=prog.macs, count_kind=m.kind, count=m.wholes[0],
                    count_min=min(m.wholes), count_max=max(m.wholes), inputs=len(m.wholes),
                    mismatches=m.mismatches, tier=prog.tier, arena=prog.arena_size,
                    activation_lower_bound=prog.lower_bound, largest_scratch=prog.largest_scratch,
                    tflm_arena=m.tflm_arena,
                    weights_flash=weights_bytes(symbols, prog.graph.name), code_flash=text + data - all_weights,
                    ram=data + bss, stack_used=stack[0], stack_size=stack[1], heap_symbols=heap, layers=layers,
                    computed_macs=sum(layer.computed_macs for layer in layers),
                    kernels=prog.kernels_text, wide_weights=prog.wide_weights))
    return BenchReport(board.name, board.core, board.clock_hz, figures)


def mismatch_line(board: str, m: ModelFigures) -> str:
    """One line naming the row (board, kernel tier, model) and its first differing value."""
    x = m.mismatches[0]
    cases = len({y.case for y in m.mismatches})
    return (f"{m.name} on {board} ({m.tier} kernels) is not bit-exact with TFLite Micro on {cases} of {m.inputs} "
            f"inputs: first at input case {x.case}, output {x.output}, flat index {x.index}: "
            f"protobrain {x.got} vs TFLite Micro {x.want}")


def check_bit_exact(report: BenchReport) -> None:
    """Raise NotBitExactError naming the first run that differs (and which other models do)."""
    failed = [m for m in report.models if not m.bit_exact]
    if failed:
        more = f"; also not bit-exact: {', '.join(m.name for m in failed[1:])}" if failed[1:] else ""
        first = failed[0]
        raise NotBitExactError(f"{mismatch_line(report.board, first)}{more}; protobrain verify with --board "
                               f"{report.board} --kernels {first.tier} --layers names the first differing layer")


SIMULATOR_REPLY_S = 30.0   # seconds a simulated board may take to answer one request


def _run_group(board, progs, paths, elf, port, marks_log, n_inputs, seed, progress):
    if port:
        with Device(port) as dev:
            measured = _measure_session(board, progs, paths, dev, None, n_inputs, seed, progress)
            p = dev.profile()
        return measured, (p.stack_used, p.stack_size)
    counter = InstructionCounter(board, elf, marks_log)
    # a simulator's counts do not depend on time: on a machine busy with other runs, wait
    # longer for a reply rather than give the run up
    with QemuBoard(board, elf, extra_args=counter.qemu_args) as q, Device(q.port, timeout=SIMULATOR_REPLY_S) as dev:
        measured = _measure_session(board, progs, paths, dev, counter, n_inputs, seed, progress)
        p = dev.profile()
    return measured, (p.stack_used, p.stack_size)


# --- reports ------------------------------------------------------------------------------

def _n(v) -> str:
    return "-" if v is None else f"{v:,}"


def _f(v) -> str:
    return "-" if v is None else f"{v:.2f}"


def verdict(m: ModelFigures) -> str:
    return "yes" if m.bit_exact else "NO"


def model_table(report: BenchReport, per_computed: bool = False) -> list[str]:
    """One Markdown row per model: every whole-model figure; per_computed: with the computed
    MACs and the count per computed MAC beside the count per MAC."""
    unit = report.models[0].count_kind if report.models else "instructions"
    computed = " computed MACs | per computed MAC |" if per_computed else ""
    lines = [f"| model | MACs | {unit} | per MAC |{computed} spread | inputs | bit-exact | arena (B) "
             "| activation lower bound (B) | scratch (B) | TFLM arena (B) | weights (B) | code (B) | RAM (B) "
             "| stack used (B) | heap |",
             "|---|" + "---:|" * (14 + 2 * per_computed) + "---|"]
    for m in report.models:
        beside = f" {m.computed_macs:,} | {_f(m.per_computed_mac)} |" if per_computed else ""
        lines.append(f"| {m.name} | {m.macs:,} | {m.count:,} | {_f(m.per_mac)} |{beside} {m.spread:,} | {m.inputs} | "
                     f"{verdict(m)} | {m.arena:,} | {m.activation_lower_bound:,} | {m.largest_scratch:,} | "
                     f"{_n(m.tflm_arena)} | "
                     f"{m.weights_flash:,} | {m.code_flash:,} | {m.ram:,} | {m.stack_used:,} / {m.stack_size:,} | "
                     f"{', '.join(m.heap_symbols) or 'none'} |")
    return lines


def markdown(report: BenchReport, per_computed: bool = False) -> str:
    unit = report.models[0].count_kind if report.models else "instructions"
    lines = [f"# protobrain bench on {report.board} ({report.core}, {report.clock_hz / 1e6:g} MHz)", "",
             f"Counts are {unit}" + (", exact and repeatable" if unit == "instructions" else "")
             + "; spread is max - min over the inputs. Bit-exact: every",
             "output byte on every input equals TFLite Micro's. Arena: the planned memory, activations and",
             "the fast kernels' scratch; activation lower bound: the largest total of activation tensors",
             "alive at one step; scratch: the largest scratch buffer one layer's kernel uses. Weights: the",
             "models' constants and layer parameters in flash; code: the rest of the firmware's flash.",
             *(["Computed MACs leave out those of the output channels a fast tier skips (all-zero weights)."]
               if per_computed else []), "",
             *model_table(report, per_computed)]
    for m in report.models:
        if not m.bit_exact:
            lines += ["", f"NOT bit-exact: {mismatch_line(report.board, m)}"]
    for m in report.models:
        lines += ["", f"## {m.name}: per layer", "",
                  f"Sum of layers {m.layer_sum:,} of {m.count:,} (the rest is the call and marker overhead).", "",
                  f"| step | operator | MACs | {unit} | per MAC |"
                  + (" computed MACs | per computed MAC |" if per_computed else "") + " spread |",
                  "|---:|---|" + "---:|" * (4 + 2 * per_computed)]
        for layer in m.layers:
            beside = f" {layer.computed_macs:,} | {_f(layer.per_computed_mac)} |" if per_computed else ""
            lines.append(f"| {layer.step} | {layer.op} | {layer.macs:,} | {layer.count:,} | {_f(layer.per_mac)} |"
                         f"{beside} {layer.spread:,} |")
    return "\n".join(lines) + "\n"


def chart(report: BenchReport, path: Path) -> None:
    """Per-layer bars, one panel per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(report.models)
    fig, axes = plt.subplots(n, 1, figsize=(10, 2.6 * n + 0.6), squeeze=False)
    for ax, m in zip(axes[:, 0], report.models):
        counts = [layer.count for layer in m.layers]
        ax.bar(range(len(counts)), counts, color=["#3b7dd8" if layer.macs else "#9aa5b1" for layer in m.layers])
        exact = "" if m.bit_exact else ", NOT bit-exact"
        ax.set_title(f"{m.name}: {m.count:,} {m.count_kind}, {_f(m.per_mac)} per MAC{exact}", fontsize=10)
        ax.set_ylabel(m.count_kind)
        ax.set_xticks(range(len(counts)))
        ax.set_xticklabels([f"{layer.step}:{layer.op[:10]}" for layer in m.layers], rotation=90, fontsize=6)
    fig.suptitle(f"protobrain bench on {report.board} (blue: layers with MACs)", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(report: BenchReport, out_dir: Path, per_computed: bool = False) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [out_dir / "bench.json", out_dir / "bench.md", out_dir / "bench.png"]
    files[0].write_text(json.dumps(report.to_json(), indent=2) + "\n")
    files[1].write_text(markdown(report, per_computed))
    chart(report, files[2])
    return files
