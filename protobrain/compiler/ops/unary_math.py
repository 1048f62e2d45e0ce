"""One-input math operators: ABS, NEG, SQUARE, SQRT, RSQRT, EXP, LOG, FLOOR, CEIL, ROUND,
COS, SIN, CAST, ZEROS_LIKE, in the types TFLite Micro has kernels for.

- float32, every operator: pb_unary_f32 applies the same single-precision C function the
  reference applies (fabsf, sqrtf, 1/sqrtf, expf, logf, floorf, ceilf, sinf, cosf; ROUND
  rounds halves to even through floorf as the reference does). The kernels are plain C99
  and compiled with -std=c99, so no multiply-add is fused. FLOOR, CEIL, SQRT, RSQRT,
  ROUND, NEG, ABS and SQUARE are exact everywhere (IEEE); EXP, LOG, SIN and COS are as
  exact as the target's C library: on the host they call the very functions TFLite Micro
  calls, so they match it bit for bit; on a device they match TFLite Micro built with the
  same library, which may round some values differently from the host's.
- int8 ABS and RSQRT: 256-entry tables (pb_lut_s8) computed here with the reference's
  integer arithmetic (RSQRT: the fixed-point 1/sqrt of unary_common).
- int16 ABS (quantized with zero points 0, or plain integers) and int16 RSQRT: run-time
  integer kernels in pb_unary.
- CAST: every pair of int8, int16, int32, uint32, float32 and bool that TFLite Micro's
  kernel converts. Integers convert as C does (modulo 2^n; to bool: nonzero); float32 to
  an integer truncates toward zero and saturates, NaN giving 0, as TFLite Micro's SafeCast.
  Quantization parameters are not applied: CAST converts the stored values.
- ZEROS_LIKE: int8, int32, int64, float32; all-zero bytes (0, not the zero point, for
  quantized int8, as the reference writes them).

TFLite Micro's EXP, LOG, SQRT and NEG take float32 only; the converter emits int8 EXP,
LOG and SQRT and 16x8 EXP and LOG all the same. Those run as LiteRT's reference kernels
compute them, LiteRT being their golden (unary_lut has the formulas):
- int8 EXP, LOG, SQRT, NEG: 256-entry tables (pb_lut_s8).
- int16 EXP and LOG (zero points 0): LiteRT's 513-entry interpolation tables, built here,
  read by pb_lut_s16. int16 SQRT: pb_sqrt_s16, LiteRT's float32 expression per value.
- int16, int32 and int64 NEG: plain integer negation (pb_neg_s16, _s32, _s64).
Neither TFLite Micro nor LiteRT has an integer SQUARE, SIN, COS, FLOOR, CEIL or ROUND;
those are refused with that reason.
"""

from __future__ import annotations

import math

from protobrain.compiler import fixedpoint as fp
from protobrain.compiler.ops import unary_lut
from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors
from protobrain.compiler.ops.unary_common import INT8, f32_call, inv_sqrt_multiplier, lut_s8, per_tensor_quant, same_shape_io
from protobrain.compiler.quantization import f32, quantize_multiplier

_FLOAT_ONLY = {"NEG": "pb_neg_f32", "SQUARE": "pb_square_f32", "SQRT": "pb_sqrt_f32", "EXP": "pb_exp_f32",
               "LOG": "pb_log_f32", "FLOOR": "pb_floor_f32", "CEIL": "pb_ceil_f32", "ROUND": "pb_round_f32",
               "COS": "pb_cos_f32", "SIN": "pb_sin_f32"}
# The integer forms LiteRT's reference kernels run (TFLite Micro's kernels take float32 only).
_LITERT_TYPES = {"EXP": ("int8", "int16"), "LOG": ("int8", "int16"), "SQRT": ("int8", "int16"),
                 "NEG": ("int8", "int16", "int32", "int64")}


def _float_only(op, g) -> KernelCall:
    inp, out = same_shape_io(op, g)
    if inp.dtype != "float32" and op.name in _LITERT_TYPES:
        return _litert_integer(op, g, inp, out)
    require(inp.dtype == "float32", f"{inp.dtype} {op.name}: TFLite Micro's {op.name} kernel takes float32 only, "
                                    f"and neither TFLite Micro nor LiteRT has an integer {op.name}")
    require(out.dtype == "float32", f"types {inp.dtype}->{out.dtype}")
    if op.name in ("EXP", "CEIL", "ROUND"):  # their Prepare also checks the shapes
        require(tuple(inp.shape) == tuple(out.shape), f"input shape {inp.shape} differs from output shape {out.shape}")
    return f32_call(op, g, _FLOAT_ONLY[op.name])


