"""Keras model -> full-integer TFLite, with TensorFlow's converter.

One place for the converter settings every protobrain trainer uses: int8 weights (per
output channel unless asked otherwise), int8 or int16 ("16x8") activations, integer
inputs and outputs, calibrated by the caller's representative dataset.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from typing import Callable, Iterable

from protobrain.errors import ProtobrainError

MODES = ("int8", "16x8")


def convert_integer(model, calibration: Callable[[], Iterable], mode: str = "int8",
                    per_channel: bool = True) -> bytes:
    """`calibration()` yields one model input (list or dict of float32 arrays) at a time."""
    import tensorflow as tf

    if mode not in MODES:
        raise ProtobrainError(f"--mode {mode}: choose one of {', '.join(MODES)}")
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
    with native_output_captured():
        return conv.convert()


@contextlib.contextmanager
def native_output_captured():
    """The TFLite converter writes progress lines straight to file descriptors 1 and 2,
    and Keras prints saved-model notices; keep them out of the user's terminal unless the
    conversion fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    with tempfile.TemporaryFile() as log:
        for fd in saved:
            os.dup2(log.fileno(), fd)
        failed = False
        printed = io.StringIO()
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
