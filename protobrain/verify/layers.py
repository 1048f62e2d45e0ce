"""Layer by layer: every intermediate tensor of a run, and the first that differs from
TensorFlow Lite Micro's (`verify --layers`), the same walk on the host and on a device."""

from __future__ import annotations

import numpy as np

from protobrain.compiler.ir import DTYPES
from protobrain.compiler.program import Program
from protobrain.verify.reference import Reference


def capture_layers(program: Program, xs, write, run_step, read) -> dict[int, np.ndarray]:
    """Run a model step by step through three primitives and capture every step's output.

    write(offset, bytes) fills the arena, run_step(k) runs step k, read(offset, n) reads the
    arena back: the same walk on the host (ctypes) and on a device (serial commands)."""
    g = program.graph
    for x, i in zip(xs, g.inputs):
        t = g.tensors[i]
        x = np.ascontiguousarray(np.asarray(x, dtype=DTYPES[t.dtype]).reshape(t.shape))
        write(program.plan.offset_of(i), x.tobytes())
    captured = {}
    for k, step in enumerate(program.steps):
        run_step(k)
        for i in step.op.outputs:
            if program.state_offset(i) is not None:
                continue  # a variable, outside the arena
            t = g.tensors[i]
            raw = read(program.plan.offset_of(i), t.nbytes)
            captured[i] = np.frombuffer(raw, dtype=DTYPES[t.dtype]).reshape(t.shape).copy()
    return captured


def first_bad_layer(program: Program, model_path, cases, console, run_layers) -> bool:
    """Compare every intermediate tensor with TFLite Micro's; report the first that differs.

    Returns True when every tensor matched."""
    ref = Reference(model_path, preserve_all_tensors=True)
    for k, xs in enumerate(cases):
        ours = run_layers(*xs)
        theirs = ref.run_layers(*xs)
        for step in program.steps:
            for t in step.op.outputs:
                if t in theirs and ours[t].tobytes() != np.asarray(theirs[t]).astype(ours[t].dtype).tobytes():
                    console.print(f"[red]first differing layer[/red]: input case {k}, operator #{step.op.index} "
                                  f"{step.op.name}, tensor {t} ({program.graph.tensors[t].name})")
                    return False
    console.print(f"{program.graph.name}: every intermediate tensor matches TFLite Micro on {len(cases)} inputs")
    return True
