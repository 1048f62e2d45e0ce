"""Helpers shared by the one-input operator lowerings (unary_math, unary_activations and the
float32 forms in activations): single-precision C math at generation time, int8 lookup
tables built as the reference builds them, and the fixed-point 1/sqrt(x) of RSQRT and
L2_NORMALIZATION.

Float32 transcendental functions (expf, logf, erfcf, tanhf, ...) come from this host's C
math library through ctypes, the library TFLite Micro's own kernels call on this host, so
the tables built here are the reference's tables. A table is then exact for any target;
a float32 kernel that calls the math library at run time is exact where the target's
library rounds like the host's (see unary_math).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import math
from functools import lru_cache

import numpy as np

from protobrain.compiler import fixedpoint as fp
from protobrain.compiler.ops.base import KernelCall, const, require, tensors

INT8 = np.arange(-128, 128)
F32 = np.float32


@lru_cache(maxsize=None)
def _libm():
    path = ctypes.util.find_library("m") or "libm.so.6"
    try:
        return ctypes.CDLL(path)
    except OSError:
        return None


def libm_f32(name: str):
    """The C library's single-precision function `name` (expf, erfcf, ...) as a float32 ->
    float32 Python function."""
    lib = _libm()
    require(lib is not None and hasattr(lib, name),
            f"this host's C math library has no {name}, needed to build the reference's table")
    fn = getattr(lib, name)
    fn.restype, fn.argtypes = ctypes.c_float, [ctypes.c_float]
    return lambda x: F32(fn(float(F32(x))))


def c_float_to_int32(x: np.float32) -> int:
    """static_cast<int32_t>(float) as the host's conversion instruction does it: truncation,
    and the 'integer indefinite' INT32_MIN for NaN and out-of-range values (x86)."""
    v = float(x)
    if not math.isfinite(v) or not -2147483648.0 <= v < 2147483648.0:
        return fp.INT32_MIN
    return int(v)


def populate_lut_s8(transform, s_in, zp_in: int, s_out, zp_out: int) -> list[int]:
    """The reference's int8 table of a float function: dequantize in float32, apply, scale
    by the float32 inverse output scale, round half away from zero, add the zero point,
    truncate to int32 and clamp, as TFLite's LUT builder does it step by step."""
    table = []
    with np.errstate(all="ignore"):
        s_in, inverse = F32(s_in), F32(F32(1.0) / F32(s_out))
        for q in INT8:
            x = F32(s_in * F32(int(q) - zp_in))
            rescaled = fp.roundf(F32(F32(transform(x)) * inverse))
            v = c_float_to_int32(F32(rescaled + F32(zp_out)))
            table.append(min(max(v, -128), 127))
    return table


def lut_s8(op, table, size: int) -> KernelCall:
    """A pb_lut_s8 call: output[i] = table[input[i] + 128]."""
    values = np.clip(np.asarray(table, np.int64), -128, 127).astype(np.int8)
    return KernelCall(
        kernel="pb_lut", function="pb_lut_s8", struct="pb_lut_s8_params_t",
        fields={"size": size, "table": const("table", values, "int8_t")},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )


def same_shape_io(op, g, what: str = "input and output"):
    """The one input and one output of an element-wise operator, of one size."""
    (inp, *_), (out,) = tensors(op, g)
    require(inp is not None, "the input is missing")
    require(inp.size == out.size, f"{what} sizes differ ({inp.size} and {out.size})")
    return inp, out


def per_tensor_quant(*ts) -> None:
    for t in ts:
        require(t.quant is not None, f"{t.dtype} tensor {t.index} has no quantization")
        require(not t.quant.per_channel, f"tensor {t.index} is quantized per channel")


def f32_call(op, g, function: str, fields: dict | None = None, struct: str = "pb_unary_f32_params_t") -> KernelCall:
    """A float32 element-wise kernel of pb_unary_f32 over the whole tensor."""
    inp, out = same_shape_io(op, g)
    require(inp.dtype == "float32" and out.dtype == "float32", f"types {inp.dtype}->{out.dtype}")
    return KernelCall(
        kernel="pb_unary_f32", function=function, struct=struct,
        fields={"size": inp.size, **(fields or {})},
        inputs=[op.inputs[0]], outputs=[op.outputs[0]],
    )


# ---- fixed-point 1/sqrt ----------------------------------------------------------------------


def inv_sqrt_multiplier(x: int) -> tuple[int, int]:
    """GetInvSqrtQuantizedMultiplierExp with reverse_shift -1: 1/sqrt(x) for x >= 0 as a
    Q0.31 multiplier and a left shift (x <= 1 gives the largest multiplier), five
    Newton-Raphson steps in Q3.28 from 1. Same arithmetic as pb_inv_sqrt in pb_unary.c."""
    if x <= 1:
        return fp.INT32_MAX, 0
    shift = 11
    while x >= 1 << 29:
        x //= 4
        shift += 1
    pairs = (fp.clz32(x) - 1) // 2 - 1
    shift -= pairs
    x <<= 2 * pairs
    half_input = fp.rdpot(x >> 1, 1)
    half_three = (1 << 28) + (1 << 27)
    v = 1 << 28
    for _ in range(5):
        v3 = fp.sat_mul_pot(fp.srdhm(fp.srdhm(v, v), v), 6)
        v = fp.sat_mul_pot(fp.wrap32(fp.srdhm(half_three, v) - fp.srdhm(half_input, v3)), 3)
    v = fp.srdhm(v, 1518500250)  # times sqrt(2)/2
    if shift < 0:
        v = fp.wrap32(v << -shift)
        shift = 0
    return v, -shift
