"""PlatformIO projects and libraries of protobrain's generated code.

- `export_project`: a PlatformIO project with one environment per board, bare-metal (no
  framework: the firmware brings up the chip itself), that builds with PlatformIO's
  ststm32 / nordicnrf52 / raspberrypi platforms into the same firmware `protobrain build`
  makes: the same sources, compiler flags, linker script and link order.
- `export_library`: a PlatformIO library (library.json) of the generated model code only,
  for users who call the model from their own project.
- `write_project` / `upload_command`: the one-board project `protobrain flash` writes next
  to a built firmware and uploads with `pio run -t upload`.

Layout of a project, and why: each board's firmware has sources of its own (start-up
code, UART driver, board configuration, linker script; the models' code is the same), so
a folder per board under src/ holds exactly the files `protobrain build` compiles for it,
and each environment builds only its folder (`build_src_filter`). PlatformIO then compiles
the same files and links them in the same (sorted) order, so the firmware's size report
is `protobrain build`'s to the byte. Each board's firmware is compiled for that board's own
kernel tier, as `protobrain build -b BOARD` compiles it. include/ holds the models' C API
(<model>.h), the one header user code includes, where it is the same for every board; a
model whose header differs between boards (its arena and memory plan depend on the tier)
has each board's header in that board's folder, beside the sources that include it.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

from protobrain import __version__
from protobrain.boards import Board, board_names, load_board
from protobrain.codegen import render as codegen
from protobrain.errors import ProtobrainError
from protobrain.firmware.build import OPT_FLAGS, check_fit, compile_flags, render_firmware

LINK_SCRIPT = "protobrain_link.py"

_LINK_SCRIPT_TEXT = '''\
"""PlatformIO extra script written by protobrain.

gcc also needs the core, float ABI, C library and start-file options when it links (they
choose the matching build of libc and libgcc), but PlatformIO hands build_flags to the
compiler only. Each environment lists those options in custom_link_flags.
"""

Import("env")  # noqa: F821 (SCons provides Import and env)

env.Append(LINKFLAGS=env.GetProjectOption("custom_link_flags", "").split())  # noqa: F821
'''

# Options gcc uses when linking, not only when compiling.
_LINK_OPTION_PREFIXES = ("-m", "--specs", "-nostartfiles")


def platformio_boards() -> list[str]:
    """protobrain boards whose board file names a PlatformIO board and platform."""
    names = []
    for name in board_names():
        try:
            if _has_platformio(load_board(name)):
                names.append(name)
        except ProtobrainError:
            continue
    return names


def _has_platformio(board: Board) -> bool:
    return bool(board.platformio.get("board") and board.platformio.get("platform"))


def require_platformio(board: Board) -> None:
    if not _has_platformio(board):
        where = board.path or f"boards/{board.name}.toml"
        runs = " (it runs in QEMU)" if board.simulated else ""
        raise ProtobrainError(f"{board.name} has no [platformio] board and platform in {where}{runs}; "
                              f"PlatformIO can build for: {', '.join(platformio_boards())}")


def link_flags(board: Board) -> list[str]:
    return [f for f in compile_flags(board) if f.startswith(_LINK_OPTION_PREFIXES)]


def _ini(boards: list[Board], what: str) -> str:
    lines = [
        f"; PlatformIO project written by protobrain {__version__}: {what}.",
        "; Build every board: pio run    Upload: pio run -e BOARD -t upload",
        "; Check it on the board: protobrain verify MODEL --board BOARD --port PORT",
        ";",
        "; A folder per board under src/ holds the sources `protobrain build` compiles for that",
        "; board (model, start-up, UART, timer, board configuration, linker script), with the",
        "; board's own kernel tier; each environment builds only its own folder. include/ holds",
        "; the models' C API where it is the same for every board (else each board's folder has",
        "; its own). No framework: the firmware brings up the chip itself. build_flags are protobrain's own",
        f"; compiler flags, and {LINK_SCRIPT} passes those gcc also needs when linking",
        "; (custom_link_flags), so the firmware is the one `protobrain build` makes.",
        "",
        "[env]",
        f"extra_scripts = post:{LINK_SCRIPT}",
    ]
    for b in boards:
        pio = b.platformio
        lines += [
            "",
            f"[env:{b.name}]",
            f"; {b.description}",
            f"platform = {pio['platform']}",
            f"board = {pio['board']}",
            f"board_build.f_cpu = {b.clock_hz}L",
            f"build_src_filter = +<{b.name}/>",
            f"board_build.ldscript = src/{b.name}/link.ld",
            f"build_flags = {' '.join(compile_flags(b))}",
            f"custom_link_flags = {' '.join(link_flags(b))}",
        ]
        if pio.get("upload_protocol"):
            lines.append(f"upload_protocol = {pio['upload_protocol']}")
    return "\n".join(lines) + "\n"


def _api_headers(fw_dir: Path) -> set[str]:
    """The models' public headers of a rendered firmware (from its info.json)."""
    info = fw_dir / "info.json"
    if not info.exists():
        return set()
    return {f"{m['name']}.h" for m in json.loads(info.read_text()).get("models", [])}


