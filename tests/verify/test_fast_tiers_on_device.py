"""The fast kernel tiers on the simulated cores they are made for, over serial, against
TensorFlow Lite Micro: the DSP tier on the Cortex-M4 (qemu-mps2-an386) and Helium on the
Cortex-M55 (qemu-mps3-an547). These are the configurations BENCHMARKS.md publishes and
`build` picks by default on those cores.

- every shared reference model, a handful of inputs each (random, all-min, all-max, zeros);
- a model of residual ADDs built here, so the lookup-table ADD's Arm-only paths (SMMULR,
  USAT, SSAT) run on each tier even where ../shared/models is absent;
- a kernel with one rounding constant corrupted (tests/helpers/devices.py) must make the same
  check fail: the check can see a kernel bug;
- the recurrent models (TFLite Micro's LSTM and SVDF keyword models, and an LSTM and SVDF
  net written here) over consecutive invocations from the firmware's start, their state
  carried on the device as in TFLite Micro, then every layer over a few more."""

import numpy as np
import pytest
from conftest import SHARED_MODEL_NAMES, RecordedReference, shared_model
from conftest import needs_simulator as needs
from devices import corrupt_kernels, pack, running_firmware, verify_on_device
from recurrent_models import lstm_model, svdf_model
from unary_models import one_op

from protobrain.compiler.ops.tiers.add_lut import ADD_LUT_FAST, ADD_LUT_FAST_FULL
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model, read_model_bytes
from protobrain.verify import compare
from protobrain.verify.layers import capture_layers
from protobrain.verify.reference import Reference

FAST_BOARDS = {"dsp": "qemu-mps2-an386", "mve": "qemu-mps3-an547"}
N_RANDOM = 3  # random inputs per model, besides the three edge inputs
MLPERF_TINY = {"kws_ref_model", "vww_96_int8", "pretrainedresnet_quant", "ad01_int8"}  # graph names


@pytest.fixture(params=sorted(FAST_BOARDS))
def tier(request):
    return request.param


def _program(graph, board, tier):
    """What `protobrain build --board BOARD` generates: the tier, and the board's flash as budget."""
    prog = build_program(graph, tier=tier, flash_budget=board.flash.length)
    assert prog.tier == tier
    return prog


def test_reference_models_bit_exact_on_the_fast_tier(tier, tmp_path):
    board = needs(FAST_BOARDS[tier])
    paths = {}
    for name in SHARED_MODEL_NAMES:
        try:
            paths[name] = shared_model(name)
        except pytest.skip.Exception:
            pass
    if not paths:
        pytest.skip("no reference model found (set PROTOBRAIN_MODELS to the folder of the MLPerf Tiny / TFLite Micro models)")
    by_graph = {}
    for name, path in paths.items():
        prog = _program(read_model(path), board, tier)
        by_graph[prog.graph.name] = (prog, path)
    groups = pack(board, [prog for prog, _ in by_graph.values()])
    checked = []
    for k, group in enumerate(groups):
        blobs = [by_graph[p.graph.name][1].read_bytes() for p in group]
        with running_firmware(board, group, blobs, tmp_path / f"fw{k}") as dev:
            for prog in group:
                result = verify_on_device(dev, Reference(by_graph[prog.graph.name][1]), prog, N_RANDOM, seed=k)
                assert result.ok, (f"{prog.graph.name} on {board.name} ({tier} kernels): first mismatch "
                                   f"{result.mismatches[0]}")
                assert result.cases == N_RANDOM + 3
                checked.append(prog.graph.name)
    # The M4 and M55 boards hold every reference model: none may drop out of the check.
    assert sorted(checked) == sorted(by_graph), f"not checked on {board.name}: {set(by_graph) - set(checked)}"
    # The MLPerf Tiny models run the tier's own kernels (micro_speech's depthwise layer with a
    # depth multiplier, and hello_world's tiny layers, may stay portable).
    mlperf = [prog for prog, _ in by_graph.values() if prog.graph.name in MLPERF_TINY]
    assert all(_tier_kernels(prog, tier) for prog in mlperf), {prog.graph.name: prog.kernels() for prog in mlperf}


