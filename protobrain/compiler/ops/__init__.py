"""Operator lowerings: one module per operator family, each registering itself in REGISTRY."""

import importlib
import pkgutil

from protobrain.compiler.ops.base import REGISTRY, Alias, ConstArray, KernelCall, Unsupported

for _m in pkgutil.iter_modules(__path__):
    if _m.name != "base":
        importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["REGISTRY", "Alias", "ConstArray", "KernelCall", "Unsupported"]
