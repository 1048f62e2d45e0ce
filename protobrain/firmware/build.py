"""Firmware: generated model code + board support + protocol server, compiled for a board.

`build()` renders the firmware templates for a board, compiles everything with the
board's cross toolchain, and checks flash and RAM use against the board's memory before
anything is flashed: a model that does not fit fails here with the numbers. It counts every
static buffer it knows of before writing anything (arenas, state areas, the protocol
buffer, the apps' buffers, the stack), works in a temporary folder, and puts the build
folder in place only once the image is linked and checked, so a failure leaves nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from protobrain import __version__
from protobrain.boards import Board
from protobrain.codegen import c
from protobrain.codegen import render as codegen
from protobrain.compiler.program import Program
from protobrain.errors import ProtobrainError, ToolchainError
from protobrain.firmware import rp2040, stackbound, uf2
from protobrain.resources import templates_dir
from protobrain.toolchain import cross_tool, heap_symbols, section_sizes

# -ffp-contract=off: a float multiply-add stays two roundings, as TFLite Micro's reference
# computes it on the host (GCC would fuse it into one FMA on cores with one, e.g. L2_POOL_2D)
OPT_FLAGS = ["-O2", "-ffp-contract=off", "-ffunction-sections", "-fdata-sections"]
WARN_FLAGS = ["-std=c99", "-Wall", "-Wextra", "-Werror"]
# Generated model code calls this after every step: per-step timing and plugin markers.
STEP_HOOK = "-DPB_STEP_HOOK=pb_step_done"
PROTOCOL_SOURCES = ["pb_protocol.c", "pb_protocol.h", "pb_board.h"]


class DoesNotFit(ProtobrainError):
    pass


@dataclass
class Apps:
    """What a firmware serves beyond the model commands (the protobrain bundle's listen and
    speak): extra generated sources, the apps template's context, INFO fields, the
    largest request or reply they exchange, and the static RAM their sources hold (state,
    windows, sample buffers), which the fit check counts. Their nets share one arena."""

    files: dict[str, str]
    context: dict
    info: dict
    buffer_bytes: int
    ram_bytes: int = 0


@dataclass
class FirmwareImage:
    board: Board
    elf: Path
    bin: Path
    text: int  # code and const data (flash)
    data: int  # initialised data (flash and RAM)
    bss: int  # zeroed RAM, including arena and stack
    stack: int
    models: list[dict]
    stack_bound: int | None = None  # worst-case stack depth from the call graph; None: no static bound
    stack_note: str = ""  # the deepest call chain, or why there is no bound

    @property
    def flash_bytes(self) -> int:
        return self.text + self.data

    @property
    def ram_bytes(self) -> int:
        return self.data + self.bss


def model_info(program: Program, model_bytes: bytes) -> dict:
    g = program.graph

    def io(i):
        t = g.tensors[i]
        return {"shape": list(t.shape), "dtype": t.dtype, "bytes": t.nbytes,
                "scale": float(t.quant.s) if t.quant else None, "zero_point": t.quant.zp if t.quant else None}

    return {
        "name": g.name,
        "sha256": hashlib.sha256(model_bytes).hexdigest()[:16],
        "inputs": [io(i) for i in g.inputs],
        "outputs": [io(i) for i in g.outputs],
        "arena": program.arena_size,
        "steps": len(program.steps),
        "macs": program.macs,
    }


def _board_sources(board: Board) -> list[str]:
    uart = {"cmsdk": "uart_cmsdk.c", "nrf": "uart_nrf.c", "ns16550": "uart_ns16550.c",
            "stm32": "uart_stm32.c", "pl011": "uart_pl011.c"}[board.uart["kind"]]
    soc = [f"soc_{board.soc}.c"] if board.soc else []
    if board.arch == "arm":
        return [uart, "timer_cortexm.c", "startup_cortexm.c", *soc]
    return [uart, "timer_riscv.c", "startup_riscv.S"]


def _c_string(text: str) -> str:
    return json.dumps(text)  # a JSON string literal is a valid C string literal for ASCII text


SHARED_ARENA = "pb_shared_arena"


def render_firmware(board: Board, programs: list[Program], model_blobs: list[bytes], out: Path,
                    apps: Apps | None = None, extras: list[codegen.Extras] | None = None) -> list[dict]:
    """Write every source file of the firmware into `out`. extras: per model, what its
    training run adds to its C (labels, a speech net's frontend), as `export library` ships it."""
    out.mkdir(parents=True, exist_ok=True)
    infos = [model_info(p, b) for p, b in zip(programs, model_blobs)]
    for p, extra in zip(programs, extras or [codegen.Extras()] * len(programs)):
        codegen.write(p, out, source=p.graph.name, shared_arena=SHARED_ARENA if apps else None, extras=extra)
    for info in infos:
        for kind in ("inputs", "outputs"):
            if sum(t["bytes"] for t in info[kind]) > 60000:
                raise ProtobrainError(f"{info['name']}: {kind} of {sum(t['bytes'] for t in info[kind])} bytes exceed the protocol's 60,000-byte frame")
    buffer_bytes = protocol_buffer_bytes(programs, apps)
    max_steps = max(i["steps"] for i in infos)
    info = {"protocol": 2, "firmware": f"protobrain {__version__}", "board": board.name, "core": board.core,
            "clock_hz": board.clock_hz, "buffer_bytes": buffer_bytes, "stack_bytes": board.stack_bytes, "models": infos,
            **(apps.info if apps else {})}
    fw = templates_dir() / "firmware"
    ctx = {
        "uart_brr": _stm32_brr(board) if board.uart["kind"] == "stm32" else 0,
        "board": board, "version": __version__, "stack_size": board.stack_bytes, "buffer_bytes": buffer_bytes,
        "max_steps": max_steps,
        "info_c_string": _c_string(json.dumps(info, separators=(",", ":"))),
        "models": [{"name": i["name"], "input_bytes": [t["bytes"] for t in i["inputs"]],
                    "output_bytes": [t["bytes"] for t in i["outputs"]]} for i in infos],
        "apps": apps.context if apps else None,
        "shared_arena": SHARED_ARENA if apps else None,
        "shared_arena_bytes": shared_arena_bytes(programs) if apps else 0,
    }
    for template, fname in (("main.c.j2", "main.c"), ("pb_board_config.h.j2", "pb_board_config.h"), ("link.ld.j2", "link.ld")):
        (out / fname).write_text(c.env().get_template(f"firmware/{template}").render(ctx))
    for f in PROTOCOL_SOURCES + _board_sources(board):
        shutil.copyfile(fw / f, out / f)
    for fname, text in (apps.files if apps else {}).items():
        (out / fname).write_text(text)
    if board.soc == "rp2040":
        image = rp2040.build_boot2(board, cross_tool(board, "gcc"), cross_tool(board, "objcopy"))
        (out / "boot2_image.c").write_text(rp2040.boot2_c_source(image))
    (out / "info.json").write_text(json.dumps(info, indent=2) + "\n")
    return infos


def _stm32_brr(board: Board, baud: int = 115200) -> int:
    """BRR for 115200 baud. A low-power UART divides by 256 more finely than a USART."""
    clock = board.uart.get("clock_hz", board.clock_hz)
    if board.uart.get("lpuart"):
        return (256 * clock + baud // 2) // baud
    return (clock + baud // 2) // baud


def libc_flags(board: Board) -> list[str]:
    if board.arch == "arm":
        return ["--specs=nano.specs", "--specs=nosys.specs"]
    return ["--specs=picolibc.specs"]


def compile_flags(board: Board) -> list[str]:
    """Every flag the firmware is compiled and linked with, but the linker script and the
    include folder: `protobrain build` and exported PlatformIO projects both use these."""
    return [*board.cflags, *WARN_FLAGS, *OPT_FLAGS, *libc_flags(board), "-nostartfiles", STEP_HOOK, "-Wl,--gc-sections"]


def compile_firmware(board: Board, src: Path, names: str = "the firmware") -> tuple[Path, Path]:
    cc = cross_tool(board, "gcc")
    sources = sorted(str(p) for p in src.iterdir() if p.suffix in (".c", ".S"))
    elf = src / "firmware.elf"
    # -fcallgraph-info=su: per-function stack use (as -fstack-usage) and call edges, for stackbound
    cmd = [cc, *compile_flags(board), "-fcallgraph-info=su", f"-T{src / 'link.ld'}", "-I", str(src), "-o", str(elf), *sources,
           "-lm"]  # float32 kernels call expf, logf, ...
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        overflow = _link_overflow(board, names, proc.stderr)
        if overflow:
            raise overflow
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
        raise ToolchainError(f"firmware failed to compile for {board.name}: {first}")
    binary = src / "firmware.bin"
    subprocess.run([cross_tool(board, "objcopy"), "-O", "binary", str(elf), str(binary)], check=True)
    if "uf2_family" in board.run:  # drag-and-drop image for the board's USB boot loader
        (src / "firmware.uf2").write_bytes(uf2.encode(binary.read_bytes(), board.flash.origin, board.run["uf2_family"]))
    return elf, binary


def shared_arena_bytes(programs: list[Program]) -> int:
    """One arena for nets that never run at the same time: the largest plan, 8-byte words."""
    return (max(p.arena_size for p in programs) + 7) // 8 * 8 + 8


def protocol_buffer_bytes(programs: list[Program], apps: Apps | None = None) -> int:
    """The firmware's one request/reply buffer: the largest INVOKE request (model index and
    inputs) or reply (count and outputs), PROFILE's per-step stamps, the apps' own frames."""
    def io(p, tensors, head):
        return head + sum(p.graph.tensors[i].nbytes for i in tensors)

    largest = max(max(io(p, p.graph.inputs, 1), io(p, p.graph.outputs, 9)) for p in programs)
    max_steps = max(len(p.steps) for p in programs)
    return max(largest, 64, 11 + 4 * max_steps, apps.buffer_bytes if apps else 0)


def static_ram(board: Board, programs: list[Program], apps: Apps | None = None) -> list[tuple[str, int]]:
    """Every static buffer of the firmware, as (what, bytes): the planned arenas and the
    words that align them (the model's C declares a whole number of 8-byte words, plus one),
    or the one shared arena; the state areas, the protocol buffer, the per-step stamps, the
    apps' buffers and the stack. What it leaves out (the C library's and the drivers' few
    variables) the linker counts."""
    if apps:
        parts = [("shared arena", shared_arena_bytes(programs))]
    else:
        parts = [(f"arena {p.graph.name}", p.arena_size) for p in programs]
        parts.append(("arena alignment", sum((p.arena_size + 7) // 8 * 8 + 8 - p.arena_size for p in programs)))
    parts += [(f"state {p.graph.name}", (p.state_size + 7) // 8 * 8) for p in programs if p.state_size]
    parts += [("protocol buffer", protocol_buffer_bytes(programs, apps)),
              ("step stamps", 4 * max(len(p.steps) for p in programs))]
    if apps and apps.ram_bytes:
        parts.append(("apps' buffers", apps.ram_bytes))
    return parts + [("stack", board.stack_bytes)]


def check_fit(board: Board, programs: list[Program], apps: Apps | None = None) -> None:
    """Before writing anything: every static buffer must fit in RAM, the weights in flash."""
    parts = static_ram(board, programs, apps)
    ram = sum(n for _, n in parts)
    flash = sum(p.const_bytes for p in programs)
    problems = []
    if ram > board.ram.length:
        what = " + ".join(f"{label} {n:,}" for label, n in parts)
        problems.append(f"RAM needs {ram:,} B ({what}) but {board.name} has {board.ram.length:,} B")
    if flash > board.flash.length:
        problems.append(f"flash needs {flash:,} B of weights but {board.name} has {board.flash.length:,} B")
    if problems:
        names = ", ".join(p.graph.name for p in programs)
        raise DoesNotFit(f"{names} does not fit {board.name}: " + "; ".join(problems))


_OVERFLOW = re.compile(r"region `(\w+)' overflowed by (\d+) bytes")


def _link_overflow(board: Board, names: str, stderr: str) -> DoesNotFit | None:
    """The linker's 'region RAM overflowed by N bytes' as the numbers a user needs."""
    found = {region: int(n) for region, n in _OVERFLOW.findall(stderr)}
    if not found:
        lines = [ln.split(": ", 1)[-1] for ln in stderr.splitlines() if "will not fit" in ln]
        return DoesNotFit(f"{names} does not fit {board.name}: {lines[0]}") if lines else None
    problems = []
    for region, memory, what in (("RAM", board.ram, "RAM"), ("FLASH", board.flash, "flash")):
        if region in found:
            problems.append(f"{what} needs {memory.length + found[region]:,} B as linked but {board.name} has "
                            f"{memory.length:,} B")
    return DoesNotFit(f"{names} does not fit {board.name}: " + "; ".join(problems or [stderr.strip().splitlines()[0]]))


def build(board: Board, programs: list[Program], model_blobs: list[bytes], out: Path,
          apps: Apps | None = None) -> FirmwareImage:
    """Render, compile, link and check in a temporary folder; `out` appears (or replaces the
    old build) only when everything passed."""
    check_fit(board, programs, apps)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="pb-build-") as tmp:
        work = Path(tmp) / "fw"
        image = _build_in(board, programs, model_blobs, work, apps)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(work), str(out))
    image.elf, image.bin = out / image.elf.name, out / image.bin.name
    return image


def _build_in(board: Board, programs: list[Program], model_blobs: list[bytes], out: Path,
              apps: Apps | None) -> FirmwareImage:
    infos = render_firmware(board, programs, model_blobs, out, apps)
    elf, binary = compile_firmware(board, out, ", ".join(p.graph.name for p in programs))
    text, data, bss = section_sizes(board, elf)
    image = FirmwareImage(board, elf, binary, text, data, bss, board.stack_bytes, infos)
    if image.flash_bytes > board.flash.length or image.ram_bytes > board.ram.length:
        raise DoesNotFit(f"does not fit {board.name}: flash {image.flash_bytes:,}/{board.flash.length:,} B, RAM {image.ram_bytes:,}/{board.ram.length:,} B")
    check_no_heap(board, elf)
    bound = stackbound.analyse(board.arch, cross_tool(board, "objdump"), elf, out, [i["name"] for i in infos],
                               has_fpu="fpu" in board.features)
    image.stack_bound, image.stack_note = bound.bytes, str(bound)
    if bound.bytes is not None:
        statics = data + bss - board.stack_bytes  # bss includes the reserved stack section
        if bound.bytes > board.stack_bytes:
            raise DoesNotFit(f"does not fit {board.name}: worst-case stack {bound} exceeds the reserved {board.stack_bytes:,} B")
        if bound.bytes + statics > board.ram.length:
            raise DoesNotFit(f"does not fit {board.name}: worst-case stack {bound.bytes:,} B + data and bss {statics:,} B exceed RAM {board.ram.length:,} B")
    return image


def check_no_heap(board: Board, elf: Path) -> None:
    """The firmware must not allocate: fail if the linked image defines any allocator symbol."""
    heap = heap_symbols(board, elf)
    if heap:
        raise DoesNotFit(f"firmware for {board.name} links a heap allocator ({', '.join(heap)}); protobrain firmware must use static memory only")
