"""Graph rewrites applied before lowering. Each pass takes a Graph and returns a Graph."""

from __future__ import annotations

from .ir import Graph


def run_all(graph: Graph) -> Graph:
    for p in PASSES:
        graph = p(graph)
    return graph


PASSES: list = []
