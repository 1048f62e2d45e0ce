"""Constant folding (compiler/fold.py, passes.fold_constants): shape arithmetic computed at
generation time equals what TFLite Micro computes at run time, and leaves the program.

Each operator case is a model whose only operator reads constants and writes the graph
output: the pass turns it into a CONSTANT written from flash, and TFLite Micro (or LiteRT's
reference kernels, for operators TFLite Micro has no kernel for) computes the same value
at run time from the unfolded model.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from builders import convert
from conftest import check_model_bytes

from protobrain.codegen.render import render
from protobrain.compiler import fold
from protobrain.compiler.passes import PASSES, fold_constants
from protobrain.compiler.program import build_program
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model
from protobrain.run.host import compile_bytes
from protobrain.verify.reference import Reference

SHAPE_OPS = {"SHAPE", "PACK", "STRIDED_SLICE"}


def names(data: bytes) -> list[str]:
    return [op.name for op in read_model_bytes(data).operators]


def program_of(data: bytes, name: str = "m"):
    return build_program(read_model_bytes(data, name))


def litert_run(data: bytes, *xs):
    """LiteRT's reference kernels: the golden for operators TFLite Micro has no kernel for."""
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_content=data,
                                 experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_REF)
    interp.allocate_tensors()
    for d, x in zip(interp.get_input_details(), xs):
        interp.set_tensor(d["index"], x)
    interp.invoke()
    outs = [interp.get_tensor(d["index"]) for d in interp.get_output_details()]
    return outs[0] if len(outs) == 1 else outs


# ---- real Keras 3 models with a dynamic batch ------------------------------------------------


def _flatten_model():
    import keras

    x = keras.Input((8, 8, 3))  # batch None: the converter writes the shape arithmetic
    y = keras.layers.Conv2D(4, 3, activation="relu")(x)
    y = keras.layers.Flatten()(y)
    return keras.Model(x, keras.layers.Dense(5)(y))


def _reshape_model():
    import keras

    x = keras.Input((6, 4))
    y = keras.layers.Conv1D(8, 3)(x)
    y = keras.layers.Reshape((2, 16))(y)
    y = keras.layers.Permute((2, 1))(y)
    y = keras.layers.Flatten()(y)
    return keras.Model(x, keras.layers.Dense(3)(y))


def _mobilenet():
    import keras

    # Untrained logits are tiny: the softmax after them would need a scale TFLite Micro's
    # softmax cannot take, so the model ends at the logits (Conv2D -> Reshape).
    return keras.applications.MobileNet(input_shape=(32, 32, 3), alpha=0.25, weights=None,
                                        classifier_activation=None)


def _assert_no_shape_arithmetic(data: bytes, name: str):
    before = set(names(data))
    assert SHAPE_OPS <= before, f"the converter wrote {sorted(before)}"
    program = program_of(data, name)
    steps = [s.op.name for s in program.steps]
    assert not SHAPE_OPS & set(steps), steps
    assert "CONSTANT" not in steps
    c_text = render(program)[f"{name}.c"]
    for op in SHAPE_OPS:
        assert f" {op} " not in c_text
    assert "pb_move_const" not in c_text  # no constant written at run time
    return program


@pytest.mark.parametrize("mode", ["int8", "16x8"])
def test_keras_flatten_with_dynamic_batch(mode):
    data = convert(_flatten_model, [(8, 8, 3)], mode=mode, key="fold-flatten")
    program = _assert_no_shape_arithmetic(data, "flat")
    assert [s.op.name for s in program.steps] == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    check_model_bytes(data, "flat", n_random=10)


def test_keras_reshape_with_dynamic_batch():
    data = convert(_reshape_model, [(6, 4)], key="fold-conv1d-reshape")
    _assert_no_shape_arithmetic(data, "rsh")
    check_model_bytes(data, "rsh", n_random=10)


def test_keras_mobilenet_with_dynamic_batch():
    data = convert(_mobilenet, [(32, 32, 3)], key="fold-mobilenet")
    program = _assert_no_shape_arithmetic(data, "mnet")
    assert {s.op.name for s in program.steps} == {"CONV_2D", "DEPTHWISE_CONV_2D", "RESHAPE"}
    check_model_bytes(data, "mnet", n_random=3)


