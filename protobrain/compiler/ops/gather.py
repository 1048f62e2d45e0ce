"""GATHER, GATHER_ND and EMBEDDING_LOOKUP: rows picked by int32 indices at run time
(pb_gather). The table or the indices may be constants (an embedding table, a fixed
index list); a row whose index lies outside the table is written as zeros, where TFLite
Micro reads past the table (GATHER) or stops with an error (GATHER_ND, EMBEDDING_LOOKUP).
"""

from __future__ import annotations

import math

import numpy as np

from protobrain.compiler.ops.base import KernelCall, const, register, require, tensors
from protobrain.compiler.ops.move import CONST, DATA_CTYPE, ELEM_SIZE, require_types


def _gather_call(op, table, index, out, *, batches, outer, coords, nd, block, inner, stride, scale=0.0):
    if index.is_const:  # TFLite Micro stops on (or reads past the table for) these
        rows = np.asarray(index.data, np.int64).reshape(-1, nd) @ np.asarray(stride, np.int64)
        bad = rows[(rows < 0) | (rows > block - inner)]
        if len(bad):
            require(False, f"a constant index reaches element {int(bad[0])}, outside the table")
    inputs = []
    fields = {"elem_size": ELEM_SIZE[table.dtype]}
    for role, t in (("table", table), ("index", index)):
        if t.is_const:
            fields[role] = CONST
        else:
            fields[role] = len(inputs)
            inputs.append(t.index)
    require(inputs, "every operand is a constant (the constant-folding pass computes this one)")
    fields.update(batches=batches, outer=outer, coords=coords, nd=nd, block=block, inner=inner,
                  stride=const("stride", np.asarray(stride, np.int32), "int32_t"),
                  table_data=const("table", table.data if table.is_const else [], DATA_CTYPE[table.dtype]),
                  index_data=const("index", index.data if index.is_const else [], "int32_t"),
                  scale=float(np.float32(scale)))
    return KernelCall(kernel="pb_move", function="pb_gather", struct="pb_gather_params_t", fields=fields,
                      inputs=inputs, outputs=[out.index], inputs_as_array=True)


@register("GATHER", inputs=(2, 2), types=("int8", "float32"))
def lower_gather(op, g):
    (table, index), (out,) = tensors(op, g)
    require_types(table, ("int8", "float32"))
    require_types(index, ("int32",), "positions type")
    require(out.dtype == table.dtype, f"output type {out.dtype}")
    rank, irank = len(table.shape), len(index.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + rank if axis < 0 else axis
    require(0 <= axis < rank, f"axis {op.options.get('axis')} out of range for rank {rank}")
    batch_dims = int(op.options.get("batch_dims", 0))
    batch_dims = batch_dims + irank if batch_dims < 0 else batch_dims
    require(0 <= batch_dims <= axis and batch_dims < rank and batch_dims <= irank, f"batch_dims {batch_dims}")
    require(table.shape[:batch_dims] == index.shape[:batch_dims], f"batch dimensions of {table.shape} and {index.shape}")
    want = (*table.shape[:axis], *index.shape[batch_dims:], *table.shape[axis + 1:])
    require(tuple(out.shape) == want, f"output shape {out.shape}, the operands give {want}")
    inner = math.prod(table.shape[axis + 1:])
    return _gather_call(op, table, index, out, batches=math.prod(table.shape[:batch_dims]),
                        outer=math.prod(table.shape[batch_dims:axis]), coords=math.prod(index.shape[batch_dims:]),
                        nd=1, block=table.shape[axis] * inner, inner=inner, stride=[inner])


@register("GATHER_ND", inputs=(2, 2), types=("int8", "float32"))
def lower_gather_nd(op, g):
    (table, index), (out,) = tensors(op, g)
    require_types(table, ("int8", "float32"))
    require_types(index, ("int32",), "indices type")
    require(out.dtype == table.dtype, f"output type {out.dtype}")
    rank, irank = len(table.shape), len(index.shape)
    require(rank >= 1 and irank >= 1, "params and indices must be at least vectors")
    nd = index.shape[-1]
    require(1 <= nd <= min(rank, 5), f"index depth {nd} (1 to min(rank, 5))")
    want = (*index.shape[:-1], *table.shape[nd:])
    require(tuple(out.shape) == want, f"output shape {out.shape}, the operands give {want}")
    # Each index counts whole sub-blocks of the flattened table, as TFLite Micro does (it
    # checks the flat position only, not each index against its own axis).
    stride = [math.prod(table.shape[j + 1:]) for j in range(nd)]
    return _gather_call(op, table, index, out, batches=1, outer=1, coords=math.prod(index.shape[:-1]), nd=nd,
                        block=table.size, inner=math.prod(table.shape[nd:]), stride=stride)


@register("EMBEDDING_LOOKUP", inputs=(2, 2), types=("int8", "float32"))
def lower_embedding_lookup(op, g):
    (index, table), (out,) = tensors(op, g)
    require_types(index, ("int32",), "lookup type")
    require(len(index.shape) == 1, f"lookup shape {index.shape} (1-D)")
    require_types(table, ("int8", "float32"), "value type")
    require(len(table.shape) >= 2, f"value shape {table.shape} (at least 2-D)")
    scale = 0.0
    if table.dtype == "int8" and out.dtype == "float32":
        require(table.quant is not None and table.quant.zp == 0 and not table.quant.per_channel,
                "hybrid lookup needs a per-tensor int8 table with zero point 0")
        scale = table.quant.s
        require(scale != 0.0, "hybrid lookup with scale 0")
    else:
        require(out.dtype == table.dtype, f"output type {out.dtype} for a {table.dtype} table")
    want = (index.shape[0], *table.shape[1:])
    require(tuple(out.shape) == want, f"output shape {out.shape}, the operands give {want}")
    inner = math.prod(table.shape[1:])
    return _gather_call(op, table, index, out, batches=1, outer=1, coords=index.shape[0], nd=1,
                        block=table.size, inner=inner, stride=[inner], scale=scale)
