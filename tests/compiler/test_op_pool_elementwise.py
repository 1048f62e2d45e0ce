"""AVERAGE_POOL_2D, MAX_POOL_2D, ADD, SUB, MUL against TFLite Micro.

Pooling: window sizes from 1x1 to the whole input, strides 1/2/3 and mixed, SAME and
VALID on odd sizes (so windows get clipped at the borders), 1/3/8/70/130 channels, and fused
RELU / RELU6 / RELU_N1_TO_1 (the converter folds a following activation into the pool).
Binary ops: two-input models (the two inputs get their own scales), broadcasting in
either operand and in both at once, up to 6-D, constant operands (scalars, vectors,
[C,1,1]), the same tensor on both sides, fused activations, int8 and 16x8.
"""

import numpy as np
import pytest
from builders import convert
from conftest import check_model_bytes

from protobrain.compiler.ops.base import Unsupported
from protobrain.compiler.ops.elementwise import broadcast_loops
from protobrain.compiler.reader import read_model_bytes

MINE = {"AVERAGE_POOL_2D", "MAX_POOL_2D", "ADD", "SUB", "MUL"}


def _check(data: bytes, expect: set, name: str):
    ops = {op.name for op in read_model_bytes(data).operators}
    assert ops <= MINE, f"converter produced other operators: {sorted(ops - MINE)}"
    assert expect <= ops, f"expected {sorted(expect)}, converter produced {sorted(ops)}"
    check_model_bytes(data, name, n_random=10)


def _activation(y, act):
    import keras
    import tensorflow as tf

    if act is None:
        return y
    if act == "relu":
        return tf.keras.layers.ReLU()(y)
    if act == "relu6":
        return tf.keras.layers.ReLU(6.0)(y)
    if act == "n1to1":
        return keras.ops.clip(y, -1.0, 1.0)
    raise ValueError(act)


# Wider inputs where the activation's clamp would otherwise never be reached.
_RANGES = {None: (-1.0, 1.0), "relu": (-1.0, 1.0), "relu6": (-8.0, 8.0), "n1to1": (-2.0, 2.0)}

# ---- pooling ----------------------------------------------------------------------------

POOL_CASES = [
    # (input HxW, channels, pool size, strides, padding, activation)
    ((7, 7), 3, (2, 2), 2, "valid", None),
    ((7, 7), 3, (2, 2), 2, "same", None),
    ((7, 7), 1, (3, 3), 1, "same", None),
    ((7, 7), 8, (3, 3), 2, "same", None),
    ((7, 7), 3, (3, 3), 3, "valid", None),
    ((7, 7), 3, (3, 3), 3, "same", None),
    ((9, 5), 3, (2, 3), 2, "same", None),
    ((9, 5), 8, (3, 2), (1, 2), "valid", None),
    ((5, 9), 1, (2, 3), 3, "same", None),
    ((8, 8), 3, (1, 1), 1, "valid", None),
    ((8, 8), 3, (1, 1), 3, "same", None),
    ((9, 5), 3, (9, 5), 1, "valid", None),  # one window covers everything
    ((6, 6), 8, (6, 6), 6, "same", None),
    ((2, 2), 3, (3, 3), 1, "same", None),  # window larger than the input
    ((6, 6), 3, (2, 2), 2, "valid", "relu"),
    ((7, 7), 3, (3, 3), 2, "same", "relu6"),
    ((9, 5), 8, (2, 3), 2, "same", "relu"),
    ((5, 5), 3, (2, 2), 1, "valid", "n1to1"),
    # more channels than the kernel's pass (PB_POOL_CHUNK, 64): the passes' seams
    ((5, 5), 70, (2, 2), 2, "same", None),
    ((3, 3), 130, (3, 3), 1, "valid", "relu"),  # a global pool, as a vision net's last
]
POOL_16X8 = [1, 3, 6, 7, 11, 13, 14, 15, 18, 19]  # indices of POOL_CASES also built as 16x8

POOL_PARAMS = [
    pytest.param(kind, *case, mode, id=f"{kind}-{mode}-{i}")
    for kind in ("max", "avg")
    for mode in ("int8", "16x8")
    for i, case in enumerate(POOL_CASES)
    if mode == "int8" or i in POOL_16X8
]


@pytest.mark.parametrize("kind,hw,ch,pool,strides,padding,act,mode", POOL_PARAMS)
def test_pool(kind, hw, ch, pool, strides, padding, act, mode):
    import tensorflow as tf

    layer = tf.keras.layers.MaxPooling2D if kind == "max" else tf.keras.layers.AveragePooling2D

    def make():
        x = tf.keras.Input((*hw, ch), batch_size=1)
        y = layer(pool_size=pool, strides=strides, padding=padding)(x)
        return tf.keras.Model(x, _activation(y, act))

    data = convert(make, [(*hw, ch)], mode=mode, data_range=_RANGES[act],
                   key=f"pool-{kind}-{hw}-{ch}-{pool}-{strides}-{padding}-{act}")
    op = "MAX_POOL_2D" if kind == "max" else "AVERAGE_POOL_2D"
    _check(data, {op}, f"{kind}pool")


