"""Full-integer post-training quantization, and the quantized net run as generated C.

Accuracy of a quantized model is always measured on protobrain's generated C (compiled
for the host), the code that runs on the device, not on a Python interpreter.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile

import numpy as np

from ..errors import ProtobrainError

MODES = ("int8", "16x8")


def to_tflite(model, representative: np.ndarray, mode: str = "int8", per_channel: bool = True,
              samples: int = 200, seed: int = 0) -> bytes:
    """Quantize a float Keras model: int8 weights (per channel), int8 (or int16 for
    `16x8`) activations and inputs/outputs, calibrated on `samples` inputs drawn from
    `representative`."""
    import tensorflow as tf

    if mode not in MODES:
        raise ProtobrainError(f"--mode {mode}: choose one of {', '.join(MODES)}")
    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(representative))[:samples]

    def calibration():
        for i in pick:
            yield [representative[i:i + 1].astype(np.float32)]

    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = calibration
    if mode == "16x8":
        conv.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int16
    else:
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = conv.inference_output_type = tf.int8
    if not per_channel:
        conv._experimental_disable_per_channel = True
    with native_stderr_captured():
        return conv.convert()


@contextlib.contextmanager
def native_stderr_captured():
    """The TFLite converter writes progress lines straight to file descriptors 1 and 2;
    keep them out of the user's terminal unless the conversion fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as log:
        for fd in saved:
            os.dup2(log.fileno(), fd)
        failed = False
        printed = io.StringIO()     # Python-level prints (saved-model notices) go here
        try:
            with contextlib.redirect_stdout(printed):
                yield
        except Exception:
            failed = True
            raise
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            for fd, keep in saved.items():
                os.dup2(keep, fd)
                os.close(keep)
            if failed:
                log.seek(0)
                sys.stderr.write(printed.getvalue()[-2000:] + log.read().decode(errors="replace")[-4000:])


class QuantizedClassifier:
    """A quantized classifier compiled to C and loaded into this process."""

    def __init__(self, tflite: bytes, name: str = "model"):
        from ..host import compile_bytes

        self.model = compile_bytes(tflite, name)
        self.input = self.model.inputs[0]
        self.output = self.model.outputs[0]

    def quantize_input(self, x: np.ndarray) -> np.ndarray:
        t = self.input
        info = np.iinfo(np.int16 if t.dtype == "int16" else np.int8)
        q = np.round(x / t.quant.s) + t.quant.zp
        return np.clip(q, info.min, info.max).astype(info.dtype)

    def scores(self, x: np.ndarray) -> np.ndarray:
        """Raw quantized output rows, one per input (the argmax is the class)."""
        q = self.quantize_input(np.asarray(x, dtype=np.float32))
        return np.stack([np.asarray(self.model.run(q[i])).reshape(-1) for i in range(len(q))])

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.scores(x).argmax(axis=1)


def accuracy(pred: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.asarray(pred) == np.asarray(y))) if len(y) else float("nan")


def float_predict(model, x: np.ndarray) -> np.ndarray:
    return np.asarray(model.predict(x, verbose=0, batch_size=256)).argmax(axis=1)
