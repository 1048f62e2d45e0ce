"""Recurrent models written directly (protobrain.compiler.writer): one LSTM or a chain of
SVDFs with random weights of realistic scale, for the operator sweep
(tests/compiler/test_op_recurrent.py) and the fast tiers on their cores
(tests/verify/test_fast_tiers_on_device.py). TensorFlow's converter makes no SVDF and no
16x8 LSTM, and only batch-major LSTMs from Keras."""

from __future__ import annotations

import numpy as np

from protobrain.compiler.writer import write_model


def lstm_model(batches=1, steps=5, depth=7, units=9, time_major=False, dtype="int8", input_zp=-7, hidden_zp=0,
               cell_power=-11, cell_clip=10.0, seed=0, activation=4, omit=(), extra=None, hidden_variable=True,
               bias_type=None, weight_scales=None, bias_fill=None) -> bytes:
    """One UNIDIRECTIONAL_SEQUENCE_LSTM with random weights of realistic scale."""
    rng = np.random.default_rng(seed)
    wide = dtype == "int16"
    shape = (steps, batches, depth) if time_major else (batches, steps, depth)
    out_shape = shape[:2] + (units,)
    s_x, s_h = 0.02 if not wide else 1 / 4096, 1 / 128 if not wide else 1 / 32768
    zp_x, zp_h = (input_zp, hidden_zp) if not wide else (0, 0)
    bias_type = bias_type or ("int64" if wide else "int32")
    tensors = [{"shape": shape, "type": dtype, "scale": s_x, "zp": zp_x, "name": "input"}]
    for k in range(8):
        cols = depth if k < 4 else units
        scale = weight_scales[k] if weight_scales else float(rng.uniform(0.003, 0.008))
        tensors.append({"shape": (units, cols), "type": "int8", "scale": scale, "zp": 0,
                        "data": rng.integers(-127, 128, (units, cols)).astype(np.int8)})
    for k in range(4):
        s_b = s_x * float(np.atleast_1d(tensors[1 + k]["scale"])[0])
        tensors.append({"shape": (units,), "type": bias_type, "scale": s_b, "zp": 0,
                        "data": (rng.integers(-3000, 3000, units) if bias_fill is None else np.full(units, bias_fill))
                        .astype(np.int64 if bias_type == "int64" else np.int32)})
    tensors.append({"shape": (batches, units), "type": dtype, "scale": s_h, "zp": zp_h, "variable": hidden_variable,
                    "name": "hidden"})
    tensors.append({"shape": (batches, units), "type": "int16", "scale": 2.0**cell_power, "zp": 0, "variable": True,
                    "name": "cell"})
    tensors.append({"shape": out_shape, "type": dtype, "scale": s_h, "zp": zp_h, "name": "output"})
    ins = [0, 1, 2, 3, 4, 5, 6, 7, 8, -1, -1, -1, 9, 10, 11, 12, -1, -1, 13, 14, -1, -1, -1, -1]
    for i in omit:
        ins[i] = -1
    if extra is not None:  # (operand position, tensor): e.g. a peephole weight
        tensors.append(extra[1])
        ins[extra[0]] = len(tensors) - 1
    options = {"FusedActivationFunction": activation, "CellClip": cell_clip, "ProjClip": 0.0,
               "TimeMajor": time_major, "AsymmetricQuantizeInputs": False}
    return write_model(tensors, [("UNIDIRECTIONAL_SEQUENCE_LSTM", ins, [15], "UnidirectionalSequenceLSTMOptions",
                                  options)], [0] if hidden_variable else [0, 13], [15])


def svdf_model(batches=1, depth=12, units=6, rank=1, memory=5, state="int8", input_zp=-10, state_zp=-40,
               output_zp=-128, activation=1, seed=0, layers=1, bias=True, state_variable=True,
               bias_scale_factor=1.0, input_type="int8", state_scale=None) -> bytes:
    """`layers` SVDFs in a chain, random weights; the state's zero point far from 0 makes the
    int8 state wrap when the zero point is added to a clamped value, as TFLite Micro's does."""
    rng = np.random.default_rng(seed)
    filters = units * rank
    wide = state == "int16"
    tensors = [{"shape": (batches, depth), "type": input_type, "scale": 0.05, "zp": input_zp, "name": "input"}]
    ops, graph_inputs = [], [0]
    x, width = 0, depth
    for layer in range(layers):
        s_state, s_wt = (0.02 if not wide else 0.005), (0.01 if not wide else 0.0002)
        s_state = state_scale or s_state
        base = len(tensors)
        tensors += [
            {"shape": (filters, width), "type": "int8", "scale": 0.01, "zp": 0,
             "data": rng.integers(-127, 128, (filters, width)).astype(np.int8)},
            {"shape": (filters, memory), "type": state, "scale": s_wt, "zp": 0,
             "data": rng.integers(-127 if not wide else -20000, 128 if not wide else 20000,
                                  (filters, memory)).astype(np.int16 if wide else np.int8)},
            {"shape": (units,), "type": "int32", "scale": float(np.float32(s_state) * np.float32(s_wt)) * bias_scale_factor,
             "zp": 0, "data": rng.integers(-2000, 2000, units).astype(np.int32)},
            {"shape": (batches, memory * filters), "type": state, "scale": s_state,
             "zp": state_zp if not wide else 0, "variable": state_variable, "name": f"state{layer}"},
            {"shape": (batches, units), "type": "int8", "scale": 0.1 if not wide else 2.0, "zp": output_zp,
             "name": f"out{layer}"},
        ]
        ins = [x, base, base + 1, base + 2 if bias else -1, base + 3]
        ops.append(("SVDF", ins, [base + 4], "SVDFOptions",
                    {"Rank": rank, "FusedActivationFunction": activation, "AsymmetricQuantizeInputs": False}))
        x, width = base + 4, units
        graph_inputs += [] if state_variable else [base + 3]
    return write_model(tensors, ops, graph_inputs, [x])
