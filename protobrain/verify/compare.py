"""Check generated code against TFLite Micro, input by input, byte for byte: the test
inputs, one model's comparison, and every model of a run on one target (`verify`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from protobrain.compiler.ir import DTYPES
from protobrain.errors import ProtobrainError
from protobrain.verify.layers import first_bad_layer
from protobrain.verify.reference import Reference


@dataclass
class Mismatch:
    case: int
    output: int
    index: int  # first differing flat index
    got: float
    want: float
    count: int  # differing values in this output


@dataclass
class VerifyResult:
    model: str
    cases: int = 0
    values: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def test_inputs(tensors, n_random: int, seed: int = 0, files: list[Path] = ()) -> list[tuple]:
    """n random inputs over each input's full range, the three edge inputs, and any .npy files."""
    rng = np.random.default_rng(seed)
    per_input = []
    for t in tensors:
        dtype = np.dtype(DTYPES[t.dtype])
        if dtype.kind == "f":
            xs = [rng.uniform(-1.5, 1.5, size=t.shape).astype(dtype) for _ in range(n_random)]
            xs += [np.zeros(t.shape, dtype), np.full(t.shape, -1, dtype), np.ones(t.shape, dtype)]
        elif dtype.kind == "b":
            xs = [rng.integers(0, 2, size=t.shape).astype(dtype) for _ in range(n_random)]
            xs += [np.zeros(t.shape, dtype), np.ones(t.shape, dtype)]
        else:
            info = np.iinfo(dtype)
            xs = [rng.integers(info.min, info.max, size=t.shape, endpoint=True, dtype=dtype) for _ in range(n_random)]
            xs += [np.full(t.shape, info.min, dtype), np.full(t.shape, info.max, dtype), np.zeros(t.shape, dtype)]
        per_input.append(xs)
    cases = list(zip(*per_input))
    for f in files:
        cases += _load_npy(Path(f), tensors)
    return cases


def _load_npy(path: Path, tensors) -> list[tuple]:
    if len(tensors) != 1:
        raise ProtobrainError(f"--inputs works for single-input models; this one has {len(tensors)} inputs")
    t = tensors[0]
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ProtobrainError(f"cannot read {path} as .npy: {e}") from None
    want = np.dtype(DTYPES[t.dtype])
    if arr.dtype != want:
        raise ProtobrainError(f"{path} holds {arr.dtype}, the model input is {t.dtype}; save the array with dtype {t.dtype}")
    if arr.size % t.size:
        raise ProtobrainError(f"{path} has {arr.size} values, not a multiple of the input size {t.size} {t.shape}")
    return [(x.reshape(t.shape),) for x in arr.reshape(-1, t.size)]


def compare(run, reference, cases, model: str) -> VerifyResult:
    """run(*xs) and reference.run(*xs) on every case; record the first differing index per output."""
    result = VerifyResult(model)
    for k, xs in enumerate(cases):
        got, want = run(*xs), reference.run(*xs)
        got = got if isinstance(got, list) else [got]
        want = want if isinstance(want, list) else [want]
        for j, (a, b) in enumerate(zip(got, want)):
            a = np.asarray(a).reshape(-1)
            b = np.asarray(b).reshape(-1).astype(a.dtype)
            result.values += a.size
            if a.tobytes() != b.tobytes():
                diff = np.flatnonzero(a.view(np.uint8) != b.view(np.uint8)) // a.itemsize
                i = int(diff[0])
                result.mismatches.append(Mismatch(k, j, i, a[i].item(), b[i].item(), int(len(np.unique(diff)))))
        result.cases += 1
    return result


@dataclass
class ModelCheck:
    result: VerifyResult
    count: str  # the target's count per inference, as text ("-" where it counts nothing)
    layers_ok: bool = True  # every intermediate tensor matched (or layers were not compared)


def check_models(target, programs, paths, n_random: int, files=(), seed: int = 0, layers: bool = False,
                 console=None) -> list[ModelCheck]:
    """Run every model on a target (protobrain.run.targets: the host or a device) and compare
    every output byte with TFLite Micro; with layers, also every intermediate tensor, the
    first that differs reported on console."""
    checks = []
    for prog, path in zip(programs, paths):
        run = target.runner(prog)
        cases = test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], n_random, seed, list(files))
        layers_ok = not layers or first_bad_layer(prog, path, cases, console, target.layer_runner(prog))
        result = compare(run, Reference(path), cases, prog.graph.name)
        checks.append(ModelCheck(result, target.last_count_text(), layers_ok))
    return checks
