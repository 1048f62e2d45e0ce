"""The model zoo: models users bring, built here with TensorFlow (no downloads).

Each entry is a Keras model as people write them (Keras applications with weights=None at
small input sizes, recurrent keyword spotters, temporal convolution nets, autoencoders,
U-Nets, attention) converted by TensorFlow's own converter to int8 or 16x8, exactly as a
user would. Weights are random: what is checked is that protobrain computes what TFLite
Micro computes, not accuracy. Models are cached on disk by builders.convert.
"""

from __future__ import annotations

import hashlib
import inspect
from dataclasses import dataclass
from typing import Callable

from builders import convert


@dataclass
class ZooModel:
    name: str
    make: Callable  # () -> keras.Model
    input_shapes: list  # without the batch dimension
    mode: str = "int8"  # or "16x8"
    data_range: tuple = (-1.0, 1.0)
    stateful: bool = False  # state carried across invocations (checked over consecutive runs)

    def tflite(self) -> bytes:
        return convert(self.make, self.input_shapes, mode=self.mode, key=f"zoo-{self.name}-{self.definition()}",
                       data_range=self.data_range)

    def definition(self) -> str:
        """A digest of the builder's source and the values it closes over: the cached model
        is rebuilt whenever its definition changes."""
        fn = self.make
        cells = [c.cell_contents for c in (fn.__closure__ or ())]
        text = inspect.getsource(fn) + repr(cells) + "".join(
            inspect.getsource(c) for c in cells if inspect.isfunction(c))
        return hashlib.sha256(text.encode()).hexdigest()[:12]


def _k():
    import keras

    return keras


# ---- Keras applications ------------------------------------------------------------------


def _app(factory: str, shape, **kw):
    """Logits out: with random weights a softmax's input scale is too small for TFLite
    Micro's own softmax (it refuses a beta * scale below 2^-26), which trained models never hit."""
    def make():
        keras = _k()
        return getattr(keras.applications, factory)(input_shape=shape, weights=None, classes=10,
                                                    classifier_activation=None, **kw)

    return make


# ---- vision -----------------------------------------------------------------------------


def _resnet8():
    keras = _k()
    L = keras.layers
    x = keras.Input((32, 32, 3))
    y = L.Conv2D(16, 3, padding="same")(x)
    y = L.BatchNormalization()(y)
    y = L.ReLU()(y)
    for filters, stride in ((16, 1), (32, 2), (64, 2)):
        s = L.Conv2D(filters, 3, strides=stride, padding="same")(y)
        s = L.BatchNormalization()(s)
        s = L.ReLU()(s)
        s = L.Conv2D(filters, 3, padding="same")(s)
        s = L.BatchNormalization()(s)
        short = y if stride == 1 else L.Conv2D(filters, 1, strides=stride)(y)
        y = L.ReLU()(L.Add()([s, short]))
    y = L.AveragePooling2D(8)(y)
    y = L.Flatten()(y)
    return keras.Model(x, L.Softmax()(L.Dense(10)(y)))


def _prelu_bn():
    keras = _k()
    L = keras.layers
    x = keras.Input((16, 16, 3))
    y = L.Conv2D(8, 3, padding="same", use_bias=False)(x)
    y = L.BatchNormalization()(y)
    y = L.PReLU(shared_axes=[1, 2])(y)
    y = L.Conv2D(8, 3, strides=2)(y)
    y = L.PReLU()(y)
    y = L.GlobalAveragePooling2D()(y)
    return keras.Model(x, L.Dense(4)(y))


def _separable_hard_swish():
    keras = _k()
    L = keras.layers
    x = keras.Input((16, 16, 3))
    y = L.SeparableConv2D(12, 3, padding="same")(x)
    y = L.Activation("hard_silu")(y)
    y = L.SeparableConv2D(16, 3, strides=2)(y)
    y = L.Activation("hard_silu")(y)
    y = L.GlobalAveragePooling2D()(y)
    return keras.Model(x, L.Dense(5)(y))