def test_fold_pass_precedes_the_dilated_fold_and_leaves_its_input_alone():
    from protobrain.compiler.passes import fold_dilated_convolutions

    assert PASSES.index(fold_constants) < PASSES.index(fold_dilated_convolutions)
    data = convert(_flatten_model, [(8, 8, 3)], key="fold-flatten")
    g = read_model_bytes(data, "m")
    before = copy.deepcopy(g)
    folded = fold_constants(g)
    assert [op.name for op in folded.operators] == ["CONV_2D", "RESHAPE", "FULLY_CONNECTED"]
    assert [(op.name, op.inputs, op.outputs) for op in g.operators] == \
        [(op.name, op.inputs, op.outputs) for op in before.operators]
    assert all(a.data is None or np.array_equal(a.data, b.data) for a, b in zip(g.tensors, before.tensors))
    reshape = folded.operators[1]
    shape = folded.tensors[reshape.inputs[1]]
    assert shape.is_const and shape.data.tolist() == [1, 144]
    assert fold_constants(folded) is folded  # nothing left to fold


# ---- one operator on constants, against TFLite Micro or LiteRT -------------------------------


def i32(values, dtype="int32"):
    a = np.asarray(values, dtype={"int32": np.int32, "int64": np.int64, "float32": np.float32, "bool": np.bool_,
                                  "int8": np.int8}[dtype])
    return {"shape": a.shape, "type": dtype, "data": a}


def one_op(op: str, consts: list[dict], out_shape, out_type="int32", opt=None, fields=None) -> bytes:
    """x (an unused int8 input) and constants -> op -> the graph output(s): out_shape is a
    shape, or a list of shapes for several outputs."""
    shapes = out_shape if isinstance(out_shape, list) else [out_shape]
    quant = {"scale": 0.5, "zp": 1} if out_type == "int8" else {}
    outs = [{"shape": s, "type": out_type, **quant} for s in shapes]
    tensors = [{"shape": (1, 2), "type": "int8", "scale": 0.1, "zp": 0}] + consts + outs
    ins = list(range(1, len(consts) + 1))
    out_ids = list(range(len(consts) + 1, len(tensors)))
    return write_model(tensors, [(op, ins, out_ids, opt, fields or {})], [0], out_ids)


