"""Offline memory planning: give every activation buffer a fixed offset in one arena.

Input is a list of buffers with sizes and lifetimes (first and last step that touches
them); output is an offset per buffer. Strategies are interchangeable and registered in
PLANNERS. The planner knows nothing about operators or C.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

ALIGN = 8  # enough for int32/int64/float tensors on every target


@dataclass
class Buffer:
    name: str
    size: int
    first: int  # first step that writes or reads it
    last: int  # last step that reads it
    tensors: list[int] = field(default_factory=list)  # tensor indices that share this memory
    offset: int = -1

    def overlaps_in_time(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class Plan:
    strategy: str
    buffers: list[Buffer]
    size: int

    def offset_of(self, tensor_index: int) -> int:
        for b in self.buffers:
            if tensor_index in b.tensors:
                return b.offset
        raise KeyError(tensor_index)


def align(x: int) -> int:
    return (x + ALIGN - 1) // ALIGN * ALIGN


def _place(order: list[Buffer]) -> int:
    """Put each buffer, in the given order, at the lowest offset free for its whole lifetime."""
    placed: list[Buffer] = []
    for buf in order:
        busy = sorted((p.offset, p.offset + p.size) for p in placed if p.overlaps_in_time(buf))
        offset = 0
        for start, end in busy:
            if offset + buf.size <= start:
                break
            offset = max(offset, align(end))
        buf.offset = offset
        placed.append(buf)
    return max((b.offset + b.size for b in placed), default=0)


def greedy_by_size(buffers: list[Buffer]) -> int:
    """Largest first (TFLite Micro's and TVM's default idea): big blocks get the low offsets."""
    return _place(sorted(buffers, key=lambda b: (-b.size, b.first)))


def greedy_by_conflicts(buffers: list[Buffer]) -> int:
    """Most-overlapping first: buffers alive alongside many others are the hardest to fit."""

    def conflict_bytes(b: Buffer) -> int:
        return sum(o.size for o in buffers if o is not b and o.overlaps_in_time(b))

    return _place(sorted(buffers, key=lambda b: (-conflict_bytes(b) - b.size, b.first)))


def first_fit_in_order(buffers: list[Buffer]) -> int:
    """In execution order: what a simple allocator that frees dead tensors would do."""
    return _place(sorted(buffers, key=lambda b: (b.first, -b.size)))


def no_reuse(buffers: list[Buffer]) -> int:
    """Every buffer its own memory: the baseline the other strategies are measured against."""
    offset = 0
    for b in buffers:
        b.offset = offset
        offset = align(offset + b.size)
    return max((b.offset + b.size for b in buffers), default=0)


PLANNERS: dict[str, Callable[[list[Buffer]], int]] = {
    "greedy-size": greedy_by_size,
    "greedy-conflicts": greedy_by_conflicts,
    "first-fit": first_fit_in_order,
    "no-reuse": no_reuse,
}
DEFAULT_STRATEGY = "best"


def plan(buffers: list[Buffer], strategy: str = DEFAULT_STRATEGY) -> Plan:
    """Run one strategy, or with "best" every reusing strategy, keeping the smallest arena."""
    if strategy == "best":
        results = [plan(buffers, s) for s in PLANNERS if s != "no-reuse"]
        return min(results, key=lambda p: p.size)
    if strategy not in PLANNERS:
        raise ValueError(f"unknown planner '{strategy}'; choose from best, {', '.join(PLANNERS)}")
    copies = [Buffer(b.name, b.size, b.first, b.last, list(b.tensors)) for b in buffers]
    size = PLANNERS[strategy](copies)
    _check(copies)
    return Plan(strategy, copies, size)


def lower_bound(buffers: list[Buffer]) -> int:
    """The largest total of buffers alive at one step: no plan keeping them whole does better."""
    steps = {s for b in buffers for s in (b.first, b.last)}
    return max((sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps), default=0)


def _check(buffers: list[Buffer]) -> None:
    """Defence in depth: two buffers alive together must never share a byte."""
    for i, a in enumerate(buffers):
        assert a.offset >= 0 and a.offset % ALIGN == 0, a
        for b in buffers[i + 1:]:
            if a.overlaps_in_time(b) and a.size and b.size:
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
