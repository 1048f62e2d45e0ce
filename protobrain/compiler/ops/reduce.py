"""REDUCE_MAX, REDUCE_MIN, SUM, REDUCE_ALL and REDUCE_ANY over any set of axes.

As TFLite Micro does, every output starts from the reduction's initial value (the type's
lowest for MAX, its highest for MIN, 0 for SUM, true for ALL, false for ANY) and takes the
reduced elements in row-major order: MAX keeps `in > current ? in : current`, so float
NaNs never win and ties keep the first; MIN likewise with `<`.

- MAX / MIN: float32 and int8 (TFLite Micro), int16 (TFLite Micro has no kernel; LiteRT's
  reference kernel is the golden). Integers are compared raw: input and output must share
  scale and zero point exactly, or TFLite refuses the model.
- SUM: float32 adds in float; int8 and int16 add the raw values in int32 and requantize
  with QuantizeMultiplier(s_in / s_out) exactly like MEAN without the 1/count (the MEAN
  kernel does it, see mean.py).
- ALL / ANY: bool in, bool out (ANY has no TFLite Micro kernel; LiteRT is its golden).

keep_dims changes only the output's shape, never its element order.
"""

from __future__ import annotations

from protobrain.compiler.ops.base import KernelCall, register, require, tensors
from protobrain.compiler.ops.mean import loop_fields, quantized_sum_fields, resolve_axes

_TYPES = {
    "REDUCE_MAX": ("float32", "int8", "int16"),
    "REDUCE_MIN": ("float32", "int8", "int16"),
    "SUM": ("float32", "int8", "int16"),
    "REDUCE_ALL": ("bool",),
    "REDUCE_ANY": ("bool",),
}
_SUFFIX = {"float32": "f32", "int8": "s8", "int16": "s16", "bool": "b"}
_NAMES = {"REDUCE_MAX": "max", "REDUCE_MIN": "min", "SUM": "sum", "REDUCE_ALL": "all", "REDUCE_ANY": "any"}


def _qparams(t) -> tuple[float, int]:
    """(scale, zero point) as TFLite's per-tensor params hold them: zeros when unquantized."""
    return (float(t.quant.s), t.quant.zp) if t.quant is not None else (0.0, 0)


@register("REDUCE_MAX", "REDUCE_MIN", inputs=(2, 2), types=_TYPES["REDUCE_MAX"], litert_golden="int16")
@register("SUM", inputs=(2, 2), types=_TYPES["SUM"])
@register("REDUCE_ALL", inputs=(2, 2), types=("bool",))
@register("REDUCE_ANY", inputs=(2, 2), types=("bool",), litert_golden="bool")
def lower(op, g):
    (inp, axis_t), (out,) = tensors(op, g)
    allowed = _TYPES[op.name]
    require(inp.dtype in allowed, f"type {inp.dtype} (TFLite reduces {', '.join(allowed)})")
    require(out.dtype == inp.dtype, f"output type {out.dtype} differs from the input's {inp.dtype}")
    reduced, count = resolve_axes(inp, axis_t, out)
    fields = loop_fields(inp.shape, reduced)
    name = _NAMES[op.name]
    if op.name in ("REDUCE_MAX", "REDUCE_MIN") and inp.dtype != "float32":
        require(inp.quant is None or not inp.quant.per_channel, "per-channel quantization")
        require(_qparams(inp) == _qparams(out),
                f"input and output quantization differ ({_qparams(inp)} vs {_qparams(out)}); "
                "TFLite compares raw values and does not requantize")
    if op.name == "SUM" and inp.dtype != "float32":
        # The integer SUM is the MEAN kernel with the unscaled multiplier.
        fields.update(count=count, **quantized_sum_fields(inp, out, count, mean=False))
        return KernelCall(
            kernel="pb_mean",
            function=f"pb_mean_{_SUFFIX[inp.dtype]}",
            struct="pb_mean_params_t",
            fields=fields,
            inputs=[op.inputs[0]],
            outputs=[op.outputs[0]],
        )
    return KernelCall(
        kernel="pb_reduce",
        function=f"pb_reduce_{name}_{_SUFFIX[inp.dtype]}",
        struct="pb_reduce_params_t",
        fields=fields,
        inputs=[op.inputs[0]],
        outputs=[op.outputs[0]],
    )