for _name in _FLOAT_ONLY:
    _types = ("float32",) + _LITERT_TYPES.get(_name, ())
    register(_name, types=_types, litert_golden=", ".join(_LITERT_TYPES.get(_name, ())))(_float_only)


# ---- integer EXP, LOG, SQRT, NEG: LiteRT's reference kernels -----------------------------------


def _litert_integer(op, g, inp, out) -> KernelCall:
    name = op.name
    require(inp.dtype in _LITERT_TYPES[name],
            f"{inp.dtype} {name}: TFLite Micro's {name} kernel takes float32 only, LiteRT's "
            + ", ".join(("float32",) + _LITERT_TYPES[name]))
    require(out.dtype == inp.dtype, f"types {inp.dtype}->{out.dtype}")
    io = {"inputs": [op.inputs[0]], "outputs": [op.outputs[0]]}
    if name == "NEG":  # the stored integers, whatever their quantization
        if inp.dtype == "int8":
            return lut_s8(op, unary_lut.neg_lut_s8(), inp.size)
        return KernelCall(kernel="pb_unary", function=f"pb_neg_s{inp.dtype[3:]}", struct="pb_unary_params_t",
                          fields={"size": inp.size}, **io)
    per_tensor_quant(inp, out)
    if name == "EXP":  # its Prepare checks the shapes
        require(tuple(inp.shape) == tuple(out.shape), f"input shape {inp.shape} differs from output shape {out.shape}")
    s_in, zp_in, s_out, zp_out = f32(inp.quant.s), inp.quant.zp, f32(out.quant.s), out.quant.zp
    if inp.dtype == "int8":
        if name == "SQRT":
            return lut_s8(op, unary_lut.sqrt_lut_s8(s_in, zp_in, s_out, zp_out), inp.size)
        return lut_s8(op, unary_lut.lut_s8(unary_lut.transform(name, s_out, zp_out, -128), s_in, zp_in, s_out, zp_out),
                      inp.size)
    require(zp_in == 0 and zp_out == 0, "int16 zero points must be 0")
    if name == "SQRT":
        return KernelCall(kernel="pb_unary_f32", function="pb_sqrt_s16", struct="pb_sqrt_s16_params_t",
                          fields={"size": inp.size, "input_scale": float(s_in), "output_scale": float(s_out)}, **io)
    table = unary_lut.lut_s16(unary_lut.transform(name, s_out, zp_out, -32768), s_in, zp_in, s_out, zp_out)
    return KernelCall(kernel="pb_unary", function="pb_lut_s16", struct="pb_lut_s16_params_t",
                      fields={"size": inp.size, "table": const("table", table, "int16_t")}, **io)


# ---- ABS -------------------------------------------------------------------------------------


@register("ABS", types=("int8", "int16", "float32"))
def lower_abs(op, g):
    inp, out = same_shape_io(op, g)
    require(inp.dtype == out.dtype, f"types {inp.dtype}->{out.dtype}")
    require(inp.dtype in ("float32", "int8", "int16"), f"{inp.dtype} ABS: TFLite Micro's ABS takes float32, int8, int16")
    if inp.dtype == "float32":
        return f32_call(op, g, "pb_abs_f32")
    if inp.dtype == "int16" and inp.quant is None:
        # Plain integers: |x| wrapped to int16 (|-32768| stays -32768).
        return KernelCall(kernel="pb_unary", function="pb_abs_s16_plain", struct="pb_unary_params_t",
                          fields={"size": inp.size}, inputs=[op.inputs[0]], outputs=[op.outputs[0]])
    per_tensor_quant(inp, out)
    zp_in, zp_out = inp.quant.zp, out.quant.zp
    if inp.dtype == "int16":
        require(zp_in == 0 and zp_out == 0, "int16 zero points must be 0")
    needs_rescale = f32(inp.quant.s) != f32(out.quant.s)
    mult, shift = (quantize_multiplier(float(f32(inp.quant.s)) / float(f32(out.quant.s)))
                   if needs_rescale else (0, 0))
    if inp.dtype == "int8":
        table = []
        for q in INT8:
            v = abs(int(q) - zp_in)
            table.append(zp_out + (fp.mul_by_quantized_mult(v, mult, shift) if needs_rescale else v))
        return lut_s8(op, table, inp.size)
    return KernelCall(kernel="pb_unary", function="pb_abs_s16", struct="pb_abs_s16_params_t",
                      fields={"size": inp.size, "needs_rescale": int(needs_rescale), "multiplier": mult, "shift": shift},
                      inputs=[op.inputs[0]], outputs=[op.outputs[0]])


