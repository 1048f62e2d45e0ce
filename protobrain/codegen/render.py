"""Render a Program into C sources with the Jinja templates in templates/.

Output: <name>.h (API, sizes, quantization, memory plan), <name>.c (arena and straight-line
calls), <name>_weights.c/.h (const data and const per-layer parameters) and the kernel
files the model uses, from templates/kernels/ (kernels.py names them).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from protobrain import __version__
from protobrain.codegen.c import c_array_body, c_literal, c_string, env
from protobrain.codegen.kernels import header_name, kernel_files
from protobrain.compiler.ir import C_TYPES, Tensor
from protobrain.compiler.names import check_name
from protobrain.compiler.ops.base import ConstArray
from protobrain.compiler.program import Program


@dataclass
class IOInfo:
    index: int
    ctype: str
    shape: tuple
    size: int
    nbytes: int
    offset: int
    scale: str
    zero_point: int
    dtype: str


def _io(t: Tensor, offset: int) -> IOInfo:
    scale = c_literal(t.quant.s, "float") if t.quant else "1.0f"
    zp = t.quant.zp if t.quant else 0
    return IOInfo(t.index, C_TYPES[t.dtype], t.shape, t.size, t.nbytes, offset, scale, zp, t.dtype)


@dataclass(frozen=True)
class Extras:
    """What a model's C ships beyond the model, from its training run (compiler/run_info.py):
    a classifier's class labels (in its header) and a speech net's audio frontend
    (audio/companion.py: the frontend's files, and how its features fill input 0)."""

    labels: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()  # (file name, text)
    feature_input: dict | None = None


def render(program: Program, source: str = "", shared_arena: str | None = None,
           extras: Extras = Extras()) -> dict[str, str]:
    """All generated files as {filename: text}; kernel files are copied separately.

    shared_arena: the name of an arena the firmware defines for several nets (uint64_t
    array), instead of a static arena of this net's own. extras: labels and companion
    files from the model's training run."""
    g = program.graph
    name = check_name(g.name)  # file names too: they must stay in the output folder
    prefix = f"pb_{name}"
    params, consts, calls = [], [], []
    const_names: dict[tuple[str, str], str] = {}  # identical arrays (an unrolled loop's weights) stored once
    for k, step in enumerate(program.steps):
        op = step.op
        shapes = ", ".join("x".join(map(str, g.tensors[i].shape)) for i in op.inputs if i >= 0 and not g.tensors[i].is_const)
        comment = f"#{op.index} {op.name} {shapes} -> " + ", ".join("x".join(map(str, g.tensors[i].shape)) for i in op.outputs)
        if step.call is None:
            calls.append({"comment": comment + " (view: shares its input's memory)", "code": None})
            continue
        call = step.call
        pname = f"{prefix}_op{op.index}"
        fields = []
        for key, value in call.fields.items():
            if isinstance(value, ConstArray) and np.asarray(value.values).size == 0:
                fields.append((key, "NULL"))
            elif isinstance(value, ConstArray):
                body = c_array_body(value.values, value.ctype)
                cname = const_names.get((value.ctype, body))
                if cname is None:
                    cname = const_names[(value.ctype, body)] = f"{pname}_{value.name}"
                    consts.append({"ctype": value.ctype, "name": cname, "count": int(np.asarray(value.values).size),
                                   "body": body})
                fields.append((key, cname))
            elif isinstance(value, str):
                fields.append((key, value))
            elif isinstance(value, float):
                fields.append((key, c_literal(value, "float")))
            else:
                fields.append((key, c_literal(value)))
        params.append({"struct": call.struct, "name": pname, "fields": fields})
        args = [f"&{pname}"]
        ins = [f"(const {g.tensors[i].ctype} *){_address(program, i)}" for i in call.inputs]
        if call.inputs_as_array:
            args.append("(const void *const[]){ " + ", ".join(ins) + " }")
        else:
            args += ins
        outs = [f"({g.tensors[i].ctype} *){_address(program, i)}" for i in call.outputs]
        if call.outputs_as_array:
            args.append("(void *const[]){ " + ", ".join(outs) + " }")
        else:
            args += outs
        if k in program.scratch:  # planned scratch memory goes after the outputs
            args.append(f"(void *)A({program.scratch[k]})")
        elif call.takes_scratch:
            args.append("NULL")
        if k in program.call_state:  # persistent state last
            args.append(f"(void *)S({program.call_state[k]})")
        calls.append({"comment": comment, "code": f"{call.entry or call.function}({', '.join(args)});"})

    tensors = []
    for b in program.plan.buffers:
        for i in b.tensors:
            t = g.tensors[i]
            tensors.append({"index": i, "offset": b.offset, "nbytes": t.nbytes, "dtype": t.dtype,
                            "shape": "x".join(map(str, t.shape)), "name": t.name.replace("*/", "* /")})
    for slot in program.state:
        if slot.tensor is not None:
            t = g.tensors[slot.tensor]
            tensors.append({"index": t.index, "offset": slot.offset, "nbytes": t.nbytes, "dtype": t.dtype,
                            "shape": "x".join(map(str, t.shape)), "name": t.name.replace("*/", "* /"),
                            "state": True})
    tensors.sort(key=lambda t: t["index"])
    state = [{"name": slot.name.replace("*/", "* /"), "offset": slot.offset, "size": slot.size, "fill": slot.fill,
              "kept": slot.kept,
              "init": c_array_body(np.frombuffer(np.asarray(slot.init.values).astype(slot.init.ctype_numpy).tobytes(),
                                                 np.uint8), "uint8_t") if slot.init is not None else None}
             for slot in program.state]
    ctx = {
        "version": __version__,
        "source": source,
        "name": name,
        "NAME": name.upper(),
        "prefix": prefix,
        "arena_size": program.arena_size,
        "lower_bound": program.lower_bound,
        "strategy": program.plan.strategy,
        "macs": program.macs,
        "const_bytes": program.const_bytes,
        "num_ops": len(program.steps),
        "inputs": [_io(g.tensors[i], program.plan.offset_of(i)) for i in g.inputs],
        "outputs": [_io(g.tensors[i], program.plan.offset_of(i)) for i in g.outputs],
        "tensors": tensors,
        "params": params,
        "consts": consts,
        "calls": calls,
        "kernel_headers": sorted(header_name(tier, family) for tier, family in program.kernels()),
        "shared_arena": shared_arena,
        "state": state,
        "state_size": program.state_size,
        "labels": [c_string(label) for label in extras.labels],
        "features": extras.feature_input,
    }
    files = {
        f"{name}.h": env().get_template("model.h.j2").render(ctx),
        f"{name}.c": env().get_template("model.c.j2").render(ctx),
        f"{name}_weights.h": env().get_template("weights.h.j2").render(ctx),
        f"{name}_weights.c": env().get_template("weights.c.j2").render(ctx),
    }
    if any("pb_tier.h" in f.includes() for f in kernel_files(program)):  # the DSP kernels check the layouts' tier
        files["pb_tier.h"] = tier_header(program.tier)
    return files | dict(extras.files)


def _address(program: Program, tensor_index: int) -> str:
    """A tensor's address in C: in the state area for variables, else in the arena."""
    offset = program.state_offset(tensor_index)
    return f"S({offset})" if offset is not None else f"A({program.plan.offset_of(tensor_index)})"


def tier_header(tier: str) -> str:
    """pb_tier.h: which layouts the fast kernels' weights were generated in."""
    return (f"/* pb_tier.h: generated by protobrain {__version__}. Do not edit.\n"
            f" * The fast kernels' weights are laid out for the {tier} tier (protobrain/compiler/ops/tiers/). */\n"
            "#ifndef PB_TIER_H\n#define PB_TIER_H\n"
            f"#define PB_TIER_{tier.upper()} 1\n"
            "#endif /* PB_TIER_H */\n")


def write(program: Program, out_dir: str | Path, source: str = "", shared_arena: str | None = None,
          extras: Extras = Extras()) -> list[Path]:
    """Write every file, all or nothing: files appear in out_dir only once all are rendered."""
    out_dir = Path(out_dir)
    texts = render(program, source, shared_arena, extras)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir.parent, prefix=".pb-") as tmp:
        tmp = Path(tmp)
        for fname, text in texts.items():
            (tmp / fname).write_text(text)
        for f in kernel_files(program):
            (tmp / f.name).write_text(f.read_text(), encoding="utf-8")
        out_dir.mkdir(parents=True, exist_ok=True)
        written = []
        for f in sorted(tmp.iterdir()):
            dest = out_dir / f.name
            shutil.move(str(f), dest)
            written.append(dest)
    return written

