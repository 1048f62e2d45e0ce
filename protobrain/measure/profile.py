"""Where the instructions of one inference go: a per-instruction profile on a simulated board.

The firmware is the one `protobrain bench` builds for the model. It runs one inference in
QEMU under the pb_icount plugin in profile mode, which counts executions per guest PC
between the marks before and after the inference: exactly the instructions the counting
mode reports for that inference (SysTick_Handler excluded in both). PCs are attributed to
ELF functions (nm); the hottest functions are disassembled (objdump) with each
instruction's execution count beside it.
"""

from __future__ import annotations

import bisect
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from protobrain.boards import Board, board_names, load_board
from protobrain.compiler.program import Program
from protobrain.errors import ProtobrainError
from protobrain.firmware.build import build
from protobrain.measure.bench import inference_counts
from protobrain.measure.icount import InstructionCounter, read_profile
from protobrain.run.device import Device
from protobrain.run.qemu import QemuBoard
from protobrain.toolchain import cross_tool, function_symbols
from protobrain.verify.compare import test_inputs

NO_SYMBOL = "(no symbol)"


class ProfileError(ProtobrainError):
    pass


@dataclass
class FunctionCount:
    name: str
    address: int
    size: int
    count: int


@dataclass
class InferenceProfile:
    board: str
    core: str
    model: str
    tier: str
    total: int  # the counting mode's count for the inference (last mark - first mark)
    steps: list[tuple[str, int]]  # (operator, instructions) per step, from the marks
    pcs: dict[int, int]  # executions per instruction address
    functions: list[FunctionCount] = field(default_factory=list)  # most instructions first

    def to_json(self) -> dict:
        return {
            "board": self.board, "core": self.core, "model": self.model, "kernels": self.tier, "total": self.total,
            "functions": {f.name: f.count for f in self.functions},
            "pcs": {f"{pc:#x}": n for pc, n in sorted(self.pcs.items())},
            "steps": [{"step": k, "op": op, "count": n} for k, (op, n) in enumerate(self.steps)],
        }


def check_board(board: Board) -> None:
    if not board.simulated:
        sims = [n for n in board_names() if load_board(n).simulated]
        raise ProfileError(f"{board.name} has no simulator; profile runs in QEMU on one of: {', '.join(sims)}")


def attribute(pcs: dict[int, int], symbols: list[tuple[int, int, str]]) -> list[FunctionCount]:
    """Sum per-PC counts into the function whose [address, address + size) holds each PC."""
    starts = [a for a, _, _ in symbols]
    totals: dict[str, FunctionCount] = {}
    for pc, n in pcs.items():
        k = bisect.bisect_right(starts, pc) - 1
        if k >= 0 and pc < symbols[k][0] + symbols[k][1]:
            address, size, name = symbols[k]
        else:
            address, size, name = 0, 0, NO_SYMBOL
        f = totals.setdefault(name, FunctionCount(name, address, size, 0))
        f.count += n
    return sorted(totals.values(), key=lambda f: (-f.count, f.name))


def run_profile(board: Board, prog: Program, blob: bytes, elf_copy: Path | None = None, *,
                seed: int = 0, inputs: tuple | None = None) -> InferenceProfile:
    """Build the bench firmware for one model, run one inference (on `inputs`, or a random
    input from seed) and count executions per PC between the marks around it."""
    check_board(board)
    xs = inputs if inputs is not None else test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], 1, seed)[0]
    with tempfile.TemporaryDirectory(prefix="pb-profile-") as tmp:
        elf = build(board, [prog], [blob], Path(tmp) / "fw").elf
        pcs_file = Path(tmp) / "pcs.txt"
        # One invoke logs len(steps) + 2 marks, the first before the inference: count from mark 0 to the last.
        counter = InstructionCounter(board, elf, Path(tmp) / "marks.txt", profile=pcs_file,
                                     profile_marks=(0, len(prog.steps) + 1))
        with QemuBoard(board, elf, extra_args=counter.qemu_args) as q, Device(q.port) as dev:
            index = dev.model_index(prog.graph.name)
            if counter.new_marks():
                raise ProfileError("the firmware marked before the inference; rebuild it with this protobrain")
            dev.invoke(index, *xs)
            total, steps = inference_counts(prog, counter.new_marks())
        if not pcs_file.exists():
            raise ProfileError("the QEMU plugin wrote no profile; rebuild it (delete ~/.cache/protobrain/plugin)")
        pcs = read_profile(pcs_file)
        if sum(pcs.values()) != total:
            raise ProfileError(f"per-PC counts add up to {sum(pcs.values()):,}, the counting mode says {total:,}")
        functions = attribute(pcs, function_symbols(board, elf))
        if elf_copy is not None:
            elf_copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(elf, elf_copy)
    return InferenceProfile(board.name, board.core, prog.graph.name, prog.tier, total,
                            [(step.op.name, n) for step, n in zip(prog.steps, steps)], pcs, functions)