def _split_min_max():
    keras = _k()
    L = keras.layers
    x = keras.Input((8, 8, 8))
    a, b = keras.ops.split(x, 2, axis=-1)
    y = L.Concatenate()([keras.ops.minimum(a, b), keras.ops.maximum(a, b)])
    y = L.Conv2D(4, 3)(y)
    return keras.Model(x, y)


def _unet():
    keras = _k()
    L = keras.layers
    x = keras.Input((16, 16, 2))
    d1 = L.Conv2D(8, 3, padding="same", activation="relu")(x)
    d2 = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(d1)
    b = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(d2)
    u2 = L.Concatenate()([L.UpSampling2D()(b), d2])
    u2 = L.Conv2D(8, 3, padding="same", activation="relu")(u2)
    u1 = L.Concatenate()([L.UpSampling2D()(u2), d1])
    return keras.Model(x, L.Conv2D(1, 1, activation="sigmoid")(u1))


def _bilinear():
    keras = _k()
    L = keras.layers
    x = keras.Input((8, 8, 4))
    y = L.Conv2D(8, 3, padding="same")(x)
    y = L.UpSampling2D(interpolation="bilinear")(y)
    y = L.Resizing(12, 10, interpolation="bilinear")(y)
    return keras.Model(x, L.Conv2D(2, 1)(y))


def _autoencoder():
    keras = _k()
    L = keras.layers
    x = keras.Input((16, 16, 1))
    y = L.Conv2D(8, 3, strides=2, padding="same", activation="relu")(x)
    y = L.Conv2D(16, 3, strides=2, padding="same", activation="relu")(y)
    y = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")(y)
    y = L.Conv2DTranspose(4, 3, strides=2, padding="same")(y)
    return keras.Model(x, L.Conv2D(1, 3, padding="same")(y))


def _espcn():
    """Super-resolution: convolutions, then DEPTH_TO_SPACE."""
    keras = _k()
    L = keras.layers
    x = keras.Input((12, 12, 1))
    y = L.Conv2D(16, 5, padding="same", activation="tanh")(x)
    y = L.Conv2D(4, 3, padding="same")(y)
    import tensorflow as tf

    return keras.Model(x, L.Lambda(lambda t: tf.nn.depth_to_space(t, 2))(y))


def _channels_first():
    """A PyTorch-style export: NCHW input transposed to NHWC first."""
    keras = _k()
    L = keras.layers
    x = keras.Input((3, 16, 16))
    y = L.Permute((2, 3, 1))(x)
    y = L.Conv2D(8, 3, strides=2, activation="relu")(y)
    y = L.Flatten()(y)
    return keras.Model(x, L.Dense(6)(y))


def _squeeze_excite():
    keras = _k()
    L = keras.layers
    x = keras.Input((12, 12, 16))
    y = L.Conv2D(16, 3, padding="same", activation="swish")(x)
    s = L.GlobalAveragePooling2D(keepdims=True)(y)
    s = L.Conv2D(4, 1, activation="relu")(s)
    s = L.Conv2D(16, 1, activation="sigmoid")(s)
    y = L.Multiply()([y, s])
    y = L.GlobalMaxPooling2D()(y)
    return keras.Model(x, L.Dense(3)(y))


