"""Resource variables: VAR_HANDLE, READ_VARIABLE, ASSIGN_VARIABLE and CALL_ONCE, as streaming
models keep state between invocations.

Each variable becomes a variable tensor of the state area (compiler/resource_variables.py),
reset as TFLite Micro resets it: to the zero point of the value assigned to it. CALL_ONCE's
initializer is evaluated at generation time; the generated code writes its values on the
first run after start-up and never again, so after a reset the variables hold their zero
point, as in TFLite Micro. Every comparison runs consecutive invocations on both sides.

Streaming models come from TensorFlow's converter (a tf.Module with tf.Variable state,
converted from its concrete function); the cases it cannot write are written directly.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from builders import cache_root
from conftest import assert_bit_exact

from protobrain.codegen.render import render
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import UnsupportedError
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

FRAMES, FEATURES = 4, 3


def _names(data: bytes) -> list[str]:
    g = read_model_bytes(data)
    return [op.name for sub in [g, *g.subgraphs] for op in sub.operators]


def check(data: bytes, name: str, n_random: int = 12, seed: int = 0) -> None:
    """Both kernel tiers against TFLite Micro from reset over consecutive invocations, then
    again after a reset that follows those runs. Each compilation has its own name, so its
    library (and its start-up state) is its own, like a fresh interpreter."""
    for tier in ("portable", "dsp"):
        compiled = compile_bytes(data, f"{name}_{tier}", tier=tier)
        reference = Reference(data)
        assert_bit_exact(compiled, reference, n_random=n_random, seed=seed)
        assert_bit_exact(compiled, reference, n_random=n_random, seed=seed + 1)


# ---- streaming models through TensorFlow's converter -------------------------------------


def _streaming(kind: str, mode: str, quantize_variables: bool) -> bytes:
    """A tf.Module keeping the last FRAMES input frames in a tf.Variable (initially 0.5, so
    the initializer and the reset value differ), converted with a representative dataset."""
    key = f"variables-1|{kind}|{mode}|{quantize_variables}"
    path = cache_root() / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.tflite"
    if path.exists():
        return path.read_bytes()
    import tensorflow as tf

    rng = np.random.default_rng(0)
    w1 = rng.normal(0, 0.4, (FRAMES * FEATURES, 6)).astype(np.float32)
    w2 = rng.normal(0, 0.4, (3, 6, 5)).astype(np.float32)

    class Stream(tf.Module):
        def __init__(self):
            super().__init__()
            self.frames = tf.Variable(tf.fill([1, FRAMES, FEATURES], 0.5), trainable=False)
            self.hidden = tf.Variable(tf.fill([1, 3, 6], -0.25), trainable=False)

        @tf.function(input_signature=[tf.TensorSpec([1, 1, FEATURES], tf.float32)])
        def __call__(self, x):
            frames = tf.concat([self.frames[:, 1:], x], axis=1)
            self.frames.assign(frames)
            y = tf.nn.relu(tf.matmul(tf.reshape(frames, [1, FRAMES * FEATURES]), w1))
            if kind == "dense":
                return y
            hidden = tf.concat([self.hidden[:, 1:], tf.reshape(y, [1, 1, 6])], axis=1)  # a second ring
            self.hidden.assign(hidden)
            return tf.nn.conv1d(hidden, w2, stride=1, padding="VALID")

    module = Stream()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([module.__call__.get_concrete_function()], module)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.uniform(-1, 1, (1, 1, FEATURES)).astype(np.float32)] for _ in range(32))
    if mode == "16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    conv._experimental_variable_quantization = quantize_variables
    data = conv.convert()
    path.write_bytes(data)
    return data


@pytest.mark.parametrize("kind,mode,quantized", [("dense", "int8", True), ("dense", "int8", False),
                                                  ("conv", "int8", True), ("conv", "16x8", True)])
def test_keras_streaming_model(kind, mode, quantized):
    data = _streaming(kind, mode, quantized)
    names = _names(data)
    for op in ("CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"):
        assert op in names, names
    g = read_model_bytes(data)
    assert len(g.subgraphs) == 1 and [op.name for op in g.subgraphs[0].operators].count("ASSIGN_VARIABLE") >= 1
    program = build_program(g)
    steps = [s.op.name for s in program.steps]
    assert "VAR_HANDLE" not in steps and steps.count("CALL_ONCE") == 1
    variables = [s for s in program.state if s.tensor is not None]
    assert len(variables) == (1 if kind == "dense" else 2)
    assert [s.kept for s in program.state if s.tensor is None] == [True]  # CALL_ONCE's flag
    check(data, f"stream_{kind}_{mode.replace('x', '_')}_{int(quantized)}")


def test_streaming_reads_become_the_variable_itself():
    """The ring buffer's READ_VARIABLE feeds a slice that runs before the variable is written
    again: the slice reads the variable, and no copy runs. With float variables, the
    DEQUANTIZE producing the new value writes the variable directly."""
    program = build_program(read_model_bytes(_streaming("dense", "int8", True)))
    steps = [s.op.name for s in program.steps]
    assert "READ_VARIABLE" not in steps
    var = next(s.tensor for s in program.state if s.tensor is not None)
    assert any(var in s.op.inputs for s in program.steps if s.op.name == "STRIDED_SLICE")
    program = build_program(read_model_bytes(_streaming("dense", "int8", False)))
    steps = [s.op.name for s in program.steps]
    var = next(s.tensor for s in program.state if s.tensor is not None)
    assert "ASSIGN_VARIABLE" not in steps and "READ_VARIABLE" not in steps
    assert [s.op.name for s in program.steps if var in s.op.outputs] == ["CALL_ONCE", "DEQUANTIZE"]


def test_reset_after_running_leaves_the_initializer_alone_like_tflite_micro():
    """TFLite Micro runs CALL_ONCE once per interpreter: a reset after some runs sets the
    variables to their zero point and the initializer does not run again. A reset before
    any run leaves the initializer to the first run."""
    data = _streaming("dense", "int8", True)
    compiled, reference = compile_bytes(data, "stream_reset_order"), Reference(data)
    x = np.full((1, 1, FEATURES), 60, np.int8)
    compiled.reset()
    reference.reset()
    first = [compiled.run(x) for _ in range(FRAMES)]
    assert all(np.array_equal(a, reference.run(x)) for a in first)
    compiled.reset()
    reference.reset()
    again = [compiled.run(x) for _ in range(FRAMES)]
    assert all(np.array_equal(a, reference.run(x)) for a in again)
    assert not np.array_equal(first[0], again[0]), "the initial value 0.5 and the zero point differ"
    assert np.array_equal(first[-1], again[-1]), "after FRAMES runs the ring holds inputs only"
    c = render(compiled.program)["stream_reset_order.c"]
    reset = c[c.index("_reset(void)"):c.index("PB_STEP_HOOK")]
    flag = next(s for s in compiled.program.state if s.kept)
    assert f"S({flag.offset})" not in reset and f"S({flag.offset})" in c


# ---- written models: what the converter does not write -------------------------------------


def _var(name: str, container: str | None = None) -> tuple:
    options = {"SharedName": name} if container is None else {"Container": container, "SharedName": name}
    return options


def _accumulator(zp: int = 7, dtype: str = "int8", init: np.ndarray | None = None, read_first: bool = True,
                 second_handle: bool = False) -> bytes:
    """y = x + v (READ before ASSIGN when read_first), then v := y: a running sum. With
    `init`, a CALL_ONCE sets v first; second_handle: the first VAR_HANDLE names a container,
    and the ASSIGN uses a second one naming none, which TFLite Micro takes for the same
    variable."""
    scale = 0.05 if dtype == "int8" else 1 / 1024
    zp = zp if dtype == "int8" else 0
    tensors = [
        {"shape": [1, 5], "type": dtype, "scale": scale, "zp": zp, "name": "x"},
        {"shape": [], "type": "resource", "name": "handle"},
        {"shape": [1, 5], "type": dtype, "scale": scale, "zp": zp, "name": "v"},
        {"shape": [1, 5], "type": dtype, "scale": scale, "zp": zp, "name": "y"},
        {"shape": [], "type": "resource", "name": "handle2"},
    ]
    read = ("READ_VARIABLE", [1], [2], None, {})
    add = ("ADD", [0, 2], [3], "AddOptions", {})
    ops = [("VAR_HANDLE", [], [1], "VarHandleOptions", _var("acc", "box" if second_handle else None))]
    handle = 1
    if second_handle:
        ops.append(("VAR_HANDLE", [], [4], "VarHandleOptions", _var("acc")))
        handle = 4
    assign = ("ASSIGN_VARIABLE", [handle, 3], [], None, {})
    ops += [read, add, assign] if read_first else [("ASSIGN_VARIABLE", [handle, 0], [], None, {}), read, add]
    subgraphs = ()
    if init is not None:
        ops.insert(0, ("CALL_ONCE", [], [], "CallOnceOptions", {"InitSubgraphIndex": 1}))
        init_tensors = [{"shape": [], "type": "resource", "name": "h"},
                        {"shape": [1, 5], "type": dtype, "scale": scale, "zp": zp, "data": init, "name": "init"}]
        subgraphs = [(init_tensors, [("VAR_HANDLE", [], [0], "VarHandleOptions", _var("acc")),
                                     ("ASSIGN_VARIABLE", [0, 1], [], None, {})], [], [])]
    return write_model(tensors, ops, [0], [3], subgraphs=subgraphs)


@pytest.mark.parametrize("zp", [-128, -3, 0, 9, 127])
def test_a_read_before_any_assign_gives_the_zero_point(zp):
    data = _accumulator(zp)
    program = build_program(read_model_bytes(data))
    (slot,) = program.state
    assert slot.fill == zp & 0xFF and slot.size == 5
    check(data, f"acc_zp{zp + 128}", n_random=6)


def test_int16_variable_resets_to_zero():
    check(_accumulator(dtype="int16"), "acc_int16", n_random=6)


def test_call_once_initializer_values():
    init = np.array([[-100, -1, 0, 5, 120]], np.int8)
    data = _accumulator(zp=3, init=init)
    program = build_program(read_model_bytes(data))
    once = next(s for s in program.steps if s.op.name == "CALL_ONCE")
    assert once.call.function == "pb_call_once" and once.call.state_kept
    assert np.array_equal(once.call.fields["values"].values.view(np.int8), init.reshape(-1))
    check(data, "acc_once", n_random=6)
    check(_accumulator(dtype="int16", init=np.arange(-2, 3, dtype=np.int16).reshape(1, 5) * 999), "acc_once16",
          n_random=6)


def test_assign_before_read_and_handles_naming_one_variable():
    """ASSIGN then READ in one run; a second VAR_HANDLE with the same shared name and no
    container is the same variable."""
    check(_accumulator(read_first=False), "acc_assign_first", n_random=6)
    data = _accumulator(second_handle=True)
    program = build_program(read_model_bytes(data))
    assert len([s for s in program.state if s.tensor is not None]) == 1
    check(data, "acc_two_handles", n_random=6)


def test_assigning_a_constant():
    """v := constant after y = x + v: the first run reads the zero point, later ones the
    constant (pb_variable_set)."""
    tensors = [{"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 4},
               {"shape": [], "type": "resource"},
               {"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 4},
               {"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 4},
               {"shape": [1, 5], "type": "int8", "scale": 0.05, "zp": 4, "data": np.arange(-40, 60, 20, dtype=np.int8)}]
    ops = [("VAR_HANDLE", [], [1], "VarHandleOptions", {"SharedName": "v"}), ("READ_VARIABLE", [1], [2], None, {}),
           ("ADD", [0, 2], [3], "AddOptions", {}), ("ASSIGN_VARIABLE", [1, 4], [], None, {})]
    data = write_model(tensors, ops, [0], [3])
    program = build_program(read_model_bytes(data))
    assert [s.call.function for s in program.steps if s.op.name == "ASSIGN_VARIABLE"] == ["pb_variable_set"]
    check(data, "acc_constant", n_random=4)


def _refused(data: bytes, match: str) -> None:
    with pytest.raises(UnsupportedError, match=match) as e:
        build_program(read_model_bytes(data, "refused"))
    assert "\n" not in str(e.value)


def test_refusals():
    tensors = [{"shape": [1, 5], "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [], "type": "resource"},
               {"shape": [1, 5], "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [1, 5], "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [1, 6], "type": "int8", "scale": 0.1, "zp": 0, "data": np.zeros((1, 6), np.int8)}]
    handle = ("VAR_HANDLE", [], [1], "VarHandleOptions", {"SharedName": "v"})
    read = ("READ_VARIABLE", [1], [2], None, {})
    add = ("ADD", [0, 2], [3], "AddOptions", {})
    _refused(write_model(tensors, [handle, read, add], [0], [3]), "READ_VARIABLE: reads resource variable 'v', "
             "which nothing assigns")
    _refused(write_model(tensors, [handle, ("ASSIGN_VARIABLE", [1, 4], [], None, {}), read, add], [0], [3]),
             "int8 \\(1, 6\\) but this value is int8 \\(1, 5\\)")
    # an initializer computing at run time what protobrain cannot evaluate
    sub = ([{"shape": [], "type": "resource"}, {"shape": [1, 5], "type": "int8", "scale": 0.1, "zp": 0,
                                                  "data": np.ones((1, 5), np.int8)},
            {"shape": [1, 5], "type": "int8", "scale": 1 / 128, "zp": 0}],
           [("VAR_HANDLE", [], [0], "VarHandleOptions", {"SharedName": "v"}), ("TANH", [1], [2], None, {}),
            ("ASSIGN_VARIABLE", [0, 2], [], None, {})], [], [])
    once = ("CALL_ONCE", [], [], "CallOnceOptions", {"InitSubgraphIndex": 1})
    _refused(write_model(tensors, [once, handle, read, add], [0], [3], subgraphs=[sub]),
             "TANH \\(in subgraph 1\\): a CALL_ONCE initializer computing this at run time")
    _refused(write_model(tensors, [("CALL_ONCE", [], [], "CallOnceOptions", {"InitSubgraphIndex": 3}), handle,
                                   ("ASSIGN_VARIABLE", [1, 0], [], None, {}), read, add], [0], [3]),
             "init_subgraph_index 3 names no subgraph")
    # a handle used other than by READ_VARIABLE / ASSIGN_VARIABLE
    _refused(write_model(tensors, [handle, ("ASSIGN_VARIABLE", [1, 0], [], None, {}),
                                   ("ADD", [1, 1], [3], "AddOptions", {})], [0], [3]),
             "reads the resource handle of tensor 1")
