"""ADD, SUB, MUL: int8 and 16x8 (int16 activations), int32 and float32, N-D broadcasting,
fused activations; and the broadcasting helpers of the other elementwise families.

ADD and SUB bring both inputs to a common scale (twice the larger input scale) after
widening them by 2^20 (int8) or 2^15 (int16), add or subtract, then rescale to the output;
the ratios are taken in double from the float32 scales. MUL multiplies the offset inputs
and rescales by s1 * s2 / s_out, also in double.

Broadcasting follows the usual right-aligned rules. The output shape is folded here into
at most PB_EW_DIMS loop levels (dimensions of extent 1 dropped, neighbours that step
alike in both operands merged), each with a per-operand element stride (0 = repeat).
A constant operand is emitted as a const array in the parameter struct.

The int32 and float32 forms compute in their own type (int32 wrapping) through the pb_binary
kernels (ops/binary.py), whose calls `broadcast_call` builds: up to three operands, the
constant ones as const arrays, the others passed as one array of pointers.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ir import C_TYPES, DTYPES, Operator
from protobrain.compiler.ops.base import ConstArray, KernelCall, const, register, require, require_types, tensors
from protobrain.compiler.quantization import activation_range, f32, quantize_multiplier

EW_DIMS = 6  # PB_EW_DIMS in pb_elementwise.h, PB_BIN_DIMS in pb_binary.h
# Function name suffix of each element type in pb_binary and pb_compare.
SUFFIX = {"int8": "s8", "int16": "s16", "int32": "i32", "int64": "i64", "float32": "f32", "bool": "b"}
FLOAT_MAX = float(np.finfo(np.float32).max)
_ACTIVATIONS = ("NONE", "RELU", "RELU6", "RELU_N1_TO_1")


def broadcast_strides(out_shape, shapes, max_dims: int = EW_DIMS):
    """Loop extents and, per operand, element strides, outermost first, padded to max_dims:
    (extents, [strides of operand 0, strides of operand 1, ...]).

    Raises Unsupported when the shapes do not broadcast to out_shape or need more levels.
    """
    rank = max(len(out_shape), *(len(s) for s in shapes))

    def extend(s):
        return (1,) * (rank - len(s)) + tuple(int(d) for d in s)

    o, ext = extend(out_shape), [extend(s) for s in shapes]
    for i, do in enumerate(o):
        dims = [e[i] for e in ext]
        ok = all(d in (1, do) for d in dims) and (do == 1 or max(dims) == do)
        if not ok:
            names = " and ".join(str(tuple(s)) for s in shapes)
            require(False, f"shapes {names} do not broadcast to {tuple(out_shape)}")

    def strides(shape):
        out, step = [0] * rank, 1
        for i in range(rank - 1, -1, -1):
            out[i] = 0 if shape[i] == 1 else step
            step *= shape[i]
        return out

    st = [strides(e) for e in ext]
    # Innermost first; a level merges into the one inside it when stepping it once equals
    # stepping the inner one across its whole extent, in every operand.
    loops: list[list[int]] = []
    for i in range(rank - 1, -1, -1):
        if o[i] == 1:
            continue
        if loops:
            n, *inner = loops[-1]
            if all(s[i] == x * n for s, x in zip(st, inner)):
                loops[-1] = [n * o[i], *inner]
                continue
        loops.append([o[i], *(s[i] for s in st)])
    loops.reverse()
    require(len(loops) <= max_dims, f"broadcast needs {len(loops)} loop levels (at most {max_dims})")
    loops = [[1] + [0] * len(shapes)] * (max_dims - len(loops)) + loops
    return [lv[0] for lv in loops], [[lv[k + 1] for lv in loops] for k in range(len(shapes))]


def broadcast_loops(out_shape, shape1, shape2, max_dims: int = EW_DIMS):
    """broadcast_strides of two operands: (extents, strides of operand 1, strides of operand 2)."""
    shape, (stride1, stride2) = broadcast_strides(out_shape, [shape1, shape2], max_dims)
    return shape, stride1, stride2


def plain_activation(activation: str, dtype: str) -> dict:
    """The clamp fields of an int32 or float32 output (TFLite Micro's CalculateActivationRange:
    an activation other than RELU, RELU6, RELU_N1_TO_1 clamps to the type's whole range)."""
    lo, hi = {"RELU": (0, None), "RELU6": (0, 6), "RELU_N1_TO_1": (-1, 1)}.get(activation, (None, None))
    if dtype == "float32":
        return {"act_min_f": -FLOAT_MAX if lo is None else float(lo), "act_max_f": FLOAT_MAX if hi is None else float(hi)}
    return {"act_min": -(2**31) if lo is None else lo, "act_max": 2**31 - 1 if hi is None else hi}


def constant_operand(name: str, t) -> ConstArray:
    """A constant operand as a const array of its own C type (bool as uint8_t 0/1)."""
    values = np.asarray(t.data).astype(DTYPES[t.dtype])
    if t.dtype == "float32":
        require(bool(np.all(np.isfinite(values))), "a constant operand holds inf or NaN")
    return const(name, values.astype(np.uint8) if t.dtype == "bool" else values, C_TYPES[t.dtype])


def broadcast_call(op: Operator, g, function: str, fields: dict, kernel: str = "pb_binary",
                   struct: str = "pb_binary_params_t", shapes: list | None = None) -> KernelCall:
    """A call of a pb_binary-style kernel over op's inputs (one to three operands) broadcast to
    its output: the loop extents and strides, the constant operands as const1..const3, the
    run-time ones passed in order as one array. shapes: the operands' shapes as the
    operator broadcasts them, where they differ from the tensors' own (SELECT's rank-1 condition)."""
    ins, (out, *_) = tensors(op, g)
    require(len(ins) <= 3 and all(t is not None for t in ins), f"{len(ins)} operands")
    require(any(not t.is_const for t in ins), "every operand is constant")
    shape, strides = broadcast_strides(out.shape, shapes or [t.shape for t in ins])
    head = {"shape": _c_array(shape)}
    for k, t in enumerate(ins):
        head[f"stride{k + 1}"] = _c_array(strides[k])
        head[f"const{k + 1}"] = constant_operand(f"operand{k + 1}", t) if t.is_const else "NULL"
    return KernelCall(
        kernel=kernel,
        function=function,
        struct=struct,
        fields={**head, **fields},
        inputs=[i for i, t in zip(op.inputs, ins) if not t.is_const],
        outputs=[op.outputs[0]],
        inputs_as_array=True,
    )


def _lower_plain(op, g) -> KernelCall:
    """int32 and float32 ADD, SUB, MUL: no quantization, int32 wraps."""
    require_types(op, g, {("int32", "int32", "int32"), ("float32", "float32", "float32")})
    (in1, in2), (out,) = tensors(op, g)
    activation = op.options.get("fused_activation_function", "NONE")
    if out.dtype == "int32":
        # TFLite Micro refuses quantized int32 ADD and SUB operands; its int32 ADD ignores
        # the fused activation.
        if op.name in ("ADD", "SUB"):
            require(in1.quant is None and in2.quant is None, f"quantized int32 {op.name}")
        if op.name == "SUB":
            require(out.quant is None, "quantized int32 SUB")
        if op.name == "ADD":
            activation = "NONE"
    fields = plain_activation(activation, out.dtype)
    return broadcast_call(op, g, f"pb_binary_{op.name.lower()}_{SUFFIX[out.dtype]}", fields)


def _c_array(values) -> str:
    return "{" + ", ".join(str(int(v)) for v in values) + "}"


def smaller_than_one(real: float, what: str) -> tuple[int, int]:
    """QuantizeMultiplierSmallerThanOneExp, which TFLite Micro aborts on outside (0, 1)."""
    require(0.0 < real < 1.0, f"{what} multiplier {real:.6g} outside (0, 1)")
    m, s = quantize_multiplier(real)
    require(s <= 0, f"{what} multiplier {real:.6g} rounds up to 1")
    return m, s


def _add_sub_params(s1, s2, so, wide: bool) -> dict:
    left_shift = 15 if wide else 20
    # The ratios are taken in double from the float32 scales (doubling a float32 is exact,
    # so where the doubled maximum is held does not matter).
    twice_max = 2.0 * float(max(s1, s2))
    r1 = float(s1) / twice_max
    r2 = float(s2) / twice_max
    ro = twice_max / (float(1 << left_shift) * float(so))
    m1, sh1 = smaller_than_one(r1, "input 1")
    m2, sh2 = smaller_than_one(r2, "input 2")
    mo, sho = smaller_than_one(ro, "output")
    return {"left_shift": left_shift, "input1_mult": m1, "input1_shift": sh1,
            "input2_mult": m2, "input2_shift": sh2, "output_mult": mo, "output_shift": sho}


@register("ADD", "SUB", "MUL", inputs=(2, 2), types=("int8", "int16", "int32", "float32"))
def lower(op, g):
    require(len(op.inputs) == 2 and min(op.inputs) >= 0, f"{len(op.inputs)} inputs")
    if g.tensors[op.outputs[0]].dtype in ("int32", "float32"):
        return _lower_plain(op, g)
    require_types(op, g, {("int8", "int8", "int8"), ("int16", "int16", "int16")})
    (in1, in2, *_), (out,) = tensors(op, g)
    for t in (in1, in2, out):
        require(t.quant is not None, "missing quantization")
        require(not t.quant.per_channel, "per-channel quantized operand")
    activation = op.options.get("fused_activation_function", "NONE")
    require(activation in _ACTIVATIONS, f"fused activation {activation}")
    require(not (in1.is_const and in2.is_const), "both operands constant")
    wide = out.dtype == "int16"
    name = op.name

    shape, stride1, stride2 = broadcast_loops(out.shape, in1.shape, in2.shape)
    s1, s2, so = f32(in1.quant.s), f32(in2.quant.s), f32(out.quant.s)
    fields = {
        "shape": _c_array(shape),
        "stride1": _c_array(stride1),
        "stride2": _c_array(stride2),
        "input1_offset": -in1.quant.zp,
        "input2_offset": -in2.quant.zp,
        "output_offset": out.quant.zp,
        "left_shift": 0,
        "input1_mult": 0, "input1_shift": 0,
        "input2_mult": 0, "input2_shift": 0,
        "output_mult": 0, "output_shift": 0,
    }
    if name in ("ADD", "SUB"):
        fields.update(_add_sub_params(s1, s2, so, wide))
    else:
        if wide:
            # TFLite Micro refuses int16 MUL with any non-zero zero point.
            require(in1.quant.zp == 0 and in2.quant.zp == 0 and out.quant.zp == 0,
                    "int16 MUL with non-zero zero point")
        m, s = quantize_multiplier(float(s1) * float(s2) / float(so))
        fields.update(output_mult=m, output_shift=s)
    fields["act_min"], fields["act_max"] = activation_range(activation, so, out.quant.zp, out.dtype)

    const_t = in1 if in1.is_const else in2 if in2.is_const else None
    fields["const_input"] = 0 if const_t is None else (1 if const_t is in1 else 2)
    fields["const_s8"] = fields["const_s16"] = "NULL"
    if const_t is not None:
        ctype = "int16_t" if wide else "int8_t"
        fields["const_s16" if wide else "const_s8"] = const(
            "operand", np.asarray(const_t.data).astype(np.int16 if wide else np.int8), ctype)

    suffix = ("_s16" if wide else "_s8") + ("_const" if const_t is not None else "")
    base = f"pb_{name.lower()}"
    return KernelCall(
        kernel="pb_elementwise",
        function=base + suffix,
        struct=f"{base}_params_t",
        fields=fields,
        inputs=[i for i, t in zip(op.inputs[:2], (in1, in2)) if not t.is_const],
        outputs=[op.outputs[0]],
        macs=0,  # MACs count convolutions and fully connected layers only, as MLPerf Tiny does
    )