SS = "StridedSliceOptions"
CASES = [
    ("add", "ADD", [i32([1, 2, 3]), i32([2**31 - 1, -5, 7])], (3,), "int32", "AddOptions", {}, "tflm"),
    ("add-relu-ignored", "ADD", [i32([5, -9]), i32([-10, 2])], (2,), "int32", "AddOptions",
     {"FusedActivationFunction": 1}, "tflm"),
    ("sub-bcast", "SUB", [i32([[1], [20]]), i32([3, -4, 5])], (2, 3), "int32", "SubOptions", {}, "tflm"),
    ("sub-relu6", "SUB", [i32([1, 20, -3]), i32([3, 4, -5])], (3,), "int32", "SubOptions",
     {"FusedActivationFunction": 3}, "tflm"),
    ("mul-wrap", "MUL", [i32([65536, -3, 7]), i32([65536, 9, -11])], (3,), "int32", "MulOptions", {}, "tflm"),
    ("minimum", "MINIMUM", [i32([1, 9, -4]), i32([3])], (3,), "int32", None, {}, "tflm"),
    ("maximum", "MAXIMUM", [i32([1, 9, -4]), i32([3, 2, -8])], (3,), "int32", None, {}, "tflm"),
    ("floor-div", "FLOOR_DIV", [i32([7, -7, 7, -7]), i32([2, 2, -2, -2])], (4,), "int32", None, {}, "litert"),
    ("div", "DIV", [i32([7, -7, 7, -7]), i32([2, 2, -2, -2])], (4,), "int32", "DivOptions", {}, "litert"),
    ("pack", "PACK", [i32(1), i32(-1), i32(7)], (3,), "int32", "PackOptions", {"ValuesCount": 3, "Axis": 0}, "tflm"),
    ("pack-ax1", "PACK", [i32([1, 2]), i32([3, 4])], (2, 2), "int32", "PackOptions",
     {"ValuesCount": 2, "Axis": 1}, "tflm"),
    ("unpack", "UNPACK", [i32([[1, 2, 3], [4, 5, 6]])], [(2,)] * 3, "int32", "UnpackOptions", {"Num": 3, "Axis": 1},
     "tflm"),
    ("split", "SPLIT", [i32(1), i32([[1, 2, 3, 4], [5, 6, 7, 8]])], [(2, 2)] * 2, "int32", "SplitOptions",
     {"NumSplits": 2}, "tflm"),
    ("ss-shrink", "STRIDED_SLICE", [i32([1, 6, 6, 4]), i32([0]), i32([1]), i32([1])], (), "int32", SS,
     {"ShrinkAxisMask": 1}, "tflm"),
    ("ss-tail", "STRIDED_SLICE", [i32([1, 6, 6, 4]), i32([1]), i32([0]), i32([1])], (3,), "int32", SS,
     {"EndMask": 1}, "tflm"),
    ("ss-rev", "STRIDED_SLICE", [i32([1, 6, 6, 4]), i32([-1]), i32([-5]), i32([-2])], (2,), "int32", SS, {}, "tflm"),
    ("slice", "SLICE", [i32([[1, 2, 3], [4, 5, 6]]), i32([0, 1]), i32([2, -1])], (2, 2), "int32", None, {}, "tflm"),
    ("gather", "GATHER", [i32([1, 6, 6, 4]), i32([3, 0, 1])], (3,), "int32", "GatherOptions", {"Axis": 0}, "litert"),
    ("gather-nd", "GATHER_ND", [i32([[1, 2], [3, 4]]), i32([[1, 0], [0, 1]])], (2,), "int32", None, {}, "litert"),
    ("cast-f2i", "CAST", [i32([1.7, -1.7, 2.5, -0.2], "float32")], (4,), "int32", None, {}, "tflm"),
    ("cast-i2f", "CAST", [i32([3, -16777217])], (2,), "float32", None, {}, "tflm"),
    ("concat", "CONCATENATION", [i32([1, 2]), i32([3])], (3,), "int32", "ConcatenationOptions", {"Axis": 0}, "tflm"),
    ("reshape", "RESHAPE", [i32([1, 2, 3, 4, 5, 6]), i32([3, 2])], (3, 2), "int32", None, {}, "tflm"),
    ("squeeze", "SQUEEZE", [i32([[[1], [2]]])], (2,), "int32", "SqueezeOptions", {"SqueezeDims": [0, 2]}, "tflm"),
    ("expand-dims", "EXPAND_DIMS", [i32([1, 2]), i32(0)], (1, 2), "int32", None, {}, "litert"),
    ("fill", "FILL", [i32([2, 3]), i32(-7)], (2, 3), "int32", None, {}, "tflm"),
    ("zeros-like", "ZEROS_LIKE", [i32([[4, 5, 6]])], (1, 3), "int32", None, {}, "tflm"),
    ("broadcast-args", "BROADCAST_ARGS", [i32([2, 1, 3]), i32([4, 1])], (3,), "int32", None, {}, "tflm"),
    ("transpose", "TRANSPOSE", [i32([[1, 2, 3], [4, 5, 6]]), i32([1, 0])], (3, 2), "int32", None, {}, "litert"),
    ("reduce-prod", "REDUCE_PROD", [i32([[6, 6, 4], [70000, 70000, 1]]), i32([1])], (2,), "int32", "ReducerOptions",
     {"KeepDims": False}, "litert"),
    ("sum", "SUM", [i32([[6, 6, 4], [1, 2, 3]]), i32([0])], (1, 3), "int32", "ReducerOptions",
     {"KeepDims": True}, "litert"),
    ("equal", "EQUAL", [i32([1, 2, 3]), i32([1, 0, 3])], (3,), "bool", None, {}, "tflm"),
    ("select-v2", "SELECT_V2", [i32([True, False], "bool"), i32([1, 2]), i32([7])], (2,), "int32", None, {},
     "litert"),
    ("range", "RANGE", [i32(2), i32(11), i32(3)], (3,), "int32", None, {}, "litert"),
    ("tile", "TILE", [i32([1, 2]), i32([3])], (6,), "int32", None, {}, "litert"),
    ("int8-transpose", "TRANSPOSE", [{**i32([[1, -2, 3], [4, 5, -6]], "int8"), "scale": 0.5, "zp": 1}, i32([1, 0])],
     (3, 2), "int8", None, {}, "tflm"),
]


