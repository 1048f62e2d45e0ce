"""Shared fixtures: where the reference models are, and the bit-exact comparison."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
warnings.filterwarnings("ignore", category=UserWarning)
sys.path.insert(0, str(Path(__file__).parent))

REPO = Path(__file__).resolve().parents[1]
SHARED_MODELS = Path(os.environ.get("PROTOBRAIN_MODELS", REPO.parent / "shared" / "models"))
SHARED_MODEL_NAMES = [
    "hello_world_int8", "micro_speech_quantized", "kws_ref_model",
    "ad01_int8", "pretrainedResnet_quant", "vww_96_int8",
]


def shared_model(name: str) -> Path:
    path = SHARED_MODELS / f"{name}.tflite"
    if not path.exists():
        pytest.skip(f"reference model {path} not found (set PROTOBRAIN_MODELS to the folder of the MLPerf Tiny / TFLite Micro models)")
    return path


def edge_inputs(t) -> list[np.ndarray]:
    from protobrain.ir import DTYPES

    dtype = np.dtype(DTYPES[t.dtype])
    if dtype.kind == "f":
        return [np.zeros(t.shape, dtype), np.full(t.shape, -1.0, dtype), np.full(t.shape, 1.0, dtype)]
    info = np.iinfo(dtype)
    return [np.full(t.shape, info.min, dtype), np.full(t.shape, info.max, dtype), np.zeros(t.shape, dtype)]


def random_inputs(t, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    from protobrain.ir import DTYPES

    dtype = np.dtype(DTYPES[t.dtype])
    if dtype.kind == "f":
        return [rng.uniform(-1.5, 1.5, size=t.shape).astype(dtype) for _ in range(n)]
    info = np.iinfo(dtype)
    return [rng.integers(info.min, info.max, size=t.shape, endpoint=True, dtype=dtype) for _ in range(n)]


def assert_bit_exact(compiled, reference, n_random: int = 20, seed: int = 0, extra_inputs=()) -> int:
    """Run random, edge and given inputs through both; fail on the first differing byte."""
    rng = np.random.default_rng(seed)
    per_input = [random_inputs(t, n_random, rng) + edge_inputs(t) for t in compiled.inputs]
    cases = list(zip(*per_input)) + [tuple(x) if isinstance(x, (list, tuple)) else (x,) for x in extra_inputs]
    for k, xs in enumerate(cases):
        got = compiled.run(*xs)
        want = reference.run(*xs)
        got = got if isinstance(got, list) else [got]
        want = want if isinstance(want, list) else [want]
        for j, (a, b) in enumerate(zip(got, want)):
            a = np.asarray(a)
            b = np.asarray(b).reshape(a.shape).astype(a.dtype)
            if a.tobytes() != b.tobytes():
                diff = np.flatnonzero(a.reshape(-1) != b.reshape(-1))
                i = int(diff[0]) if len(diff) else 0
                pytest.fail(
                    f"{compiled.name}: input case {k}, output {j}: {len(diff)} of {a.size} values differ; "
                    f"first at flat index {i}: protobrain {a.reshape(-1)[i]} vs TFLite Micro {b.reshape(-1)[i]}"
                )
    return len(cases)


def check_model_bytes(data: bytes, name: str, n_random: int = 20, seed: int = 0):
    """Compile a model's generated C for the host and compare it with TFLite Micro."""
    from protobrain.host import compile_bytes
    from protobrain.reference import Reference

    compiled = compile_bytes(data, name)
    assert_bit_exact(compiled, Reference(data), n_random=n_random, seed=seed)
    return compiled
