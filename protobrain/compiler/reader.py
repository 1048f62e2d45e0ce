"""Read a .tflite flatbuffer into the graph IR, using the `tflite` schema package."""

from __future__ import annotations

import math
import re
from pathlib import Path

import flatbuffers
import numpy as np
import tflite
from flatbuffers import encode, flexbuffers, number_types
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType

from protobrain.compiler.ir import DTYPES, Graph, Operator, Quantization, Tensor
from protobrain.compiler.names import check_name, model_name
from protobrain.errors import ModelError

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


# Largest tensor, in bytes, a model may declare: TFLite Micro counts elements and bytes in
# 32-bit ints, and no microcontroller has 2 GiB of RAM or flash.
MAX_TENSOR_BYTES = 2**31 - 1

# Quantized types whose scale the kernels compute with: it must be a positive finite number.
_SCALED_TYPES = ("int8", "uint8", "int16")
_ZERO_POINT_RANGES = {"int8": (-128, 127), "uint8": (0, 255), "int16": (-32768, 32767)}


# The options table each operator protobrain compiles must carry, when it carries one
# (another type is read by TFLite Micro as no options at all).
_OPTIONS_OF = {
    "CONV_2D": "Conv2DOptions", "DEPTHWISE_CONV_2D": "DepthwiseConv2DOptions",
    "FULLY_CONNECTED": "FullyConnectedOptions", "SOFTMAX": "SoftmaxOptions", "ADD": "AddOptions",
    "WHILE": "WhileOptions", "IF": "IfOptions", "CALL_ONCE": "CallOnceOptions", "VAR_HANDLE": "VarHandleOptions",
    "SUB": "SubOptions", "MUL": "MulOptions", "RESHAPE": "ReshapeOptions", "SQUEEZE": "SqueezeOptions",
    "EXPAND_DIMS": "ExpandDimsOptions", "CONCATENATION": "ConcatenationOptions",
    "AVERAGE_POOL_2D": "Pool2DOptions", "MAX_POOL_2D": "Pool2DOptions", "MEAN": "ReducerOptions",
    "PAD": "PadOptions", "PADV2": "PadV2Options", "STRIDED_SLICE": "StridedSliceOptions",
    "LEAKY_RELU": "LeakyReluOptions", "QUANTIZE": "QuantizeOptions", "DEQUANTIZE": "DequantizeOptions",
    "REDUCE_MAX": "ReducerOptions", "REDUCE_MIN": "ReducerOptions", "SUM": "ReducerOptions",
    "REDUCE_ALL": "ReducerOptions", "REDUCE_ANY": "ReducerOptions", "RESIZE_BILINEAR": "ResizeBilinearOptions",
    "RESIZE_NEAREST_NEIGHBOR": "ResizeNearestNeighborOptions", "ARG_MAX": "ArgMaxOptions",
    "ARG_MIN": "ArgMinOptions", "CUMSUM": "CumsumOptions", "L2_POOL_2D": "Pool2DOptions",
    "DIV": "DivOptions", "TRANSPOSE_CONV": "TransposeConvOptions", "BATCH_MATMUL": "BatchMatMulOptions",
    "SELECT": "SelectOptions", "SELECT_V2": "SelectV2Options",
    "PACK": "PackOptions", "UNPACK": "UnpackOptions", "SPLIT": "SplitOptions", "SPLIT_V": "SplitVOptions",
    "GATHER": "GatherOptions", "DEPTH_TO_SPACE": "DepthToSpaceOptions", "SPACE_TO_DEPTH": "SpaceToDepthOptions",
    "MIRROR_PAD": "MirrorPadOptions", "SHAPE": "ShapeOptions",
}
# Operators whose missing options TFLite Micro reads as zeros (stride 0, beta 0, alpha 0)
# where protobrain would assume the schema's defaults: such a model is refused.
_OPTIONS_REQUIRED = ("CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D", "SOFTMAX", "LEAKY_RELU")
# Operators that name subgraphs or variables in their options: without them TFLite Micro
# would call subgraph 0 (itself) or compare null names.
_OPTIONS_REQUIRED += ("WHILE", "IF", "CALL_ONCE", "VAR_HANDLE")


