"""UNIDIRECTIONAL_SEQUENCE_LSTM: the integer LSTM (the standard Keras cell: no peephole,
projection or layer norm), int8 activations with int16 cell state, or 16x8 (int16
activations, int8 weights, int64 bias), batch-major or time-major.

Each time step, as TFLite Micro computes it: every gate is two fully connected layers, the
input's and the previous hidden state's, each requantized to int16 at scale 2^-12 and
added with saturation, then a sigmoid (tanh for the cell gate) to Q0.15; the cell state
becomes f * c + i * g (each product requantized to the cell scale, the sum saturated and
clipped), and the hidden state tanh(c) * o at the hidden state's scale and zero point. The
hidden state is also that step's output. Both states are variable tensors: they persist
from one invocation to the next.

The kernel goes unit by unit: the unit's four gate rows of the input matrix and of the
recurrent matrix (input offsets folded into per-row constants), then its cell. The fast
tiers (ops/tiers/recurrent.py) lay the rows out for their multiply and keep the rest.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler import fixedpoint as fp
from protobrain.compiler.ops.base import (
    KernelCall,
    const,
    register,
    require,
    require_int32_accumulator,
    tensors,
)
from protobrain.compiler.quantization import INT_RANGES, f32, quantize_multiplier

# Input indices (TFLite's LSTM operand order).
INPUT, HIDDEN, CELL = 0, 18, 19
INPUT_WEIGHTS = (1, 2, 3, 4)  # input-to-{input, forget, cell, output} gate weights
RECURRENT_WEIGHTS = (5, 6, 7, 8)
BIASES = (12, 13, 14, 15)
ABSENT = (9, 10, 11, 16, 17, 20, 21, 22, 23)  # peephole, projection, layer norm
GATE_SCALE = 2.0**-12  # the gates' fully connected outputs: Q3.12
ACTIVATED_SCALE = 2.0**-15  # sigmoid and tanh outputs: Q0.15


def _fc_multiplier(inp, w) -> tuple[int, int]:
    """The gate FC's requantization to 2^-12, from the double product of the scales."""
    return quantize_multiplier(float(f32(inp.quant.s)) * float(f32(w.quant.s)) / float(f32(GATE_SCALE)))


def _mul_multiplier(s1: float, s2: float, s_out) -> tuple[int, int]:
    return quantize_multiplier(float(f32(s1)) * float(f32(s2)) / float(f32(s_out)))


def _tanh_rescale(scale_power: int) -> tuple[int, int]:
    """The int16 tanh's input multiplier and right shift for a Q(15 + power) input, as
    TFLite Micro derives them from the cell scale's power of two (3 << n, or 3 and >> n)."""
    left = 15 + scale_power - 3
    if left >= 0:
        require(3 << left < 2**16, f"cell state scale 2^{scale_power} too large for the int16 tanh")
        return 3 << left, 0
    require(-left < 31, f"cell state scale 2^{scale_power} too small for the int16 tanh")
    return 3, -left


