"""Generated C under AddressSanitizer and UBSan on the host, per kernel tier (HOST_TIERS:
the portable tier, and the ARMv6-M and DSP tiers in their plain-C forms, pb_v6m.h and pb_simd.h). build_sanitized
builds a program's C with a stdin/stdout main() whose inputs and outputs are heap blocks of
exactly their size; run_sanitized builds and runs one valid mutant's C for a tier on input
cases (in passes, the model reset before each) and returns its outputs, or raises RunFailed. Kernel objects are cached by content:
they are the same for every mutant.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from protobrain.codegen.c import digest
from protobrain.codegen.kernels import kernel_files
from protobrain.codegen.render import render
from protobrain.compiler.ir import C_TYPES, DTYPES
from protobrain.errors import ProtobrainError, ToolchainError
from protobrain.toolchain import cache_dir, host_cc
from protobrain.verify.fuzz.cases import RunFailed, ValidMutant

HOST_TIERS = ("portable", "armv6m", "dsp")  # C that runs on the host: the fast tiers in their plain-C forms

SANITIZE_FLAGS = ["-std=c99", "-O1", "-g", "-Wall", "-Wextra", "-Werror", "-fno-omit-frame-pointer",
                  "-fsanitize=address,undefined", "-fno-sanitize-recover=all"]


def _harness(program) -> str:
    """A main() that reads input cases from stdin, calls invoke, writes the outputs to stdout;
    with an argument N, it resets the model (pb_<name>_reset) before every N cases, so a
    stateful model runs each pass of the cases from its start, as TFLite Micro's reset
    interpreter does. Inputs and outputs are heap blocks of exactly their size, so ASan
    sees any overrun."""
    g = program.graph
    name = g.name
    ins = [g.tensors[i] for i in g.inputs]
    outs = [g.tensors[i] for i in g.outputs]
    lines = ["#include <stdio.h>", "#include <stdlib.h>", f'#include "{name}.h"', "",
             "int main(int argc, char **argv)", "{",
             "    long per_pass = argc > 1 ? atol(argv[1]) : 0, done = 0;"]
    for k, t in enumerate(ins):
        lines.append(f"    {C_TYPES[t.dtype]} *in{k} = malloc({max(t.nbytes, 1)}u);")
    for k, t in enumerate(outs):
        lines.append(f"    {C_TYPES[t.dtype]} *out{k} = malloc({max(t.nbytes, 1)}u);")
    lines.append("    for (;; ++done) {")
    for k, t in enumerate(ins):
        lines.append(f"        if (fread(in{k}, 1, {t.nbytes}u, stdin) != {t.nbytes}u) return 0;")
    lines.append(f"        if (per_pass > 0 && done % per_pass == 0) pb_{name}_reset();")
    args = [f"in{k}" for k in range(len(ins))] + [f"out{k}" for k in range(len(outs))]
    lines.append(f"        if (pb_{name}_invoke({', '.join(args)}) != 0) return 3;")
    for k, t in enumerate(outs):
        lines.append(f"        fwrite(out{k}, 1, {t.nbytes}u, stdout);")
    lines += ["        fflush(stdout);", "    }", "}", ""]
    return "\n".join(lines)


def _compile(cc: str, flags: list[str], cwd: Path, args: list[str], what: str) -> None:
    proc = subprocess.run([cc, *flags, *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
        raise ToolchainError(f"sanitized build of {what} failed: {first}")


def _kernel_objects(program, flags: list[str], generated_headers: dict[str, str]) -> list[Path]:
    """The program's kernel sources compiled with `flags`, each cached by its content: kernels
    are the same for every mutant, so only the model's own files are compiled per mutant.
    generated_headers: the rendered headers kernels include (pb_tier.h), not the model's."""
    files = kernel_files(program)
    headers = {f.name: f.read_text() for f in files if f.suffix == ".h"} | generated_headers
    objs = []
    out_dir = cache_dir() / "fuzz-objects"
    out_dir.mkdir(parents=True, exist_ok=True)
    for src in (f for f in files if f.suffix == ".c"):
        text = src.read_text()
        obj = out_dir / f"{src.stem}-{digest(_included(text, headers) | {src.name: text}, ' '.join(flags))}.o"
        if not obj.exists():
            with tempfile.TemporaryDirectory(prefix="pb-fuzz-k-") as tmp:
                for name, header in headers.items():
                    (Path(tmp) / name).write_text(header)
                (Path(tmp) / src.name).write_text(text)
                _compile(host_cc(), flags, Path(tmp), ["-c", src.name, "-o", "k.o"], src.name)
                os.replace(Path(tmp) / "k.o", obj)
        objs.append(obj)
    return objs