def _tier_kernels(prog, tier) -> list[tuple[str, str]]:
    """The program's convolution kernels of the tier's own folder (templates/kernels/<tier>/:
    the matrix multiply and the depthwise convolution; the ADD, on Helium too, is DSP's)."""
    return [(t, family) for t, family in prog.kernels() if t == tier and family in ("pb_conv", "pb_depthwise_conv")]


def residual_net_bytes() -> bytes:
    """A small int8 ResNet-style block stack: convolutions whose outputs are added back to
    their inputs. A ReLU after an ADD clamps nothing int8 does not (its output's zero point
    is -128): the full-range FAST form (SSAT). A clip to [-1, 1] clamps inside int8: the
    clamped FAST form (USAT)."""
    from builders import convert

    def make():
        import keras
        import tensorflow as tf

        L = tf.keras.layers
        x = tf.keras.Input((8, 8, 8), batch_size=1)
        a = L.Conv2D(8, 3, padding="same", activation="relu")(x)
        a = L.Conv2D(8, 3, padding="same")(a)
        y = L.ReLU()(L.Add()([x, a]))  # residual, ReLU fused into the ADD
        b = L.DepthwiseConv2D(3, padding="same", activation="relu")(y)
        b = L.Conv2D(8, 1)(b)
        z = keras.ops.clip(L.Add()([y, b]), -1.0, 1.0)  # residual, RELU_N1_TO_1 fused
        z = L.GlobalAveragePooling2D()(z)
        return tf.keras.Model(x, L.Dense(4)(z))

    return convert(make, [(8, 8, 8)], key="residual-net-relu-and-clip", data_range=(-2.0, 2.0))


def _lut_modes(prog) -> set[int]:
    return {int(s.call.fields["mode"]) for s in prog.steps
            if s.call is not None and s.call.function == "pb_add_lut_s8"}


@pytest.fixture(scope="module")
def residual_net():
    data = residual_net_bytes()
    return data, RecordedReference(Reference(data))


def test_residual_adds_bit_exact_on_the_fast_tier(tier, residual_net, tmp_path):
    board = needs(FAST_BOARDS[tier])
    data, reference = residual_net
    prog = _program(read_model_bytes(data, "residual_net"), board, tier)
    assert {ADD_LUT_FAST, ADD_LUT_FAST_FULL} <= _lut_modes(prog), _lut_modes(prog)
    assert _tier_kernels(prog, tier), prog.kernels()
    with running_firmware(board, [prog], [data], tmp_path / "fw") as dev:
        result = verify_on_device(dev, reference, prog, n_random=20, seed=7)
    assert result.ok, f"residual_net on {board.name} ({tier} kernels): first mismatch {result.mismatches[0]}"
    assert result.cases == 23


def test_a_corrupted_rounding_constant_fails_the_device_check(tier, residual_net, tmp_path, monkeypatch):
    board = needs(FAST_BOARDS[tier])
    corrupt_kernels(monkeypatch, tmp_path, tier)
    data, reference = residual_net
    prog = _program(read_model_bytes(data, "residual_net"), board, tier)
    with running_firmware(board, [prog], [data], tmp_path / "fw") as dev:
        result = verify_on_device(dev, reference, prog, n_random=20, seed=7)
    assert not result.ok, f"the {tier} kernels with a corrupted rounding constant still matched TFLite Micro"