# ---- ADD / SUB / MUL with two activation inputs -------------------------------------------

def _binary(kind, a, b):
    import tensorflow as tf

    if kind == "add":
        return tf.keras.layers.Add()([a, b])
    if kind == "sub":
        return tf.keras.layers.Subtract()([a, b])
    if kind == "mul":
        return tf.keras.layers.Multiply()([a, b])
    if kind == "add_op":
        return a + b
    if kind == "sub_op":
        return a - b
    if kind == "rsub_op":
        return b - a
    if kind == "mul_op":
        return a * b
    if kind == "add_scaled":  # b is rescaled first (MUL by a constant), so the ADD scales differ a lot
        return tf.keras.layers.Add()([a, b * 3.0])
    if kind == "chain":  # a*b + a - 0.5*b: several binary ops in a row
        return tf.keras.layers.Subtract()([tf.keras.layers.Add()([a * b, a]), b * 0.5])
    raise ValueError(kind)


_OPS = {"add": "ADD", "add_op": "ADD", "add_scaled": "ADD", "sub": "SUB", "sub_op": "SUB",
        "rsub_op": "SUB", "mul": "MUL", "mul_op": "MUL", "chain": "SUB"}

S = (4, 4, 8)
BINARY_CASES = [
    # (kind, input shape a, input shape b, activation, modes)
    ("add", S, S, None, ("int8", "16x8")),
    ("sub", S, S, None, ("int8", "16x8")),
    ("mul", S, S, None, ("int8", "16x8")),
    ("add", S, S, "relu", ("int8", "16x8")),
    ("add", S, S, "relu6", ("int8", "16x8")),
    ("add", S, S, "n1to1", ("int8", "16x8")),
    ("sub", S, S, "relu", ("int8",)),
    ("sub", S, S, "relu6", ("int8", "16x8")),
    ("mul", S, S, "relu", ("int8", "16x8")),
    ("mul", S, S, "relu6", ("int8",)),
    ("add_op", S, (4, 1, 8), None, ("int8", "16x8")),
    ("add_op", S, (1, 4, 8), "relu", ("int8", "16x8")),
    ("add_op", S, (4, 4, 1), None, ("int8",)),
    ("sub_op", S, (4, 1, 1), None, ("int8", "16x8")),
    ("rsub_op", S, (4, 1, 1), "relu6", ("int8", "16x8")),  # first operand broadcast
    ("mul_op", (3, 5, 2), (1, 5, 1), None, ("int8", "16x8")),
    ("mul_op", (4, 1, 8), (1, 4, 1), None, ("int8", "16x8")),  # both operands broadcast
    ("mul_op", (4, 1, 8), (4, 4, 1), "relu", ("int8",)),
    ("add_op", (3, 1, 8), (3, 4, 1), None, ("16x8",)),
    ("mul_op", (2, 1, 3, 1), (1, 4, 1, 5), None, ("int8", "16x8")),  # 5-D
    ("sub_op", (2, 3, 2, 2, 3), (1, 3, 1, 2, 1), None, ("int8", "16x8")),  # 6-D
    ("sub_op", (3, 6), (3, 1), None, ("int8",)),  # 3-D
    ("add_scaled", S, S, None, ("int8", "16x8")),
    ("chain", (2, 3, 5), (2, 3, 5), None, ("int8", "16x8")),
]

BINARY_PARAMS = [
    pytest.param(kind, sa, sb, act, mode, id=f"{kind}-{mode}-{act or 'none'}-{'x'.join(map(str, sa))}-{'x'.join(map(str, sb))}")
    for kind, sa, sb, act, modes in BINARY_CASES
    for mode in modes
]


def _convert_two(make, shapes, mode, key, data_range):
    """The converted model may list its inputs in another order than the Keras model, and the
    representative dataset is positional: if calibration trips over that, feed the other order."""
    try:
        return convert(make, shapes, mode=mode, key=key, data_range=data_range)
    except Exception:
        if shapes[0] == shapes[1]:
            raise
        return convert(make, shapes[::-1], mode=mode, key=key + "-swapped", data_range=data_range)


@pytest.mark.parametrize("kind,sa,sb,act,mode", BINARY_PARAMS)
def test_binary(kind, sa, sb, act, mode):
    import tensorflow as tf

    def make():
        a = tf.keras.Input(sa, batch_size=1, name="in_a")
        b = tf.keras.Input(sb, batch_size=1, name="in_b")
        return tf.keras.Model([a, b], _activation(_binary(kind, a, b), act))

    data = _convert_two(make, [sa, sb], mode, f"binary-{kind}-{sa}-{sb}-{act}", _RANGES[act])
    _check(data, {_OPS[kind]}, kind)


