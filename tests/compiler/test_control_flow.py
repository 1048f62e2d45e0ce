"""Models of several subgraphs: WHILE loops unrolled at generation time, IF with a known
condition inlined, and the refusals of both when the control depends on run-time data.

keras.layers.GRU, SimpleRNN and LSTM over a fixed sequence length (batch 1) convert to a
WHILE loop whose condition compares a counter with a constant; protobrain unrolls it and
compares every output with TFLite Micro running the loop. (A stacked layer returning its
sequence writes the body's tensor-list update with dynamic shapes, which TFLite Micro does
not size; protobrain refuses those operators.) Written models cover what the
converter does not write: other trip counts, 16x8 loop values, nested loops, IF, a loop
that never runs, and the refusals.
"""

from __future__ import annotations

import contextlib
import hashlib

import numpy as np
import pytest
from builders import cache_root
from conftest import assert_bit_exact, check_model_bytes

from protobrain.compiler import control_flow
from protobrain.compiler.ops import REGISTRY
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.errors import ModelError, UnsupportedError
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

FEATURES = 6


# ---- Keras recurrent layers through TensorFlow's converter ---------------------------------


@contextlib.contextmanager
def _calibration_without_passthrough():
    """TensorFlow 2.21's calibrator crashes on a WHILE body returning one of its inputs
    unchanged (tensorflow/tensorflow#75140; keras RNNs pass the input sequence through).
    For calibration only, such outputs go through a RESHAPE; the quantized model the
    converter writes is its usual one (the extra RESHAPE is folded away)."""
    from tensorflow.lite.python import lite, schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    def break_passthrough(model_bytes):
        m = flatbuffer_utils.convert_bytearray_to_object(model_bytes)
        code = schema.OperatorCodeT()
        code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.RESHAPE
        code.version = 1
        m.operatorCodes.append(code)
        reshape = len(m.operatorCodes) - 1
        for sg in m.subgraphs:
            for op in sg.operators or []:
                c = m.operatorCodes[op.opcodeIndex]
                if max(c.builtinCode, c.deprecatedBuiltinCode) != schema.BuiltinOperator.WHILE:
                    continue
                body = m.subgraphs[op.builtinOptions.bodySubgraphIndex]
                for k, (a, b) in enumerate(zip(list(body.inputs), list(body.outputs))):
                    if a != b:
                        continue
                    shape = schema.BufferT()
                    shape.data = np.asarray(body.tensors[a].shape, np.int32).tobytes()
                    m.buffers.append(shape)
                    shape_t = schema.TensorT()
                    shape_t.shape, shape_t.type, shape_t.buffer = [len(body.tensors[a].shape)], schema.TensorType.INT32, len(m.buffers) - 1
                    copy = schema.TensorT()
                    copy.shape, copy.type, copy.buffer = list(body.tensors[a].shape), body.tensors[a].type, 0
                    body.tensors += [shape_t, copy]
                    r = schema.OperatorT()
                    r.opcodeIndex, r.inputs, r.outputs = reshape, [a, len(body.tensors) - 2], [len(body.tensors) - 1]
                    body.operators.append(r)
                    outs = list(body.outputs)
                    outs[k] = len(body.tensors) - 1
                    body.outputs = outs
        return bytes(flatbuffer_utils.convert_object_to_bytearray(m))

    original = lite._calibrator.add_intermediate_tensors
    lite._calibrator.add_intermediate_tensors = lambda model: original(break_passthrough(model))
    try:
        yield
    finally:
        lite._calibrator.add_intermediate_tensors = original


def _keras_rnn(layer: str, frames: int, units: int = 8) -> bytes:
    """Input (frames, FEATURES), batch 1 -> GRU/SimpleRNN -> Dense(4), int8 as converted."""
    key = f"control-flow-1|{layer}|{frames}|{units}"
    path = cache_root() / f"{hashlib.sha256(key.encode()).hexdigest()[:20]}.tflite"
    if path.exists():
        return path.read_bytes()
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    x = keras.Input((frames, FEATURES), batch_size=1)
    model = keras.Model(x, keras.layers.Dense(4)(getattr(keras.layers, layer)(units)(x)))
    rng = np.random.default_rng(0)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([rng.uniform(-1.5, 1.5, (1, frames, FEATURES)).astype(np.float32)]
                                           for _ in range(32))
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    conv.inference_input_type = conv.inference_output_type = tf.int8
    with _calibration_without_passthrough():
        data = conv.convert()
    path.write_bytes(data)
    return data


def _needs_lowerings(data: bytes) -> None:
    """The unrolled body's operators (GATHER picks each step's frame, SPLIT a GRU's gates)
    are other operator families; skip, naming them, where one is missing."""
    g = read_model_bytes(data)
    missing = sorted({op.name for sub in g.subgraphs for op in sub.operators} - set(REGISTRY) - {"LESS", "LOGICAL_AND"})
    if missing:
        pytest.skip(f"the loop body needs {', '.join(missing)}, not lowered yet")


