"""Models and checks for the one-input operator tests (test_op_unary*.py): one-operator
models written directly, float32 Keras models converted without quantization (cached on
disk like builders.convert), the comparison on both host kernel tiers, and float32 probe
inputs (signed zeros, halves, infinities, NaN, subnormals, huge values)."""

from __future__ import annotations

import hashlib

import numpy as np
from builders import BUILDER_VERSION, cache_root
from conftest import RecordedReference, assert_bit_exact

from protobrain.compiler.reader import read_model_bytes
from protobrain.compiler.writer import write_model

ALL_INT8 = np.arange(-128, 128).astype(np.int8).reshape(1, 16, 16)
ALL_INT16 = np.arange(-32768, 32768).astype(np.int16).reshape(1, 256, 256)

_SPECIAL = [0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 3.0, -3.0, 6.0, -6.0, 1e-40, -1e-40, 1e-30, 3.4e38,
            -3.4e38, np.inf, -np.inf, np.nan, -np.nan, 8388607.5, -8388607.5, 16.619047, 16.62, -9.0, -9.01,
            88.7, 89.0, -87.0, -104.0, 2147483648.0, -2147483904.0, 4294967296.0, 127.9, 128.0, -128.9,
            -129.0, 32767.9, 32768.0, -32769.0, 1e10, -1e10, 0.1, 100.0, -100.0, np.pi, 1e6]


def float_probes(size: int, seed: int = 0) -> list[np.ndarray]:
    """Flat float32 inputs of `size` values: the special values, then wide random values
    (several magnitudes, both signs) and exact halves."""
    rng = np.random.default_rng(seed)
    special = np.resize(np.array(_SPECIAL, np.float32), size)
    wide = (rng.standard_normal(size) * 10.0 ** rng.integers(-3, 4, size)).astype(np.float32)
    halves = (rng.integers(-40, 40, size) + 0.5).astype(np.float32)
    return [special, wide, halves]


def one_op(op: str, inp, out, options=None, fields=None) -> bytes:
    """A one-operator model. inp/out: (type, shape, scale or None, zero point)."""
    tensors = [dict(type=t, shape=list(shape), scale=scale, zp=zp) for t, shape, scale, zp in (inp, out)]
    return write_model(tensors, [(op, [0], [1], options, fields or {})], [0], [1])


def convert_float(make_model, input_shape, *, key: str) -> bytes:
    """make_model() -> keras.Model, converted to a float32 .tflite without quantization."""
    digest = hashlib.sha256(f"{BUILDER_VERSION}|float|{key}|{input_shape}".encode()).hexdigest()[:20]
    path = cache_root() / f"{digest}.tflite"
    if path.exists():
        return path.read_bytes()
    import tensorflow as tf

    tf.keras.utils.set_random_seed(0)
    data = tf.lite.TFLiteConverter.from_keras_model(make_model()).convert()
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return data


def lambda_model(fn, shape):
    """A Keras model of one Lambda layer fn(tf)(x) on an input of `shape` (batch 1)."""
    def make():
        import tensorflow as tf

        x = tf.keras.Input(shape, batch_size=1)
        return tf.keras.Model(x, tf.keras.layers.Lambda(fn(tf))(x))

    return make


def op_names(data: bytes) -> list[str]:
    return [op.name for op in read_model_bytes(data).operators]


def check(data: bytes, name: str, *, extra=(), n_random: int = 5, golden: str = "tflm", arena: int = 1 << 22):
    """Both host kernel tiers against the reference on random, edge and `extra` inputs;
    asserts which golden judged (TFLite Micro, or LiteRT where it has no kernel)."""
    from protobrain.run.host import compile_bytes
    from protobrain.verify.reference import Reference

    reference = Reference(data, arena_size=arena)
    assert reference.golden == golden, (reference.golden, reference.missing_kernels)
    recorded = RecordedReference(reference)
    for tier in ("portable", "dsp"):
        assert_bit_exact(compile_bytes(data, name, tier=tier), recorded, n_random=n_random, extra_inputs=list(extra))
    return reference


def check_only(data: bytes, name: str, cases: list[np.ndarray], arena: int = 1 << 22) -> int:
    """Only the given inputs (for operators the reference refuses to run on some values,
    such as RSQRT below the zero point)."""
    from protobrain.run.host import compile_bytes
    from protobrain.verify.compare import compare
    from protobrain.verify.reference import Reference

    reference = RecordedReference(Reference(data, arena_size=arena))
    values = 0
    for tier in ("portable", "dsp"):
        compiled = compile_bytes(data, name, tier=tier)
        reference.reset()
        result = compare(compiled.run, reference, [(x,) for x in cases], name)
        assert result.ok, f"{name} ({tier}): {result.mismatches[0]}"
        values += result.values
    return values