def _printable(raw: bytes) -> str:
    """Text from the file (a tensor name, a custom operator code) as one printable line:
    it ends up in error messages and C comments, whatever bytes a damaged file holds."""
    text = raw.decode("utf-8", errors="replace")
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _read_custom_options(op) -> dict:
    """A custom operator's options: the flexbuffer map its TFLite Micro kernel reads, as a
    dict in stored key order ({} when there is none, or the root is not a map)."""
    if op.CustomOptionsLength() == 0:
        return {}
    try:
        root = flexbuffers.GetRoot(op.CustomOptionsAsNumpy().tobytes())
        if not root.IsMap:
            return {}
        keys = [k.AsKeyBytes for k in root.AsMap.Keys]
        options = dict(root.Value)
    except Exception:  # flexbuffers raises bare IndexError/struct.error on damaged bytes
        raise ModelError("its custom options are not a valid flexbuffer; re-export the model") from None
    # TFLite Micro's kernels look keys up by binary search, or take values by their sorted place.
    if any(a >= b for a, b in zip(keys, keys[1:])):
        raise ModelError("its custom options map keys out of order (a damaged flexbuffer); re-export the model")
    return options


class _CStrings(flatbuffers.table.Table):
    """A table whose strings read as TFLite Micro's kernels take them, through c_str():
    from their first byte to the first NUL, whatever length the file gives them."""

    def String(self, off):
        start = off + encode.Get(number_types.UOffsetTFlags.packer_type, self.Bytes, off) + 4
        end = bytes(self.Bytes[start:start + 4096]).find(b"\0")
        if end < 0:
            raise ModelError("a string option has no end; the model is damaged")
        return bytes(self.Bytes[start:start + end])


def _read_options(op, name: str) -> dict:
    """Every scalar and array field of an operator's builtin options, as a snake_case dict
    (a custom operator's flexbuffer options as they are keyed)."""
    if name.startswith("CUSTOM:"):
        return _read_custom_options(op)
    if op.CustomOptionsLength():
        raise ModelError("a builtin operator with custom options (TFLite Micro refuses it); re-export the model")
    kind = op.BuiltinOptionsType()
    table = op.BuiltinOptions()
    if kind != 0 and kind not in _OPTION_CLASSES:
        raise ModelError(f"builtin options type {kind} is not in the TFLite schema")
    want = _OPTIONS_OF.get(name)
    if want is not None and kind != 0 and _OPTION_CLASSES[kind] != want:
        raise ModelError(f"carries {_OPTION_CLASSES[kind]} instead of {want}; the model is damaged")
    if kind == 0 or table is None:
        if name in _OPTIONS_REQUIRED:
            raise ModelError(f"has no {want}; re-export the model")
        return {}
    cls = getattr(tflite, _OPTION_CLASSES[kind])
    opts = cls()
    opts.Init(table.Bytes, table.Pos)
    opts._tab = _CStrings(table.Bytes, table.Pos)
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
        if key in _ENUM_FIELDS:
            if value not in _ENUM_FIELDS[key]:
                raise ModelError(f"{key} {value} is not a TFLite value ({', '.join(_ENUM_FIELDS[key].values())})")
            value = _ENUM_FIELDS[key][value]
        out[key] = value
    return out