@pytest.mark.parametrize("layer,frames", [("SimpleRNN", 5), ("GRU", 5), ("GRU", 16), ("LSTM", 6)])
def test_keras_recurrent_keyword_spotter(layer, frames):
    data = _keras_rnn(layer, frames)
    _needs_lowerings(data)
    g = read_model_bytes(data)
    assert [op.name for op in g.operators].count("WHILE") == 1 and len(g.subgraphs) == 2
    program = build_program(g)
    names = [s.op.name for s in program.steps]
    assert "WHILE" not in names
    # input and recurrent weights each step, then the Dense layer
    assert names.count("FULLY_CONNECTED") == 2 * frames + 1, names
    sequence = [s for s in program.steps if s.op.name == "QUANTIZE"
                and program.graph.tensors[s.op.outputs[0]].shape == (frames, 1, FEATURES)]
    assert len(sequence) == 1, "the body quantizes the whole input sequence: loop-invariant, it runs once"
    check_model_bytes(data, f"keras_{layer.lower()}_{frames}", n_random=8)


def test_unrolled_weights_are_stored_once():
    _needs_lowerings(_keras_rnn("GRU", 5))
    short, long = (build_program(read_model_bytes(_keras_rnn("GRU", n))) for n in (5, 16))
    assert len(long.steps) > 2 * len(short.steps)
    assert long.const_bytes < short.const_bytes + 2048, (short.const_bytes, long.const_bytes)


# ---- written loops ----------------------------------------------------------------------------


def _q(dtype: str, **extra) -> dict:
    q = {"type": dtype, "scale": 0.02, "zp": -5} if dtype == "int8" else {"type": dtype, "scale": 1 / 2048, "zp": 0}
    return q | extra


def _scalar(value=None, dtype="int32") -> dict:
    t = {"shape": [], "type": dtype}
    if value is not None:
        t["data"] = np.asarray(value, {"int32": np.int32, "bool": np.bool_}[dtype])
    return t


def _cond(limit: int, dynamic_limit: bool = False, dtype: str = "int8") -> tuple:
    """cond(i, n, acc, x) = i < limit (or i < n, n known only at run time)."""
    tensors = [_scalar(), _scalar(), _q(dtype, shape=[1, 4]), _q(dtype, shape=[1, 4]), _scalar(limit),
               _scalar(dtype="bool")]
    return tensors, [("LESS", [0, 1 if dynamic_limit else 4], [5], None, {})], [0, 1, 2, 3], [5]


def _body(dtype: str = "int8", x_shape=(1, 4), inner: int | None = None) -> tuple:
    """body(i, n, acc, x) = (i + 1, n, acc + x, x); with `inner`, acc + x is an inner WHILE
    (subgraphs `inner` and inner + 1) adding x twice."""
    tensors = [_scalar(), _scalar(), _q(dtype, shape=[1, 4]), _q(dtype, shape=list(x_shape)), _scalar(1),
               _scalar(), _q(dtype, shape=[1, 4]), _q(dtype, shape=[1, 4]), _scalar(0), _scalar(), _scalar(),
               _q(dtype, shape=[1, 4])]
    ops = [("ADD", [0, 4], [5], "AddOptions", {})]
    if x_shape != (1, 4):
        ops.append(("RESHAPE", [3], [7], None, {}))
        x = 7
    else:
        x = 3
    if inner is None:
        ops.append(("ADD", [2, x], [6], "AddOptions", {}))
    else:
        ops.append(("WHILE", [8, 1, 2, x], [9, 10, 6, 11], "WhileOptions",
                    {"CondSubgraphIndex": inner, "BodySubgraphIndex": inner + 1}))
    return tensors, ops, [0, 1, 2, 3], [5, 1, 6, 3]


def _loop(trips: int = 3, dtype: str = "int8", dynamic_limit: bool = False, x_shape=(1, 4), nested: bool = False,
          counter_output: bool = False) -> bytes:
    """main(x[, n]): (i, n, acc, x) = WHILE(0, n, x, x) -> acc (= x added `trips` times more)."""
    tensors = [_q(dtype, shape=[1, 4], name="x"), _scalar(0), _scalar(7) if not dynamic_limit else _scalar(),
               _scalar(), _scalar(), _q(dtype, shape=[1, 4], name="acc"), _q(dtype, shape=[1, 4]),
               _q(dtype, shape=[1, 4], name="y")]
    ops = [("WHILE", [1, 2, 0, 0], [3, 4, 5, 6], "WhileOptions", {"CondSubgraphIndex": 1, "BodySubgraphIndex": 2}),
           ("ADD", [5, 6], [7], "AddOptions", {})]
    subgraphs = [_cond(trips, dynamic_limit, dtype),
                 _body(dtype, x_shape, inner=3 if nested else None)]
    if nested:
        subgraphs += [_cond(2, dtype=dtype), _body(dtype)]
    inputs = [0, 2] if dynamic_limit else [0]
    outputs = [7, 3] if counter_output else [7]
    return write_model(tensors, ops, inputs, outputs, subgraphs=subgraphs)


