"""The golden reference: TensorFlow Lite Micro's interpreter (python package tflite-micro).

Where TFLite Micro has no kernel at all for an operator of the model (GELU), or only a
float32 one for an integer operator LiteRT runs (int8 EXP), the golden is
LiteRT's reference kernels instead (the ai-edge-litert interpreter, or TensorFlow's
tf.lite.Interpreter where that package is missing, with the BUILTIN_REF op resolver);
`Reference.golden` says which one ran ("tflm" or "litert") so that reports can say so.
LiteRT and TensorFlow are imported only on that path.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from protobrain.compiler.reader import read_model_bytes

GOLDENS = ("auto", "tflm", "litert")
# What TFLite Micro prints when its op resolver has no kernel for a builtin operator.
_NO_KERNEL = re.compile(r"Didn't find op for builtin opcode '(\w+)'")
# Operators whose kernel LiteRT's reference resolver registers for fewer versions than
# its builtin one, though the kernel is the same: TILE (versions 1-2; the converter writes
# version 3 for int8 and int16 elements, which that kernel copies all the same).
_REF_MAX_VERSION = {"TILE": 2}
# Operators whose TFLite Micro kernel takes float32 only (its Prepare or Eval refuses other
# types) while LiteRT's reference kernels also run integer forms: "auto" judges those forms
# with LiteRT, as if TFLite Micro had no kernel.
_TFLM_FLOAT_ONLY = {"EXP", "LOG", "SQRT", "NEG"}


class Reference:
    """TFLite Micro running one model; `run(x)` returns its output like CompiledModel.run.

    golden: "tflm"; "litert" (LiteRT's reference kernels); or "auto", TFLite Micro unless
    it has no kernel for one of the model's operators, then LiteRT. `self.golden` is the
    one used, and `self.missing_kernels` the operators that made "auto" choose LiteRT."""

    def __init__(self, model: bytes | str | Path, arena_size: int | None = None, preserve_all_tensors: bool = False,
                 golden: str = "auto"):
        if golden not in GOLDENS:
            raise ValueError(f"golden must be one of {', '.join(GOLDENS)}, not {golden!r}")
        data = Path(model).read_bytes() if isinstance(model, (str, Path)) else bytes(model)
        self._data = data
        graph = read_model_bytes(data)
        self._graph = graph
        self._litert = None
        self.missing_kernels: list[str] = []
        if golden == "litert":
            self._start_litert(preserve_all_tensors)
            return
        integer_forms = _integer_forms(graph)
        if golden == "auto" and integer_forms:
            self.missing_kernels = integer_forms
            self._start_litert(preserve_all_tensors)
            return
        from tflite_micro.python.tflite_micro import runtime

        config = (runtime.InterpreterConfig.kPreserveAllTensors if preserve_all_tensors
                  else runtime.InterpreterConfig.kAllocationRecording)
        try:
            self._interp, printed = _call_capturing_stderr(
                lambda: runtime.Interpreter.from_bytes(data, arena_size=arena_size, intrepreter_config=config))
        except _Failed as failed:
            missing = sorted(set(_NO_KERNEL.findall(failed.printed)))
            if golden == "tflm" or not missing:
                sys.stderr.write(failed.printed)
                raise failed.error from None
            self.missing_kernels = missing
            self._start_litert(preserve_all_tensors)
            return
        sys.stderr.write(printed)
        self.golden = "tflm"
        self.input_details = [self._interp.get_input_details(i) for i in range(len(graph.inputs))]
        self.output_details = [self._interp.get_output_details(i) for i in range(len(graph.outputs))]

    def _start_litert(self, preserve_all_tensors: bool) -> None:
        import warnings

        try:  # the LiteRT package, else the copy inside TensorFlow
            from ai_edge_litert import interpreter as lite

            resolvers = lite.OpResolverType
        except ImportError:
            import tensorflow as tf

            lite, resolvers = tf.lite, tf.lite.experimental.OpResolverType

        def start(data):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tf.lite.Interpreter's deprecation notice
                return lite.Interpreter(
                    model_content=data, experimental_preserve_all_tensors=preserve_all_tensors,
                    experimental_op_resolver_type=resolvers.BUILTIN_REF)

        try:
            interp = start(self._data)
        except ValueError as e:
            if not any(name in _REF_MAX_VERSION for name in _NO_KERNEL.findall(str(e))):
                raise
            interp = start(_ref_versions(self._data))
        interp.allocate_tensors()
        self._litert = interp
        self.golden = "litert"
        self.input_details = interp.get_input_details()
        self.output_details = interp.get_output_details()

    def run(self, *xs: np.ndarray):
        if self._litert is not None:
            for d, x in zip(self.input_details, xs):
                self._litert.set_tensor(d["index"], np.asarray(x, d["dtype"]).reshape(d["shape"]))
            self._litert.invoke()
            outs = [np.array(self._litert.get_tensor(d["index"])) for d in self.output_details]
            return outs[0] if len(outs) == 1 else outs
        for i, x in enumerate(xs):
            self._interp.set_input(np.asarray(x).reshape(self.input_details[i]["shape"]), i)
        self._interp.invoke()
        outs = [np.array(self._interp.get_output(i)) for i in range(len(self.output_details))]
        return outs[0] if len(outs) == 1 else outs

    def reset(self) -> None:
        """Variable tensors and resource variables back to their start; they persist
        between run() calls otherwise."""
        if self._litert is not None:
            self._litert.reset_all_variables()
            return
        self._interp.reset()

    def run_layers(self, *xs: np.ndarray) -> dict[int, np.ndarray]:
        """Every operator output tensor after one inference (needs preserve_all_tensors)."""
        self.run(*xs)
        out = {}
        for op in self._graph.operators:
            for t in op.outputs:
                out[t] = (np.array(self._litert.get_tensor(t)) if self._litert is not None
                          else np.array(self._interp.GetTensor(t, 0)["tensor_data"]))
        return out

    def arena_bytes(self, part: str = "total") -> int | None:
        """The arena TFLite Micro allocated for this model, from print_allocations(): its
        total, or its "head" (the non-persistent part: its plan of activations and scratch)
        or "tail" (what it keeps per tensor and operator). None under LiteRT, which has no
        such arena."""
        if self._litert is not None:
            return None
        text = _capture_stderr(self._interp.print_allocations)
        m = re.search(rf"\[RecordingMicroAllocator\] Arena allocation {part} (\d+) bytes", text)
        return int(m.group(1)) if m else None


def _integer_forms(graph) -> list[str]:
    """The model's operators TFLite Micro runs in float32 only, given integer inputs ("EXP int8")."""
    found = set()
    for op in graph.operators:
        inp = graph.tensor(op.inputs[0]) if op.name in _TFLM_FLOAT_ONLY and op.inputs else None
        if inp is not None and inp.dtype != "float32":
            found.add(f"{op.name} {inp.dtype}")
    return sorted(found)


def _ref_versions(data: bytes) -> bytes:
    """The model with the versions of _REF_MAX_VERSION's operator codes lowered to what
    LiteRT's reference resolver registers (the version field patched in place)."""
    import struct

    import tflite
    from tflite.BuiltinOperator import BuiltinOperator

    names = {v: k for k, v in vars(BuiltinOperator).items() if not k.startswith("_")}
    out = bytearray(data)
    model = tflite.Model.GetRootAsModel(data, 0)
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        top = _REF_MAX_VERSION.get(names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), ""))
        field = code._tab.Offset(8)  # OperatorCode.version
        if top is not None and field and code.Version() > top:
            struct.pack_into("<i", out, code._tab.Pos + field, top)
    return bytes(out)


class _Failed(Exception):
    def __init__(self, error: BaseException, printed: str):
        super().__init__(str(error))
        self.error, self.printed = error, printed


def _call_capturing_stderr(fn):
    """(fn(), what it printed on the C stderr); raises _Failed with both when fn raises."""
    result = []

    def call():
        try:
            result.append(fn())
        except Exception as e:  # noqa: BLE001 - handed back with the text printed before it
            result.append(e)

    printed = _capture_stderr(call)
    if isinstance(result[0], Exception):
        raise _Failed(result[0], printed)
    return result[0], printed


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
