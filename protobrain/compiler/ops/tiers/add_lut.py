"""The int8 ADD of two same-shape operands as two 256-entry lookup tables
(templates/kernels/dsp/pb_elementwise.c, on the DSP and the Helium tier).

TFLite Micro's int8 ADD brings each input to a common scale,
    c(x) = MultiplyByQuantizedMultiplierSmallerThanOneExp((x + input_offset) << left_shift, mult, shift),
which depends only on the int8 value x: the generator tabulates it for all 256 values,
with the same integer arithmetic (fixedpoint.mul_by_quantized_mult). Per element the
kernel adds t1[x] + t2[y] and requantizes that raw sum to the output as the reference does.

The requantization takes the FAST path (one SMMULR and one rounding shift, the output
zero point and the activation minimum folded into the rounding constant) when the
largest |t1| + |t2| leaves room in int32 for the doubled sum and everything after it;
the generator also checks it against the exact arithmetic on all 65536 input pairs.
Otherwise the kernel requantizes step by step (EXACT).

Only the plain two-input, same-shape int8 ADD is rewritten; broadcasting, a constant
operand, 16x8, SUB and MUL keep their portable kernels.
"""

from __future__ import annotations

import re

import numpy as np

from protobrain.compiler.fixedpoint import mul_by_quantized_mult, mul_by_quantized_mult_array
from protobrain.compiler.ops.base import KernelCall, const

ADD_LUT_EXACT, ADD_LUT_FAST, ADD_LUT_FAST_FULL = 0, 1, 2  # PB_ADD_LUT_* in dsp/pb_elementwise.h


def _ints(field) -> list[int] | None:
    """A "{1, 2, 3}" array literal (as elementwise.py renders shape and strides) as ints."""
    if isinstance(field, str):
        return [int(v) for v in re.findall(r"-?\d+", field)]
    if isinstance(field, (list, tuple)):
        return [int(v) for v in field]
    return None


def _contiguous_size(f: dict) -> int | None:
    """The element count when both operands walk the output contiguously, else None."""
    shape, s1, s2 = _ints(f.get("shape")), _ints(f.get("stride1")), _ints(f.get("stride2"))
    if not shape or s1 is None or s2 is None or not len(shape) == len(s1) == len(s2):
        return None
    if any(n != 1 for n in shape[:-1]):
        return None  # more than one loop level: broadcasting
    if shape[-1] > 1 and (s1[-1] != 1 or s2[-1] != 1):
        return None
    return int(shape[-1])


def contribution_table(offset: int, left_shift: int, mult: int, shift: int) -> np.ndarray:
    """c(x) for the 256 raw bytes b = (uint8_t)x, x = b for b < 128 and b - 256 otherwise."""
    xs = np.arange(256, dtype=np.int64)
    xs = np.where(xs < 128, xs, xs - 256)
    return np.array([mul_by_quantized_mult((int(x) + offset) * (1 << left_shift), mult, shift) for x in xs],
                    np.int64)


def _requant_exact(sums: np.ndarray, mult: int, shift: int, offset: int, lo: int, hi: int) -> np.ndarray:
    return np.clip(mul_by_quantized_mult_array(sums, mult, shift) + offset, lo, hi)


def _requant_fast(doubled: np.ndarray, mult: int, e: int, rnd: int, lo: int, hi: int, full: bool) -> np.ndarray:
    """The FAST kernels' arithmetic in int64 (which holds every intermediate exactly)."""
    v = (doubled * mult + (1 << 31)) >> 32  # SMMULR
    s = (v + (v >> 63) + rnd) >> e  # v >> 31 on int32 is v's sign, as v >> 63 on int64
    return np.clip(s, -128, 127) if full else lo + np.clip(s, 0, hi - lo)  # SSAT, or two USATs


def _fast_constants(t1, t2, f: dict) -> tuple[int, int, bool] | None:
    """(e, rounding constant, full range) when a FAST requantization applies, else None.
    Full range (no clamp but int8's): the rounding constant holds the output zero point and
    one SSAT clamps; otherwise it holds the zero point minus act_min and two USATs clamp."""
    mult, shift = int(f["output_mult"]), int(f["output_shift"])
    off, lo, hi = int(f["output_offset"]), int(f["act_min"]), int(f["act_max"])
    e = -shift
    if not (e >= 1 and 0 < mult < 2**31 and lo <= hi):
        return None
    full = lo == -128 and hi == 127
    base = off if full else off - lo
    peak = int(np.abs(t1).max()) + int(np.abs(t2).max())
    # doubled sum in int32; |SMMULR result| <= peak + 1; v + sign + rounding + base * 2^e in int32
    if not (2 * peak < 2**31 and peak + 2 + (1 << (e - 1)) + (abs(base) << e) < 2**31):
        return None
    rnd = (1 << (e - 1)) + (base << e)
    # Belt and braces: the same outputs as the exact arithmetic for all 65536 input pairs.
    sums = (t1[:, None] + t2[None, :]).reshape(-1)
    if not np.array_equal(_requant_fast(2 * sums, mult, e, rnd, lo, hi, full),
                          _requant_exact(sums, mult, shift, off, lo, hi)):
        return None
    return e, rnd, full


def accelerate_add(call: KernelCall, tier: str) -> KernelCall | None:
    """The lookup-table ADD for a portable int8 pb_add_s8 call without broadcasting, for any
    non-portable tier; None where it does not apply."""
    if tier == "portable" or call.function != "pb_add_s8" or len(call.inputs) != 2:
        return None
    f = call.fields
    if f.get("const_input", 0) != 0 or int(f.get("left_shift", 0)) != 20:
        return None
    size = _contiguous_size(f)
    if size is None:
        return None
    if int(f["input1_shift"]) > 0 or int(f["input2_shift"]) > 0 or int(f["output_shift"]) > 0:
        return None  # MultiplyByQuantizedMultiplierSmallerThanOneExp: the lowering keeps shifts <= 0
    t1 = contribution_table(int(f["input1_offset"]), 20, int(f["input1_mult"]), int(f["input1_shift"]))
    t2 = contribution_table(int(f["input2_offset"]), 20, int(f["input2_mult"]), int(f["input2_shift"]))
    fast = _fast_constants(t1, t2, f)
    if fast is not None:
        e, rnd, full = fast
        mode, tables, shift = ADD_LUT_FAST_FULL if full else ADD_LUT_FAST, (2 * t1, 2 * t2), e
    else:
        mode, tables, shift, rnd = ADD_LUT_EXACT, (t1, t2), int(f["output_shift"]), 0
    fields = {
        "size": size,
        "table1": const("table1", tables[0], "int32_t"),
        "table2": const("table2", tables[1], "int32_t"),
        "mode": mode,
        "output_mult": int(f["output_mult"]),
        "output_shift": shift,
        "output_round": rnd,
        "output_offset": int(f["output_offset"]),
        "act_min": int(f["act_min"]),
        "act_max": int(f["act_max"]),
    }
    return KernelCall(kernel="pb_elementwise", function="pb_add_lut_s8", struct="pb_add_lut_params_t", fields=fields,
                      inputs=list(call.inputs), outputs=list(call.outputs), macs=0, tier="dsp")
