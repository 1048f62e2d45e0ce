"""Exact integer models of TFLite's fixed-point math, for generation-time tables.

Values are plain Python ints holding int32 raw fixed-point numbers. Wrapping follows
two's complement, which is what the reference's plain additions do on every target we
care about. A raw value `r` with `ib` integer bits stands for r / 2**(31 - ib).

Used to precompute the int8 LOGISTIC/TANH lookup tables and the int8 SOFTMAX exp table
(integer, exact), the int16 SOFTMAX interpolation tables (float32 arithmetic step by step,
as the reference builds them at Prepare time) and the sigmoid node table that the int16
LOGISTIC/TANH kernels interpolate.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(1 << 31)
INT32_MAX = (1 << 31) - 1


def wrap32(x: int) -> int:
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x & 0x80000000 else x


def _trunc_div(a: int, b: int) -> int:
    """C integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


# ---- primitives -----------------------------------------------------------------------


def srdhm(a: int, b: int) -> int:
    """Saturating rounding doubling high multiply (VQRDMULH)."""
    if a == b == INT32_MIN:
        return INT32_MAX
    ab = a * b
    nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
    return wrap32(_trunc_div(ab + nudge, 1 << 31))


def rdpot(x: int, exponent: int) -> int:
    """Rounding (half away from zero) arithmetic shift right."""
    mask = (1 << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if remainder > threshold else 0)


def sat_mul_pot(x: int, exponent: int) -> int:
    """SaturatingRoundingMultiplyByPOT: saturating left shift, or rounding right shift."""
    if exponent == 0:
        return x
    if exponent < 0:
        return rdpot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    if x > threshold:
        return INT32_MAX
    if x < -threshold:
        return INT32_MIN
    return x << exponent


def rescale(x: int, src_bits: int, dst_bits: int) -> int:
    return sat_mul_pot(x, src_bits - dst_bits)


def rounding_half_sum(a: int, b: int) -> int:
    s = a + b
    sign = 1 if s >= 0 else -1
    return _trunc_div(s + sign, 2)


def mul_by_quantized_mult(x: int, multiplier: int, shift: int) -> int:
    """MultiplyByQuantizedMultiplier, the double-rounding 32-bit form."""
    left = shift if shift > 0 else 0
    right = 0 if shift > 0 else -shift
    return rdpot(srdhm(wrap32(x * (1 << left)), multiplier), right)


def mul_by_quantized_mult_array(x, multiplier: int, shift: int) -> np.ndarray:
    """mul_by_quantized_mult on every element of an integer array (int64 out), for values
    whose shifted form fits int32 (|x| * 2^max(shift, 0) < 2^31) and 0 <= multiplier < 2^31:
    then no product saturates or wraps and int64 holds every intermediate exactly."""
    if not 0 <= multiplier <= INT32_MAX:
        raise ValueError(f"multiplier {multiplier} outside [0, 2^31)")
    left, right = max(shift, 0), max(-shift, 0)
    if right > 31:
        raise ValueError(f"shift {shift} below -31")
    x = np.asarray(x).astype(np.int64) << left
    if x.size and (x.min() < INT32_MIN or x.max() > INT32_MAX):
        raise ValueError(f"values shifted left by {left} overflow int32")
    ab = x * multiplier
    # srdhm: (ab + nudge) / 2^31 truncated toward zero
    v = ab + np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    high = np.where(v >= 0, v >> 31, -((-v) >> 31))
    # rdpot: rounding (half away from zero) right shift
    mask = (1 << right) - 1
    threshold = (mask >> 1) + (high < 0)
    return (high >> right) + ((high & mask) > threshold)


def clz32(x: int) -> int:
    x &= 0xFFFFFFFF
    return 32 - x.bit_length()


# ---- gemmlowp-style functions ----------------------------------------------------------

_EXP_M1_8 = 1895147668  # exp(-1/8) in Q0.31
_ONE_THIRD = 715827883  # 1/3 in Q0.31
_EXP_BARREL = [  # (exponent e, exp(-2**e) in Q0.31)
    (-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308),
    (2, 39332535), (3, 720401), (4, 242),
]
_48_OVER_17 = 1515870810  # Q2.29
_NEG_32_OVER_17 = -1010580540  # Q2.29


