"""READ_VARIABLE, ASSIGN_VARIABLE and CALL_ONCE, in the dataflow form the resource-variable
pass (compiler/resource_variables.py) gives them: each variable is a variable tensor in the
state area, and these operators copy its bytes, as TFLite Micro's do.

- READ_VARIABLE: inputs [variable], outputs [value]: pb_variable_copy.
- ASSIGN_VARIABLE: inputs [value], outputs [variable]: pb_variable_copy, or pb_variable_set
  for a constant value.
- CALL_ONCE: inputs [initial values, constants], outputs [variables]: pb_call_once writes
  them on the first run after start-up only; its one-byte flag is state that reset leaves
  alone, as TFLite Micro's interpreter runs an initializer once in its life.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors


def _bytes(t) -> np.ndarray:
    return np.frombuffer(np.ascontiguousarray(t.data).tobytes(), np.uint8)


_ANY = ("int8", "uint8", "int16", "int32", "int64", "float32", "bool")  # byte copies


@register("READ_VARIABLE", "ASSIGN_VARIABLE", types=_ANY)
def lower_copy(op, g):
    (src,), (dst,) = tensors(op, g)
    var = src if op.name == "READ_VARIABLE" else dst
    require(var.is_variable, "its resource handle was not resolved to a variable (a VAR_HANDLE of the main graph)")
    require(src.nbytes == dst.nbytes, f"copies {src.nbytes} bytes into {dst.nbytes}")
    if src.is_const:
        return KernelCall(kernel="pb_variables", function="pb_variable_set", struct="pb_variable_params_t",
                          fields={"size": dst.nbytes, "values": const("values", _bytes(src), "uint8_t")},
                          inputs=[], outputs=[dst.index])
    return KernelCall(kernel="pb_variables", function="pb_variable_copy", struct="pb_variable_params_t",
                      fields={"size": dst.nbytes, "values": const("values", [], "uint8_t")},
                      inputs=[src.index], outputs=[dst.index])


@register("CALL_ONCE", inputs=(1, 4096), outputs=(1, 4096), types=_ANY)
def lower_call_once(op, g):
    ins, outs = tensors(op, g)
    require(len(ins) == len(outs), f"{len(ins)} initial values for {len(outs)} variables")
    for value, var in zip(ins, outs):
        require(value is not None and value.is_const, "an initial value computed at run time")
        require(var.is_variable, f"writes tensor {var.index}, not a variable")
        require(value.nbytes == var.nbytes, f"{value.nbytes} initial bytes for a variable of {var.nbytes}")
    values = np.concatenate([_bytes(v) for v in ins])
    return KernelCall(kernel="pb_variables", function="pb_call_once", struct="pb_call_once_params_t",
                      fields={"count": len(outs), "sizes": const("sizes", [v.nbytes for v in outs], "int32_t"),
                              "values": const("values", values, "uint8_t")},
                      inputs=[], outputs=[v.index for v in outs], outputs_as_array=True,
                      state_bytes=1, state_kept=True)
