"""The golden reference: TensorFlow Lite Micro's interpreter (python package tflite-micro)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from protobrain.compiler.reader import read_model_bytes


class Reference:
    """TFLite Micro running one model; `run(x)` returns its output like CompiledModel.run."""

    def __init__(self, model: bytes | str | Path, arena_size: int | None = None, preserve_all_tensors: bool = False):
        from tflite_micro.python.tflite_micro import runtime

        data = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
        self._data = data
        config = (runtime.InterpreterConfig.kPreserveAllTensors if preserve_all_tensors
                  else runtime.InterpreterConfig.kAllocationRecording)
        self._interp = runtime.Interpreter.from_bytes(data, arena_size=arena_size, intrepreter_config=config)
        graph = read_model_bytes(data)
        self._graph = graph
        self.input_details = [self._interp.get_input_details(i) for i in range(len(graph.inputs))]
        self.output_details = [self._interp.get_output_details(i) for i in range(len(graph.outputs))]

    def run(self, *xs: np.ndarray):
        for i, x in enumerate(xs):
            self._interp.set_input(np.asarray(x).reshape(self.input_details[i]["shape"]), i)
        self._interp.invoke()
        outs = [np.array(self._interp.get_output(i)) for i in range(len(self.output_details))]
        return outs[0] if len(outs) == 1 else outs

    def reset(self) -> None:
        """Variable tensors and resource variables back to their start; they persist
        between run() calls otherwise."""
        self._interp.reset()

    def run_layers(self, *xs: np.ndarray) -> dict[int, np.ndarray]:
        """Every operator output tensor after one inference (needs preserve_all_tensors)."""
        self.run(*xs)
        out = {}
        for op in self._graph.operators:
            for t in op.outputs:
                out[t] = np.array(self._interp.GetTensor(t, 0)["tensor_data"])
        return out

    def arena_bytes(self) -> int | None:
        """Total arena TFLite Micro allocated for this model, from print_allocations()."""
        text = _capture_stderr(self._interp.print_allocations)
        m = re.search(r"\[RecordingMicroAllocator\] Arena allocation total (\d+) bytes", text)
        return int(m.group(1)) if m else None


def _capture_stderr(fn) -> str:
    """print_allocations writes to the C stderr; redirect the file descriptor to read it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            fn()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        tmp.seek(0)
        return tmp.read().decode(errors="replace")
