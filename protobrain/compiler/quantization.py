"""Generation-time integer arithmetic parameters, computed exactly as TFLite Micro's Prepare does.

Bit-exactness depends on the details: TFLite stores scales as float32, some products are
taken in float32 before widening to double, and rounding is half away from zero.
"""

from __future__ import annotations

import math

import numpy as np

INT_RANGES = {"int8": (-128, 127), "int16": (-32768, 32767), "int32": (-(2**31), 2**31 - 1)}


class OutOfRange(ValueError):
    """A parameter with no integer form (NaN, infinite): TFLite Micro's arithmetic is
    undefined there, so the operator cannot be compiled. Lowering reports it as unsupported."""


def round_half_away(x: float) -> int:
    """TfLiteRound / std::round: halves go away from zero."""
    if not math.isfinite(x):
        raise OutOfRange(f"{x} has no integer value")
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """A double multiplier as (Q0.31 significand, power-of-two exponent), TFLite's QuantizeMultiplier."""
    if not math.isfinite(real):
        raise OutOfRange(f"requantization multiplier {real} is not finite")
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    if shift > 30:
        # TFLite clamps to (2^31 - 1, 30); its int32 arithmetic then overflows on any input.
        raise OutOfRange(f"requantization multiplier {real:.6g} is 2^30 or more")
    return q_fixed, shift


def quantize_multiplier_smaller_than_one_exp(real: float) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp: same significand, exponent must be <= 0."""
    assert 0.0 < real < 1.0, real
    q, shift = quantize_multiplier(real)
    assert shift <= 0
    return q, shift


def f32(x) -> np.float32:
    return np.float32(x)


def activation_range(activation: str, scale, zero_point: int, dtype: str) -> tuple[int, int]:
    """CalculateActivationRangeQuantized: fused activation clamps in the output's integers."""
    qmin, qmax = INT_RANGES[dtype]

    def q(v: float) -> int:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            x = float(f32(v) / f32(scale))
        if not math.isfinite(x):
            raise OutOfRange(f"activation bound {v} overflows at output scale {float(scale):g}")
        return zero_point + round_half_away(x)

    if activation == "NONE":
        return qmin, qmax
    if activation == "RELU":
        return max(qmin, q(0.0)), qmax
    if activation == "RELU6":
        return max(qmin, q(0.0)), min(qmax, q(6.0))
    if activation == "RELU_N1_TO_1":
        return max(qmin, q(-1.0)), min(qmax, q(1.0))
    raise OutOfRange(f"fused activation {activation} does not clamp")


def out_size(padding: str, in_size: int, filt: int, stride: int, dilation: int) -> int:
    eff = (filt - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - eff) // stride


def same_padding(stride: int, dilation: int, in_size: int, filt: int, out: int) -> int:
    """ComputePadding: the leading (top/left) padding; trailing padding is implied by bounds."""
    eff = (filt - 1) * dilation + 1
    pad = ((out - 1) * stride + eff - in_size) // 2
    return max(pad, 0)