def _read_quant(t, type_name: str) -> Quantization | None:
    """Affine quantization as TFLite Micro reads it: a tensor is quantized only when it has
    both scales and zero points (one zero point serves every channel)."""
    q = t.Quantization()
    if q is None or q.ScaleLength() == 0 or q.ZeroPointLength() == 0:
        return None
    scale = np.asarray(q.ScaleAsNumpy(), dtype=np.float32)
    bad = scale[~np.isfinite(scale) | (scale <= 0)] if type_name in _SCALED_TYPES else scale[~np.isfinite(scale)]
    if len(bad):
        raise ModelError(f"has quantization scale {float(bad[0]):g}; scales must be positive finite numbers, "
                         "re-quantize the model")
    zp = np.asarray(q.ZeroPointAsNumpy(), dtype=np.int64)
    lo, hi = _ZERO_POINT_RANGES.get(type_name, (-(2**31), 2**31 - 1))
    bad = zp[(zp < lo) | (zp > hi)]
    if len(bad):
        raise ModelError(f"has zero point {int(bad[0])}, outside {type_name}'s [{lo}, {hi}]; re-quantize the model")
    if len(zp) != len(scale):
        zp = np.broadcast_to(zp[:1], scale.shape).copy()
    return Quantization(scale=scale, zero_point=zp, axis=q.QuantizedDimension())


def _check_graph(graph: Graph, main: bool = True) -> None:
    """What every lowering and the planner rely on: graph inputs and outputs, and operator
    outputs, are activation tensors (never omitted, never constants); every activation an
    operator reads is a graph input, a variable, or written by an earlier operator. A called
    subgraph (not `main`) may return constants, or nothing (a CALL_ONCE initializer)."""
    for what, ios in (("subgraph input", graph.inputs), ("subgraph output", graph.outputs)):
        for i in ios:
            if i < 0:
                raise ModelError(f"a {what} is tensor {i} (omitted); re-export the model")
            if graph.tensors[i].is_const and (main or what == "subgraph input"):
                raise ModelError(f"{what} tensor {i} ('{graph.tensors[i].name}') is a constant; "
                                 "inputs and outputs must be activations, re-export the model")
    if not graph.outputs and main:
        raise ModelError("the subgraph has no outputs; re-export the model")
    written = set(graph.inputs)
    for op in graph.operators:
        for i in op.inputs:
            t = graph.tensor(i)
            if t is not None and not t.is_const and not t.is_variable and i not in written:
                raise ModelError(f"operator {op.index} ({op.name}) reads tensor {i} ('{t.name}') before any operator "
                                 "writes it; the operators are out of order or the graph is damaged")
        for i in op.outputs:
            if i < 0:
                raise ModelError(f"operator {op.index} ({op.name}) has an omitted output (tensor -1)")
            if graph.tensors[i].is_const:
                raise ModelError(f"operator {op.index} ({op.name}) writes tensor {i} ('{graph.tensors[i].name}'), "
                                 "a constant; re-export the model")
            written.add(i)
    for i in graph.outputs:
        if i not in written and not graph.tensors[i].is_variable and not graph.tensors[i].is_const:
            raise ModelError(f"subgraph output tensor {i} ('{graph.tensors[i].name}') is never written by an operator; "
                             "the graph is damaged")


def _opcode_name(model, op) -> str:
    code = model.OperatorCodes(op.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == 32:  # CUSTOM
        custom = code.CustomCode()
        return f"CUSTOM:{_printable(custom) if custom else '?'}"
    return _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}")


def read_model(path: str | Path, name: str | None = None) -> Graph:
    """Parse a .tflite file. Raises ModelError with a one-line message on anything malformed."""
    path = Path(path)
    try:
        buf = path.read_bytes()
    except OSError as e:
        raise ModelError(f"cannot read {path}: {e.strerror}; check the path") from None
    return read_model_bytes(buf, model_name(path) if name is None else name, source=str(path))


