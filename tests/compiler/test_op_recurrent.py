"""Recurrent operators: UNIDIRECTIONAL_SEQUENCE_LSTM and SVDF, and the Keras recurrent
keyword spotters users bring (LSTM, GRU).

Both operators keep state in variable tensors between invocations; check_model_bytes runs
23 inputs in a row on both sides from reset, so every case here also compares 22
consecutive invocations carrying state.

What TensorFlow 2.21's converter emits for Keras 3 recurrent layers:
- keras.layers.LSTM / GRU as written: a WHILE loop over a body subgraph, whose int8
  calibration crashes the converter (the calibrator reads a tensor the WHILE freed).
- with unroll=True: the steps as plain operators (FULLY_CONNECTED, SPLIT, UNPACK, LOGISTIC,
  TANH, MUL, ADD, SUB, STRIDED_SLICE), for int8 and 16x8.
- the fused UNIDIRECTIONAL_SEQUENCE_LSTM, for a layer whose step function carries the
  "api_implements" attribute the converter fuses (as Keras 2's LSTM did): fused_lstm().
  The converter has no 16x8 form of it; the 16x8 kernel is checked on written models.
SVDF has no Keras layer; it is checked on written models and on TFLite Micro's keyword
model (tests/verify/test_shared_models.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from builders import convert
from conftest import check_model_bytes
from recurrent_models import lstm_model, svdf_model

from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import UnsupportedError

FRAMES, FEATURES = 20, 10  # a keyword spotter's window: frames of spectral features


def _ops(data: bytes) -> list[str]:
    return [op.name for op in read_model_bytes(data).operators]


# ---- Keras models, through TensorFlow's converter ------------------------------------------


def fused_lstm(units: int, return_sequences: bool = False):
    """A Keras 3 layer that the converter turns into one UNIDIRECTIONAL_SEQUENCE_LSTM: its
    step function is a tf.function carrying the attributes the converter's LSTM fusion
    looks for (api_implements "lstm_...", time_major), taking (inputs, h0, c0, kernel,
    recurrent kernel, bias) and giving five results, like Keras 2's LSTM."""
    import keras
    import tensorflow as tf

    def standard_lstm(inputs, init_h, init_c, kernel, recurrent_kernel, bias):
        h, c, seq = init_h, init_c, []
        for x in tf.unstack(inputs, axis=1):
            z = tf.matmul(x, kernel) + tf.matmul(h, recurrent_kernel) + bias
            i, f, g, o = tf.split(z, 4, axis=1)
            c = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(g)
            h = tf.sigmoid(o) * tf.tanh(c)
            seq.append(h)
        return seq[-1], tf.stack(seq, axis=1), h, c, tf.constant(0.0)

    step = tf.function(standard_lstm, autograph=False, experimental_attributes={
        "api_implements": f"lstm_protobrain_{units}_{int(return_sequences)}", "api_preferred_device": "CPU",
        "time_major": False, "go_backwards": False})

    class FusedLSTM(keras.layers.Layer):
        def build(self, shape):
            self.kernel = self.add_weight(shape=(shape[-1], 4 * units), initializer="glorot_uniform")
            self.recurrent = self.add_weight(shape=(units, 4 * units), initializer="orthogonal")
            self.bias = self.add_weight(shape=(4 * units,), initializer="random_normal")

        def compute_output_shape(self, shape):
            return (shape[0], shape[1], units) if return_sequences else (shape[0], units)

        def call(self, x):
            zeros = tf.zeros((x.shape[0], units))
            last, seq, _, _, _ = step(x, zeros, zeros, tf.convert_to_tensor(self.kernel),
                                      tf.convert_to_tensor(self.recurrent), tf.convert_to_tensor(self.bias))
            return seq if return_sequences else last

    return FusedLSTM()


def _fused_kws(stacked: bool):
    def make():
        import keras

        x = keras.Input((FRAMES, FEATURES), batch_size=1)
        y = fused_lstm(16, return_sequences=True)(x) if stacked else x
        y = fused_lstm(12)(y)
        return keras.Model(x, keras.layers.Softmax()(keras.layers.Dense(4)(y)))

    return make


