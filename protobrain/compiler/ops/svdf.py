"""SVDF: int8 input and output with an int8 or int16 activation state (its time weights of
the same type), any rank, as TFLite Micro's integer SVDF computes it.

Each invocation shifts the state (a variable tensor, [batch][filters * memory]) left by one
value, writes each filter's feature dot product (requantized to the state's scale, clamped
to the state type, zero point added) into the filter's newest slot, then each unit sums
its rank filters' dot products of time weights and state (less the state's zero point),
adds its bias and requantizes to int8. TFLite Micro's integer kernel applies no fused
activation (only the float one does), so none is applied here either.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import (
    KernelCall,
    const,
    register,
    require,
    require_int32_accumulator,
    tensors,
)
from protobrain.compiler.quantization import INT_RANGES, f32, quantize_multiplier

INPUT, FEATURE, TIME, BIAS, STATE = range(5)


def svdf_parts(op, g) -> dict:
    """The SVDF's sizes, folded constants and multipliers, checked as TFLite Micro's
    Prepare checks them (shared with the fast tiers' rewrite)."""
    ins, (out,) = tensors(op, g)
    require(len(op.inputs) == 5, f"{len(op.inputs)} inputs (the SVDF has 5)")
    x, wf, wt, bias, state = ins
    require(bias is not None, "no bias (TFLite Micro's integer SVDF reads the bias scale)")
    require(state is not None and state.is_variable, "the activation state must be a variable tensor")
    require(x.dtype == "int8", f"input type {x.dtype} (int8 only)")
    require(wf.dtype == "int8" and wf.is_const, f"feature weights {wf.dtype} (constant int8)")
    require(wt.dtype in ("int8", "int16") and wt.is_const, f"time weights {wt.dtype} (constant int8 or int16)")
    require(state.dtype == wt.dtype, f"state type {state.dtype} differs from the time weights' {wt.dtype}")
    require(bias.dtype == "int32" and bias.is_const, f"bias type {bias.dtype} (constant int32)")
    require(out.dtype == "int8", f"output type {out.dtype} (int8 only)")
    for t in (x, wf, wt, state, out):
        require(t.quant is not None, f"tensor {t.index} is not quantized")
    rank = int(op.options.get("rank", 0))
    require(len(x.shape) == 2 and len(wf.shape) == 2 and len(wt.shape) == 2 and len(out.shape) == 2
            and len(state.shape) == 2, "input, weights, state and output must be 2-D")
    batches, depth = x.shape
    filters, memory = wt.shape
    require(rank >= 1 and wf.shape[0] % rank == 0, f"rank {rank} for {wf.shape[0]} filters")
    units = wf.shape[0] // rank
    require(wf.shape == (filters, depth), f"feature weights {wf.shape}, expected {(filters, depth)}")
    require(out.shape == (batches, units), f"output shape {out.shape}, expected {(batches, units)}")
    require(bias.shape[:1] == (units,), f"bias of shape {bias.shape} for {units} units")
    require(state.shape == (batches, memory * filters), f"state shape {state.shape}, expected "
            f"{(batches, memory * filters)}")
    require(memory >= 1 and depth >= 1 and batches >= 1, "empty SVDF")
    s_in, s_wf, s_wt, s_state, s_out = (f32(t.quant.s) for t in (x, wf, wt, state, out))
    # Both scales are float32 products and quotients, widened to double only at the end.
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        scale_1 = float(f32(f32(s_in * s_wf) / s_state))  # an overflow is refused as not finite
        scale_2 = float(f32(f32(s_state * s_wt) / s_out))
        product = float(f32(s_state * s_wt))
    bias_scale = float(f32(bias.quant.s)) if bias.quant is not None else 0.0
    require(abs(bias_scale - product) < 1e-5,
            f"bias scale {bias_scale:g} differs from state * time weight scale {product:g}")
    m1, sh1 = quantize_multiplier(scale_1)
    m2, sh2 = quantize_multiplier(scale_2)
    in_zp, state_zp = x.quant.zp, state.quant.zp
    w = wf.data.astype(np.int64)
    require_int32_accumulator(w, 0, -in_zp, None, [sh1])
    t = wt.data.astype(np.int64)
    lo, hi = INT_RANGES[state.dtype]
    # each unit's constant: its bias less the state zero point times its time weights' sum
    unit_bias = bias.data.astype(np.int64).reshape(-1) - state_zp * t.reshape(units, -1).sum(axis=1)
    return {
        "state_type": state.dtype, "batches": batches, "depth": depth, "filters": filters, "units": units,
        "rank": rank, "memory": memory, "w_feature": w, "feature_bias": -in_zp * w.sum(axis=1),
        "w_time": t, "unit_bias": (unit_bias + 2**31) % 2**32 - 2**31,
        "fields": {"state_zp": state_zp, "state_min": lo, "state_max": hi, "feature_mult": m1,
                   "feature_shift": sh1, "output_mult": m2, "output_shift": sh2, "output_zp": out.quant.zp},
        "macs": batches * filters * (depth + memory),
    }


@register("SVDF", inputs=(3, 5), types=("int8",))
def lower(op, g):
    parts = svdf_parts(op, g)
    wide = parts["state_type"] == "int16"
    fields = {
        "batches": parts["batches"], "input_size": parts["depth"], "filters": parts["filters"],
        "units": parts["units"], "rank": parts["rank"], "memory": parts["memory"], **parts["fields"],
        "w_feature": const("w_feature", parts["w_feature"], "int8_t"),
        "feature_bias": const("feature_bias", parts["feature_bias"], "int32_t"),
        "w_time": "NULL" if wide else const("w_time", parts["w_time"], "int8_t"),
        "w_time16": const("w_time", parts["w_time"], "int16_t") if wide else "NULL",
        "unit_bias": const("unit_bias", parts["unit_bias"], "int32_t"),
    }
    return KernelCall(
        kernel="pb_svdf",
        function="pb_svdf_s8_s16" if wide else "pb_svdf_s8",
        struct="pb_svdf_params_t",
        fields=fields,
        inputs=[op.inputs[INPUT], op.inputs[STATE]],
        outputs=[op.outputs[0]],
        macs=parts["macs"],
    )