def _firmware_sources(fw_dir: Path) -> list[Path]:
    return sorted(p for p in fw_dir.iterdir() if p.suffix in (".c", ".h", ".S") or p.name == "link.ld")


def _lay_out(project: Path, firmwares: list[tuple[Board, Path]], what: str, api_extra: set[str] = frozenset()) -> None:
    """Write a project from rendered firmware folders, one per board. api_extra: headers
    user code includes besides the models' (a speech net's frontend), put in include/ too."""
    include = project / "include"
    include.mkdir(parents=True)
    api: dict[str, dict[str, bytes]] = {}  # header -> board -> its text
    for board, fw_dir in firmwares:
        if not (fw_dir / "link.ld").exists():
            raise ProtobrainError(f"{fw_dir} has no link.ld; build it with: protobrain build MODEL --board {board.name} -o {fw_dir}")
        headers = _api_headers(fw_dir) | set(api_extra)
        dest = project / "src" / board.name
        dest.mkdir(parents=True)
        for p in _firmware_sources(fw_dir):
            if p.name in headers:
                api.setdefault(p.name, {})[board.name] = p.read_bytes()
            else:
                shutil.copyfile(p, dest / p.name)
    for name, by_board in api.items():
        if len(set(by_board.values())) == 1:
            (include / name).write_bytes(next(iter(by_board.values())))
        else:  # another tier, another arena and plan: the board's own header, found first by its sources
            for board_name, data in by_board.items():
                (project / "src" / board_name / name).write_bytes(data)
    (project / LINK_SCRIPT).write_text(_LINK_SCRIPT_TEXT)
    (project / "platformio.ini").write_text(_ini([b for b, _ in firmwares], what))
    (project / ".gitignore").write_text(".pio\n")