_INSN = re.compile(r"^\s*([0-9a-f]+):\t")


def hot_blocks(insns: list[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """Runs of consecutive instructions executed equally often (basic blocks, roughly) as
    (first address, last address, instructions, count), most instructions first."""
    runs: list[list[int]] = []
    for address, count in insns:
        if runs and count and runs[-1][3] == count:
            runs[-1][1], runs[-1][2] = address, runs[-1][2] + 1
        elif count:
            runs.append([address, address, 1, count])
        else:
            runs.append([address, address, 0, 0])
    return sorted((tuple(r) for r in runs if r[3]), key=lambda r: -r[2] * r[3])


def annotate(board: Board, elf: Path, profile: InferenceProfile, top: int) -> str:
    """The top functions' disassembly, each instruction with its execution count on the left."""
    objdump = cross_tool(board, "objdump")
    lines = [f"protobrain profile: {profile.model} on {profile.board} ({profile.core}, {profile.tier} kernels)",
             f"one inference: {profile.total:,} instructions, counted between the marks around it "
             "(SysTick_Handler not counted)",
             "", "instructions per step (from the per-layer marks; the rest is call and marker overhead):"]
    lines += [f"{n:>14,}  step {k}: {op}" for k, (op, n) in enumerate(profile.steps)]
    lines += ["", "functions:"]
    lines += [f"{f.count:>14,}  {100 * f.count / profile.total if profile.total else 0:5.1f}%  {f.name}"
              for f in profile.functions]
    lines += ["", "left column: times each instruction executed in that inference (blank: never)", ""]
    shown = [f for f in profile.functions if f.name != NO_SYMBOL][:top]
    for rank, f in enumerate(shown, 1):
        share = 100 * f.count / profile.total if profile.total else 0.0
        lines.append(f"== {rank}. {f.name} at {f.address:#x}, {f.size} bytes: {f.count:,} instructions "
                     f"({share:.1f}%) ==")
        out = subprocess.run([objdump, "-d", "--no-show-raw-insn", f"--start-address={f.address:#x}",
                              f"--stop-address={f.address + f.size:#x}", str(elf)],
                             capture_output=True, text=True, check=True).stdout
        body = out.split("Disassembly of section", 1)[-1].splitlines()[1:]
        listing, insns = [], []
        for text in body:
            if not text.strip():
                continue
            m = _INSN.match(text)
            count = profile.pcs.get(int(m.group(1), 16), 0) if m else 0
            if m:
                insns.append((int(m.group(1), 16), count))
            listing.append(f"{count:>14,}  {text.expandtabs(8)}" if count else f"{'':>14}  {text.expandtabs(8)}")
        for first, last, n, count in hot_blocks(insns)[:3]:
            lines.append(f"   hot block {first:#x}-{last:#x}: {n} instructions x {count:,} = {n * count:,} "
                         f"({100 * n * count / f.count:.1f}% of the function)")
        lines += listing + [""]
    return "\n".join(lines)


def write_reports(board: Board, profile: InferenceProfile, elf: Path, out_dir: Path, top: int) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    txt, js = out_dir / "profile.txt", out_dir / "profile.json"
    txt.write_text(annotate(board, elf, profile, top))
    js.write_text(json.dumps(profile.to_json(), indent=2) + "\n")
    return [txt, js]
