"""QUANTIZE int16 -> int8/int16 on the Helium tier (templates/kernels/mve/pb_requant16.c): the
portable kernel's requantization four values a vector, VQRDMULH as its doubling high multiply
and VRSHL as its rounding shift. The parameters are the portable call's, field for field."""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall

FUNCTIONS = ("pb_requantize_s16_s8", "pb_requantize_s16_s16")


def accelerate(call: KernelCall, tier: str) -> KernelCall | None:
    """The tier's call for this portable int16 requantization, or None where it has none."""
    if tier != "mve" or call.function not in FUNCTIONS:
        return None
    function = call.function.replace("pb_", "pb_fast_mve_", 1)
    return KernelCall("pb_requant16", function, "pb_fast_mve_requantize_params_t", dict(call.fields), call.inputs,
                      call.outputs, macs=call.macs, tier=tier)