def check_output(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise ProtobrainError(f"{out} exists and is not a folder; choose another --output")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise ProtobrainError(f"{out} exists and is not empty; choose a new folder, or pass --force to replace it")


def _install(staged: Path, out: Path) -> None:
    """Put a finished folder in place: nothing appears at `out` until everything is written."""
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.is_dir():
        shutil.rmtree(out)
    shutil.move(str(staged), str(out))


def _unique(boards: list[Board]) -> list[Board]:
    seen, result = set(), []
    for b in boards:
        if b.name not in seen:
            seen.add(b.name)
            result.append(b)
    return result


def export_project(boards: list[Board], programs: dict[str, list], blobs: list[bytes], out: Path,
                   force: bool = False, extras: dict[str, list[codegen.Extras]] | None = None) -> list[Board]:
    """A PlatformIO project for MODELS on several boards, each board's environment with the
    models compiled for it (programs: board name -> Programs, from programs_per_board);
    every check runs before anything is written, and the project appears at `out` only
    once complete. extras: board name -> per model, what its training run adds (labels, a
    speech net's frontend), in each board's sources as `export library` ships them; the
    frontend's header goes to include/ beside the models'."""
    out = Path(out)
    boards = _unique(boards)
    for b in boards:
        require_platformio(b)
    for b in boards:
        check_fit(b, programs[b.name])
    check_output(out, force)
    names = ", ".join(p.graph.name for p in programs[boards[0].name])
    with tempfile.TemporaryDirectory(prefix="pb-export-") as tmp:
        firmwares = []
        for b in boards:
            fw = Path(tmp) / "firmware" / b.name
            render_firmware(b, programs[b.name], blobs, fw, extras=(extras or {}).get(b.name))
            firmwares.append((b, fw))
        api_extra = {n for es in (extras or {}).values() for e in es for n, _ in e.files if n.endswith(".h")}
        project = Path(tmp) / "project"
        _lay_out(project, firmwares, f"{names} on {', '.join(b.name for b in boards)}", api_extra)
        first = (extras or {}).get(boards[0].name, [])
        notes = [ln for p, e in zip(programs[boards[0].name], first) for ln in companion_readme(p.graph.name, e)]
        if notes:  # what the runs added, and how a speech net's features are computed
            (project / "README.md").write_text("\n".join([f"# {names}", "", *notes]))
        _install(project, out)
    return boards


_LIBRARY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _library_readme(name: str, programs, extras) -> str:
    lines = [f"# {name}", "", f"Generated by protobrain {__version__}: static-memory C, bit-exact with TensorFlow Lite Micro;",
             "weights in flash, one arena planned offline, no interpreter and no heap.", "",
             "Put this folder in your project's `lib/` (or list it in `lib_deps`) and call:", ""]
    for p in programs:
        g = p.graph
        n = g.name
        ins = ", ".join(f"const {g.tensors[i].ctype} *input{k}" for k, i in enumerate(g.inputs))
        outs = ", ".join(f"{g.tensors[i].ctype} *output{k}" for k, i in enumerate(g.outputs))
        lines += ["```c", f'#include "{n}.h"', f"int pb_{n}_invoke({ins}, {outs});", "```", "",
                  f"{n}: {p.arena_size:,} B of RAM (arena), {p.const_bytes:,} B of weights and parameters in flash, "
                  f"{p.macs:,} MACs per inference. Sizes, shapes and quantization are macros in `include/{n}.h`.", ""]
    for p, extra in zip(programs, extras):
        lines += companion_readme(p.graph.name, extra)
    return "\n".join(lines)


def companion_readme(name: str, extra: codegen.Extras) -> list[str]:
    """README lines on what a model's training run added: its labels, its audio frontend."""
    lines = []
    if extra.labels:
        lines += [f"{name} is a classifier of {len(extra.labels)} classes: `pb_{name}_labels[i]` names output value i "
                  f"(`PB_{name.upper()}_CLASSES` of them: {', '.join(extra.labels)}).", ""]
    f = extra.feature_input
    if f:
        upper = f"PB_{name.upper()}_FEATURE"
        lines += [f"## Audio in: the frontend {name} was trained on", "",
                  f"{name} reads {f['frames']} frames of {f['mels']} integer log-mel features, which `{f['frontend']}.h` "
                  "computes from 16-bit audio, bit-exact with the features it was trained on. Audio may arrive in "
                  "chunks of any size; the frames come out as they complete:", "", "```c",
                  f'#include "{name}.h"', f'#include "{f["frontend"]}.h"', "",
                  f"static {f['frontend']}_state fe;                  /* {f['frontend']}_reset(&fe) at start */",
                  f"static int16_t frames[4][{f['frontend'].upper()}_N_MELS];",
                  f"static {f['ctype']} window[{upper}_FRAMES * {upper}_MELS]; /* the last {f['frames']} frames, quantized */",
                  "",
                  f"/* for each chunk of n <= 4 * {f['frontend'].upper()}_HOP samples: */",
                  f"int k, got = {f['frontend']}_push(&fe, samples, n, &frames[0][0], 4);",
                  "for (k = 0; k < got; ++k) {  /* slide the window by one frame, quantize the new one into it */",
                  f"    memmove(window, window + {upper}_MELS, sizeof(window) - {upper}_MELS * sizeof(window[0]));",
                  f"    {f['quantize']}(frames[k], {upper}_MELS, {upper}_MULTIPLIER, {upper}_SHIFT, {upper}_ZERO_POINT,",
                  f"        window + ({upper}_FRAMES - 1) * {upper}_MELS);",
                  "}",
                  f"/* every few frames, once {f['frames']} are in: */",
                  f"memcpy(pb_{name}_input0(), window, sizeof(window));",
                  f"pb_{name}_run();  /* scores: pb_{name}_output0() */",
                  "```", "",
                  f"`{f['frontend']}.h` documents each function (push, frame, compute, reset, quantize) and the features' "
                  "scale.", ""]
    return lines


def export_library(programs, sources: list[str], out: Path, name: str | None = None, force: bool = False,
                   extras: list[codegen.Extras] | None = None) -> str:
    """A PlatformIO library of the models' generated C: include/<model>.h (the API), src/
    (model, weights and kernels), library.json. extras: per model, what its training run
    adds (labels; a speech net's frontend, whose header goes to include/ too). Returns the
    library's name."""
    extras = extras or [codegen.Extras()] * len(programs)
    out = Path(out)
    name = name or (programs[0].graph.name if len(programs) == 1 else "protobrain_models")
    if not _LIBRARY_NAME.match(name):
        raise ProtobrainError(f"library name '{name}' must be letters, digits, '_', '-' or '.', starting with a letter or digit")
    check_output(out, force)
    with tempfile.TemporaryDirectory(prefix="pb-export-") as tmp:
        gen = Path(tmp) / "generated"
        for program, source, extra in zip(programs, sources, extras):
            codegen.write(program, gen, source=source, extras=extra)
        lib = Path(tmp) / "library"
        (lib / "include").mkdir(parents=True)
        (lib / "src").mkdir()
        api = {f"{p.graph.name}.h" for p in programs} | {n for e in extras for n, _ in e.files if n.endswith(".h")}
        for f in sorted(gen.iterdir()):
            shutil.copyfile(f, lib / ("include" if f.name in api else "src") / f.name)
        manifest = {
            "name": name,
            "version": __version__,
            "description": f"{', '.join(p.graph.name for p in programs)} as static-memory C, generated by protobrain "
                           f"{__version__} from {', '.join(Path(s).name for s in sources)}; bit-exact with TensorFlow Lite Micro",
            "keywords": ["tflite", "int8", "neural-network", "protobrain"],
            "frameworks": "*",
            "platforms": "*",
            "build": {"flags": list(OPT_FLAGS)},
        }
        (lib / "library.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (lib / "README.md").write_text(_library_readme(name, programs, extras))
        _install(lib, out)
    return name


def write_project(board: Board, fw_dir: Path, out: Path) -> Path:
    """The one-board project of a built firmware (what `protobrain flash` uploads); replaces
    `out`, which is protobrain's own folder inside the build. Returns its platformio.ini."""
    require_platformio(board)
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="pb-project-") as tmp:
        project = Path(tmp) / "project"
        _lay_out(project, [(board, Path(fw_dir))], f"the firmware built in {fw_dir} for {board.name}")
        _install(project, out)
    return out / "platformio.ini"


def upload_command(board: Board, project: Path) -> list[str]:
    exe = shutil.which("pio") or shutil.which("platformio") or "pio"
    return [exe, "run", "-d", str(project), "-e", board.name, "-t", "upload"]
