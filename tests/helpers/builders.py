"""Build small TFLite models with TensorFlow for operator tests, cached on disk by spec.

Every case is a real converter output (what users feed protobrain), quantized to int8 or
16x8 with a representative dataset, per-channel or per-tensor.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

BUILDER_VERSION = "1"


def cache_root() -> Path:
    base = os.environ.get("PROTOBRAIN_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "protobrain")
    p = Path(base) / "test-models"
    p.mkdir(parents=True, exist_ok=True)
    return p


def convert(make_model, input_shapes, *, mode="int8", per_channel=True, float_io=False, seed=0,
            key: str, data_range=(-1.0, 1.0)) -> bytes:
    """make_model() -> keras.Model. Returns the quantized .tflite bytes (cached by `key`)."""
    digest = hashlib.sha256(f"{BUILDER_VERSION}|{key}|{mode}|{per_channel}|{float_io}|{seed}|{input_shapes}|{data_range}".encode()).hexdigest()[:20]
    path = cache_root() / f"{digest}.tflite"
    if path.exists():
        return path.read_bytes()
    import tensorflow as tf

    tf.keras.utils.set_random_seed(seed)
    model = make_model()
    rng = np.random.default_rng(seed)
    lo, hi = data_range

    def representative():
        for _ in range(32):
            yield [rng.uniform(lo, hi, size=(1, *s)).astype(np.float32) for s in input_shapes]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    if mode == "16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        io_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        io_type = tf.int8
    if not float_io:
        conv.inference_input_type = io_type
        conv.inference_output_type = io_type
    if not per_channel:
        conv._experimental_disable_per_channel = True
    data = conv.convert()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def small_net_bytes() -> bytes:
    """A small int8 net with a kernel of each main family: CONV_2D, DEPTHWISE_CONV_2D,
    AVERAGE_POOL_2D, RESHAPE, FULLY_CONNECTED, SOFTMAX. Input 12x12x2."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input((12, 12, 2), batch_size=1)
        y = tf.keras.layers.Conv2D(6, 3, padding="same", activation="relu")(x)
        y = tf.keras.layers.DepthwiseConv2D(3, strides=2)(y)
        y = tf.keras.layers.AveragePooling2D(2)(y)
        y = tf.keras.layers.Reshape((24,))(y)
        y = tf.keras.layers.Dense(5)(y)
        y = tf.keras.layers.Softmax()(y)
        return tf.keras.Model(x, y)

    return convert(make, [(12, 12, 2)], key="small-net")
