"""The models the fuzzer mutates: the reference models of a models folder (load_seeds), and
small models written by hand with compiler.writer (builtin_seeds: no TensorFlow and no
models folder needed) that between them hold every operator protobrain lowers and TFLite
Micro has a kernel for, each with its options table (builtin or flexbuffer) written, so
that every option is mutated. Besides the two here (a CNN, a mix of int8 layers), the
seeds_*.py modules write them: seeds_move (data movement), seeds_math (elementwise,
float32 math, comparisons, reductions), seeds_layers (16x8, transposed convolution,
batch matmul, LSTM, SVDF, resource variables), seeds_signal (the signal library and TFLite
Micro's other custom operators).

NOT_SEEDED names the registered operators no seed holds, and why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from protobrain.compiler.writer import write_model
from protobrain.resources import REFERENCE_MODELS
from protobrain.verify.fuzz import seeds_layers, seeds_math, seeds_move, seeds_signal


def _weights(rng, shape) -> np.ndarray:
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def _tiny_cnn() -> bytes:
    """CONV_2D (per-channel) -> DEPTHWISE_CONV_2D -> MAX_POOL_2D -> RESHAPE -> FULLY_CONNECTED -> SOFTMAX."""
    rng = np.random.default_rng(1)
    s_in, s_c, s_d, s_f = 0.05, np.array([0.004, 0.006, 0.005, 0.003]), np.array([0.01, 0.02, 0.015, 0.012]), 0.02
    T = [
        {"shape": [1, 6, 6, 2], "type": "int8", "scale": s_in, "zp": -3, "name": "input"},
        {"shape": [4, 3, 3, 2], "type": "int8", "scale": s_c, "zp": 0, "axis": 0, "data": _weights(rng, (4, 3, 3, 2))},
        {"shape": [4], "type": "int32", "scale": s_in * s_c, "zp": 0, "data": rng.integers(-900, 900, 4).astype(np.int32)},
        {"shape": [1, 6, 6, 4], "type": "int8", "scale": 0.08, "zp": -128},
        {"shape": [1, 3, 3, 4], "type": "int8", "scale": s_d, "zp": 0, "axis": 3, "data": _weights(rng, (1, 3, 3, 4))},
        {"shape": [4], "type": "int32", "scale": 0.08 * s_d, "zp": 0, "data": rng.integers(-500, 500, 4).astype(np.int32)},
        {"shape": [1, 4, 4, 4], "type": "int8", "scale": 0.1, "zp": 5},
        {"shape": [1, 2, 2, 4], "type": "int8", "scale": 0.1, "zp": 5},
        {"shape": [2], "type": "int32", "data": np.array([1, 16], np.int32)},
        {"shape": [1, 16], "type": "int8", "scale": 0.1, "zp": 5},
        {"shape": [5, 16], "type": "int8", "scale": s_f, "zp": 0, "data": _weights(rng, (5, 16))},
        {"shape": [5], "type": "int32", "scale": 0.1 * s_f, "zp": 0, "data": rng.integers(-300, 300, 5).astype(np.int32)},
        {"shape": [1, 5], "type": "int8", "scale": 0.2, "zp": 10},
        {"shape": [1, 5], "type": "int8", "scale": 1 / 256, "zp": -128, "name": "output"},
    ]
    ops = [
        ("CONV_2D", [0, 1, 2], [3], "Conv2DOptions",
         {"Padding": 0, "StrideW": 1, "StrideH": 1, "FusedActivationFunction": 1,
          "DilationWFactor": 1, "DilationHFactor": 1}),
        ("DEPTHWISE_CONV_2D", [3, 4, 5], [6], "DepthwiseConv2DOptions",
         {"Padding": 1, "StrideW": 1, "StrideH": 1, "DepthMultiplier": 1, "DilationWFactor": 1, "DilationHFactor": 1}),
        ("MAX_POOL_2D", [6], [7], "Pool2DOptions",
         {"Padding": 1, "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2}),
        ("RESHAPE", [7, 8], [9], "ReshapeOptions", {"NewShape": [1, 16]}),
        ("FULLY_CONNECTED", [9, 10, 11], [12], "FullyConnectedOptions", {"FusedActivationFunction": 0}),
        ("SOFTMAX", [12], [13], "SoftmaxOptions", {"Beta": 1.0}),
    ]
    return write_model(T, ops, [0], [13], "protobrain fuzz seed: tiny_cnn")


def _tiny_mix() -> bytes:
    """PAD, AVERAGE_POOL_2D, ADD (constant operand), TANH, LOGISTIC, MUL, CONCATENATION,
    MEAN, STRIDED_SLICE and QUANTIZE."""
    rng = np.random.default_rng(2)
    T = [
        {"shape": [1, 4, 4, 3], "type": "int8", "scale": 0.04, "zp": 2, "name": "input"},                # 0
        {"shape": [4, 2], "type": "int32", "data": np.array([[0, 0], [1, 1], [1, 1], [0, 0]], np.int32)},  # 1
        {"shape": [1, 6, 6, 3], "type": "int8", "scale": 0.04, "zp": 2},                                 # 2
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 0.04, "zp": 2},                                 # 3
        {"shape": [3], "type": "int8", "scale": 0.01, "zp": 0, "data": _weights(rng, (3,))},             # 4
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 0.05, "zp": 0},                                 # 5
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 1 / 128, "zp": 0},                              # 6
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 1 / 256, "zp": -128},                           # 7
        {"shape": [1, 3, 3, 3], "type": "int8", "scale": 1 / 200, "zp": 3},                              # 8
        {"shape": [1, 3, 3, 6], "type": "int8", "scale": 1 / 200, "zp": 3},                              # 9
        {"shape": [2], "type": "int32", "data": np.array([1, 2], np.int32)},                              # 10
        {"shape": [1, 6], "type": "int8", "scale": 1 / 250, "zp": 1},                                    # 11
        {"shape": [2], "type": "int32", "data": np.array([0, 1], np.int32)},                              # 12
        {"shape": [2], "type": "int32", "data": np.array([1, 6], np.int32)},                              # 13
        {"shape": [2], "type": "int32", "data": np.array([1, 2], np.int32)},                              # 14
        {"shape": [1, 3], "type": "int8", "scale": 1 / 250, "zp": 1},                                    # 15
        {"shape": [1, 3], "type": "int8", "scale": 0.01, "zp": -5, "name": "output"},                    # 16
    ]
    ops = [
        ("PAD", [0, 1], [2], "PadOptions", {}),
        ("AVERAGE_POOL_2D", [2], [3], "Pool2DOptions",
         {"Padding": 1, "StrideW": 2, "StrideH": 2, "FilterWidth": 2, "FilterHeight": 2}),
        ("ADD", [3, 4], [5], "AddOptions", {"FusedActivationFunction": 0}),
        ("TANH", [5], [6], None, {}),
        ("LOGISTIC", [5], [7], None, {}),
        ("MUL", [6, 7], [8], "MulOptions", {"FusedActivationFunction": 0}),
        ("CONCATENATION", [8, 8], [9], "ConcatenationOptions", {"Axis": 3}),
        ("MEAN", [9, 10], [11], "ReducerOptions", {"KeepDims": False}),
        ("STRIDED_SLICE", [11, 12, 13, 14], [15], "StridedSliceOptions", {"BeginMask": 0, "EndMask": 0}),
        ("QUANTIZE", [15], [16], "QuantizeOptions", {}),
    ]
    return write_model(T, ops, [0], [16], "protobrain fuzz seed: tiny_mix")


# Registered operators in no built-in seed: the fuzzer compares every valid mutant with
# TFLite Micro, which has no kernel for these (their golden is LiteRT's reference), or the
# operator is protobrain's own and no .tflite file names it.
NOT_SEEDED = {
    "GELU": "TFLite Micro has no GELU kernel (LiteRT's reference is its golden)",
    "REDUCE_ANY": "TFLite Micro has no REDUCE_ANY kernel (LiteRT's reference is its golden)",
    "TILE": "TFLite Micro has no TILE kernel (LiteRT's reference is its golden)",
    "SELECT": "TFLite Micro registers SELECT_V2 only (LiteRT's reference is SELECT's golden)",
    "CONSTANT": "protobrain's own: the folding pass writes it for a graph output it computed",
}

# Models of the models folder fuzzed besides resources.REFERENCE_MODELS: the recurrent
# and signal-library ones, fuzzed when present.
FUZZ_EXTRA = ["trained_lstm_int8", "keyword_scrambled_8bit", "audio_preprocessor_int8"]

_WRITTEN = (seeds_move.tiny_move, seeds_move.tiny_index, seeds_math.tiny_unary, seeds_math.tiny_float,
            seeds_math.tiny_binary, seeds_math.tiny_reduce, seeds_layers.tiny_16x8, seeds_layers.tiny_matmul,
            seeds_layers.tiny_lstm, seeds_layers.tiny_svdf, seeds_layers.tiny_variables, seeds_signal.tiny_frontend,
            seeds_signal.tiny_frames, seeds_signal.tiny_custom)


def builtin_seeds() -> dict[str, bytes]:
    """The hand-written seed models, by name (tiny_*); no TensorFlow needed."""
    seeds = {"tiny_cnn": _tiny_cnn(), "tiny_mix": _tiny_mix()}
    for make in _WRITTEN:
        seeds[make.__name__] = make()
    return seeds


def shared_names() -> list[str]:
    """The models of a models folder the fuzzer takes: the reference models, then FUZZ_EXTRA."""
    return list(REFERENCE_MODELS) + [n for n in FUZZ_EXTRA if n not in REFERENCE_MODELS]


def load_seeds(models_dir: str | Path | None, names: list[str] | None = None, builtin: bool = True) -> dict[str, bytes]:
    """The models of `names` (default shared_names()) found in `models_dir`, plus the
    built-in seeds unless `builtin` is false."""
    seeds = {}
    if models_dir is not None:
        for n in names or shared_names():
            p = Path(models_dir) / f"{n}.tflite"
            if p.exists():
                seeds[n] = p.read_bytes()
    if builtin:
        seeds.update(builtin_seeds())
    return seeds