def test_a_corrupted_rounding_constant_fails_protobrain_bench(tier, residual_net, tmp_path, monkeypatch):
    """`protobrain bench` passes on the residual net with the real kernels and fails, naming
    the model and a differing value, with the corrupted ones."""
    from click.testing import CliRunner
    from conftest import needs_instruction_counter

    from protobrain.cli.main import main

    board = needs_instruction_counter(FAST_BOARDS[tier])
    data, _ = residual_net
    model = tmp_path / "residual_net.tflite"
    model.write_bytes(data)

    def bench(out):
        return CliRunner().invoke(main, ["bench", str(model), "-b", board.name, "--kernels", tier,
                                         "-o", str(tmp_path / out), "-n", "4"])

    clean = bench("clean")
    assert clean.exit_code == 0, clean.output
    corrupt_kernels(monkeypatch, tmp_path, tier)
    r = bench("corrupted")
    assert r.exit_code == 1, r.output
    assert f"residual_net on {board.name} ({tier} kernels) is not bit-exact" in r.stderr
    assert "protobrain " in r.stderr and "vs TFLite Micro" in r.stderr


RECURRENT = ("trained_lstm_int8", "keyword_scrambled_8bit")
RECURRENT_OPS = ("UNIDIRECTIONAL_SEQUENCE_LSTM", "SVDF")
N_CONSECUTIVE = 12  # random invocations in a row, then the three edge inputs
N_LAYER_WALKS = 3  # then invocations compared layer by layer, state carried on


def _recurrent_on_device(dev, prog, reference) -> None:
    """N_CONSECUTIVE + 3 invocations from the firmware's start (the model's state starts
    reset, as TFLite Micro's), outputs compared; then N_LAYER_WALKS more, every layer
    compared (the keyword model's output saturates; its layers show more)."""
    result = verify_on_device(dev, reference, prog, N_CONSECUTIVE, seed=3)
    assert result.ok, f"{prog.graph.name} ({prog.tier} kernels): first mismatch {result.mismatches[0]}"
    assert result.cases == N_CONSECUTIVE + 3
    index = dev.model_index(prog.graph.name)
    outputs = [t for s in prog.steps for t in s.op.outputs]
    for k, xs in enumerate(compare.test_inputs([prog.graph.tensors[i] for i in prog.graph.inputs], N_LAYER_WALKS, 4)
                           [:N_LAYER_WALKS]):
        ours = capture_layers(prog, xs, lambda off, data: dev.write_arena(index, off, data),
                              lambda step: dev.run_steps(index, step, step + 1),
                              lambda off, n: dev.read_arena(index, off, n))
        theirs = reference.run_layers(*xs)
        for t in outputs:
            if t in ours:
                assert ours[t].tobytes() == np.asarray(theirs[t]).astype(ours[t].dtype).tobytes(), (
                    f"{prog.graph.name} ({prog.tier} kernels): layer walk {k}, tensor {t} differs")


def _recurrent_calls_on_tier(prog, tier) -> None:
    calls = [s.call for s in prog.steps if s.op.name in RECURRENT_OPS]
    assert calls and all(c.tier == tier for c in calls), [(c.function, c.tier) for c in calls]


def test_recurrent_reference_models_over_consecutive_invocations_on_the_fast_tier(tier, tmp_path):
    board = needs(FAST_BOARDS[tier])
    paths = [shared_model(name) for name in RECURRENT]
    progs = [_program(read_model(p), board, tier) for p in paths]
    for prog in progs:
        _recurrent_calls_on_tier(prog, tier)
    with running_firmware(board, progs, [p.read_bytes() for p in paths], tmp_path / "fw") as dev:
        for prog, path in zip(progs, paths):
            _recurrent_on_device(dev, prog, Reference(path, preserve_all_tensors=True))


# weight scales whose gate requantizations all shift right (the DSP tier's assembly finish)
RIGHT = [0.004, 0.005, 0.0045, 0.0055, 0.006, 0.004, 0.005, 0.007]


