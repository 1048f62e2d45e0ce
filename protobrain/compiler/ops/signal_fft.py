"""SignalRfft and SignalIrfft: real FFTs of int16, int32 or float rows, as TFLite Micro's
signal library computes them (a half-length mixed-radix complex FFT and a split step).

The factorisation and every twiddle factor are computed here, as TFLite Micro's Init
computes them (the same libm cos/sin in double precision, rounded the same way), and
handed to the kernel as constant tables.
"""

from __future__ import annotations

import math

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors
from protobrain.compiler.ops.signal_common import TENSOR_TYPES, read_options, rows, suffix

# Largest value of each fixed-point sample type (its twiddles' scale); None: float.
_SAMPLE_MAX = {"int16": 32767, "int32": 2147483647, "float32": None}
_CTYPE = {"int16": "int16_t", "int32": "int32_t", "float32": "float"}
_SIZE = {"int16": 2, "int32": 4, "float32": 4}
MAX_FFT_LENGTH = 1 << 16  # far beyond a microcontroller's frames; bounds the twiddle tables
_PI = 3.141592653589793  # the double nearest pi, as the C literals of the reference round


def factors(n: int) -> list[int]:
    """(radix, length left) pairs: fours first, then a two, then odd factors up to the
    square root, a remaining prime last."""
    p, floor_sqrt, out = 4, math.floor(math.sqrt(n)), []
    while True:
        while n % p:
            p = {4: 2, 2: 3}.get(p, p + 2)
            if p > floor_sqrt:
                p = n
        n //= p
        out += [p, n]
        if n <= 1:
            return out


def _cexp(phase: float, dtype: str) -> tuple:
    top = _SAMPLE_MAX[dtype]
    if top is None:
        return np.float32(math.cos(phase)), np.float32(math.sin(phase))
    return math.floor(0.5 + top * math.cos(phase)), math.floor(0.5 + top * math.sin(phase))


def twiddles(n: int, inverse: bool, dtype: str) -> list:
    """exp(-+2 pi i k / n) for k < n, the complex FFT's twiddles, as (re, im) pairs."""
    out = []
    for k in range(n):
        phase = -2 * _PI * k / n
        out += _cexp(-phase if inverse else phase, dtype)
    return out


def super_twiddles(half: int, inverse: bool, dtype: str) -> list:
    """The split step's twiddles, half/2 of them, for a transform of 2 * half samples."""
    out = []
    for k in range(half // 2):
        phase = -_PI * ((k + 1) / half + 0.5)
        out += _cexp(-phase if inverse else phase, dtype)
    return out


def _lower(op, g, inverse: bool):
    opts = read_options(op, "T", "fft_length")
    dtype = TENSOR_TYPES.get(opts["T"])
    require(dtype is not None, f"T {opts['T']}: the kernel has int16, int32 and float32 forms")
    (inp,), (out,) = tensors(op, g)
    require(inp.dtype == dtype and out.dtype == dtype, f"types {inp.dtype} -> {out.dtype} for T {dtype}")
    require(len(inp.shape) == len(out.shape), f"input rank {len(inp.shape)} and output rank {len(out.shape)} differ")
    n = opts["fft_length"]
    require(n >= 4 and n % 2 == 0, f"fft_length {n}: the real transform needs an even length of at least 4")
    require(n <= MAX_FFT_LENGTH, f"fft_length {n} above {MAX_FFT_LENGTH}")
    half = n // 2
    radices = factors(half)[0::2]
    require(all(r in (2, 3, 4, 5) for r in radices),
            f"fft_length {n}: {half} has the prime factor {max(radices)}; the kernel has radices 2, 3, 4 and 5 only")
    n_rows, in_row = rows(inp)
    out_rows, out_row = rows(out)
    spectrum = 2 * (half + 1)
    if inverse:
        require(in_row == spectrum, f"input rows of {in_row} values; fft_length {n} takes {half + 1} complex values")
        require(out_row == n, f"output rows of {out_row}; fft_length {n} gives {n} samples")
    else:
        require(in_row <= n, f"input rows of {in_row} samples are longer than fft_length {n}")
        require(out_row == spectrum, f"output rows of {out_row} values; fft_length {n} gives {half + 1} complex values")
    require(out_rows == n_rows, f"{n_rows} input rows but {out_rows} output rows")
    ctype = _CTYPE[dtype]
    name = "irfft" if inverse else "rfft"
    return KernelCall(
        kernel="pb_signal_fft",
        function=f"pb_signal_{name}_{suffix(dtype)}",
        struct="pb_signal_fft_params_t",
        fields={
            "fft_length": n,
            "rows": n_rows,
            "in_row": in_row,
            "out_row": out_row,
            "factors": const("factors", factors(half), "int32_t"),
            "twiddles": const("twiddles", twiddles(half, inverse, dtype), ctype),
            "super_twiddles": const("super_twiddles", super_twiddles(half, inverse, dtype), ctype),
        },
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
        scratch_bytes=(n if inverse else 2 * n) * _SIZE[dtype],
    )


@register("CUSTOM:SignalRfft", types=("int16", "int32", "float32"))
def lower_rfft(op, g):
    return _lower(op, g, inverse=False)


@register("CUSTOM:SignalIrfft", types=("int16", "int32", "float32"))
def lower_irfft(op, g):
    return _lower(op, g, inverse=True)
