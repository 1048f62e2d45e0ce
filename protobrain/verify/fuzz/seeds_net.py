"""Net: a few lines per tensor and operator for the fuzzer's hand-written seed models
(seeds_*.py), written with compiler.writer.write_model. Every operator that has a
builtin options table gets one written (all fields, defaults too), so every option is a
field the mutator can patch; custom operators get their flexbuffer options.
"""

from __future__ import annotations

import numpy as np

from protobrain.compiler.writer import write_model

_NUMPY = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64, "uint8": np.uint8,
          "uint32": np.uint32, "uint64": np.uint64, "float32": np.float32, "bool": np.bool_}


class Net:
    """Tensors and operators of one model under construction; build() writes the file."""

    def __init__(self, seed: int):
        self.rng = np.random.default_rng(seed)
        self.tensors: list[dict] = []
        self.ops: list[tuple] = []
        self.subgraphs: list[tuple] = []

    def act(self, shape, dtype: str = "int8", scale=None, zp: int = 0, name: str | None = None,
            variable: bool = False) -> int:
        """An activation tensor (quantized when `scale` is given)."""
        t = {"shape": list(shape), "type": dtype}
        if scale is not None:
            t.update(scale=scale, zp=zp)
        if name:
            t["name"] = name
        if variable:
            t["variable"] = True
        self.tensors.append(t)
        return len(self.tensors) - 1

    def const(self, values, dtype: str = "int32", scale=None, zp: int = 0, axis: int = 0, shape=None) -> int:
        """A constant tensor holding `values` (per-channel when `scale` is a list)."""
        data = np.asarray(values, _NUMPY[dtype])
        t = {"shape": list(data.shape if shape is None else shape), "type": dtype, "data": data.reshape(-1)
             if shape is not None else data}
        if scale is not None:
            t.update(scale=scale, zp=zp, axis=axis)
        self.tensors.append(t)
        return len(self.tensors) - 1

    def weights(self, shape, scale, dtype: str = "int8", axis: int = 0, lo: int = -127, hi: int = 128) -> int:
        """Random constant weights of `shape` (int8 by default), zero point 0."""
        return self.const(self.rng.integers(lo, hi, size=shape), dtype, scale=scale, axis=axis)

    def op(self, name: str, inputs, outputs, options: str | None = None, **fields) -> None:
        """One operator; `options` names its builtin options table, `fields` its values
        (a CUSTOM:<code> operator: its flexbuffer options)."""
        outs = [outputs] if isinstance(outputs, int) else list(outputs)
        self.ops.append((name, list(inputs), outs, options, dict(fields)))

    def build(self, inputs, outputs, description: str) -> bytes:
        return write_model(self.tensors, self.ops, list(inputs), list(outputs), f"protobrain fuzz seed: {description}",
                           subgraphs=self.subgraphs)
