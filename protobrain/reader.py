"""Read a .tflite flatbuffer into the graph IR, using the `tflite` schema package."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import tflite
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType

from .errors import ModelError
from .ir import DTYPES, Graph, Operator, Quantization, Tensor

_TYPE_NAMES = {v: k.lower() for k, v in vars(TensorType).items() if not k.startswith("_")}
_OPTION_CLASSES = {v: k for k, v in vars(BuiltinOptions).items() if not k.startswith("_")}
_OPCODE_NAMES = tflite.utils.BUILTIN_OPCODE2NAME

# Enum-valued option fields, turned into names so lowering code reads like the schema.
_ENUM_FIELDS = {
    "padding": {0: "SAME", 1: "VALID"},
    "fused_activation_function": {
        0: "NONE", 1: "RELU", 2: "RELU_N1_TO_1", 3: "RELU6", 4: "TANH", 5: "SIGN_BIT",
    },
}


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _read_options(op) -> dict:
    """Every scalar and array field of an operator's builtin options, as a snake_case dict."""
    kind = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    if kind == 0 or table is None:
        return {}
    cls = getattr(tflite, _OPTION_CLASSES[kind])
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    out = {}
    for attr in dir(cls):
        if not attr[0].isupper() or attr.startswith("GetRootAs") or attr == "Init":
            continue
        if attr.endswith(("AsNumpy", "Length", "IsNone", "BufferHasIdentifier")):
            continue
        if hasattr(cls, attr + "AsNumpy"):
            value = getattr(opts, attr + "AsNumpy")()
            value = [] if isinstance(value, int) else [int(v) for v in value]
        else:
            value = getattr(opts, attr)()
        key = _snake(attr)
        out[key] = _ENUM_FIELDS.get(key, {}).get(value, value) if key in _ENUM_FIELDS else value
    return out


def _read_quant(t) -> Quantization | None:
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0:
        return None
    scale = np.asarray(q.ScaleAsNumpy(), dtype=np.float32)
    zp = np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64) if q.ZeroPointLength() else np.zeros(len(scale), np.int64)
    if len(zp) != len(scale):
        zp = np.broadcast_to(zp[:1], scale.shape).copy()
    return Quantization(scale=scale, zero_point=zp, axis=q.QuantizedDimension())


def _opcode_name(model, op) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == 32:  # CUSTOM
        custom = code.CustomCode()
        return f"CUSTOM:{custom.decode() if custom else '?'}"
    return _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}")


def read_model(path: str | Path, name: str | None = None) -> Graph:
    """Parse a .tflite file. Raises ModelError with a one-line message on anything malformed."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror}; check the path") from None
    return read_model_bytes(buf, name or _c_name(path.stem), source=str(path))


def _c_name(stem: str) -> str:
    name = re.sub(r"[^0-9a-zA-Z_]", "_", stem).lower()
    return name if name and not name[0].isdigit() else f"m_{name}"


def read_model_bytes(buf: bytes, name: str = "model", source: str = "<bytes>") -> Graph:
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelError(f"{source} is not a TensorFlow Lite model (no 'TFL3' identifier); pass a .tflite file")
    try:
        return _parse(buf, name)
    except ModelError as e:
        raise ModelError(f"{source}: {e}") from None
    except Exception:  # flatbuffers raises bare IndexError/struct.error on damaged files
        raise ModelError(
            f"{source} is damaged or truncated ({len(buf)} bytes; its flatbuffer offsets point outside the file); re-export the model"
        ) from None


def _parse(buf: bytes, name: str) -> Graph:
    model = tflite.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() < 1:
        raise ModelError("model has no subgraph")
    sg = model.Subgraphs(0)
    buffers = model.Buffers
    n_buffers = model.BuffersLength()

    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        type_name = _TYPE_NAMES.get(t.Type(), f"type{t.Type()}")
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if any(d < 0 for d in shape):
            raise ModelError(f"tensor {i} has a dynamic shape {shape}; export with a fixed batch size")
        data = None
        b = t.Buffer()
        if b >= n_buffers:
            raise ModelError(f"tensor {i} points at buffer {b}, but the model has {n_buffers}")
        if b > 0:
            raw = buffers(b)
            if raw.Offset() > 1:
                start, size = raw.Offset(), raw.Size()
                if start + size > len(buf):
                    raise ModelError(f"buffer {b} lies past the end of the file")
                blob = np.frombuffer(buf, dtype=np.uint8, count=size, offset=start)
            else:
                blob = raw.DataAsNumpy()
            if not isinstance(blob, int) and len(blob):
                if type_name not in DTYPES:
                    raise ModelError(f"constant tensor {i} has unsupported type {type_name}")
                dtype = np.dtype(DTYPES[type_name])
                count = int(np.prod(shape, dtype=np.int64)) if shape else 1
                if count * dtype.itemsize != len(blob):
                    raise ModelError(
                        f"constant tensor {i} has {len(blob)} bytes but shape {shape} of {type_name} needs {count * dtype.itemsize}"
                    )
                data = np.frombuffer(blob.tobytes(), dtype=dtype).reshape(shape)
        name_b = t.Name()
        tensors.append(
            Tensor(
                index=i,
                name=name_b.decode(errors="replace") if name_b else f"t{i}",
                shape=shape,
                dtype=type_name,
                quant=_read_quant(t),
                data=data,
                is_variable=bool(t.IsVariable()),
            )
        )

    n = len(tensors)

    def _indices(arr, what):
        idx = [int(v) for v in arr] if not isinstance(arr, int) else []
        for v in idx:
            if v < -1 or v >= n:
                raise ModelError(f"{what} refers to tensor {v}, but the model has {n} tensors")
        return idx

    operators = []
    for k in range(sg.OperatorsLength()):
        op = sg.Operators(k)
        if op.OpcodeIndex() >= model.OperatorCodesLength():
            raise ModelError(f"operator {k} has opcode index {op.OpcodeIndex()} out of range")
        operators.append(
            Operator(
                index=k,
                name=_opcode_name(model, op),
                inputs=_indices(op.InputsAsNumpy(), f"operator {k}"),
                outputs=_indices(op.OutputsAsNumpy(), f"operator {k}"),
                options=_read_options(op),
            )
        )
    desc = model.Description()
    return Graph(
        name=name,
        tensors=tensors,
        operators=operators,
        inputs=_indices(sg.InputsAsNumpy(), "subgraph inputs"),
        outputs=_indices(sg.OutputsAsNumpy(), "subgraph outputs"),
        description=desc.decode(errors="replace") if desc else "",
    )
