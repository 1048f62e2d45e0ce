"""Compile generated C with the host compiler and call it from Python (ctypes).

Tests and `verify` run the real generated C this way, against the TFLite Micro reference.
Builds are cached by content hash, so recompiling an unchanged model costs nothing.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from protobrain.codegen import render as codegen
from protobrain.codegen.c import digest
from protobrain.compiler.ir import DTYPES
from protobrain.compiler.program import Program, build_program
from protobrain.compiler.reader import read_model, read_model_bytes
from protobrain.errors import ToolchainError
from protobrain.toolchain import cache_dir, host_cc
from protobrain.verify.layers import capture_layers

CFLAGS = ["-std=c99", "-O2", "-ffp-contract=off", "-Wall", "-Wextra", "-Werror", "-fPIC", "-shared"]
LIBS = ["-lm"]  # linked, so float kernels call the C library's current expf, logf, ... as TFLite Micro does


def compile_sources(stem: str, files: dict[str, str], extra_cflags: list[str] | None = None,
                    what: str = "generated C") -> Path:
    """Compile every .c of `files` ({file name: text}) into one shared library for this
    host, cached by the content of all files and the flags; returns its path. Kernel files
    (pb_*.c) read only kernel headers (pb_*.h), so their objects are cached by those alone
    and shared by every model that uses the same kernel."""
    flags = CFLAGS + list(extra_cflags or [])
    lib = cache_dir() / f"{stem}-{digest(files, ' '.join(flags + LIBS))}.so"
    if lib.exists():
        return lib
    compile_flags = [f for f in flags if f != "-shared"]
    kernel_headers = {n: t for n, t in files.items() if n.startswith("pb_") and n.endswith(".h")}
    objects_dir = cache_dir() / "objects"
    objects_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pb-build-") as tmp:
        src = Path(tmp)
        for name, text in files.items():
            (src / name).write_text(text)
        objects, to_compile, to_cache = [], [], []
        for name in sorted(n for n in files if n.endswith(".c")):
            obj = src / f"{Path(name).stem}.o"
            if name.startswith("pb_"):
                cached = objects_dir / f"{Path(name).stem}-{digest({name: files[name], **kernel_headers}, ' '.join(compile_flags))}.o"
                if not cached.exists():
                    to_compile.append(name)
                    to_cache.append((obj, cached))
                objects.append(cached)
            else:
                to_compile.append(name)
                objects.append(obj)
        if to_compile:
            _run_cc([host_cc(), *compile_flags, "-c", *to_compile], src, what)
        for obj, cached in to_cache:
            part = cached.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(obj, part)
            os.replace(part, cached)  # atomic: parallel builds of one kernel agree on its bytes
        tmp_lib = src / "lib.so"
        _run_cc([host_cc(), *flags, "-o", str(tmp_lib), *map(str, objects), *LIBS], src, what)
        shutil.move(str(tmp_lib), lib)
    return lib


def _run_cc(cmd: list[str], cwd: Path, what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=cwd)
    if proc.returncode != 0:
        first = next((ln for ln in proc.stderr.splitlines() if "error" in ln), proc.stderr.strip()[:300])
        raise ToolchainError(f"{what} failed to compile: {first or proc.returncode}")


def build_shared_library(program: Program, source: str = "", extra_cflags: list[str] | None = None) -> Path:
    files = codegen.render(program, source) | {f.name: f.read_text() for f in codegen.kernel_files(program)}
    return compile_sources(program.graph.name, files, extra_cflags)


def _private_copy(lib_path: Path) -> ctypes.CDLL:
    """Load a copy of the library: the loader shares one image per path, and two models of
    the same C (two tiers that generate alike) must not share their static state."""
    fd, tmp = tempfile.mkstemp(suffix=".so", prefix="pb-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(Path(lib_path).read_bytes())
        return ctypes.CDLL(tmp)
    finally:
        os.unlink(tmp)  # the loaded image stays mapped


class CompiledModel:
    """The generated C of one model, loaded into this process."""

    def __init__(self, program: Program, lib_path: Path):
        self.program = program
        self.lib_path = lib_path
        self._lib = _private_copy(lib_path)
        g = program.graph
        self.inputs = [g.tensors[i] for i in g.inputs]
        self.outputs = [g.tensors[i] for i in g.outputs]
        self._invoke = getattr(self._lib, f"pb_{g.name}_invoke")
        self._invoke.restype = ctypes.c_int
        self._run_range = getattr(self._lib, f"pb_{g.name}_run_range")
        self._arena = getattr(self._lib, f"pb_{g.name}_arena")
        self._arena.restype = ctypes.POINTER(ctypes.c_uint8)
        self._reset = getattr(self._lib, f"pb_{g.name}_reset")

    @property
    def name(self) -> str:
        return self.program.graph.name

    def _check_input(self, x, t):
        x = np.asarray(x)
        want = np.dtype(DTYPES[t.dtype])
        if x.dtype != want or x.size != t.size:
            raise ValueError(f"input must be {t.dtype} with shape {t.shape}, got {x.dtype} {x.shape}")
        return np.ascontiguousarray(x.reshape(t.shape))

    def run(self, *xs: np.ndarray) -> np.ndarray | list[np.ndarray]:
        """Run one inference; returns the output (or a list, for several outputs)."""
        if len(xs) != len(self.inputs):
            raise ValueError(f"{self.name} takes {len(self.inputs)} input(s), got {len(xs)}")
        ins = [self._check_input(x, t) for x, t in zip(xs, self.inputs)]
        outs = [np.zeros(t.shape, dtype=DTYPES[t.dtype]) for t in self.outputs]
        rc = self._invoke(*[a.ctypes.data_as(ctypes.c_void_p) for a in ins + outs])
        if rc != 0:
            raise RuntimeError(f"{self.name}: invoke returned {rc}")
        return outs[0] if len(outs) == 1 else outs

    def reset(self) -> None:
        """Variables and stateful operators back to their start, like TFLite Micro's reset();
        between run() calls they persist, as on a device."""
        self._reset()

    def run_layers(self, *xs: np.ndarray) -> dict[int, np.ndarray]:
        """Run step by step and capture every operator's output tensor (index -> array)."""
        base = ctypes.addressof(self._arena().contents)
        xs = [self._check_input(x, t) for x, t in zip(xs, self.inputs)]
        return capture_layers(self.program, xs,
                              lambda off, data: ctypes.memmove(base + off, data, len(data)),
                              lambda k: self._run_range(k, k + 1),
                              lambda off, n: ctypes.string_at(base + off, n))


def compile_model(path: str | Path, strategy: str = "best", extra_cflags: list[str] | None = None,
                  tier: str = "portable") -> CompiledModel:
    """Generate C for a .tflite model, compile it for this host and load it. A "dsp" tier
    runs the DSP kernels' C form (dsp/pb_simd.h without the extension): same layouts and results."""
    graph = read_model(path)
    program = build_program(graph, strategy, tier)
    return CompiledModel(program, build_shared_library(program, str(path), extra_cflags))


def compile_bytes(data: bytes, name: str = "model", strategy: str = "best", tier: str = "portable") -> CompiledModel:
    """Like compile_model, for a model already in memory."""
    program = build_program(read_model_bytes(data, name), strategy, tier)
    return CompiledModel(program, build_shared_library(program, f"<{name}>"))
