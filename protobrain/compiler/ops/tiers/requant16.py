"""QUANTIZE int16 -> int8/int16 on the fast tiers:

- Helium (templates/kernels/mve/pb_quantize.c): the portable kernel's requantization four
  values a vector, VQRDMULH as its doubling high multiply and VRSHL as its rounding shift;
  the parameters are the portable call's, field for field.
- DSP (templates/kernels/dsp/pb_quantize.c): one SMMLAR, one shift and one SSAT a value,
  where 2 * (x << left shift) fits int32 (|x| <= 65535, so a left shift of at most 14) and
  the rounding constant with the output zero point folded in keeps the sum within int32;
  else the call stays portable.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall

FUNCTIONS = ("pb_requantize_s16_s8", "pb_requantize_s16_s16")


def dsp_fields(f: dict) -> dict | None:
    """The DSP kernel's parameters for a portable call's fields, or None where its one-multiply
    form is not proven exact."""
    left, right = max(f["shift"], 0), max(-f["shift"], 0)
    if left > 14:
        return None
    round_ = (1 << (right - 1) if right else 0) + f["output_zero_point"] * (1 << right)
    # |SMMULR(2x, mult)| <= |x << left| <= 65535 << left, plus the addend and the sign fix
    if (65535 << left) + abs(round_) + 1 >= 2**31:
        return None
    return {"size": f["size"], "input_zero_point": f["input_zero_point"], "mult": f["mult"], "left": left + 1,
            "right": right, "round": round_, "neg": int(right > 0)}


def accelerate(call: KernelCall, tier: str) -> KernelCall | None:
    """The tier's call for this portable int16 requantization, or None where it has none."""
    if call.function not in FUNCTIONS:
        return None
    if tier == "mve":
        function = call.function.replace("pb_", "pb_fast_mve_", 1)
        return KernelCall("pb_quantize", function, "pb_fast_mve_requantize_params_t", dict(call.fields),
                          call.inputs, call.outputs, macs=call.macs, tier=tier)
    fields = dsp_fields(call.fields) if tier == "dsp" else None
    if fields is None:
        return None
    function = call.function.replace("pb_", "pb_fast_dsp_", 1)
    return KernelCall("pb_quantize", function, "pb_fast_dsp_requantize_params_t", fields, call.inputs,
                      call.outputs, macs=call.macs, tier=tier)
