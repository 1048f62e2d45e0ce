"""A small graph IR: what the compiler needs to know about a model, nothing about files or C.

Tensors carry shape, dtype, quantization and (for constants) their data; operators carry
their builtin name, input/output tensor indices and their options as a plain dict. A model
is its subgraph 0 (the graph that runs), holding the other subgraphs it calls.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# TFLite tensor types we know how to name; values are numpy dtypes.
DTYPES = {
    "float32": np.float32,
    "int8": np.int8,
    "uint8": np.uint8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "bool": np.bool_,
}

C_TYPES = {
    "float32": "float",
    "int8": "int8_t",
    "uint8": "uint8_t",
    "int16": "int16_t",
    "int32": "int32_t",
    "int64": "int64_t",
    "uint32": "uint32_t",
    "uint64": "uint64_t",
    "bool": "uint8_t",
}


@dataclass
class Quantization:
    """Affine quantization: real = scale * (q - zero_point), per tensor or per `axis`."""

    scale: np.ndarray  # float32, length 1 (per tensor) or channels (per axis)
    zero_point: np.ndarray  # int64, same length as scale
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return len(self.scale) > 1

    @property
    def s(self) -> float:
        """The per-tensor scale as float32 (TFLite stores scales as float32)."""
        return np.float32(self.scale[0])

    @property
    def zp(self) -> int:
        return int(self.zero_point[0])


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quantization | None = None
    data: np.ndarray | None = None  # constant tensors only, already shaped and typed
    is_variable: bool = False

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.size * np.dtype(DTYPES[self.dtype]).itemsize

    @property
    def ctype(self) -> str:
        return C_TYPES[self.dtype]


@dataclass
class Operator:
    index: int
    name: str  # builtin name, e.g. "CONV_2D"
    inputs: list[int]  # tensor indices, -1 for an omitted optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)


@dataclass
class Graph:
    name: str
    tensors: list[Tensor]
    operators: list[Operator]
    inputs: list[int]
    outputs: list[int]
    description: str = ""
    # The model's other subgraphs, which operators of this one run (WHILE and IF bodies,
    # CALL_ONCE initializers): subgraphs[k - 1] is subgraph k. Empty for a one-subgraph
    # model, and in the subgraphs themselves.
    subgraphs: list[Graph] = field(default_factory=list)

    def subgraph(self, index: int) -> Graph:
        """Subgraph `index` of the model this graph is subgraph 0 of (0: this graph)."""
        if not 0 <= index <= len(self.subgraphs):
            raise IndexError(f"subgraph {index} of {len(self.subgraphs) + 1}")
        return self if index == 0 else self.subgraphs[index - 1]

    def tensor(self, index: int) -> Tensor | None:
        return None if index < 0 else self.tensors[index]

    def consumers(self, tensor_index: int) -> list[Operator]:
        return [op for op in self.operators if tensor_index in op.inputs]

    def producer(self, tensor_index: int) -> Operator | None:
        for op in self.operators:
            if tensor_index in op.outputs:
                return op
        return None

    def activations(self) -> list[Tensor]:
        """Tensors that need RAM at run time: everything produced or fed in, not constants."""
        used = set(self.inputs) | set(self.outputs)
        for op in self.operators:
            used.update(i for i in op.inputs + op.outputs if i >= 0)
        return [t for t in self.tensors if t.index in used and not t.is_const]