def exp_on_interval_between_negative_one_quarter_and_0_excl(a: int) -> int:
    """exp(a) for a in [-1/4, 0), Q0.31 in and out (Taylor expansion around -1/8)."""
    x = wrap32(a + (1 << 28))
    x2 = srdhm(x, x)
    x3 = srdhm(x2, x)
    x4 = srdhm(x2, x2)
    x4_over_4 = rdpot(x4, 2)
    poly = rdpot(wrap32(srdhm(wrap32(x4_over_4 + x3), _ONE_THIRD) + x2), 1)
    return wrap32(_EXP_M1_8 + srdhm(_EXP_M1_8, wrap32(x + poly)))


def exp_on_negative_values(a: int, integer_bits: int) -> int:
    """exp(a) for a <= 0 given with `integer_bits`; result in Q0.31."""
    frac = 31 - integer_bits
    quarter = 1 << (frac - 2)
    a_mod = wrap32((a & (quarter - 1)) - quarter)
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(rescale(a_mod, integer_bits, 0))
    remainder = wrap32(a_mod - a)
    for e, mult in _EXP_BARREL:
        if integer_bits > e:
            if remainder & (1 << (frac + e)):
                result = srdhm(result, mult)
    if integer_bits > 5:
        if a < -(1 << (36 - integer_bits)):
            result = 0
    if a == 0:
        result = INT32_MAX
    return result


def _newton_reciprocal_q2(a: int) -> int:
    """Shared Newton-Raphson core: ~1/(1 + a) scaled, Q2.29, for a in Q0.31 in [0, 1)."""
    half_den = rounding_half_sum(a, INT32_MAX)
    x = wrap32(_48_OVER_17 + srdhm(half_den, _NEG_32_OVER_17))
    one_q2 = 1 << 29
    for _ in range(3):
        hdx = srdhm(half_den, x)
        one_minus = wrap32(one_q2 - hdx)
        x = wrap32(x + rescale(srdhm(x, one_minus), 4, 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """1 / (1 + a), Q0.31 in and out."""
    return rescale(_newton_reciprocal_q2(a), 1, 0)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a: int) -> int:
    """(1 - a) / (1 + a), Q0.31 in and out."""
    return rescale(wrap32(_newton_reciprocal_q2(a) - (1 << 29)), 2, 0)


def logistic(a: int, integer_bits: int) -> int:
    """1 / (1 + exp(-a)), result in Q0.31."""
    if a == 0:
        return 1 << 30
    positive = a > 0
    abs_a = a if positive else wrap32(-a)
    pos = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(wrap32(-abs_a), integer_bits))
    return pos if positive else wrap32(INT32_MAX - pos)


def tanh(a: int, integer_bits: int) -> int:
    """tanh(a), result in Q0.31."""
    if a == 0:
        return 0
    negative = a < 0
    n = a if negative else wrap32(-a)
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(n, integer_bits + 1))
    return wrap32(-t) if negative else t


def get_reciprocal(x: int, x_integer_digits: int) -> tuple[int, int]:
    """(1/x as Q0.31 of the normalised value, number of bits over unit), x > 0."""
    headroom_plus_one = clz32(x)
    bits_over_unit = x_integer_digits - headroom_plus_one
    shifted_minus_one = wrap32(((x << headroom_plus_one) & 0xFFFFFFFF) - (1 << 31))
    return one_over_one_plus_x_for_x_in_0_1(shifted_minus_one), bits_over_unit


# ---- Prepare-time helpers --------------------------------------------------------------


def frexp_multiplier(real: float) -> tuple[int, int]:
    """frexp + round(q * 2**31) with no renormalisation, as LOGISTIC/TANH Prepare does it."""
    q, exp = math.frexp(real)
    m = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)
    return m, exp


