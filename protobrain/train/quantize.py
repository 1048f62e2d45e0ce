"""Full-integer post-training quantization, and the quantized net run as generated C.

Accuracy of a quantized model is always measured on protobrain's generated C (compiled
for the host), the code that runs on the device, not on a Python interpreter.
"""

from __future__ import annotations

import numpy as np

from protobrain.run.host import compile_bytes
from protobrain.train.converter import convert_integer


def to_tflite(model, representative: np.ndarray, mode: str = "int8", per_channel: bool = True,
              samples: int = 200, seed: int = 0) -> bytes:
    """Quantize a float Keras model: int8 weights (per channel), int8 (or int16 for
    `16x8`) activations and inputs/outputs, calibrated on `samples` inputs drawn from
    `representative`."""
    pick = np.random.default_rng(seed).permutation(len(representative))[:samples]

    def calibration():
        for i in pick:
            yield [representative[i:i + 1].astype(np.float32)]

    return convert_integer(model, calibration, mode, per_channel)


class QuantizedClassifier:
    """A quantized classifier compiled to C and loaded into this process."""

    def __init__(self, tflite: bytes, name: str = "model"):
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
