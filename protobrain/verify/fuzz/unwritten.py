"""Output values TFLite Micro leaves unwritten: stale arena bytes on its side, so they are
not compared. unwritten_rules(program) finds, for the graph outputs that come straight from
such an operator, a Rule saying which of their values to skip in one invocation:

- a signal-library framer's frames and a stacker's stack while its valid flag (a graph
  output too) is false;
- a CIRCULAR_BUFFER's slots no frame has reached yet (the first slots-1 invocations since
  start-up; reset keeps the buffer on both sides);
- TFLite_Detection_PostProcess's rows past its detections (fast NMS: every row but those
  its detections went to, all rows when the count is not a graph output; regular NMS: past
  max_detections), and its count's values past the first;
- a signal-library energy's bins outside [start_index, end_index).
An operator output that another operator reads is not covered: its stale bytes flow on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass
class Rule:
    output: int  # graph output position
    # skip(want, row): a bool array over the output's flat values, true where not compared;
    # want: TFLite Micro's outputs of this invocation; row: invocations since start-up
    skip: Callable[[list, int], np.ndarray]


def _flagged(data: int, flag: int, size: int) -> Rule:
    return Rule(data, lambda want, row: np.full(size, not bool(np.asarray(want[flag]).reshape(-1)[0])))


def _unfilled(pos: int, shape) -> Rule:
    slots, frame = int(shape[1]), int(np.prod(shape[2:], dtype=np.int64))

    def skip(want, row):
        mask = np.zeros((int(shape[0]), slots, frame), bool)
        mask[:, :max(0, slots - 1 - row)] = True
        return mask.reshape(-1)

    return Rule(pos, skip)


def _detection_rows(op, outs: list[int], sizes: dict[int, int]) -> list[Rule]:
    o = op.options

    def number(key, default=0):
        v = o.get(key, default)
        return int(v) if isinstance(v, (bool, int, float)) and abs(float(v)) < 2**31 else 0

    k = min(number("max_classes_per_detection"), number("num_classes"))
    regular, max_det = bool(number("use_regular_nms")), number("max_detections")
    count_at = outs.index(op.outputs[3]) if op.outputs[3] in outs else None

    def unwritten(want, rows: int) -> np.ndarray:
        if count_at is None and not regular:  # which rows hold detections is not known: none compared
            return np.ones(rows, bool)
        count = float(np.asarray(want[count_at]).reshape(-1)[0]) if count_at is not None else 0.0
        keep = np.zeros(rows, bool)
        if regular:
            keep[:max(0, min(max_det, rows))] = True
        elif k > 0 and np.isfinite(count):
            picked = [i * k * k + c * (k + 1) for i in range(max(0, int(count)) // k) for c in range(k)]
            keep[[r for r in picked if r < rows]] = True
        return ~keep

    rules = [] if count_at is None else [Rule(count_at, lambda want, row, n=sizes[op.outputs[3]]: np.arange(n) > 0)]
    for t, width in zip(op.outputs[:3], (4, 1, 1)):
        if t in outs:
            rows = sizes[t] // width
            rules.append(Rule(outs.index(t), lambda want, row, r=rows, w=width, n=sizes[t]: np.concatenate(
                [np.repeat(unwritten(want, r), w), np.ones(n - r * w, bool)])))
    return rules


def _energy(pos: int, op, size: int) -> Rule:
    start, end = (int(op.options.get(k, 0)) if isinstance(op.options.get(k, 0), int) else 0
                  for k in ("start_index", "end_index"))
    mask = np.ones(size, bool)
    mask[max(0, start):max(0, min(end, size))] = False
    return Rule(pos, lambda want, row: mask)


def unwritten_rules(program) -> list[Rule]:
    """The Rules of a program's graph outputs (see the module's docstring)."""
    g = program.graph
    outs = list(g.outputs)
    rules = []
    for s in program.steps:
        op = s.op
        if op is None:
            continue
        o = [t for t in op.outputs]
        if op.name in ("CUSTOM:SignalFramer", "CUSTOM:SignalStacker") and len(o) == 2 and o[0] in outs and o[1] in outs:
            rules.append(_flagged(outs.index(o[0]), outs.index(o[1]), g.tensors[o[0]].size))
        elif op.name == "CUSTOM:CIRCULAR_BUFFER" and len(o) == 1 and o[0] in outs and len(g.tensors[o[0]].shape) == 4:
            rules.append(_unfilled(outs.index(o[0]), g.tensors[o[0]].shape))
        elif op.name == "CUSTOM:TFLite_Detection_PostProcess" and len(o) == 4:
            rules += _detection_rows(op, outs, {t: g.tensors[t].size for t in o})
        elif op.name == "CUSTOM:SignalEnergy" and len(o) == 1 and o[0] in outs:
            rules.append(_energy(outs.index(o[0]), op, g.tensors[o[0]].size))
    # A tensor returned at several graph output positions: the same rule at each.
    return [Rule(q, r.skip) for r in rules for q, t in enumerate(outs) if t == outs[r.output]]
