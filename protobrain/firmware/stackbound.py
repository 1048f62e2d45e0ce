"""Worst-case stack depth of a linked firmware, computed at build time.

Frame sizes come from GCC's -fcallgraph-info=su (the same figures as -fstack-usage, per
function, with the compiler's own call edges); functions compiled elsewhere (the C library,
assembly start-up code) get theirs from the prologue in the disassembly. Call edges come
from both the call graph files and the disassembly of the linked ELF (calls and tail calls
to a function's start). Indirect calls are resolved explicitly: the firmware calls through
function pointers only into the models table (each model's run/run_range/input/output/arena)
and the protocol's byte writer (`put`), so an indirect call may reach any of those.
Recursion, a frame of dynamic size, or an indirect call when those targets are unknown make
a static bound impossible: the result is then `None`, with the reason.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# Per exception entry, the core pushes 8 words, or 26 with the FPU's lazily stacked context,
# plus up to one word of alignment.
ARM_EXCEPTION_FRAME = {False: 8 * 4 + 4, True: 26 * 4 + 4}
MODEL_API = ("run", "run_range", "input", "output", "arena")

_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "[^"]*?\\n[^"]*?\\n(\d+) bytes \(([^)]*)\)"')
_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')
_FUNC = re.compile(r"^([0-9a-f]+) <([^>]+)>:$")


@dataclass
class StackBound:
    bytes: int | None  # None: no static bound
    reason: str = ""  # why there is none
    path: list[str] = field(default_factory=list)  # the deepest call chain

    def __str__(self) -> str:
        return f"{self.bytes:,} B ({' > '.join(self.path)})" if self.bytes is not None else f"unbounded: {self.reason}"


def _read_callgraphs(src: Path) -> tuple[dict[str, int], dict[str, set[str]], set[str]]:
    frames: dict[str, int] = {}
    edges: dict[str, set[str]] = {}
    dynamic: set[str] = set()
    for ci in src.glob("*.ci"):
        text = ci.read_text()
        for name, size, kind in _NODE.findall(text):
            frames[name] = max(frames.get(name, 0), int(size))  # same static name in two files: the larger
            if kind.startswith("dynamic") and "bounded" not in kind:
                dynamic.add(name)
        for a, b in _EDGE.findall(text):
            edges.setdefault(a, set()).add(b)
    return frames, edges, dynamic


def _prologue_bytes(arch: str, insns: list[tuple[str, str]]) -> int:
    """Stack a function without call-graph info reserves, from its first instructions."""
    total = 0
    for op, args in insns[:8]:
        if arch == "arm":
            if op.startswith(("push", "stmdb")) and ("sp!" in args or op.startswith("push")):
                regs = args[args.find("{") + 1:args.find("}")]
                total += 4 * sum(_count_regs(r) for r in regs.split(","))
            elif op.startswith("vpush"):
                regs = args[args.find("{") + 1:args.find("}")]
                total += 8 * sum(_count_regs(r) for r in regs.split(","))
            elif op.startswith("sub") and args.replace(" ", "").startswith(("sp,#", "sp,sp,#")):
                total += int(args.split("#")[1].split()[0], 0)
        else:
            m = re.match(r"(?:addi|c\.addi16sp|c\.addi)\s*sp,\s*(?:sp,\s*)?(-\d+)", f"{op} {args}")
            if m:
                total += -int(m.group(1))
    return total


def _count_regs(spec: str) -> int:
    spec = spec.strip()
    if "-" in spec:
        a, b = spec.split("-")
        return int(re.sub(r"\D", "", b)) - int(re.sub(r"\D", "", a)) + 1
    return 1 if spec else 0


def _disassemble(objdump: str, elf: Path, arch: str):
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", str(elf)], capture_output=True, text=True,
                         check=True).stdout
    funcs: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in out.splitlines():
        m = _FUNC.match(line)
        if m:
            current = m.group(2)
            funcs.setdefault(current, [])
            continue
        if current is None:
            continue
        parts = line.split("\t")
        if len(parts) >= 2 and re.match(r"^\s*[0-9a-f]+:$", parts[0]):
            funcs[current].append((parts[1].strip(), parts[2].strip() if len(parts) > 2 else ""))
    calls: dict[str, set[str]] = {}
    indirect: set[str] = set()
    for name, insns in funcs.items():
        for op, args in insns:
            target = re.search(r"<([^>+]+)>", args)
            if arch == "arm":
                is_branch = re.match(r"^(bl|blx|b)(\.[nw])?$|^b(eq|ne|cs|cc|mi|pl|hi|ls|ge|lt|gt|le)(\.[nw])?$", op)
                if op.startswith("blx") and re.match(r"^r\d+$|^ip$", args.split()[0] if args else ""):
                    indirect.add(name)
                elif op.startswith("bx") and args and args.split()[0] != "lr":  # (no args: data, not code)
                    indirect.add(name)
            else:
                is_branch = op in ("jal", "j", "call", "tail") or op.startswith(("b", "c.j"))
                is_return = args.strip() in ("ra", "zero,0(ra)")
                if op in ("jalr", "c.jalr", "jr", "c.jr") and not is_return and not target:
                    indirect.add(name)  # a call through a pointer (or a switch's jump table: counted too)
            if is_branch and target and target.group(1) != name and target.group(1) in funcs:
                calls.setdefault(name, set()).add(target.group(1))
    return funcs, calls, indirect


def analyse(arch: str, objdump: str, elf: Path, src: Path, model_names: list[str],
            has_fpu: bool = False) -> StackBound:
    """Worst case: Reset handler (or _start) and its callees, plus the deepest interrupt handler."""
    frames, edges, dynamic = _read_callgraphs(src)
    funcs, calls, indirect = _disassemble(objdump, elf, arch)
    for name, targets in calls.items():
        edges.setdefault(name, set()).update(targets)
    targets = {f"pb_{m}_{api}" for m in model_names for api in MODEL_API} | {"put"}
    targets &= set(funcs) | set(frames)
    for name in indirect:
        edges.setdefault(name, set()).update(targets)

    def frame(name: str) -> int:
        if name in frames:
            return frames[name]
        return _prologue_bytes(arch, funcs.get(name, []))

    memo: dict[str, tuple[int, list[str]]] = {}
    stack: list[str] = []

    class Unbounded(Exception):
        pass

    def depth(name: str) -> tuple[int, list[str]]:
        if name in memo:
            return memo[name]
        if name in stack:
            raise Unbounded(f"recursion: {' > '.join(stack[stack.index(name):] + [name])}")
        if name in dynamic:
            raise Unbounded(f"{name} has a frame of dynamic size")
        stack.append(name)
        best, path = 0, []
        for callee in sorted(edges.get(name, ())):
            if callee == name:
                raise Unbounded(f"recursion: {name} calls itself")
            d, p = depth(callee)
            if d > best:
                best, path = d, p
        stack.pop()
        memo[name] = (frame(name) + best, [name] + path)
        return memo[name]

    entry = "Reset_Handler" if "Reset_Handler" in funcs else "_start"
    handlers = [h for h in funcs if h.endswith("_Handler") and h != "Reset_Handler"] if arch == "arm" else []
    try:
        main_depth, main_path = depth(entry)
        isr = [(depth(h), h) for h in handlers]
    except Unbounded as e:
        return StackBound(None, str(e))
    total, path = main_depth, main_path
    if isr:
        (d, p), _ = max(isr)
        total += d + ARM_EXCEPTION_FRAME[has_fpu]
        path = main_path + ["<exception>"] + p
    return StackBound(total, "", path)