@pytest.mark.parametrize("key,op,consts,shape,out_type,opt,fields,golden", CASES, ids=[c[0] for c in CASES])
def test_folded_value_equals_runtime(key, op, consts, shape, out_type, opt, fields, golden):
    data = one_op(op, consts, shape, out_type, opt, fields)
    program = program_of(data)
    assert [s.op.name for s in program.steps] == ["CONSTANT"] * (len(shape) if isinstance(shape, list) else 1)
    x = np.array([[3, -4]], np.int8)
    got = compile_bytes(data, "fold").run(x)
    want = Reference(data).run(x) if golden == "tflm" else litert_run(data, x)
    got, want = (got, want) if isinstance(got, list) else ([got], [want])
    for a, b in zip(got, want):
        assert a.dtype == np.asarray(b).dtype
        assert a.tobytes() == np.asarray(b).tobytes(), (a, b)


UNFOLDED = [
    ("div-by-zero", "FLOOR_DIV", [i32([7]), i32([0])], (1,), None, {}),
    ("gather-out-of-range", "GATHER", [i32([1, 2]), i32([2])], (1,), "GatherOptions", {"Axis": 0}),
    ("ss-ellipsis", "STRIDED_SLICE", [i32([1, 6]), i32([0]), i32([1]), i32([1])], (1,), SS, {"EllipsisMask": 1}),
    ("cast-nan", "CAST", [i32([np.nan], "float32")], (1,), None, {}),
    ("wrong-shape", "PACK", [i32(1), i32(2)], (3,), "PackOptions", {"ValuesCount": 2, "Axis": 0}),
]


@pytest.mark.parametrize("key,op,consts,shape,opt,fields", UNFOLDED, ids=[c[0] for c in UNFOLDED])
def test_cases_tflite_micro_would_not_compute_are_left_alone(key, op, consts, shape, opt, fields):
    g = read_model_bytes(one_op(op, consts, shape, "int32", opt, fields), "m")
    assert fold.evaluate(g.operators[0], g, {t.index: t.data for t in g.tensors if t.is_const}) is None
    assert fold_constants(g) is g


def test_shape_of_an_activation_is_folded_and_dead_operators_go():
    """SHAPE of a computed tensor is known before run time; the TRANSPOSE it measured, read
    by nothing else, disappears; SHAPE's value, a graph output read by a RESHAPE too, is
    written by a CONSTANT and the RESHAPE reads the constant copy."""
    q = {"type": "int8", "scale": 0.1, "zp": 2}
    tensors = [{"shape": (2, 3), **q}, i32([1, 0]), {"shape": (3, 2), **q}, {"shape": (2,), "type": "int32"},
               {"shape": (3, 2), **q}]
    ops = [("TRANSPOSE", [0, 1], [2], None, {}), ("SHAPE", [2], [3], "ShapeOptions", {"OutType": 2}),
           ("RESHAPE", [0, 3], [4], None, {})]
    data = write_model(tensors, ops, [0], [3, 4])
    g = read_model_bytes(data, "m")
    folded = fold_constants(g)
    assert [op.name for op in folded.operators] == ["CONSTANT", "RESHAPE"]
    constant, reshape = folded.operators
    assert constant.outputs == [3] and folded.tensors[constant.inputs[0]].data.tolist() == [3, 2]
    assert reshape.inputs == [0, constant.inputs[0]] and not folded.tensors[3].is_const
    compiled = compile_bytes(data, "shp")
    reference = Reference(data)
    for x in (np.arange(6, dtype=np.int8).reshape(2, 3), np.full((2, 3), -128, np.int8)):
        for a, b in zip(compiled.run(x), reference.run(x)):
            assert a.tobytes() == np.asarray(b).tobytes()


