"""Tables for the integer EXP, LOG, SQRT and NEG that TFLite Micro has no kernel for, computed
as LiteRT's reference kernels compute them (the golden for those forms).

The formulas below were established by running LiteRT (the ai-edge-litert interpreter with
its reference op resolver) over every int8 input, and every int16 input, for hundreds of
random input and output scales and zero points, and are checked bit for bit against it by
tests/compiler/test_op_unary_litert.py. All arithmetic is float32, one rounding per step.

int8 EXP and LOG, a 256-entry table (q = -128..127):
    x = s_in * (q - zp_in)
    y = f(x) * (1 / s_out)
    v = round_half_away(y) + zp_out
    table[q] = clamp(int32(v), -128, 127)
  where int32() saturates: a value beyond the int32 range (exp's infinity included) gives
  INT32_MAX or INT32_MIN, so an overflowing exp reads 127.

int16 EXP and LOG (zero points 0), a 513-entry interpolation table over the input range
[in_min, in_max] = s_in * [-32768, 32767] (nodes x_i = in_min + i * step, step =
(in_max - in_min) / 512) and output scaling k = 65536 / (s_out * 32767 - s_out * -32768):
    sample  = round(f(x_i) * k)
    interp  = round((f(x_i+1) * k + round(f(x_i) * k)) / 2)
    bias    = round((interp - round(f(x_i + step / 2) * k)) / 2)
    table[i] = int16(min(max(sample - bias, -32768), 32767))     i < 512
    table[512] = int16(min(max(round(f(in_max) * k), -32768), 32767))
  where min and max keep a NaN (std::min/max's comparisons), and int16() of NaN is 0 (inf
  minus inf when exp overflows on both sides of a node). The kernel reads it at run time:
  i = 256 + (x >> 7), o = x & 127, y = t[i] + (((t[i+1] - t[i]) as int16) * o + 64) >> 7,
  wrapped to int16 (pb_lut_s16).

  LOG's f is log(x) for x > 0 and the output range's lowest value s_out * (-32768 - zp_out)
  (s_out * (-128 - zp_out) for int8) otherwise, instead of -inf or NaN.

int8 SQRT (and int16 at run time, pb_sqrt_s16): not rounded but truncated per value,
    y = sqrt(s_in * (q - zp_in)) / s_out          (a float32 division)
    out = clamp(wrap32(int32(y) + zp_out), -128, 127)
  where int32() truncates and gives INT32_MIN for a value beyond the int32 range (the x86
  conversion LiteRT is built with). LiteRT stops with an error below the input zero point;
  those entries hold the zero point's output here.

NEG (int8, int16, int32, int64): plain two's complement negation of the stored integers,
-(-128) wrapping to -128; the quantization parameters are not applied, as LiteRT does not
apply them.
"""

from __future__ import annotations

import math

import numpy as np

from protobrain.compiler import fixedpoint as fp
from protobrain.compiler.ops.unary_common import INT8, c_float_to_int32, libm_f32

F32 = np.float32


def _round(x: np.float32) -> np.float32:
    """roundf (halves away from zero), keeping infinities and NaN."""
    x = F32(x)
    if not math.isfinite(float(x)):
        return x
    r = F32(math.floor(abs(float(x)) + 0.5))
    return F32(r if x >= 0 else -r)


def _saturating_int32(x: np.float32) -> int:
    v = float(x)
    if math.isnan(v):
        return fp.INT32_MIN
    return int(min(max(v, -2147483648.0), 2147483647.0))


def transform(name: str, s_out, zp_out: int, qmin: int):
    """The float32 function LiteRT tabulates for EXP or LOG, float32 -> float32."""
    if name == "EXP":
        return libm_f32("expf")
    logf = libm_f32("logf")
    lowest = F32(F32(s_out) * F32(qmin - zp_out))
    return lambda x: logf(x) if float(x) > 0.0 else lowest


def lut_s8(fn, s_in, zp_in: int, s_out, zp_out: int) -> list[int]:
    """The int8 table of a float32 function (see the module docstring)."""
    s_in, inverse = F32(s_in), F32(F32(1.0) / F32(s_out))
    table = []
    with np.errstate(all="ignore"):
        for q in INT8:
            x = F32(s_in * F32(int(q) - zp_in))
            v = F32(_round(F32(F32(fn(x)) * inverse)) + F32(zp_out))
            table.append(min(max(_saturating_int32(v), -128), 127))
    return table


def _std_clamp(v: np.float32, lo: np.float32, hi: np.float32) -> np.float32:
    v = lo if v < lo else v  # std::max(v, lo): a NaN stays
    return hi if hi < v else v  # std::min(v, hi)


def _to_int16(v: np.float32) -> int:
    return 0 if math.isnan(float(v)) else int(v)


def lut_s16(fn, s_in, zp_in: int, s_out, zp_out: int) -> np.ndarray:
    """The 513-entry int16 interpolation table of a float32 function (module docstring)."""
    f = F32
    s_in, s_out = f(s_in), f(s_out)
    in_min, in_max = f(s_in * f(-32768 - zp_in)), f(s_in * f(32767 - zp_in))
    out_min, out_max = f(s_out * f(-32768 - zp_out)), f(s_out * f(32767 - zp_out))
    step = f(f(in_max - in_min) / f(512))
    half = f(step / f(2))
    k = f(f(65536) / f(out_max - out_min))
    lo, hi = f(-32768), f(32767)
    table = np.zeros(513, np.int16)
    with np.errstate(all="ignore"):
        for i in range(512):
            x = f(in_min + f(f(i) * step))
            val, mid = f(fn(x)), f(fn(f(x + half)))
            nxt = f(fn(f(in_min + f(f(i + 1) * step))))
            sample = _round(f(val * k))
            interp = _round(f(f(f(nxt * k) + _round(f(val * k))) / f(2)))
            bias = _round(f(f(interp - _round(f(mid * k))) / f(2)))
            table[i] = _to_int16(_std_clamp(f(sample - bias), lo, hi))
        table[512] = _to_int16(_std_clamp(_round(f(f(fn(in_max)) * k)), lo, hi))
    return table


def lookup_s16(table: np.ndarray, x: np.ndarray) -> np.ndarray:
    """pb_lut_s16 in numpy: the interpolated value of every int16 in x."""
    xs = np.asarray(x, np.int64)
    t = np.asarray(table, np.int64)
    i, o = 256 + (xs >> 7), xs & 0x7F
    slope = ((t[i + 1] - t[i] + 32768) & 0xFFFF) - 32768
    return ((t[i] + ((slope * o + 64) >> 7) + 32768) & 0xFFFF) - 32768


def sqrt_q(q: int, s_in, zp_in: int, s_out, zp_out: int, qmin: int, qmax: int) -> int:
    """One quantized SQRT output; q below the zero point reads as the zero point."""
    x = F32(F32(s_in) * F32(max(q - zp_in, 0)))
    y = F32(F32(math.sqrt(float(x))) / F32(s_out))
    return min(max(fp.wrap32(c_float_to_int32(y) + zp_out), qmin), qmax)


def sqrt_lut_s8(s_in, zp_in: int, s_out, zp_out: int) -> list[int]:
    return [sqrt_q(int(q), s_in, zp_in, s_out, zp_out, -128, 127) for q in INT8]


def neg_lut_s8() -> list[int]:
    return [(128 - int(q)) % 256 - 128 for q in INT8]
