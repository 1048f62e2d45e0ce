"""The architectures protobrain trains, each with a width multiplier.

`width` scales every layer's channel count, so halving it removes about half the
channels of each layer and three quarters of the multiply-accumulates of the layers
whose inputs and outputs both scale (the sweep shows this on the device).
"""

from __future__ import annotations

from protobrain.errors import ProtobrainError

WIDTH_RANGE = (0.25, 2.0)


def channels(base: int, width: float) -> int:
    return max(1, int(round(base * width)))


def check_width(width: float) -> None:
    lo, hi = WIDTH_RANGE
    if not lo <= width <= hi:
        raise ProtobrainError(f"--width {width}: must be between {lo} and {hi}")


def vision_net(input_shape, n_classes: int, width: float = 1.0):
    """A small ConvNet: three 3x3 convolutions (the middle one strided), global average
    pooling and a dense classifier. Built for 8x8 to 64x64 images."""
    from tensorflow import keras
    from tensorflow.keras import layers

    check_width(width)
    inp = keras.Input(shape=input_shape)
    x = layers.Conv2D(channels(16, width), 3, padding="same", activation="relu")(inp)
    x = layers.Conv2D(channels(32, width), 3, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(channels(32, width), 3, padding="same", activation="relu")(x)
    # larger images: pool down before the classifier so the dense layer stays small
    while x.shape[1] > 4 and x.shape[2] > 4:
        x = layers.Conv2D(channels(32, width), 3, strides=2, padding="same", activation="relu")(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inp, out, name="vision")


def dscnn(input_shape, n_classes: int, width: float = 1.0, blocks: int = 4, base: int = 64):
    """Depthwise-separable CNN for keyword spotting (the DS-CNN of 'Hello Edge'):
    one strided convolution over (time, frequency), then `blocks` depthwise 3x3 +
    pointwise 1x1 pairs, global average pooling and a dense classifier."""
    from tensorflow import keras
    from tensorflow.keras import layers

    check_width(width)
    c = channels(base, width)
    # BatchNormalization momentum 0.9 (not Keras' 0.99): the moving statistics used at
    # inference settle within a few hundred steps, which small datasets need.
    inp = keras.Input(shape=input_shape)
    x = layers.Conv2D(c, (10, 4), strides=(2, 2), padding="same", use_bias=False)(inp)
    x = layers.BatchNormalization(momentum=0.9)(x)
    x = layers.ReLU()(x)
    for _ in range(blocks):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
        x = layers.Conv2D(c, 1, use_bias=False)(x)
        x = layers.BatchNormalization(momentum=0.9)(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.2)(x)
    out = layers.Dense(n_classes, activation="softmax")(x)
    return keras.Model(inp, out, name="speech")