def test_folds_chains_through_several_operators():
    """SHAPE -> GATHER -> REDUCE_PROD -> PACK -> RESHAPE: a Flatten written by hand."""
    q = {"type": "int8", "scale": 0.1, "zp": 0}
    tensors = [{"shape": (1, 4, 3, 2), **q}, {"shape": (4,), "type": "int32"}, i32([1, 2, 3]), {"shape": (3,), "type": "int32"},
               i32([0]), {"shape": (), "type": "int32"}, i32(1), {"shape": (2,), "type": "int32"},
               {"shape": (1, 24), **q}]
    ops = [("SHAPE", [0], [1], "ShapeOptions", {"OutType": 2}), ("GATHER", [1, 2], [3], "GatherOptions", {"Axis": 0}),
           ("REDUCE_PROD", [3, 4], [5], "ReducerOptions", {"KeepDims": False}),
           ("PACK", [6, 5], [7], "PackOptions", {"ValuesCount": 2, "Axis": 0}), ("RESHAPE", [0, 7], [8], None, {})]
    data = write_model(tensors, ops, [0], [8])
    program = program_of(data)
    assert [s.op.name for s in program.steps] == ["RESHAPE"]
    assert program.graph.tensors[7].data.tolist() == [1, 24]
    x = np.arange(24, dtype=np.int8).reshape(1, 4, 3, 2)
    assert compile_bytes(data, "chain").run(x).tobytes() == x.tobytes()


def test_large_grown_values_stay_run_time():
    """A FILL of a constant into 10,000 elements is not stored in flash: one element is,
    repeated at run time."""
    data = one_op("FILL", [i32([100, 100]), i32(-3)], (100, 100))
    program = program_of(data)
    assert [s.op.name for s in program.steps] == ["FILL"]
    assert program.const_bytes < 200
    x = np.array([[3, -4]], np.int8)
    assert compile_bytes(data, "bigfill").run(x).tobytes() == Reference(data, arena_size=1 << 18).run(x).tobytes()


def test_an_operator_with_the_wrong_input_count_is_refused_not_folded():
    """A ZEROS_LIKE of a static tensor folds to zeros, but with three inputs TFLite Micro's
    Prepare refuses it (found by the model fuzzer): folding leaves it to the lowering, which
    refuses it the same way, read or not."""
    tensors = [{"shape": [2, 3], "type": "INT8", "scale": 0.5, "zp": 0},
               {"shape": [2, 3], "type": "INT8", "scale": 0.5, "zp": 0},
               {"shape": [2, 3], "type": "INT8", "scale": 0.5, "zp": 0},
               {"shape": [2, 3], "type": "INT8", "scale": 0.5, "zp": 0}]
    for outputs in ([2], [3]):  # the ZEROS_LIKE's output read, or unread
        ops = [("ZEROS_LIKE", [0, 1, 0], [2], None, {}), ("ADD", [0, 1], [3], "AddOptions", {})]
        data = write_model(tensors, ops, [0, 1], outputs)
        with pytest.raises(Exception, match="ZEROS_LIKE.*3 inputs"):
            build_program(read_model_bytes(data))
        assert _tflm_refuses(data)


def _tflm_refuses(data: bytes) -> bool:
    try:
        ref = Reference(data)
        ref.run(np.zeros((2, 3), np.int8), np.zeros((2, 3), np.int8))
    except Exception:
        return True
    return False


def test_a_tensor_of_an_undefined_type_is_refused():
    """TFLite Micro cannot size a tensor whose type code the schema does not define and
    fails to allocate the model, even where nothing reads the tensor (found by the model
    fuzzer on an LSTM's unused intermediate)."""
    import struct

    from protobrain.errors import ProtobrainError
    from protobrain.verify.fuzz.modelmap import ModelMap

    tensors = [{"shape": [2, 3], "type": "INT8", "scale": 0.5, "zp": 0},
               {"shape": [2, 3], "type": "INT8", "scale": 0.5, "zp": 0},
               {"shape": [0], "type": "INT8", "scale": 0.5, "zp": 0}]
    data = bytearray(write_model(tensors, [("RELU", [0], [1], None, {})], [0], [1]))
    pos = ModelMap(bytes(data)).tensors[2].type_pos
    data[pos:pos + 1] = struct.pack("<b", -128)
    with pytest.raises(ProtobrainError, match="type code -128"):
        read_model_bytes(bytes(data))
    assert _tflm_refuses(bytes(data))