@pytest.mark.parametrize("case", [
    dict(trips=3), dict(trips=1), dict(trips=0), dict(trips=4, dtype="int16"), dict(trips=2, x_shape=(4,)),
    dict(trips=2, nested=True), dict(trips=3, counter_output=True)], ids=str)
def test_written_loop(case):
    data = _loop(**case)
    program = build_program(read_model_bytes(data))
    names = [s.op.name for s in program.steps]
    assert "WHILE" not in names and "LESS" not in names
    adds = case["trips"] * (2 if case.get("nested") else 1) + 1
    assert names.count("ADD") == adds, names
    name = "loop_" + "_".join(f"{k}{v}" for k, v in case.items()).replace(", ", "_").replace("(", "").replace(")", "")
    check_model_bytes(data, name.replace(",", ""), n_random=6)


def _if(cond=None) -> bytes:
    """main(x[, c]): y = IF(c, x): then x + x, else x - x..., known or run-time condition."""
    tensors = [_q("int8", shape=[1, 4], name="x"), _scalar(cond, "bool") if cond is not None else _scalar(dtype="bool"),
               _q("int8", shape=[1, 4], name="y")]
    branch = lambda name: ([_q("int8", shape=[1, 4]), _q("int8", shape=[1, 4])],  # noqa: E731
                           [(name, [0, 0], [1], f"{name.title()}Options", {})], [0], [1])
    ops = [("IF", [1, 0], [2], "IfOptions", {"ThenSubgraphIndex": 1, "ElseSubgraphIndex": 2})]
    return write_model(tensors, ops, [0] if cond is not None else [0, 1], [2],
                       subgraphs=[branch("ADD"), branch("MUL")])


@pytest.mark.parametrize("cond", [True, False])
def test_if_with_a_known_condition_takes_its_branch(cond):
    data = _if(cond)
    names = [s.op.name for s in build_program(read_model_bytes(data)).steps]
    assert names == (["ADD"] if cond else ["MUL"])
    compiled = compile_bytes(data, f"if_{cond}")
    assert_bit_exact(compiled, Reference(data), n_random=6)


def _refused(data: bytes, match: str, error=UnsupportedError) -> str:
    with pytest.raises(error, match=match) as e:
        build_program(read_model_bytes(data, "flow"))
    assert "\n" not in str(e.value)
    return str(e.value)


def test_control_that_depends_on_run_time_data_is_refused():
    message = _refused(_loop(dynamic_limit=True), "#0 WHILE: the loop condition \\(subgraph 1\\) depends on run-time data")
    assert message.startswith("flow: ")
    _refused(_if(None), "#0 IF: the branch taken depends on run-time data")


def test_too_long_loops_are_refused(monkeypatch):
    monkeypatch.setattr(control_flow, "MAX_UNROLLED_OPERATORS", 10)
    _refused(_loop(trips=12), "more than 10")


def test_subgraph_indices_are_checked():
    tensors = [_q("int8", shape=[1, 4]), _q("int8", shape=[1, 4])]
    data = write_model(tensors, [("WHILE", [0], [1], "WhileOptions", {"CondSubgraphIndex": 0, "BodySubgraphIndex": 1})],
                       [0], [1], subgraphs=[([_q("int8", shape=[1, 4])], [], [0], [0])])
    _refused(data, "cond_subgraph_index 0 names no subgraph", ModelError)


# ---- reading several subgraphs -------------------------------------------------------------------


def test_reader_keeps_every_subgraph():
    g = read_model_bytes(_loop(nested=True), "nested")
    assert len(g.subgraphs) == 4 and g.subgraph(0) is g and g.subgraph(2) is g.subgraphs[1]
    assert [op.name for op in g.subgraph(2).operators] == ["ADD", "WHILE"]
    assert g.subgraph(2).operators[1].options == {"cond_subgraph_index": 3, "body_subgraph_index": 4}
    assert g.subgraph(3).description == "subgraph3" and g.subgraph(1).outputs == [5]
    with pytest.raises(IndexError):
        g.subgraph(5)
    # a damaged subgraph is named in the error
    tensors = [_q("int8", shape=[1, 4]), _q("int8", shape=[1, 4])]
    bad = ([_q("int8", shape=[1, 4]), _q("int8", shape=[1, 4])], [("RELU", [1], [0], None, {})], [0], [0])
    data = write_model(tensors, [("RELU", [0], [1], None, {})], [0], [1], subgraphs=[bad])
    with pytest.raises(ModelError, match="subgraph 1: operator 0 \\(RELU\\) reads tensor 1"):
        read_model_bytes(data)
