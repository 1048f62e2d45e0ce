"""Models protobrain builds itself with TensorFlow, for the benchmark and the tests: the
forms no shared reference model has (today a 16x8 keyword net).

Their weights are random, not trained: instruction counts do not depend on weight values
(but for output channels whose weights are all zero, which the fast tiers skip; random
weights have none). Every build is deterministic (fixed seeds), so the .tflite bytes
repeat from build to build on one TensorFlow version, and `load` keeps them in a folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

import protobrain.train  # noqa: F401  (quiets TensorFlow's C++ logging before TensorFlow loads)
from protobrain.errors import ProtobrainError

VERSION = "1"  # bump when a model's build changes, so no cached file outlives it
KWS_INPUT = (49, 10, 1)  # 49 frames of 10 MFCCs, as `protobrain train speech` feeds its nets


def keyword_net():
    """A DS-CNN keyword spotter as `protobrain train speech` builds it (protobrain.train.nets
    .dscnn: a 10x4 strided convolution, two depthwise 3x3 + pointwise pairs of 64 channels,
    average pooling, a dense classifier over 12 words). It puts out the logits (no softmax)
    and its batch normalizations have random statistics, as a trained net's: an untrained
    net's softmax is nearly flat, and would hide a kernel's off-by-one."""
    import tensorflow as tf

    from protobrain.train.nets import dscnn

    model = dscnn(KWS_INPUT, 12, blocks=2)
    rng = np.random.default_rng(7)
    for layer in model.layers:
        if isinstance(layer, tf.keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights([rng.uniform(0.5, 2.0, n), rng.normal(0.2, 0.3, n), rng.normal(0.0, 0.2, n),
                               rng.uniform(0.05, 0.5, n)])
    model.layers[-1].activation = tf.keras.activations.linear
    return model


def quantized(make, input_shape, mode: str, seed: int = 0) -> bytes:
    """make() -> a Keras model, its weights drawn after seeding every generator with `seed`;
    quantized to `mode`, calibrated on 32 uniform inputs in [-1, 1)."""
    import tensorflow as tf

    from protobrain.train.converter import convert_integer

    tf.keras.backend.clear_session()  # layer names restart, so a second build in one process repeats the first
    tf.keras.utils.set_random_seed(seed)
    model = make()
    rng = np.random.default_rng(seed)

    def calibration():
        for _ in range(32):
            yield [rng.uniform(-1.0, 1.0, size=(1, *input_shape)).astype(np.float32)]

    return convert_integer(model, calibration, mode)


# name -> build(): each name is a C identifier (it names the model's symbols and files)
BUILDERS = {"dscnn_kws_16x8": lambda: quantized(keyword_net, KWS_INPUT, "16x8")}


def build(name: str) -> bytes:
    if name not in BUILDERS:
        raise ProtobrainError(f"no built model {name}; choose one of {', '.join(BUILDERS)}")
    return BUILDERS[name]()


def load(name: str, folder: str | Path) -> bytes:
    """The model's .tflite bytes, built once and kept in `folder` as NAME-vVERSION.tflite."""
    path = Path(folder) / f"{name}-v{VERSION}.tflite"
    if path.exists():
        return path.read_bytes()
    data = build(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)  # whole or absent, for runs in parallel
    return data


def tensorflow_missing() -> str | None:
    """Why these models cannot be built here, or None when they can."""
    import importlib.util

    if importlib.util.find_spec("tensorflow") is None:
        return "TensorFlow is not installed (pip install 'protobrain[train]')"
    return None