# ---- one operand constant, or the same tensor twice -----------------------------------

def _unary(kind, x):
    import tensorflow as tf

    c = x.shape[-1]
    if kind == "add_vec":
        return x + tf.constant(np.linspace(-1.0, 1.0, c, dtype=np.float32))
    if kind == "add_scalar":
        return x + 0.5
    if kind == "add_scalar_relu":
        return tf.keras.layers.ReLU()(x + 0.25)
    if kind == "sub_scalar":
        return x - 0.75
    if kind == "rsub_scalar":  # the constant is the first operand
        return 0.25 - x
    if kind == "sub_c11":
        return x - tf.constant(np.linspace(-1.0, 1.0, x.shape[1], dtype=np.float32).reshape(-1, 1, 1))
    if kind == "mul_scalar":
        return x * 0.37
    if kind == "mul_vec":
        return x * tf.constant(np.linspace(-2.0, 2.0, c, dtype=np.float32))
    if kind == "mul_vec_relu6":
        return tf.keras.layers.ReLU(6.0)(x * tf.constant(np.linspace(0.5, 4.0, c, dtype=np.float32)))
    if kind == "self_add":
        return tf.keras.layers.Add()([x, x])
    if kind == "self_mul":
        return tf.keras.layers.Multiply()([x, x])
    raise ValueError(kind)


UNARY_CASES = [
    # (kind, op, input shape, data range, modes)
    ("add_vec", "ADD", (4, 4, 8), (-1.0, 1.0), ("int8", "16x8")),
    ("add_scalar", "ADD", (4, 4, 8), (-1.0, 1.0), ("int8", "16x8")),
    ("add_scalar_relu", "ADD", (3, 5, 3), (-1.0, 1.0), ("int8", "16x8")),
    ("sub_scalar", "SUB", (4, 4, 8), (-1.0, 1.0), ("int8",)),
    ("rsub_scalar", "SUB", (4, 4, 8), (-1.0, 1.0), ("int8", "16x8")),
    ("sub_c11", "SUB", (4, 4, 8), (-1.0, 1.0), ("int8", "16x8")),
    ("mul_scalar", "MUL", (4, 4, 8), (-1.0, 1.0), ("int8", "16x8")),
    ("mul_vec", "MUL", (4, 4, 8), (-1.0, 1.0), ("int8", "16x8")),
    ("mul_vec_relu6", "MUL", (3, 3, 8), (-3.0, 3.0), ("int8",)),
    ("self_add", "ADD", (4, 4, 8), (-1.0, 1.0), ("int8", "16x8")),
    ("self_mul", "MUL", (4, 4, 8), (-1.0, 1.0), ("int8", "16x8")),
]

UNARY_PARAMS = [
    pytest.param(kind, op, shape, rng, mode, id=f"{kind}-{mode}")
    for kind, op, shape, rng, modes in UNARY_CASES
    for mode in modes
]


@pytest.mark.parametrize("kind,op,shape,rng,mode", UNARY_PARAMS)
def test_constant_or_self(kind, op, shape, rng, mode):
    import tensorflow as tf

    def make():
        x = tf.keras.Input(shape, batch_size=1)
        return tf.keras.Model(x, _unary(kind, x))

    data = convert(make, [shape], mode=mode, data_range=rng, key=f"unary-{kind}-{shape}")
    _check(data, {op}, kind)


# ---- the broadcast loop folding, directly ---------------------------------------------

@pytest.mark.parametrize("out,a,b,shape,s1,s2", [
    ((1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8), [128], [1], [1]),
    ((1, 4, 4, 8), (1, 4, 4, 8), (8,), [16, 8], [8, 1], [0, 1]),
    ((1, 4, 4, 8), (1, 4, 1, 1), (1, 4, 4, 8), [4, 32], [1, 0], [32, 1]),
    ((1, 4, 4, 8), (1, 4, 1, 8), (1, 1, 4, 1), [4, 4, 8], [8, 0, 1], [0, 1, 0]),
    ((1, 4, 4, 8), (1, 4, 4, 8), (), [128], [1], [0]),
    ((), (), (), [1], [0], [0]),
])
def test_broadcast_loops(out, a, b, shape, s1, s2):
    n, x, y = broadcast_loops(out, a, b)
    pad = 6 - len(shape)
    assert n == [1] * pad + shape
    assert x == [0] * pad + s1
    assert y == [0] * pad + s2


def test_broadcast_loops_rejects_bad_shapes():
    with pytest.raises(Unsupported):
        broadcast_loops((1, 4, 4, 8), (1, 4, 4, 8), (1, 3, 1, 1))
    with pytest.raises(Unsupported):  # eight alternating broadcast levels do not fold
        broadcast_loops((2,) * 8, (2, 1) * 4, (1, 2) * 4)