# ---- RSQRT -----------------------------------------------------------------------------------

_RSQRT_SHIFT = 20  # the reference keeps 1/sqrt(x) as an integer scaled by 2^20


def rsqrt_q(value: int, mult: int, shift: int, zp_out: int) -> int:
    """One quantized RSQRT result before clamping (value = input - zero point >= 0)."""
    if value == 0:
        return 1 << 31  # clamps to the type's largest value
    inv, inv_shift = inv_sqrt_multiplier(value)
    data = fp.mul_by_quantized_mult(1, inv, inv_shift + _RSQRT_SHIFT)
    return fp.mul_by_quantized_mult(data, mult, shift - _RSQRT_SHIFT) + zp_out


@register("RSQRT", types=("int8", "int16", "float32"))
def lower_rsqrt(op, g):
    inp, out = same_shape_io(op, g)
    require(inp.dtype == out.dtype, f"types {inp.dtype}->{out.dtype}")
    require(inp.dtype in ("float32", "int8", "int16"), f"{inp.dtype} RSQRT: TFLite Micro's RSQRT takes float32, int8, int16")
    if inp.dtype == "float32":
        return f32_call(op, g, "pb_rsqrt_f32")
    per_tensor_quant(inp, out)
    zp_in, zp_out = inp.quant.zp, out.quant.zp
    if inp.dtype == "int16":
        require(zp_in == 0 and zp_out == 0, "int16 zero points must be 0")
    real = 1.0 / (math.sqrt(float(f32(inp.quant.s))) * float(f32(out.quant.s)))
    mult, shift = fp.quantize_multiplier_unclamped(real)
    require(-31 <= shift - _RSQRT_SHIFT and shift <= 30,
            f"input scale {float(inp.quant.s):g} and output scale {float(out.quant.s):g} put 1/sqrt out of range")
    if inp.dtype == "int8":
        # Inputs below the zero point are refused by the reference at run time; their
        # entries are computed as for 0 < x <= 1.
        table = [rsqrt_q(max(int(q) - zp_in, 1) if int(q) != zp_in else 0, mult, shift, zp_out) for q in INT8]
        return lut_s8(op, table, inp.size)
    return KernelCall(kernel="pb_unary", function="pb_rsqrt_s16", struct="pb_rsqrt_s16_params_t",
                      fields={"size": inp.size, "input_offset": zp_in, "output_offset": zp_out,
                              "multiplier": mult, "shift": shift},
                      inputs=[op.inputs[0]], outputs=[op.outputs[0]])


# ---- CAST ------------------------------------------------------------------------------------

_CAST_CODES = {"int8": "s8", "int16": "s16", "int32": "s32", "uint32": "u32", "float32": "f32", "bool": "b"}


@register("CAST", types=tuple(_CAST_CODES))
def lower_cast(op, g):
    inp, out = same_shape_io(op, g)
    for t in (inp, out):
        require(t.dtype in _CAST_CODES,
                f"CAST {inp.dtype}->{out.dtype}: TFLite Micro's CAST converts between "
                + ", ".join(_CAST_CODES))
    a, b = _CAST_CODES[inp.dtype], _CAST_CODES[out.dtype]
    kernel = "pb_unary_f32" if "f32" in (a, b) else "pb_unary"
    return KernelCall(kernel=kernel, function=f"pb_cast_{a}_{b}", struct="pb_unary_params_t" if kernel == "pb_unary"
                      else "pb_unary_f32_params_t", fields={"size": inp.size},
                      inputs=[op.inputs[0]], outputs=[op.outputs[0]])


# ---- ZEROS_LIKE ------------------------------------------------------------------------------


@register("ZEROS_LIKE", types=("int8", "int32", "int64", "float32"))
def lower_zeros_like(op, g):
    (inp,), (out,) = tensors(op, g)
    require(inp.dtype in ("int8", "int32", "int64", "float32"),
            f"{inp.dtype} ZEROS_LIKE: TFLite Micro's ZEROS_LIKE takes int8, int32, int64, float32")
    require(out.dtype == inp.dtype, f"types {inp.dtype}->{out.dtype} (the reference gives the output the input's type)")
    require(inp.size == out.size, f"input and output sizes differ ({inp.size} and {out.size})")
    # Only the output is written; the input's values are not read.
    return KernelCall(kernel="pb_unary", function="pb_zeros", struct="pb_zeros_params_t",
                      fields={"nbytes": out.nbytes}, inputs=[], outputs=[op.outputs[0]])