@pytest.mark.parametrize("stacked", [False, True])
def test_keras_fused_lstm_keyword_spotter(stacked):
    data = convert(_fused_kws(stacked), [(FRAMES, FEATURES)], key=f"recurrent-fused-lstm-kws-{stacked}",
                   data_range=(-2.0, 2.0))
    assert _ops(data).count("UNIDIRECTIONAL_SEQUENCE_LSTM") == (2 if stacked else 1), _ops(data)
    check_model_bytes(data, f"fused_lstm_kws{int(stacked)}")


def _unrolled_kws(layer: str):
    def make():
        import keras

        x = keras.Input((FRAMES, FEATURES), batch_size=1)
        y = getattr(keras.layers, layer)(16, unroll=True)(x)
        return keras.Model(x, keras.layers.Softmax()(keras.layers.Dense(4)(y)))

    return make


@pytest.mark.parametrize("layer,mode", [("LSTM", "int8"), ("GRU", "int8"), ("GRU", "16x8")])
def test_keras_unrolled_keyword_spotter(layer, mode):
    """keras.layers.LSTM / GRU with unroll=True: each step's gates as plain operators."""
    data = convert(_unrolled_kws(layer), [(FRAMES, FEATURES)], mode=mode, key=f"recurrent-unrolled-{layer}",
                   data_range=(-2.0, 2.0))
    ops = _ops(data)
    assert ops.count("FULLY_CONNECTED") >= FRAMES and "LOGISTIC" in ops and "TANH" in ops, ops
    check_model_bytes(data, f"unrolled_{layer.lower()}_{mode}")


# ---- LSTM models written directly: the operator sweep --------------------------------------


LSTM_CASES = {
    "int8": {},
    "int8_time_major": {"time_major": True, "batches": 2, "steps": 4},
    "int8_batches": {"batches": 3, "steps": 3},
    "int8_hidden_zero_point": {"hidden_zp": 5, "input_zp": 20, "seed": 1},
    "int8_tight_clip": {"cell_clip": 0.3, "seed": 2},
    "int8_no_clip": {"cell_clip": 0.0, "seed": 3},
    "int8_cell_2^-10": {"cell_power": -10, "seed": 4},
    "int8_cell_2^-14": {"cell_power": -14, "seed": 5},
    "int8_wide_layer": {"depth": 33, "units": 21, "steps": 3, "seed": 6},
    # more units than the fast tiers' pass takes (32), and an input longer than their
    # once-per-step copies hold (128 values: the general step)
    "int8_many_units": {"depth": 9, "units": 40, "steps": 3, "seed": 14},
    "int8_long_input": {"depth": 140, "units": 6, "steps": 2, "seed": 15},
    # gate multipliers above 1 (left shifts): the fast tiers requantize step by step
    "int8_large_gate_scales": {"weight_scales": [0.4, 0.5, 0.6, 0.3, 0.2, 0.5, 0.4, 0.3], "seed": 9},
    "16x8": {"dtype": "int16"},
    "16x8_time_major": {"dtype": "int16", "time_major": True, "batches": 2, "steps": 3, "seed": 7},
    "16x8_batches": {"dtype": "int16", "batches": 2, "seed": 8, "cell_clip": 1.0},
}


@pytest.mark.parametrize("case", sorted(LSTM_CASES))
def test_lstm_sweep(case):
    check_model_bytes(lstm_model(**LSTM_CASES[case]), f"lstm_{case.replace('^', '').replace('-', 'm')}")


