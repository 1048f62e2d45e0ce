"""What the signal library's custom operators (CUSTOM:Signal*) share: their flexbuffer
options read as TFLite Micro reads them, and the shape checks of their Prepare steps.

TFLite Micro's signal kernels read most options by position in the flexbuffer map (whose
keys are stored sorted), so a map with other keys would hand them other values: the map
must hold exactly the keys the kernel reads. Integers are read as int32 (wrapping, as its
static_cast does) and booleans as "not zero".
"""

from __future__ import annotations

import math

from protobrain.compiler.ir import Operator, Tensor
from protobrain.compiler.ops.base import require

# tflite.TensorType values of the "T" option (the sample type of Rfft, Irfft, OverlapAdd).
TENSOR_TYPES = {0: "float32", 2: "int32", 7: "int16"}
_SUFFIX = {"int16": "s16", "int32": "s32", "float32": "f32"}


def suffix(dtype: str) -> str:
    return _SUFFIX[dtype]


def read_options(op: Operator, *keys: str) -> dict[str, int]:
    """The options named `keys` (sorted as flexbuffers store them) as int32 values."""
    want = sorted(keys)
    got = list(op.options)
    require(got == want, f"options {got or 'none'}; the kernel reads exactly {want}")
    out = {}
    for key in want:
        value = op.options[key]
        require(isinstance(value, (bool, int)), f"option {key} is {type(value).__name__} {value!r}, not an integer")
        out[key] = (int(value) + 2**31) % 2**32 - 2**31
    return out


def in_range(options: dict[str, int], key: str, lo: int, hi: int) -> int:
    value = options[key]
    require(lo <= value <= hi, f"{key} {value} outside [{lo}, {hi}]")
    return value


def require_rank(t: Tensor, rank: int, what: str) -> None:
    require(len(t.shape) == rank, f"{what} of rank {len(t.shape)} {t.shape}, expects {rank}")


def rows(t: Tensor) -> tuple[int, int]:
    """(outer elements, innermost dimension) of a tensor of rank >= 1."""
    require(len(t.shape) >= 1 and t.shape[-1] > 0, f"shape {t.shape}: needs a non-empty innermost dimension")
    return math.prod(t.shape[:-1]), t.shape[-1]


def const_input(t: Tensor | None, what: str, dtype: str) -> Tensor:
    require(t is not None and t.is_const, f"{what} must be a constant tensor")
    require(t.dtype == dtype, f"{what} of type {t.dtype}, expects {dtype}")
    return t