def _mirror_pad_space_to_depth():
    keras = _k()
    L = keras.layers
    import tensorflow as tf

    x = keras.Input((8, 8, 3))
    y = L.Lambda(lambda t: tf.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT"))(x)
    y = L.Conv2D(8, 3)(y)
    y = L.Lambda(lambda t: tf.nn.space_to_depth(t, 2))(y)
    return keras.Model(x, L.Conv2D(4, 1)(y))


def _argmax_head():
    keras = _k()
    L = keras.layers
    x = keras.Input((10, 10, 3))
    y = L.Conv2D(6, 3, activation="relu")(x)
    y = keras.ops.max(y, axis=[1, 2])
    import tensorflow as tf

    return keras.Model(x, [L.Dense(5)(y), L.Lambda(lambda t: tf.math.argmax(t, axis=-1, output_type=tf.int32))(y)])


# ---- audio and sequences ----------------------------------------------------------------


def _ds_cnn():
    keras = _k()
    L = keras.layers
    x = keras.Input((49, 10, 1))
    y = L.Conv2D(32, (10, 4), strides=(2, 2), padding="same", activation="relu")(x)
    for _ in range(2):
        y = L.DepthwiseConv2D(3, padding="same", activation="relu")(y)
        y = L.Conv2D(32, 1, activation="relu")(y)
    y = L.GlobalAveragePooling2D()(y)
    return keras.Model(x, L.Softmax()(L.Dense(12)(y)))


def _recurrent(layer: str, units: int = 16, frames: int = 12, features: int = 10):
    """Batch fixed at 1 and unrolled: TensorFlow 2.21's converter crashes calibrating the
    WHILE loop a rolled Keras 3 recurrent layer becomes."""
    def make():
        keras = _k()
        L = keras.layers
        x = keras.Input((frames, features), batch_size=1)
        y = getattr(L, layer)(units, unroll=True)(x)
        return keras.Model(x, L.Softmax()(L.Dense(4)(y)))

    return make


def _tcn(batch_size=1):
    """Causal dilated Conv1D stack with global max pooling. (Exported with a free batch, the
    converter declares each SPACE_TO_BATCH_ND output with batch 1 instead of 1 x rate;
    protobrain folds that pattern into dilated convolutions, checked against the fixed-batch
    twin in tests/compiler/test_op_conv.py, as TFLite Micro leaves part of it unwritten.)"""
    def make():
        keras = _k()
        L = keras.layers
        x = keras.Input((64, 4), batch_size=batch_size)
        y = x
        for rate in (1, 2, 4, 8):
            y = L.Conv1D(8, 3, dilation_rate=rate, padding="causal", activation="relu")(y)
        y = L.GlobalMaxPooling1D()(y)
        return keras.Model(x, L.Dense(3)(y))

    return make


def _conv1d_avg():
    keras = _k()
    L = keras.layers
    x = keras.Input((40, 6))
    y = L.Conv1D(12, 5, strides=2, padding="same", activation="relu")(x)
    y = L.MaxPooling1D(2)(y)
    y = L.Conv1D(12, 3, padding="valid", activation="relu")(y)
    y = L.GlobalAveragePooling1D()(y)
    return keras.Model(x, L.Dense(4)(y))


def _gated_wavenet(batch_size=1):
    """A WaveNet block: one dilated input read by a tanh and a sigmoid convolution."""
    def make():
        return _gated_wavenet_block(batch_size)

    return make


def _gated_wavenet_block(batch_size):
    keras = _k()
    L = keras.layers
    x = keras.Input((32, 8), batch_size=batch_size)
    f = L.Conv1D(8, 2, dilation_rate=2, activation="tanh")(x)
    g = L.Conv1D(8, 2, dilation_rate=2, activation="sigmoid")(x)
    y = L.Multiply()([f, g])
    y = L.Conv1D(8, 1)(y)
    return keras.Model(x, L.Add()([y, L.Cropping1D((2, 0))(x)]))


def _seanet_decoder(activation: str):
    def make():
        keras = _k()
        L = keras.layers
        x = keras.Input((8, 16))
        y = L.Conv1DTranspose(8, 4, strides=2, padding="same", activation=activation)(x)
        y = L.Conv1DTranspose(4, 4, strides=2, padding="same", activation=activation)(y)
        return keras.Model(x, L.Conv1D(1, 7, padding="same", activation="tanh")(y))

    return make


# ---- dense and attention ----------------------------------------------------------------


def _mlp(activation: str):
    def make():
        keras = _k()
        L = keras.layers
        x = keras.Input((24,))
        y = L.Dense(32, activation=activation)(x)
        y = L.Dense(16, activation=activation)(y)
        return keras.Model(x, L.Dense(4)(y))

    return make


def _attention():
    keras = _k()
    L = keras.layers
    x = keras.Input((6, 16))
    y = L.MultiHeadAttention(num_heads=2, key_dim=8)(x, x)
    y = L.LayerNormalization()(L.Add()([x, y]))
    y = L.GlobalAveragePooling1D()(y)
    return keras.Model(x, L.Dense(3)(y))


def _manual_attention():
    """Batch fixed at 1: with a free batch the converter computes the Dense layers' shapes
    at run time with REDUCE_PROD, which TFLite Micro has no kernel for."""
    keras = _k()
    L = keras.layers
    x = keras.Input((8, 12), batch_size=1)
    q, k, v = L.Dense(12)(x), L.Dense(12)(x), L.Dense(12)(x)
    w = L.Softmax()(keras.ops.matmul(q, keras.ops.transpose(k, (0, 2, 1))) * (1 / 12 ** 0.5))
    return keras.Model(x, L.Dense(4)(keras.ops.matmul(w, v)))


def _l2norm_embedding():
    keras = _k()
    L = keras.layers
    x = keras.Input((16, 16, 1))
    y = L.Conv2D(8, 3, strides=2, activation="relu")(x)
    y = L.Flatten()(y)
    y = L.Dense(16)(y)
    import tensorflow as tf

    return keras.Model(x, L.Lambda(lambda t: tf.math.l2_normalize(t, axis=-1))(y))


def _log_softmax_head():
    keras = _k()
    L = keras.layers
    x = keras.Input((20,))
    y = L.Dense(10, activation="elu")(x)
    import tensorflow as tf

    return keras.Model(x, L.Lambda(lambda t: tf.nn.log_softmax(t))(L.Dense(6)(y)))


def _reduce_sum_mean():
    keras = _k()
    L = keras.layers
    x = keras.Input((6, 6, 8))
    y = L.Conv2D(8, 3, padding="same")(x)
    s = keras.ops.sum(y, axis=[1, 2])
    m = keras.ops.mean(y, axis=-1)
    return keras.Model(x, [L.Dense(3)(s), L.Flatten()(m)])


def _abs_rsqrt_square():
    """int8 forms TFLite Micro has kernels for (its SQRT and EXP take float32 only)."""
    keras = _k()
    L = keras.layers
    x = keras.Input((32,))
    y = L.Dense(16)(x)
    y = keras.ops.rsqrt(keras.ops.abs(y) + 0.5)
    y = L.Dense(8)(y)
    y = -keras.ops.square(y)
    return keras.Model(x, L.Dense(4)(y))


def _reverse_slice_pack():
    keras = _k()
    L = keras.layers
    x = keras.Input((10, 6))
    r = keras.ops.flip(x, axis=1)
    s = x[:, 2:8, :]
    y = keras.ops.stack([L.Dense(4)(L.Flatten()(r)), L.Dense(4)(L.Flatten()(s))], axis=1)
    return keras.Model(x, y)


def _where_compare():
    keras = _k()
    L = keras.layers
    x = keras.Input((16,))
    y = L.Dense(16)(x)
    z = L.Dense(16)(x)
    return keras.Model(x, L.Dense(4)(keras.ops.where(keras.ops.greater(y, z), y, z * 0.5)))


def _sin_cos_features():
    keras = _k()
    L = keras.layers
    x = keras.Input((8,))
    y = L.Dense(8)(x)
    return keras.Model(x, L.Dense(3)(L.Concatenate()([keras.ops.sin(y), keras.ops.cos(y)])))


ZOO = [
    # Keras applications, weights=None, small inputs
    ZooModel("mobilenet_v1", _app("MobileNet", (32, 32, 3), alpha=0.25), [(32, 32, 3)]),
    ZooModel("mobilenet_v2", _app("MobileNetV2", (32, 32, 3), alpha=0.35), [(32, 32, 3)]),
    ZooModel("mobilenet_v3_small", _app("MobileNetV3Small", (32, 32, 3), alpha=0.75, include_preprocessing=False),
             [(32, 32, 3)]),
    ZooModel("mobilenet_v3_minimalistic", _app("MobileNetV3Small", (32, 32, 3), minimalistic=True,
                                               include_preprocessing=False), [(32, 32, 3)]),
    ZooModel("efficientnet_b0", _app("EfficientNetB0", (32, 32, 3)), [(32, 32, 3)]),
    ZooModel("resnet8", _resnet8, [(32, 32, 3)]),
    ZooModel("resnet8_16x8", _resnet8, [(32, 32, 3)], mode="16x8"),
    # vision blocks
    ZooModel("prelu_batchnorm", _prelu_bn, [(16, 16, 3)]),
    ZooModel("separable_hard_swish", _separable_hard_swish, [(16, 16, 3)]),
    ZooModel("split_min_max", _split_min_max, [(8, 8, 8)]),
    ZooModel("unet_upsampling", _unet, [(16, 16, 2)]),
    ZooModel("bilinear_resize", _bilinear, [(8, 8, 4)]),
    ZooModel("conv_transpose_autoencoder", _autoencoder, [(16, 16, 1)]),
    ZooModel("conv_transpose_autoencoder_16x8", _autoencoder, [(16, 16, 1)], mode="16x8"),
    ZooModel("espcn_depth_to_space", _espcn, [(12, 12, 1)]),
    ZooModel("channels_first_transpose", _channels_first, [(3, 16, 16)]),
    ZooModel("squeeze_excite_swish", _squeeze_excite, [(12, 12, 16)]),
    ZooModel("mirror_pad_space_to_depth", _mirror_pad_space_to_depth, [(8, 8, 3)]),
    ZooModel("global_max_argmax", _argmax_head, [(10, 10, 3)]),
    ZooModel("l2_normalized_embedding", _l2norm_embedding, [(16, 16, 1)]),
    # audio and sequences
    ZooModel("ds_cnn_kws", _ds_cnn, [(49, 10, 1)]),
    ZooModel("lstm_kws", _recurrent("LSTM"), [(12, 10)]),
    ZooModel("lstm_kws_16x8", _recurrent("LSTM"), [(12, 10)], mode="16x8"),
    ZooModel("gru_kws", _recurrent("GRU"), [(12, 10)]),
    ZooModel("simple_rnn", _recurrent("SimpleRNN", units=8, frames=6), [(6, 10)]),
    ZooModel("tcn_causal_dilated", _tcn(), [(64, 4)]),
    ZooModel("conv1d_pooling", _conv1d_avg, [(40, 6)]),
    ZooModel("gated_wavenet_block", _gated_wavenet(), [(32, 8)]),
    ZooModel("seanet_decoder", _seanet_decoder("elu"), [(8, 16)]),
    # the converter has no 16x8 ELU
    ZooModel("seanet_decoder_16x8", _seanet_decoder("relu"), [(8, 16)], mode="16x8"),
    # dense, attention and heads
    ZooModel("mlp_gelu", _mlp("gelu"), [(24,)]),
    ZooModel("mlp_swish", _mlp("swish"), [(24,)]),
    ZooModel("mlp_elu", _mlp("elu"), [(24,)]),
    ZooModel("mlp_tanh_16x8", _mlp("tanh"), [(24,)], mode="16x8"),
    ZooModel("multi_head_attention", _attention, [(6, 16)]),
    ZooModel("attention_batch_matmul", _manual_attention, [(8, 12)]),
    ZooModel("attention_batch_matmul_16x8", _manual_attention, [(8, 12)], mode="16x8"),
    ZooModel("log_softmax_head", _log_softmax_head, [(20,)]),
    ZooModel("reduce_sum_mean", _reduce_sum_mean, [(6, 6, 8)]),
    ZooModel("abs_rsqrt_square", _abs_rsqrt_square, [(32,)]),
    ZooModel("reverse_slice_pack", _reverse_slice_pack, [(10, 6)]),
    ZooModel("where_compare", _where_compare, [(16,)]),
    ZooModel("sin_cos_features", _sin_cos_features, [(8,)]),
]

# Models TFLite Micro cannot run meaningfully, which protobrain must refuse with a reason.
REFUSED = [
    # Two convolutions read one SPACE_TO_BATCH_ND, so no dilated fold applies, and with a
    # free batch its declared shapes disagree with its block.
    (ZooModel("gated_wavenet_free_batch", _gated_wavenet(None), [(32, 8)]), "Export with a fixed batch"),
]
