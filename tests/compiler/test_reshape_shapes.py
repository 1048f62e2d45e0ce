"""A RESHAPE declared with placeholder dimensions (a free batch dimension at export) takes
the shape its folded shape operand gives, as TFLite Micro's and LiteRT's Prepare do."""

import numpy as np

from protobrain.compiler.passes import reshape_to_folded_shapes
from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model


def _reshape(declared, new_shape):
    tensors = [{"shape": [1, 8, 4, 2, 16], "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [len(new_shape)], "type": "int32", "data": np.array(new_shape, np.int32)},
               {"shape": list(declared), "type": "int8", "scale": 0.1, "zp": 0},
               {"shape": [1, 8, 8, 16], "type": "int8", "scale": 0.1, "zp": 0}]
    ops = [("RESHAPE", [0, 1], [2], None, {}), ("RELU", [2], [3], None, {})]
    return read_model_bytes(write_model(tensors, ops, [0], [3]))


def test_placeholder_dimensions_take_the_folded_shape():
    g = reshape_to_folded_shapes(_reshape((1, 1, 8, 16), [1, 8, -1, 16]))
    assert g.tensors[2].shape == (1, 8, 8, 16)


def test_consistent_or_impossible_shapes_are_left_alone():
    g = _reshape((1, 8, 8, 16), [1, 8, 8, 16])
    assert reshape_to_folded_shapes(g) is g
    bad = _reshape((1, 1, 8, 16), [1, 3, -1, 16])  # 1024 elements do not split into 3 x ? x 16
    assert reshape_to_folded_shapes(bad).tensors[2].shape == (1, 1, 8, 16)