def test_lstm_lowering_fields():
    """The cell state's power of two sets the tanh rescaling, the clip is in cell units, and
    the 16x8 form takes int64 biases."""
    prog = build_program(read_model_bytes(lstm_model(cell_power=-10, cell_clip=0.5), "l"))
    call = prog.steps[0].call
    assert call.function == "pb_lstm_s8" and call.fields["cell_tanh_mult"] == 12 and call.fields["cell_tanh_shift"] == 0
    assert call.fields["cell_clip"] == 512 and call.fields["bias64_input"] == "NULL"
    assert call.scratch_bytes == 0 and call.macs == 5 * 4 * 9 * (7 + 9)
    prog = build_program(read_model_bytes(lstm_model(cell_power=-14, cell_clip=0.0, dtype="int16"), "l"))
    call = prog.steps[0].call
    assert call.function == "pb_lstm_s16" and (call.fields["cell_tanh_mult"], call.fields["cell_tanh_shift"]) == (3, 2)
    assert call.fields["cell_clip"] == -1 and call.fields["bias_input"] == "NULL"
    assert {s.tensor for s in prog.state} == {13, 14}, "both states live in the state area"


LSTM_REFUSALS = {
    "peephole": ({"extra": (9, {"shape": (9,), "type": "int16", "scale": 0.01, "zp": 0,
                                "data": np.ones(9, np.int16)})}, "peephole, projection and layer-norm"),
    "cifg": ({"omit": (1,)}, "every gate needs its weights and bias"),
    "relu_cell": ({"activation": 1}, "cell activation RELU"),
    "hidden_not_variable": ({"hidden_variable": False}, "must be variable tensors"),
    "int16_with_int32_bias": ({"dtype": "int16", "bias_type": "int32"}, "biases must be constant int64"),
    "int16_bias_overflows": ({"dtype": "int16", "bias_fill": 2**60}, "int64 requantization overflows"),
    "per_channel": ({"weight_scales": [[0.004] * 9] + [0.005] * 7}, "per-channel LSTM weights"),
}


@pytest.mark.parametrize("case", sorted(LSTM_REFUSALS))
def test_lstm_refusals(case):
    kwargs, reason = LSTM_REFUSALS[case]
    with pytest.raises(UnsupportedError, match=reason):
        build_program(read_model_bytes(lstm_model(**kwargs), "l"))


# ---- SVDF models written directly ----------------------------------------------------------


SVDF_CASES = {
    "int8_rank1": {},
    "int8_rank2": {"rank": 2, "seed": 1},
    "int8_batches": {"batches": 2, "rank": 2, "seed": 2},
    "int8_memory1": {"memory": 1, "seed": 3},
    "int8_no_activation": {"activation": 0, "output_zp": 3, "state_zp": 60, "seed": 4},
    "int8_chain": {"layers": 3, "units": 8, "seed": 5},
    "int16_state": {"state": "int16", "seed": 6, "output_zp": 0},
    # the feature scale above 1 (a left shift): the fast tiers requantize step by step
    "int8_feature_scale_up": {"state_scale": 0.0004, "state_zp": 0, "seed": 8},
    "int16_state_rank3_batches": {"state": "int16", "rank": 3, "batches": 2, "seed": 7},
    # memories of whole words: the DSP tier's one-pass state rotation (memory 8 and 32 at
    # rank 1 unrolled, the others its general loop), filters not a multiple of four
    "int8_memory8": {"memory": 8, "units": 7, "seed": 9},
    "int8_memory32_batches": {"memory": 32, "units": 5, "batches": 2, "seed": 10},
    "int8_memory12_rank3_batches": {"memory": 12, "rank": 3, "batches": 2, "units": 3, "seed": 11},
    "int8_memory4_rank2": {"memory": 4, "rank": 2, "state_zp": 100, "seed": 12},
}


@pytest.mark.parametrize("case", sorted(SVDF_CASES))
def test_svdf_sweep(case):
    check_model_bytes(svdf_model(**SVDF_CASES[case]), f"svdf_{case}")


def test_svdf_state_lives_in_the_state_area():
    prog = build_program(read_model_bytes(svdf_model(layers=2, state_zp=-40), "s"))
    assert [s.size for s in prog.state] == [30, 30] and {s.fill for s in prog.state} == {-40 & 0xFF}
    assert [s.call.function for s in prog.steps] == ["pb_svdf_s8", "pb_svdf_s8"]


