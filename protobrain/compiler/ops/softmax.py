"""SOFTMAX: int8 -> int8, int8 -> int16 and int16 -> int16, over the last dimension.

int8 input: the input difference to the row max takes at most 256 values, so exp() of the
scaled difference (the reference's gemmlowp fixed point) is a 256-entry Q0.31 table built
here; summing, the reciprocal and the output scaling run in integer C exactly as reference.
int16 input: the reference's two 513-entry interpolation tables (exp and 1/(1+x)).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from protobrain.compiler import fixedpoint as fp
from protobrain.compiler.ops.base import KernelCall, const, register, require, require_types, tensors
from protobrain.compiler.quantization import f32, quantize_multiplier

_SCALED_DIFF_INTEGER_BITS = 5


@lru_cache(maxsize=None)
def _int16_luts() -> tuple[np.ndarray, np.ndarray]:
    return fp.softmax_exp_lut(), fp.softmax_recip_lut()


@lru_cache(maxsize=256)
def _exp_table_s8(beta: float, input_scale: float) -> tuple[tuple[int, ...], int]:
    # PreprocessSoftmaxScaling: beta * scale into Q5.26, capped, as a multiplier > 1.
    real = min(float(beta) * float(input_scale) * float(1 << (31 - _SCALED_DIFF_INTEGER_BITS)),
               float((1 << 31) - 1))
    require(real > 1.0, f"beta * input scale {real / (1 << 26):.3g} too small for the reference")
    mult, shift = fp.quantize_multiplier_unclamped(real)
    require(0 <= shift <= 30, f"beta * input scale {real / (1 << 26):.3g} too large")
    diff_min = -fp.input_radius(_SCALED_DIFF_INTEGER_BITS, shift)
    table = []
    for k in range(256):
        diff = -k
        if diff >= diff_min:
            scaled = fp.srdhm(fp.wrap32(diff * (1 << shift)), mult)
            table.append(fp.exp_on_negative_values(scaled, _SCALED_DIFF_INTEGER_BITS))
        else:
            table.append(0)
    return tuple(table), diff_min


@register("SOFTMAX", types=("int8", "int16"))
def lower(op, g):
    require_types(op, g, {("int8", "int8"), ("int8", "int16"), ("int16", "int16")})
    (inp,), (out,) = tensors(op, g)
    require(inp.quant is not None and out.quant is not None, "missing quantization")
    require(len(inp.shape) >= 1 and tuple(inp.shape) == tuple(out.shape),
            f"input shape {inp.shape} differs from output shape {out.shape}")
    depth = inp.shape[-1]
    outer = inp.size // depth if depth else 0
    beta = f32(op.options.get("beta", 1.0))
    s_in, s_out = f32(inp.quant.s), f32(out.quant.s)
    fields = {"outer": outer, "depth": depth, "diff_min": 0, "exp_table": "NULL",
              "input_multiplier": 0, "input_shift": 0, "exp_lut": "NULL", "recip_lut": "NULL"}

    if inp.dtype == "int8":
        if out.dtype == "int8":
            require(out.quant.zp == -128 and s_out == f32(1.0 / 256), "int8 output must be scale 1/256, zero point -128")
            function = "pb_softmax_s8"
        else:
            require(out.quant.zp == -32768 and abs(float(f32(s_out - f32(1.0 / 65536)))) <= float(f32(0.001 * 1.0 / 65536)),
                    "int16 output must be scale 1/65536, zero point -32768")
            function = "pb_softmax_s8_s16"
        # The int32 sum of Q12.19 exps must not overflow: at most 4095 terms of <= 2^19.
        require(depth < 4096, f"depth {depth} too large for the fixed-point sum")
        table, diff_min = _exp_table_s8(float(beta), float(s_in))
        fields.update(diff_min=diff_min, exp_table=const("exp", np.array(table, np.int64), "int32_t"))
    else:
        require(inp.quant.zp == 0 and out.quant.zp == 0, "int16 zero points must be 0")
        require(abs(float(f32(s_out - f32(1.0 / 32768)))) <= float(f32(0.001 * 1.0 / 32768)),
                "int16 output must be scale 1/32768")
        require(depth <= 65536, f"depth {depth} too large for the int32 sum of exps")
        # Input differences scaled so that [-65535, 0] covers [-10, 0].
        mult, shift = quantize_multiplier(float(s_in) * float(beta) / (10.0 / 65535.0))
        exp_lut, recip_lut = _int16_luts()
        fields.update(input_multiplier=mult, input_shift=shift,
                      exp_lut=const("exp_lut", exp_lut, "int16_t"),
                      recip_lut=const("recip_lut", recip_lut, "int16_t"))
        function = "pb_softmax_s16"
    return KernelCall(
        kernel="pb_softmax", function=function, struct="pb_softmax_params_t",
        fields=fields, inputs=[op.inputs[0]], outputs=[op.outputs[0]], macs=0,
    )