def _included(text: str, headers: dict[str, str]) -> dict[str, str]:
    """The headers of `headers` that `text` includes, directly or through another one
    (an object's cache key: a kernel's object does not change with headers it never reads)."""
    found: dict[str, str] = {}
    todo = [text]
    while todo:
        for name in re.findall(r'^\s*#\s*include\s+"([^"]+)"', todo.pop(), re.M):
            if name in headers and name not in found:
                found[name] = headers[name]
                todo.append(headers[name])
    return found


def build_sanitized(program, out: Path, extra_cflags: list[str] | None = None) -> Path:
    """Generated C plus the stdin/stdout harness, built with ASan and UBSan into the
    executable `out` (not cached: mutants rarely repeat; the kernel objects are)."""
    flags = SANITIZE_FLAGS + list(extra_cflags or [])
    rendered = render(program, "<fuzz>")
    name = program.graph.name
    objs = _kernel_objects(program, flags, {f: t for f, t in rendered.items()
                                            if f.endswith(".h") and f not in (f"{name}.h", f"{name}_weights.h")})
    files = rendered | {f.name: f.read_text() for f in kernel_files(program) if f.suffix == ".h"}
    files["pb_fuzz_main.c"] = _harness(program)
    with tempfile.TemporaryDirectory(prefix="pb-fuzz-") as tmp:
        src = Path(tmp)
        for fname, text in files.items():
            (src / fname).write_text(text)
        sources = sorted(f for f in files if f.endswith(".c"))
        _compile(host_cc(), flags, src, ["-o", "exe", *sources, *map(str, objs), "-lm"], "the generated C")
        os.replace(src / "exe", out)
    return Path(out)


def sanitizers_available() -> str | None:
    """None when the host C compiler builds and runs an ASan+UBSan program, else why not."""
    try:
        cc = host_cc()
        with tempfile.TemporaryDirectory(prefix="pb-fuzz-probe-") as tmp:
            (Path(tmp) / "p.c").write_text("int main(void) { return 0; }\n")
            _compile(cc, SANITIZE_FLAGS, Path(tmp), ["-o", "p", "p.c"], "a sanitizer probe")
            if subprocess.run([str(Path(tmp) / "p")], capture_output=True, timeout=60).returncode != 0:
                return f"{cc} builds with -fsanitize=address,undefined but the program does not run"
    except (ProtobrainError, OSError, subprocess.TimeoutExpired) as e:
        return f"no AddressSanitizer/UBSan: {e}"
    return None


def _outputs_from(raw: bytes, graph, n_cases: int) -> list[list[np.ndarray]]:
    """The harness's stdout as one list of output arrays per input case."""
    outs = [graph.tensors[i] for i in graph.outputs]
    if len(raw) != n_cases * sum(t.nbytes for t in outs):
        raise RunFailed("sanitizer", f"harness wrote {len(raw)} bytes, expected {n_cases * sum(t.nbytes for t in outs)}")
    got, pos = [], 0
    for _ in range(n_cases):
        row = []
        for t in outs:
            row.append(np.frombuffer(raw, dtype=DTYPES[t.dtype], count=t.size, offset=pos))
            pos += t.nbytes
        got.append(row)
    return got


def run_sanitized(vm: ValidMutant, tier: str, cases: list, exe: Path, timeout: float, passes: int = 1) -> list:
    """The mutant's C for `tier`, built with ASan+UBSan and run on every case, `passes`
    times, the model reset before each pass: the outputs, pass after pass."""
    program = vm.program(tier)
    try:
        build_sanitized(program, exe)
    except ProtobrainError as e:
        raise RunFailed("build-failed", str(e)) from None
    payload = b"".join(np.ascontiguousarray(x).tobytes() for case in cases for x in case) * passes
    try:
        proc = subprocess.run([str(exe), str(len(cases))], input=payload, capture_output=True, timeout=timeout,
                              env=dict(os.environ, ASAN_OPTIONS="detect_leaks=0:abort_on_error=0",
                                       UBSAN_OPTIONS="print_stacktrace=1"))
    except subprocess.TimeoutExpired:
        raise RunFailed("timeout", f"generated C ran over {timeout} s") from None
    finally:
        exe.unlink(missing_ok=True)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace")
        line = next((ln for ln in err.splitlines() if "ERROR" in ln or "runtime error" in ln), err.strip()[:300])
        raise RunFailed("sanitizer", f"exit {proc.returncode}: {line}")
    return _outputs_from(proc.stdout, program.graph, len(cases) * passes)