def read_model_bytes(buf: bytes, name: str = "model", source: str = "<bytes>") -> Graph:
    check_name(name)  # every C symbol and file of the model is named after it
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
    """Subgraph 0 is the graph that runs; it holds the others (control-flow bodies,
    CALL_ONCE initializers), each read and checked the same way."""
    model = tflite.Model.GetRootAs(buf, 0)
    if model.SubgraphsLength() < 1:
        raise ModelError("model has no subgraph")
    n_buffers = model.BuffersLength()
    # TFLite Micro reads the metadata (for an offline memory plan): it must be intact.
    for k in range(model.MetadataLength()):
        meta = model.Metadata(k)
        if meta.Buffer() >= n_buffers or meta.Name() is None:
            raise ModelError(f"metadata entry {k} is damaged (buffer {meta.Buffer()} of {n_buffers}); "
                             "re-export the model")
        meta.Name().decode("utf-8")
    graph = _parse_subgraph(model, buf, 0, name)
    for k in range(1, model.SubgraphsLength()):
        try:
            graph.subgraphs.append(_parse_subgraph(model, buf, k, f"{name}_subgraph{k}"))
        except ModelError as e:
            raise ModelError(f"subgraph {k}: {e}") from None
    return graph


def _parse_subgraph(model, buf: bytes, index: int, name: str) -> Graph:
    sg = model.Subgraphs(index)
    buffers = model.Buffers
    n_buffers = model.BuffersLength()
    tensors = []
    for i in range(sg.TensorsLength()):
        t = sg.Tensors(i)
        if t.Type() not in _TYPE_NAMES:  # TFLite Micro cannot size it, so it fails to allocate the model
            raise ModelError(f"tensor {i} has type code {t.Type()}, which TFLite does not define; the model is damaged")
        type_name = _TYPE_NAMES[t.Type()]
        shape = tuple(int(d) for d in t.ShapeAsNumpy()) if t.ShapeLength() else ()
        if any(d < 0 for d in shape):
            raise ModelError(f"tensor {i} has a dynamic shape {shape}; export with a fixed batch size")
        if type_name in DTYPES and math.prod(shape) * np.dtype(DTYPES[type_name]).itemsize > MAX_TENSOR_BYTES:
            raise ModelError(f"tensor {i} of shape {shape} would take more than 2 GiB; the model is damaged")
        data = None
        b = t.Buffer()
        if b >= n_buffers:
            raise ModelError(f"tensor {i} points at buffer {b}, but the model has {n_buffers}")
        # Buffer 0 too: TFLite Micro reads whatever buffer a tensor names.
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
            count = math.prod(shape)
            if count * dtype.itemsize != len(blob):
                raise ModelError(
                    f"constant tensor {i} has {len(blob)} bytes but shape {shape} of {type_name} needs {count * dtype.itemsize}"
                )
            data = np.frombuffer(blob.tobytes(), dtype=dtype).reshape(shape)
        name_b = t.Name()
        try:
            quant = _read_quant(t, type_name)
        except ModelError as e:
            raise ModelError(f"tensor {i} {e}") from None
        tensors.append(
            Tensor(
                index=i,
                name=_printable(name_b) if name_b else f"t{i}",
                shape=shape,
                dtype=type_name,
                quant=quant,
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
        try:
            options = _read_options(op, _opcode_name(model, op))
        except ModelError as e:
            raise ModelError(f"operator {k} ({_opcode_name(model, op)}): {e}") from None
        operators.append(
            Operator(
                index=k,
                name=_opcode_name(model, op),
                inputs=_indices(op.InputsAsNumpy(), f"operator {k}"),
                outputs=_indices(op.OutputsAsNumpy(), f"operator {k}"),
                options=options,
            )
        )
        # TFLite Micro looks every intermediate tensor up (unchecked) and refuses one that takes memory.
        for v in ([int(v) for v in op.IntermediatesAsNumpy()] if op.IntermediatesLength() else []):
            if not 0 <= v < n or math.prod(tensors[v].shape) != 0:
                raise ModelError(f"operator {k} has intermediate tensor {v}, which is not an empty tensor of the model")
    desc = model.Description() if index == 0 else sg.Name()
    graph = Graph(
        name=name,
        tensors=tensors,
        operators=operators,
        inputs=_indices(sg.InputsAsNumpy(), "subgraph inputs"),
        outputs=_indices(sg.OutputsAsNumpy(), "subgraph outputs"),
        description=desc.decode(errors="replace") if desc else "",
    )
    _check_graph(graph, main=index == 0)
    return graph
