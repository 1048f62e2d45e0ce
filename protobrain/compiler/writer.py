"""Write a .tflite flatbuffer from tensors and operators given as plain data: the
hand-written models of the fuzzer's seeds and the operator tests. Every field is
written, defaults too, so that every field has a place in the file a mutation can patch.
"""

from __future__ import annotations

import flatbuffers
import numpy as np
import tflite
from flatbuffers import flexbuffers
from tflite.BuiltinOperator import BuiltinOperator
from tflite.BuiltinOptions import BuiltinOptions
from tflite.TensorType import TensorType


def write_model(tensors: list[dict], ops: list[tuple], inputs: list[int], outputs: list[int],
                description: str = "protobrain fuzz model", subgraphs: list[tuple] = ()) -> bytes:
    """Serialize a model. tensors: dicts with shape, type, optional scale (float or list),
    zp, axis, data and variable (True: a variable tensor, kept between invocations); ops: (BUILTIN_NAME, inputs, outputs, options class name or None, {Field: value}),
    or ("CUSTOM:<code>", inputs, outputs, None, {key: value} written as flexbuffer custom
    options, or their raw bytes); string option values (VarHandleOptions' names) are written
    as strings. subgraphs: subgraphs 1, 2, ... (control-flow bodies, CALL_ONCE initializers),
    each a (tensors, ops, inputs, outputs) tuple of the same form."""
    b = flatbuffers.Builder(4096)
    b.ForceDefaults(True)  # every field present, so every field can be mutated

    def ints(values, dtype=np.int32):
        return b.CreateNumpyVector(np.asarray(values, dtype))

    def offsets(items):
        b.StartVector(4, len(items), 4)
        for o in reversed(items):
            b.PrependUOffsetTRelative(o)
        return b.EndVector()

    blobs = [b""]
    all_ops = list(ops) + [op for sub in subgraphs for op in sub[1]]
    codes = sorted({op[0] for op in all_ops})

    def subgraph(tensors, ops, inputs, outputs, sg_name):
        tensor_offsets = []
        for k, t in enumerate(tensors):
            buffer = 0
            if t.get("data") is not None:
                blobs.append(np.ascontiguousarray(t["data"]).tobytes())
                buffer = len(blobs) - 1
            name = b.CreateString(t.get("name", f"t{k}"))
            shape = ints(t["shape"])
            quant = None
            if t.get("scale") is not None:
                scales = np.atleast_1d(np.asarray(t["scale"], np.float32))
                scale_vec = b.CreateNumpyVector(scales)
                zp_vec = b.CreateNumpyVector(np.broadcast_to(np.asarray(t.get("zp", 0), np.int64), scales.shape).copy())
                tflite.QuantizationParametersStart(b)
                tflite.QuantizationParametersAddScale(b, scale_vec)
                tflite.QuantizationParametersAddZeroPoint(b, zp_vec)
                tflite.QuantizationParametersAddQuantizedDimension(b, int(t.get("axis", 0)))
                quant = tflite.QuantizationParametersEnd(b)
            tflite.TensorStart(b)
            tflite.TensorAddShape(b, shape)
            tflite.TensorAddType(b, getattr(TensorType, t["type"].upper()))
            tflite.TensorAddBuffer(b, buffer)
            tflite.TensorAddName(b, name)
            if t.get("variable"):
                tflite.TensorAddIsVariable(b, True)
            if quant is not None:
                tflite.TensorAddQuantization(b, quant)
            tensor_offsets.append(tflite.TensorEnd(b))

        op_offsets = []
        for name, ins, outs, opt_class, values in ops:
            opt = None
            if opt_class is not None:
                vecs = {f: ints(v) for f, v in values.items() if isinstance(v, (list, tuple))}
                vecs.update({f: b.CreateString(v) for f, v in values.items() if isinstance(v, str)})
                getattr(tflite, f"{opt_class}Start")(b)
                for f, v in values.items():
                    getattr(tflite, f"{opt_class}Add{f}")(b, vecs.get(f, v))
                opt = getattr(tflite, f"{opt_class}End")(b)
            custom = None
            if name.startswith("CUSTOM:") and values:
                raw = values if isinstance(values, (bytes, bytearray)) else flexbuffers.Dumps(values)
                custom = b.CreateNumpyVector(np.frombuffer(bytes(raw), np.uint8))
            in_vec, out_vec = ints(ins), ints(outs)
            tflite.OperatorStart(b)
            tflite.OperatorAddOpcodeIndex(b, codes.index(name))
            tflite.OperatorAddInputs(b, in_vec)
            tflite.OperatorAddOutputs(b, out_vec)
            if opt is not None:
                tflite.OperatorAddBuiltinOptionsType(b, getattr(BuiltinOptions, opt_class))
                tflite.OperatorAddBuiltinOptions(b, opt)
            if custom is not None:
                tflite.OperatorAddCustomOptions(b, custom)
                tflite.OperatorAddCustomOptionsFormat(b, 0)  # FLEXBUFFERS
            op_offsets.append(tflite.OperatorEnd(b))
        tensors_vec, ops_vec = offsets(tensor_offsets), offsets(op_offsets)
        in_vec, out_vec = ints(inputs), ints(outputs)
        sg_name = b.CreateString(sg_name)
        tflite.SubGraphStart(b)
        tflite.SubGraphAddTensors(b, tensors_vec)
        tflite.SubGraphAddOperators(b, ops_vec)
        tflite.SubGraphAddInputs(b, in_vec)
        tflite.SubGraphAddOutputs(b, out_vec)
        tflite.SubGraphAddName(b, sg_name)
        return tflite.SubGraphEnd(b)

    graphs = [subgraph(tensors, ops, inputs, outputs, "main")]
    graphs += [subgraph(*sub, f"subgraph{k + 1}") for k, sub in enumerate(subgraphs)]
    code_offsets = []
    for name in codes:
        custom_code = b.CreateString(name.removeprefix("CUSTOM:")) if name.startswith("CUSTOM:") else None
        value = BuiltinOperator.CUSTOM if custom_code is not None else getattr(BuiltinOperator, name)
        tflite.OperatorCodeStart(b)
        tflite.OperatorCodeAddDeprecatedBuiltinCode(b, min(value, 127))
        tflite.OperatorCodeAddBuiltinCode(b, value)
        tflite.OperatorCodeAddVersion(b, 1)
        if custom_code is not None:
            tflite.OperatorCodeAddCustomCode(b, custom_code)
        code_offsets.append(tflite.OperatorCodeEnd(b))
    buffer_offsets = []
    for blob in blobs:
        data = b.CreateNumpyVector(np.frombuffer(blob, np.uint8)) if blob else None
        tflite.BufferStart(b)
        if data is not None:
            tflite.BufferAddData(b, data)
        buffer_offsets.append(tflite.BufferEnd(b))
    codes_vec, subgraphs_vec, buffers_vec = offsets(code_offsets), offsets(graphs), offsets(buffer_offsets)
    desc = b.CreateString(description)
    tflite.ModelStart(b)
    tflite.ModelAddVersion(b, 3)
    tflite.ModelAddOperatorCodes(b, codes_vec)
    tflite.ModelAddSubgraphs(b, subgraphs_vec)
    tflite.ModelAddBuffers(b, buffers_vec)
    tflite.ModelAddDescription(b, desc)
    b.Finish(tflite.ModelEnd(b), file_identifier=b"TFL3")
    return bytes(b.Output())