def quantize_multiplier_unclamped(real: float) -> tuple[int, int]:
    """QuantizeMultiplier without the single-rounding clamp of the shift at 30."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    m = int(math.floor(abs(q) * (1 << 31) + 0.5)) * (1 if q >= 0 else -1)
    if m == 1 << 31:
        m //= 2
        shift += 1
    if shift < -31:
        return 0, 0
    return m, shift


def input_radius(integer_bits: int, left_shift: int, total_signed_bits: int = 31) -> int:
    """CalculateInputRadius: floor of the largest input that does not saturate."""
    value = 1.0 * ((1 << integer_bits) - 1) * (1 << (total_signed_bits - integer_bits)) / (1 << left_shift)
    return int(math.floor(value))


def checked_log2(x: float) -> tuple[bool, int]:
    """CheckedLog2 on a float32 scale: (is a power of two within 1e-3 in log2, rounded log2)."""
    f = np.float32
    x_log2 = f(f(math.log(float(f(x)))) * f(f(1.0) / f(math.log(2.0))))
    rounded = f(math.floor(abs(float(x_log2)) + 0.5) * (1 if x_log2 >= 0 else -1))
    frac = f(x_log2 - rounded)
    return bool(abs(float(frac)) < 1e-3), int(rounded)


# ---- float tables built the way TFLite builds them --------------------------------------


def roundf(x: np.float32) -> np.float32:
    """roundf: halves away from zero, on a float32 (infinities and NaN stay as they are)."""
    x = np.float32(x)
    if not math.isfinite(float(x)):
        return x
    r = np.float32(math.floor(abs(float(x)) + 0.5))
    # floor(|x| + 0.5) in double is exact for float32 inputs (no double rounding).
    return np.float32(r if x >= 0 else -r)


def expf(x: np.float32) -> np.float32:
    """Single-precision exp, correctly rounded. (The C library's expf may differ by one ulp
    at a few points; the int16 SOFTMAX table built from either is the same.)"""
    return np.float32(math.exp(float(np.float32(x))))


def int16_lut(func, input_min: float, input_max: float, output_min: float, output_max: float) -> np.ndarray:
    """A 513-entry interpolation table for an int16-indexed function, computed in float32
    step by step as the reference's table generator does (midpoint bias correction)."""
    f = np.float32
    nb_steps = 512
    lo, hi = f(input_min), f(input_max)
    step = f(f(hi - lo) / f(nb_steps))
    half_step = f(step / f(2))
    scaling = f(f(65536.0) / f(f(output_max) - f(output_min)))
    out = np.zeros(nb_steps + 1, np.int16)
    for i in range(nb_steps):
        x0 = f(lo + f(f(i) * step))
        val = func(x0)
        val_mid = func(f(x0 + half_step))
        val_next = func(f(lo + f(f(i + 1) * step)))
        sample = roundf(f(val * scaling))
        interp = roundf(f(f(f(val_next * scaling) + roundf(f(val * scaling))) / f(2)))
        mid = roundf(f(val_mid * scaling))
        bias = roundf(f(f(interp - mid) / f(2)))
        out[i] = int(min(max(float(f(sample - bias)), -32768.0), 32767.0))
    out[nb_steps] = int(min(max(float(roundf(f(func(hi) * scaling))), -32768.0), 32767.0))
    return out


def softmax_exp_lut() -> np.ndarray:
    """exp(x) on [-10, 0] into Q0.15 outputs, the int16 SOFTMAX table."""
    return int16_lut(expf, -10.0, 0.0, -1.0, 1.0)


def softmax_recip_lut() -> np.ndarray:
    """1 / (1 + x) on [0, 1], the int16 SOFTMAX reciprocal table."""
    f = np.float32
    return int16_lut(lambda v: f(f(1.0) / f(f(1.0) + f(v))), 0.0, 1.0, -1.0, 1.0)


def sigmoid_table_uint16() -> np.ndarray:
    """The 256-node table of sigmoid on the grid x_i = i / 24, unsigned Q0.16, that the
    int16 LOGISTIC and TANH kernels interpolate linearly.

    Each node is shifted by half the chord error at the segment midpoint, so that the
    interpolation error is balanced between nodes and midpoints:
        node_i = 65536 * (s(x_i) - ((s(x_i) + s(x_i+1)) / 2 - s(x_i + h/2)) / 2),  h = 1/24,
    rounded to nearest; the last node is the saturation value 65535 (the kernels saturate
    from there on).
    """
    h = 1.0 / 24.0

    def s(x: float) -> float:
        return 1.0 / (1.0 + math.exp(-x))

    vals = []
    for i in range(255):
        x = i * h
        chord_err = (s(x) + s(x + h)) / 2.0 - s(x + h / 2.0)
        vals.append(int(math.floor(65536.0 * (s(x) - chord_err / 2.0) + 0.5)))
    vals.append(65535)
    return np.array(vals, np.uint16)