def test_recurrent_nets_over_consecutive_invocations_on_the_fast_tier(tier, tmp_path):
    """Written here, so they run without ../shared: a time-major LSTM with two batches and a
    non-zero hidden zero point, an LSTM whose gate layers scale up (requantized step by step
    on the fast tiers too), LSTMs with more units than one pass takes, with an input too
    long for the once-per-step copies, and with one and two vectors of input and hidden state
    (the Helium tier's unrolled forms), with no cell clip and with one most cells reach,
    and chains of SVDFs with int8 and int16 state and rank 2,
    and with memories of whole words (the DSP tier's one-pass state rotation), with more
    filters than the DSP tier's feature routine takes per call (132) and an input longer than
    it takes at all (140)."""
    board = needs(FAST_BOARDS[tier])
    blobs = {"rnn_lstm": lstm_model(time_major=True, batches=2, steps=4, depth=21, units=18, hidden_zp=3, seed=9),
             "rnn_lstm_exact": lstm_model(weight_scales=[0.4, 0.5, 0.6, 0.3, 0.2, 0.5, 0.4, 0.3], seed=12),
             "rnn_lstm_many": lstm_model(steps=3, depth=9, units=40, seed=14),
             "rnn_lstm_long": lstm_model(steps=2, depth=140, units=6, seed=15),
             "rnn_lstm_2x1": lstm_model(steps=3, depth=20, units=12, seed=18),
             "rnn_lstm_1x2": lstm_model(steps=3, depth=5, units=17, seed=19),
             "rnn_lstm_no_clip": lstm_model(steps=4, depth=12, units=10, cell_clip=0.0, weight_scales=RIGHT, seed=22),
             "rnn_lstm_tight_clip": lstm_model(steps=4, depth=12, units=10, cell_clip=0.3, weight_scales=RIGHT,
                                               seed=23),
             "rnn_svdf8": svdf_model(layers=2, rank=2, units=7, depth=37, seed=10),
             "rnn_svdf16": svdf_model(state="int16", rank=2, units=6, depth=19, seed=11, output_zp=0),
             "rnn_svdf_m8": svdf_model(layers=2, memory=8, units=7, depth=21, seed=16),
             "rnn_svdf_m12": svdf_model(layers=2, rank=3, memory=12, units=3, depth=23, seed=17),
             "rnn_svdf_many": svdf_model(memory=8, rank=4, units=33, depth=50, seed=20),
             "rnn_svdf_long": svdf_model(memory=8, units=5, depth=140, seed=21)}
    progs = [_program(read_model_bytes(data, name), board, tier) for name, data in blobs.items()]
    for prog in progs:
        _recurrent_calls_on_tier(prog, tier)
    with running_firmware(board, progs, list(blobs.values()), tmp_path / "fw") as dev:
        for prog, data in zip(progs, blobs.values()):
            _recurrent_on_device(dev, prog, Reference(data, preserve_all_tensors=True))


# QUANTIZE int16 -> int8/int16 (Helium: pb_quantize.c, four values a vector): zero points on
# both sides, a left shift (scale ratio 4.5), a long right shift (2^-17), a tail of 3 values
REQUANT16 = [
    (("int16", [1, 4096], 0.00031, 77), ("int8", [1, 4096], 0.011, -9)),
    (("int16", [1, 4096], 0.0009, -5), ("int16", [1, 4096], 0.0002, 300)),
    (("int16", [1, 4096], 0.0009, 0), ("int8", [1, 4096], 0.0009 * 2.0 ** 17 * 1.3, 11)),
    (("int16", [1, 2051], 0.0003, 0), ("int16", [1, 2051], 0.00017, 0)),
]


def test_int16_requantization_bit_exact_on_the_fast_tier(tier, tmp_path):
    board = needs(FAST_BOARDS[tier])
    blobs = {f"requant16_{i}": one_op("QUANTIZE", inp, out) for i, (inp, out) in enumerate(REQUANT16)}
    progs = [_program(read_model_bytes(data, name), board, tier) for name, data in blobs.items()]
    kernel = f"pb_fast_{tier}_requantize_s16"
    assert all(prog.steps[0].call.function.startswith(kernel) for prog in progs)
    with running_firmware(board, progs, list(blobs.values()), tmp_path / "fw") as dev:
        for prog, data in zip(progs, blobs.values()):
            result = verify_on_device(dev, RecordedReference(Reference(data, arena_size=1 << 20)), prog, n_random=3, seed=5)
            assert result.ok, f"{prog.graph.name} on {board.name} ({tier}): first mismatch {result.mismatches[0]}"
