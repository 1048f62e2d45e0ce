"""FULLY_CONNECTED against TFLite Micro: widths, activations, bias, per-tensor/channel, 16x8."""

import pytest
from builders import convert
from conftest import check_model_bytes

CASES = [
    # (input features, units, activation, use_bias, mode, per_channel)
    (1, 1, None, True, "int8", True),
    (7, 3, "relu", True, "int8", True),
    (16, 16, "relu6", False, "int8", True),
    (33, 10, None, True, "int8", False),
    (64, 5, "tanh", True, "int8", True),
    (12, 9, None, True, "16x8", True),
    (40, 7, "relu", False, "16x8", False),
    (5, 31, "relu6", True, "16x8", True),
]


@pytest.mark.parametrize("features,units,act,bias,mode,per_channel", CASES)
def test_fully_connected(features, units, act, bias, mode, per_channel):
    import tensorflow as tf

    def make():
        x = tf.keras.Input((features,), batch_size=1)
        y = tf.keras.layers.Dense(units, activation=act, use_bias=bias)(x)
        return tf.keras.Model(x, y)

    data = convert(make, [(features,)], mode=mode, per_channel=per_channel,
                   key=f"fc-{features}-{units}-{act}-{bias}")
    check_model_bytes(data, "fc", n_random=20)


def test_fully_connected_batched_3d_input():
    """A Dense on a [1, T, F] input keeps the time axis: the kernel loops over batches."""
    import tensorflow as tf

    def make():
        x = tf.keras.Input((6, 8), batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Dense(4)(x))

    check_model_bytes(convert(make, [(6, 8)], key="fc-3d"), "fc3d")