def lstm_parts(op, g) -> dict:
    """Everything the LSTM kernels need, checked as TFLite Micro's Prepare checks it. Shared
    by the portable lowering and the fast tiers' rewrite (which re-lays the weights)."""
    ins, (out,) = tensors(op, g)
    require(len(op.inputs) == 24, f"{len(op.inputs)} inputs (the LSTM has 24 operands)")
    x, hidden, cell = ins[INPUT], ins[HIDDEN], ins[CELL]
    require(hidden is not None and cell is not None, "missing hidden or cell state")
    require(hidden.is_variable and cell.is_variable, "the hidden and cell states must be variable tensors")
    require(x.dtype in ("int8", "int16"), f"input type {x.dtype} (int8 or int16)")
    require(hidden.dtype == x.dtype and out.dtype == x.dtype,
            f"hidden state {hidden.dtype} and output {out.dtype} must have the input's type {x.dtype}")
    require(cell.dtype == "int16", f"cell state type {cell.dtype} (int16 only)")
    for i in ABSENT:
        require(ins[i] is None, "peephole, projection and layer-norm LSTMs are not supported (as TFLite Micro)")
    weights = [ins[i] for i in INPUT_WEIGHTS + RECURRENT_WEIGHTS]
    biases = [ins[i] for i in BIASES]
    require(all(w is not None for w in weights) and all(b is not None for b in biases),
            "every gate needs its weights and bias (no CIFG)")
    require(all(w.dtype == "int8" and w.is_const for w in weights), "weights must be constant int8")
    bias_type = "int32" if x.dtype == "int8" else "int64"
    require(all(b.dtype == bias_type and b.is_const for b in biases), f"biases must be constant {bias_type}")
    require(op.options.get("fused_activation_function") == "TANH",
            f"cell activation {op.options.get('fused_activation_function')} (TANH only)")
    for t in [x, hidden, cell, out, *weights]:
        require(t.quant is not None, f"tensor {t.index} is not quantized")
    require(all(not w.quant.per_channel for w in weights), "per-channel LSTM weights")
    require(all(int(w.quant.zero_point[0]) == 0 for w in weights), "weights with a non-zero zero point")
    require(len(x.shape) == 3, f"input shape {x.shape} (3-D)")
    time_major = bool(op.options.get("time_major", False))
    steps, batches = (x.shape[0], x.shape[1]) if time_major else (x.shape[1], x.shape[0])
    depth = x.shape[2]
    require(len(hidden.shape) >= 2, f"hidden state shape {hidden.shape}")
    units = hidden.shape[1]
    for w in weights[:4]:
        require(w.shape == (units, depth), f"input weights {w.shape}, expected {(units, depth)}")
    for w in weights[4:]:
        require(w.shape == (units, units), f"recurrent weights {w.shape}, expected {(units, units)}")
    for b in biases:
        require(b.shape == (units,), f"bias {b.shape}, expected {(units,)}")
    require(hidden.size == batches * units and cell.size == batches * units,
            f"state sizes {hidden.size}, {cell.size} for {batches} x {units}")
    require(len(out.shape) == 3 and out.shape[:2] == x.shape[:2] and out.shape[2] == units,
            f"output shape {out.shape} for input {x.shape} and {units} units")
    require(steps >= 1 and batches >= 1 and depth >= 1 and units >= 1, "empty LSTM")

    w_in = np.concatenate([w.data.astype(np.int64) for w in weights[:4]])  # [4 * units][depth]
    w_rec = np.concatenate([w.data.astype(np.int64) for w in weights[4:]])  # [4 * units][units]
    bias = np.concatenate([b.data.astype(np.int64) for b in biases])
    in_off, hid_off = -x.quant.zp, -hidden.quant.zp
    pairs = [_fc_multiplier(x, w) for w in weights[:4]] + [_fc_multiplier(hidden, w) for w in weights[4:]]
    if x.dtype == "int16":
        # the int64 accumulator times the 16-bit reduced multiplier must stay within int64
        peak = np.abs(bias) + 65535 * np.abs(w_in).sum(axis=1)
        peak = np.maximum(peak, 65535 * np.abs(w_rec).sum(axis=1))
        require(int(peak.max()) < 2**47, "a bias so large the int64 requantization overflows")
    if x.dtype == "int8":
        for k in range(4):
            rows = slice(k * units, (k + 1) * units)
            require_int32_accumulator(w_in[rows], 0, in_off, bias[rows], [pairs[k][1]])
            require_int32_accumulator(w_rec[rows], 0, hid_off, None, [pairs[4 + k][1]])
    ok, power = fp.checked_log2(cell.quant.s)
    del ok  # TFLite Micro takes the rounded power whether or not the scale is one
    tanh_mult, tanh_shift = _tanh_rescale(power)
    clip = float(op.options.get("cell_clip", 0.0))
    if clip > 0:
        clip_q = int(min(max(float(f32(clip)) / float(f32(cell.quant.s)), -32768.0), 32767.0))
    else:
        clip_q = -1  # no clipping
    h_min, h_max = INT_RANGES[hidden.dtype]
    forget = _mul_multiplier(ACTIVATED_SCALE, cell.quant.s, cell.quant.s)
    update = _mul_multiplier(ACTIVATED_SCALE, ACTIVATED_SCALE, cell.quant.s)
    hid = _mul_multiplier(ACTIVATED_SCALE, ACTIVATED_SCALE, hidden.quant.s)
    return {
        "dtype": x.dtype, "batches": batches, "steps": steps, "depth": depth, "units": units,
        "time_major": int(time_major), "w_in": w_in, "w_rec": w_rec,
        # the input offsets folded in: bias + offset * row sum
        "bias_in": bias + in_off * w_in.sum(axis=1), "bias_rec": hid_off * w_rec.sum(axis=1),
        "mults": [m for m, _ in pairs], "shifts": [s for _, s in pairs],
        "fields": {
            "cell_tanh_mult": tanh_mult, "cell_tanh_shift": tanh_shift,
            "forget_mult": forget[0], "forget_shift": forget[1],
            "update_mult": update[0], "update_shift": update[1],
            "hidden_mult": hid[0], "hidden_shift": hid[1], "hidden_zp": hidden.quant.zp,
            "hidden_min": h_min, "hidden_max": h_max, "cell_clip": clip_q,
        },
        "macs": batches * steps * 4 * units * (depth + units),
    }


@register("UNIDIRECTIONAL_SEQUENCE_LSTM", inputs=(1, 24), types=("int8", "int16"))
def lower(op, g):
    parts = lstm_parts(op, g)
    wide = parts["dtype"] == "int16"
    bias_type = "int64_t" if wide else "int32_t"
    fields = {
        "batches": parts["batches"], "steps": parts["steps"], "input_size": parts["depth"],
        "units": parts["units"], "time_major": parts["time_major"],
        "w_input": const("w_input", parts["w_in"], "int8_t"),
        "w_recurrent": const("w_recurrent", parts["w_rec"], "int8_t"),
        "bias_input": "NULL", "bias_recurrent": "NULL", "bias64_input": "NULL", "bias64_recurrent": "NULL",
        "mults": const("mults", parts["mults"], "int32_t"), "shifts": const("shifts", parts["shifts"], "int32_t"),
        **parts["fields"],
        "sigmoid": const("sigmoid", fp.sigmoid_table_uint16(), "uint16_t"),
    }
    prefix = "bias64" if wide else "bias"
    fields[f"{prefix}_input"] = const("bias_input", parts["bias_in"], bias_type)
    fields[f"{prefix}_recurrent"] = const("bias_recurrent", parts["bias_rec"], bias_type)
    return KernelCall(
        kernel="pb_lstm",
        function="pb_lstm_s16" if wide else "pb_lstm_s8",
        struct="pb_lstm_params_t",
        fields=fields,
        inputs=[op.inputs[INPUT], op.inputs[HIDDEN], op.inputs[CELL]],
        outputs=[op.outputs[0]],
        macs=parts["macs"],
    )