SVDF_REFUSALS = {
    "no_bias": ({"bias": False}, "no bias"),
    "state_not_variable": ({"state_variable": False}, "must be a variable tensor"),
    "bias_scale": ({"bias_scale_factor": 3.0}, "bias scale"),
    "int16_input": ({"input_type": "int16"}, "input type int16"),
}


@pytest.mark.parametrize("case", sorted(SVDF_REFUSALS))
def test_svdf_refusals(case):
    kwargs, reason = SVDF_REFUSALS[case]
    with pytest.raises(UnsupportedError, match=reason):
        build_program(read_model_bytes(svdf_model(**kwargs), "s"))


# ---- the fast tiers' forms -----------------------------------------------------------------


@pytest.mark.parametrize("tier,block", [("dsp", 4), ("mve", 16)])
def test_fast_tiers_take_the_int8_lstm_and_svdf_with_their_rows_packed(tier, block):
    """Each unit's four gate rows interleaved block by block, zero-padded to the tier's block, with
    the portable lowering's constants in the same order; the 16x8 LSTM stays portable. (The
    DSP form runs in every sweep case above through its plain C; both run on their cores
    in tests/verify/test_fast_tiers_on_device.py.)"""
    graph = read_model_bytes(lstm_model(depth=7, units=9), "l")
    portable = build_program(graph).steps[0].call.fields
    call = build_program(graph, tier=tier).steps[0].call
    assert call.tier == tier and call.function.endswith("lstm_s8") and call.scratch_bytes == 0
    f = call.fields
    assert f["input_words"] * 4 == -(-7 // block) * block and f["unit_words"] * 4 == -(-9 // block) * block
    blocks = np.asarray(f["w_input"].values, "<i4").view(np.int8).reshape(9, -1, 4, block)  # interleaved
    rows = blocks.transpose(0, 2, 1, 3).reshape(9, 4, -1)
    stacked = np.asarray(portable["w_input"].values).reshape(4, 9, 7)
    assert np.array_equal(rows[:, :, :7], stacked.transpose(1, 0, 2)) and not rows[:, :, 7:].any()
    bias = np.asarray(f["bias"].values).reshape(9, 2, 4)
    assert np.array_equal(bias[:, 0, :], np.asarray(portable["bias_input"].values).reshape(4, 9).T)
    assert f["fast"] == 1, "right shifts and small accumulators: one rounded high multiply each"
    large = lstm_model(**LSTM_CASES["int8_large_gate_scales"])
    assert build_program(read_model_bytes(large, "l"), tier=tier).steps[0].call.fields["fast"] == 0
    assert build_program(read_model_bytes(lstm_model(dtype="int16"), "l"), tier=tier).steps[0].call.tier == "portable"
    for state in ("int8", "int16"):
        svdf = build_program(read_model_bytes(svdf_model(state=state, units=5, rank=1), "s"), tier=tier).steps[0].call
        assert svdf.tier == tier and svdf.function.startswith("pb_fast_")
        assert len(svdf.fields["feature_bias"].values) == 8, "5 filters padded to 8"
        # int16 state times int16 time weights: no bound keeps 2 * acc within int32 here
        assert svdf.fields["fast"] == (state == "int8")
    up = build_program(read_model_bytes(svdf_model(**SVDF_CASES["int8_feature_scale_up"]), "s"), tier=tier)
    assert up.steps[0].call.fields["fast"] == 0 and up.steps[0].call.fields["fast_feature"] == 0


def test_dsp_svdf_one_pass_form_takes_int16_time_weights():
    """With int16 rows, the DSP tier's one-pass SVDF (memory of whole words, int8 state) takes
    its time weights as int16 in SXTB16's order in place of the int8 ones; other shapes keep
    the int8 time weights."""
    def fields(case):
        graph = read_model_bytes(svdf_model(**SVDF_CASES[case]), "s")
        return build_program(graph).steps[0].call.fields, build_program(graph, tier="dsp", optimize="speed").steps[0].call.fields

    portable, f = fields("int8_memory8")
    wide = np.asarray(f["w_time_wide"].values, "<i4").view("<i2").reshape(-1, 4)[:, [0, 2, 1, 3]]
    assert np.array_equal(wide.reshape(-1), np.asarray(portable["w_time"].values)) and f["w_time"] == "NULL"
    for case in ("int8_rank1", "int16_state"):  # memory 5; an int16 state
        assert "w_time_wide" not in fields(case)[1]


WIDE_CASES = [("lstm", c) for c in LSTM_CASES if not c.startswith("16x8")] + [("svdf", c) for c in SVDF_CASES]


@pytest.mark.parametrize("op,case", WIDE_CASES)
def test_dsp_tier_int16_rows_bit_exact(op, case):
    """The DSP tier's int16 form of the LSTM's and SVDF's rows (--optimize speed: pb_dsp_dot4_wide,
    the rows' values 0, 2, 1, 3 of each word as int16) against TFLite Micro, through its plain C
    on the host; the sweeps above run the int8 form."""
    from conftest import RecordedReference, assert_bit_exact

    from protobrain.run.host import CompiledModel, build_shared_library
    from protobrain.verify.reference import Reference

    data = lstm_model(**LSTM_CASES[case]) if op == "lstm" else svdf_model(**SVDF_CASES[case])
    name = f"wide_{op}_{case.replace('^', '').replace('-', 'm')}"
    prog = build_program(read_model_bytes(data, name), tier="dsp", optimize="speed")
    calls = [s.call for s in prog.steps if s.call is not None and s.call.tier == "dsp"]
    assert calls and all(c.fields["wide"] == 1 for c in calls)
    call = calls[0]
    words = call.fields["input_words"]
    assert words == 2 * -(-call.fields["input_size"] // 4), "int16 rows: two words per four values"
    assert_bit_exact(CompiledModel(prog, build_shared_library(prog, f"<{name}>")), RecordedReference(Reference(data)))


_ACTIVATION_HARNESS = r"""
#include <stdio.h>
#include "pb_lstm.c"
int main(void)
{
    static const uint16_t table[257] = {%(table)s};
    static const int32_t sw[384] = {%(sigmoid)s}, tw[512] = {%(tanh)s};
    long bad = 0;
    int32_t v;
    for (v = -32768; v <= 32767; ++v) {
        bad += pb_dsp_lstm_sigmoid(sw, v) != pb_lstm_sigmoid(table, v);
    }
    for (v = -400000; v <= 400000; ++v) {
        bad += pb_dsp_lstm_tanh(tw, v) != pb_lstm_tanh(table, v, 1, 0);
    }
    printf("%%ld\n", bad);
    return 0;
}
"""


def test_dsp_lstm_activation_words_match_the_portable_interpolation(tmp_path):
    """The DSP tier's sigmoid and tanh by SMLAD words (--optimize speed) against the portable
    kernel's pb_lstm_sigmoid / pb_lstm_tanh on every int16 input and on tanh inputs well past
    its saturated ends, through the plain C on the host."""
    import subprocess

    from protobrain.compiler.fixedpoint import sigmoid_table_uint16
    from protobrain.compiler.ops.tiers.recurrent import lstm_activation_words
    from protobrain.resources import kernels_dir

    nodes = np.append(sigmoid_table_uint16(), 0xFFFF)
    fmt = lambda a: ", ".join(str(int(x)) for x in a)  # noqa: E731
    src = tmp_path / "harness.c"
    src.write_text(_ACTIVATION_HARNESS % {"table": fmt(nodes), "sigmoid": fmt(lstm_activation_words(nodes, -192, 191)),
                                          "tanh": fmt(lstm_activation_words(nodes, -256, 255))})
    exe = tmp_path / "harness"
    subprocess.run(["cc", "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-Wno-unused-function",
                    f"-I{kernels_dir() / 'dsp'}", f"-I{kernels_dir()}", str(src), "-o", str(exe)], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.strip() == "0"
