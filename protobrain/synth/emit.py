"""The C of each operator of a fused step (protobrain.synth.fused): a loop nest with literal
shapes, offsets, multipliers and shifts, its weights and tables in `static const` arrays
(Consts, identical contents emitted once). The quantization parameters come from
protobrain's lowering (KernelCall.fields), so the arithmetic is the one already verified
bit-exact against TensorFlow Lite Micro; the per-element helpers are in
templates/fused/step.c.j2.

May import compiler and codegen.
"""

from __future__ import annotations

import numpy as np

from protobrain.codegen.c import c_array_body, c_literal
from protobrain.compiler.ops.base import ConstArray
from protobrain.compiler.ops.elementwise import broadcast_loops
from protobrain.errors import UnsupportedError

SUPPORTED = ("FULLY_CONNECTED", "ADD", "SUB", "MUL", "int8 table functions (TANH, LOGISTIC, RELU, RELU6, "
             "LEAKY_RELU, int8 QUANTIZE)", "int16 TANH, LOGISTIC, RELU, RELU6", "RESHAPE/SQUEEZE/EXPAND_DIMS views")


class Consts:
    """Static const arrays of the fused file, identical contents emitted once."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.items: list[dict] = []
        self._by_key: dict = {}

    def add(self, values, ctype: str, what: str, guard: str | None = None) -> str:
        """The array's name; `guard` is the preprocessor condition of the code that reads
        it (an array added under several conditions is emitted under any of them)."""
        values = np.asarray(values).reshape(-1)
        key = (ctype, values.astype(np.int64 if ctype not in ("float", "uint64_t") else
                                    (np.float64 if ctype == "float" else np.uint64)).tobytes())
        if key in self._by_key:
            item = next(i for i in self.items if i["name"] == self._by_key[key])
            item["guards"].add(guard)
            item["guard"] = None if None in item["guards"] else " || ".join(f"({c})" for c in sorted(item["guards"]))
        else:
            name = f"{self.prefix}_{what}{len(self.items)}"
            self._by_key[key] = name
            self.items.append({"name": name, "ctype": ctype, "count": int(values.size),
                               "body": c_array_body(values, ctype), "guard": guard, "guards": {guard}})
        return self._by_key[key]


# ---- per-operator emitters -----------------------------------------------------------------


def _lit(v) -> str:
    return c_literal(int(v))


def _plus(v) -> str:
    """ + v, written as a subtraction for negative v."""
    v = int(v)
    return "" if v == 0 else f" + {v}" if v > 0 else f" - {-v}"


def _values(v) -> np.ndarray:
    return np.asarray(v.values if isinstance(v, ConstArray) else v).reshape(-1)


def _comment(s, g) -> str:
    op = s.op
    shapes = ", ".join("x".join(map(str, g.tensors[i].shape)) for i in op.inputs if i >= 0 and not g.tensors[i].is_const)
    outs = ", ".join("x".join(map(str, g.tensors[i].shape)) for i in op.outputs)
    act = op.options.get("fused_activation_function")
    return f"#{op.index} {op.name} {shapes} -> {outs}" + (f" ({act})" if act and act != "NONE" else "")


def emit_operator(s, g, ptr, consts: Consts) -> dict:
    c, f = s.call, s.call.fields
    base = {"comment": _comment(s, g)}
    fn = c.function
    if fn in ("pb_fully_connected_s8", "pb_fully_connected_s16"):
        return base | _emit_fc(c, f, g, ptr, consts, wide=fn.endswith("s16"))
    if fn.startswith(("pb_add_", "pb_sub_", "pb_mul_")):
        return base | _emit_elementwise(s, f, g, ptr, consts)
    if fn == "pb_lut_s8":
        table = consts.add(_values(f["table"]), "int8_t", "lut")
        body = (f"const int8_t *in = {ptr(c.inputs[0])};\nint8_t *out = {ptr(c.outputs[0])};\nint32_t i;\n"
                f"for (i = 0; i < {_lit(f['size'])}; ++i) {{\n    out[i] = {table}[in[i] + 128];\n}}")
        return base | {"body": body}
    if fn in ("pb_tanh_s16", "pb_logistic_s16"):
        table = consts.add(_values(f["table"]), "uint16_t", "sigmoid")
        helper = "pbf_tanh_s16" if fn == "pb_tanh_s16" else "pbf_logistic_s16"
        body = (f"const int16_t *in = {ptr(c.inputs[0])};\nint16_t *out = {ptr(c.outputs[0])};\nint32_t i;\n"
                f"for (i = 0; i < {_lit(f['size'])}; ++i) {{\n"
                f"    out[i] = {helper}(in[i], {_lit(f['multiplier'])}, {_lit(f['shift'])}, {table});\n}}")
        return base | {"body": body}
    if fn == "pb_relu_s16":
        _check_multipliers([f["mult"]])
        body = (f"const int16_t *in = {ptr(c.inputs[0])};\nint16_t *out = {ptr(c.outputs[0])};\nint32_t i;\n"
                f"for (i = 0; i < {_lit(f['size'])}; ++i) {{\n"
                f"    const int32_t v = {_lit(f['output_offset'])} + pbf_mulq(in[i] - "
                f"({_lit(f['input_offset'])}), {_lit(f['mult'])}, {_lit(f['shift'])});\n"
                f"    out[i] = (int16_t)pbf_clamp(v, {_lit(f['act_min'])}, {_lit(f['act_max'])});\n}}")
        return base | {"body": body}
    if fn == "pb_clamp_s16":
        body = (f"const int16_t *in = {ptr(c.inputs[0])};\nint16_t *out = {ptr(c.outputs[0])};\nint32_t i;\n"
                f"for (i = 0; i < {_lit(f['size'])}; ++i) {{\n    const int32_t v = in[i];\n"
                f"    out[i] = (int16_t)(v > {_lit(f['hi'])} ? {_lit(f['hi'])} : (v < {_lit(f['lo'])} ? {_lit(f['lo'])} : v));\n}}")
        return base | {"body": body}
    raise UnsupportedError(f"#{s.op.index} {s.op.name} ({fn})")


def _check_multipliers(values) -> None:
    """pbf_mulq equals pb_mul_by_quantized_mult for every multiplier but INT32_MIN."""
    if np.any(np.asarray(values, np.int64) == -(1 << 31)):
        raise UnsupportedError("a requantization multiplier of INT32_MIN")


def _emit_fc(c, f, g, ptr, consts: Consts, wide: bool) -> dict:
    depth, out_depth, batches = int(f["accum_depth"]), int(f["output_depth"]), int(f["batches"])
    w = _values(f["filter"]).astype(np.int64).reshape(out_depth, depth)
    fo, io = int(f["filter_offset"]), int(f["input_offset"])
    T = "int16_t" if wide else "int8_t"
    # int8 with a zero weight offset, one batch: a Helium form (padded int8 rows) and a DSP form
    # (int16 pairs) beside the plain loop, each reading its own copy of the weights
    vector = not wide and fo == 0 and batches == 1 and depth >= 4
    wname = consts.add(w, "int8_t", "w", guard="!PBF_DSP && !PBF_MVE" if vector else None)
    head = [f"const {T} *in = {ptr(c.inputs[0])};", f"{T} *out = {ptr(c.outputs[0])};", "int32_t oc, d;"]
    if batches > 1:
        head.append("int32_t b;")
    # requantization: per channel (arrays, indexed by the channel) or per tensor (literals)
    per_channel = isinstance(f["mults"], ConstArray)
    m_values = _values(f["mults"]) if per_channel else np.array([f["mult"]])
    s_values = _values(f["shifts"]) if per_channel else np.array([f["shift"]])
    _check_multipliers(m_values)
    right_only = bool(np.all(s_values <= 0)) and not wide  # 16x8 keeps pb_mul_by_quantized_mult64's shift
    mulq = "pbf_mulq_right" if right_only else "pbf_mulq"
    if per_channel:
        mults = consts.add(m_values, "int32_t", "mult")
        shifts = consts.add(-s_values if right_only else s_values, "int8_t", "rshift" if right_only else "shift")

        def mult(k):
            return f"{mults}[{k}]"

        def shift(k):
            return f"{shifts}[{k}]"
    else:
        def mult(k):
            return _lit(f["mult"])

        def shift(k):
            return _lit(-int(f["shift"]) if right_only else f["shift"])
    lo, hi, zo = _lit(f["act_min"]), _lit(f["act_max"]), _plus(f["output_offset"])
    wterm = "w[d]" if fo == 0 else f"(w[d] + {_lit(fo)})"
    if not wide:
        bias = _values(f["bias"]).astype(np.int64) if isinstance(f["bias"], ConstArray) else np.zeros(out_depth, np.int64)
        if fo == 0:  # fold the input offset into the bias
            bias = bias + io * w.sum(axis=1)
            term = "in[d] * w[d]"
            bound = depth * 128 * 128 + int(np.abs(bias).max(initial=0))
        else:
            term = f"(in[d] + {_lit(io)}) * {wterm}"
            bound = depth * 255 * 256 + int(np.abs(bias).max(initial=0))
        if bound >= 1 << 31:
            raise UnsupportedError(f"FULLY_CONNECTED depth {depth}: accumulator bound {bound} overflows int32")
        bname = consts.add(bias, "int32_t", "bias") if np.any(bias) else None
        acc_t, narrow = "int32_t", True

        def init(k):
            return f"{bname}[{k}]" if bname else "0"

        # a literal right shift with no room to overflow takes the three-instruction rounding
        small = (not per_channel and right_only and int(f["shift"]) < 0
                 and bound + 2 + (1 << (-int(f["shift"]) - 1)) < (1 << 31))
        rq = "pbf_mulq_right_small" if small else mulq

        def store(acc, k):
            if int(f["act_max"]) == 127 and int(f["act_min"]) == -128:
                clamp = f"pbf_sat8({acc})"
            elif int(f["act_max"]) == 127 and int(f["act_min"]) > -128:
                clamp = f"pbf_clamp8({acc}, {lo})"
            else:
                clamp = f"pbf_clamp({acc}, {lo}, {hi})"
            return [f"{acc} = {rq}({acc}, {mult(k)}, {shift(k)}){zo};", f"out[{k}] = (int8_t){clamp};"]
    else:
        narrow = depth * (128 + abs(fo)) * 32768 < (1 << 31)
        acc_t = "int32_t" if narrow else "int64_t"
        term = f"{wterm} * in[d]" if narrow else f"(int64_t){wterm} * in[d]"
        bname = (consts.add(_values(f["bias64"]), "int64_t", "bias")
                 if isinstance(f["bias64"], ConstArray) and np.any(_values(f["bias64"])) else None)

        def init(k):
            return "0"

        def store(acc, k):
            total = f"(int64_t){acc}" + (f" + {bname}[{k}]" if bname else "")
            return [f"out[{k}] = (int16_t)pbf_clamp(pb_mul_by_quantized_mult64({total}, {mult(k)}, {shift(k)}){zo}, "
                    f"{lo}, {hi});"]
    generic = [f"for (oc = 0; oc < {out_depth}; ++oc) {{", f"    const int8_t *w = {wname} + oc * {depth};",
               f"    {acc_t} acc = {init('oc')};", f"    for (d = 0; d < {depth}; ++d) {{", f"        acc += {term};",
               "    }"] + ["    " + ln for ln in store("acc", "oc")] + ["}"]
    if batches > 1:
        generic = [f"for (b = 0; b < {batches}; ++b) {{"] + ["    " + ln for ln in generic] + [
            f"    in += {depth};", f"    out += {out_depth};", "}"]
    groups = depth // 4
    if fo != 0 or batches > 1 or groups == 0 or not narrow:
        return {"body": "\n".join(head + generic)}
    if wide:
        dsp = _dsp_fc_wide_input(wname, out_depth, depth, init, store)
        return {"body": "\n".join(head + ["#if PBF_DSP"] + dsp + ["#else"] + generic + ["#endif"])}
    dsp = _dsp_fc_widened(f, w, out_depth, depth, init, store, consts)
    requant = None if per_channel else (int(f["mult"]), int(f["shift"]), int(f["output_offset"]),
                                        int(f["act_min"]), int(f["act_max"]))
    mve = _mve_fc(w, out_depth, depth, init, store, requant, consts)
    return {"body": "\n".join(head + ["#if PBF_MVE"] + mve + ["#elif PBF_DSP"] + dsp + ["#else"] + generic
                               + ["#endif"])}


def _mve_fc(w, out_depth, depth, init, store, requant, consts: Consts) -> list[str]:
    """int8 FULLY_CONNECTED on Helium (Cortex-M55): the input is loaded once as int8x16
    vectors (zero-padded to a multiple of 16), each weight row is padded alike, and each
    output is VMLADAVA over the row: 16 multiply-accumulates per instruction. Four output
    channels at a time; with one multiplier and shift for the tensor (`requant`), their
    requantization is vectorised too: VQRDMULH is the saturating rounding doubling high
    multiply exactly (it is floor((a m + 2^30) / 2^31)), and the rounding right shift
    rounds half away from zero once negative values are lowered by one (VRSHR rounds half
    up). The sums and results are the plain loop's."""
    vecs = -(-depth // 16)
    padded = np.zeros((out_depth, vecs * 16), np.int64)
    padded[:, :depth] = w
    wv = consts.add(padded, "int8_t", "w16x_", guard="PBF_MVE")
    lines = ["(void)d;", "(void)oc;", f"int8_t xb[{vecs * 16}];", f"memcpy(xb, in, {depth});"]
    if vecs * 16 > depth:
        lines.append(f"memset(xb + {depth}, 0, {vecs * 16 - depth});")
    lines += [f"const int8x16_t x{v} = vldrbq_s8(xb + {16 * v});" for v in range(vecs)]
    lines.append(f"const int8_t *wp = {wv};")

    def dots(n: int, ks: list[str]) -> list[str]:
        out = [f"int32_t acc{j} = {init(k)};" for j, k in enumerate(ks)]
        for v in range(vecs):
            out += [f"acc{j} = vmladavaq_s8(acc{j}, x{v}, vldrbq_s8(wp + {j * vecs * 16 + 16 * v}));" for j in range(n)]
        out.append(f"wp += {n * vecs * 16};")
        return out

    quads = out_depth // 4
    if quads:
        body = dots(4, ["oc", "oc + 1", "oc + 2", "oc + 3"])
        if requant is None:
            for j, k in enumerate(["oc", "oc + 1", "oc + 2", "oc + 3"]):
                body += store(f"acc{j}", k)
        else:
            mult, shift, zp, lo, hi = requant
            left, right = max(shift, 0), max(-shift, 0)
            body += ["int32x4_t r = vdupq_n_s32(acc0);", "r = vsetq_lane_s32(acc1, r, 1);",
                     "r = vsetq_lane_s32(acc2, r, 2);", "r = vsetq_lane_s32(acc3, r, 3);"]
            if left:
                body.append(f"r = vshlq_n_s32(r, {left});")
            body.append(f"r = vqrdmulhq_n_s32(r, {_lit(mult)});")
            if right:
                body += ["r = vaddq_s32(r, vshrq_n_s32(r, 31));", f"r = vrshrq_n_s32(r, {right});"]
            if zp:
                body.append(f"r = vaddq_n_s32(r, {_lit(zp)});")
            body += [f"r = vmaxq_s32(r, vdupq_n_s32({_lit(lo)}));", f"r = vminq_s32(r, vdupq_n_s32({_lit(hi)}));",
                     "vstrbq_s32(out + oc, r);"]
        lines += [f"for (oc = 0; oc < {quads * 4}; oc += 4) {{"] + ["    " + ln for ln in body] + ["}"]
    for k in range(quads * 4, out_depth):
        lines += ["{"] + ["    " + ln for ln in dots(1, [str(k)]) + store("acc0", str(k))] + ["}"]
    return lines


def _dsp_fc_widened(f, w, out_depth, depth, init, store, consts: Consts) -> list[str]:
    """int8 FULLY_CONNECTED on the Arm DSP extension with the weights widened to int16 at
    generation time: each group of four inputs x0..x3 is unpacked once by SXTB16 into the
    pairs (x0, x2), (x1, x3), and each weight row is stored as the matching pairs, two per
    64-bit word (LDRD), so a pair of multiply-accumulates is one SMLAD and half a load.
    Four output channels share every input load. Depth is padded to a multiple of 4 with
    zero weights (and the padded inputs are zero). The sums are the integers the plain
    loop computes, so the results do not change; the weights take twice the flash."""
    words = -(-depth // 4)                       # groups of four inputs: one 64-bit word of weights each
    padded = np.zeros((out_depth, words * 4), np.int64)
    padded[:, :depth] = w
    g = padded.reshape(out_depth, words, 4) & 0xFFFF
    lo = (g[:, :, 0] | (g[:, :, 2] << 16)).astype(np.uint64)   # (w0, w2)
    hi = (g[:, :, 1] | (g[:, :, 3] << 16)).astype(np.uint64)   # (w1, w3)
    # rows in groups of four channels, interleaved by word: group, word d, channel j, (lo, hi),
    # so one pointer walks the weights of four channels in order
    quads = out_depth // 4
    words32 = np.stack([lo, hi], axis=2).astype(np.uint32)      # (out, words, 2)
    grouped = words32[:quads * 4].reshape(quads, 4, words, 2).transpose(0, 2, 1, 3).reshape(-1)
    rest = words32[quads * 4:].reshape(-1)
    wide = consts.add(np.concatenate([grouped, rest]), "uint32_t", "w16_", guard="PBF_DSP && !PBF_MVE")
    full = depth // 4
    lines = ["(void)oc;", f"uint32_t xp[{words * 2}] __attribute__((aligned(8)));", "uint32_t v;",
             f"const uint32_t *wp = {wide};"]
    lines += [f"for (d = 0; d < {full}; ++d) {{", "    memcpy(&v, in + 4 * d, 4);",
              "    xp[2 * d] = pbf_sxtb16(v);", "    xp[2 * d + 1] = pbf_sxtb16_ror8(v);", "}"]
    tail = depth - 4 * full
    if tail:  # the last partial group: bytes one by one, never read past the input
        parts = [f"(uint32_t)(uint8_t)in[{4 * full + j}] << {8 * j}" for j in range(tail)]
        lines += ["v = " + " | ".join(parts) + ";", f"xp[{2 * full}] = pbf_sxtb16(v);",
                  f"xp[{2 * full + 1}] = pbf_sxtb16_ror8(v);"]
    lines.append("PBF_STORED(xp);")

    def channels(ks: list[str]) -> list[str]:
        """Straight-line dot products (depth is a literal): no loop, literal offsets; each
        channel's (w0, w2), (w1, w3) and the inputs' pairs come in one LDRD each."""
        n = len(ks)
        out = [f"int32_t acc{j} = {init(k)};" for j, k in enumerate(ks)]
        paired = words * n * 2 * 4 <= 1024  # LDRD's immediate offset (at most 1020) reaches every word
        if paired:
            out.append("uint32_t x0, x1, " + ", ".join(f"w{j}a, w{j}b" for j in range(n)) + ";")
        for d in range(words):
            if paired:
                out.append(f"PBF_LDRD(xp, {8 * d}, x0, x1);")
                for j in range(n):
                    out += [f"PBF_LDRD(wp, {8 * (d * n + j)}, w{j}a, w{j}b);",
                            f"acc{j} = pbf_smlad(x0, w{j}a, acc{j});", f"acc{j} = pbf_smlad(x1, w{j}b, acc{j});"]
                continue
            for half in range(2):
                out += [f"acc{j} = pbf_smlad(xp[{2 * d + half}], wp[{(d * n + j) * 2 + half}], acc{j});"
                        for j in range(n)]
        out.append(f"wp += {words * n * 2};")
        for j, k in enumerate(ks):
            out += store(f"acc{j}", k)
        return out

    if quads:
        lines += [f"for (oc = 0; oc < {quads * 4}; oc += 4) {{"]
        lines += ["    " + ln for ln in channels(["oc", "oc + 1", "oc + 2", "oc + 3"])] + ["}"]
    for k in range(quads * 4, out_depth):
        lines += ["{"] + ["    " + ln for ln in channels([str(k)])] + ["}"]
    return lines


def _dsp_fc_wide_input(wname, out_depth, depth, init, store) -> list[str]:
    """16x8 FULLY_CONNECTED on the Arm DSP extension: the int16 input is paired once into
    (x0, x2), (x1, x3) of each group of four; each int8 weight word gives the matching
    pairs through SXTB16, and SMLAD does two multiply-accumulates. Two output channels
    share the input loads."""
    groups = depth // 4
    dsp = [f"uint32_t xp[{2 * groups}];", f"for (d = 0; d < {groups}; ++d) {{",
           "    xp[2 * d] = (uint32_t)(uint16_t)in[4 * d] | ((uint32_t)(uint16_t)in[4 * d + 2] << 16);",
           "    xp[2 * d + 1] = (uint32_t)(uint16_t)in[4 * d + 1] | ((uint32_t)(uint16_t)in[4 * d + 3] << 16);", "}"]
    tail = depth % 4

    def channels(ks: list[str], ws: list[str], accs: list[str]) -> list[str]:
        out = [f"const int8_t *{wv} = {wname} + ({k}) * {depth};" for wv, k in zip(ws, ks)]
        out += [f"int32_t {a} = {init(k)};" for a, k in zip(accs, ks)]
        out += [f"for (d = 0; d < {groups}; ++d) {{", "    uint32_t " + ", ".join(f"v{j}" for j in range(len(ws))) + ";"]
        for j, wv in enumerate(ws):
            out.append(f"    memcpy(&v{j}, {wv} + 4 * d, 4);")
        for j, a in enumerate(accs):
            out += [f"    {a} = pbf_smlad(xp[2 * d], pbf_sxtb16(v{j}), {a});",
                    f"    {a} = pbf_smlad(xp[2 * d + 1], pbf_sxtb16_ror8(v{j}), {a});"]
        out.append("}")
        if tail:
            out.append(f"for (d = {4 * groups}; d < {depth}; ++d) {{")
            out += [f"    {a} += {wv}[d] * in[d];" for a, wv in zip(accs, ws)]
            out.append("}")
        for a, k in zip(accs, ks):
            out += store(a, k)
        return out

    dsp += [f"for (oc = 0; oc + 1 < {out_depth}; oc += 2) {{"]
    dsp += ["    " + ln for ln in channels(["oc", "oc + 1"], ["wa", "wb"], ["acc0", "acc1"])] + ["}"]
    if out_depth % 2:
        dsp += ["{"] + ["    " + ln for ln in channels([str(out_depth - 1)], ["wa"], ["acc0"])] + ["}"]
    return dsp


def _emit_elementwise(s, f, g, ptr, consts: Consts) -> dict:
    op = s.op
    in1, in2 = g.tensors[op.inputs[0]], g.tensors[op.inputs[1]]
    out = g.tensors[op.outputs[0]]
    wide = out.dtype == "int16"
    T = "int16_t" if wide else "int8_t"
    shape, st1, st2 = broadcast_loops(out.shape, in1.shape, in2.shape)
    levels = [(n, a, b) for n, a, b in zip(shape, st1, st2) if n != 1] or [(1, 0, 0)]

    def operand(t) -> str:
        if t.is_const:
            return consts.add(np.asarray(t.data).reshape(-1), T, "operand")
        return ptr(t.index)

    def index(strides) -> str:
        parts = [f"i{j}" if st == 1 else f"i{j} * {st}" for j, (_, st) in enumerate(strides) if st]
        return " + ".join(parts) or "0"

    ia = index([(n, a) for n, a, _ in levels])
    ib = index([(n, b) for n, _, b in levels])
    kind = op.name.lower()
    _check_multipliers([f[k] for k in ("input1_mult", "input2_mult", "output_mult")])
    if kind in ("add", "sub"):
        args = [f["input1_offset"], f["input2_offset"], f["left_shift"], f["input1_mult"], f["input1_shift"],
                f["input2_mult"], f["input2_shift"], f["output_mult"], f["output_shift"], f["output_offset"],
                f["act_min"], f["act_max"]]
    else:
        args = [f["input1_offset"], f["input2_offset"], f["output_mult"], f["output_shift"], f["output_offset"],
                f["act_min"], f["act_max"]]
    lines = [f"const {T} *a = {operand(in1)};", f"const {T} *b = {operand(in2)};", f"{T} *o = {ptr(out.index)};",
             "int32_t " + ", ".join(f"i{j}" for j in range(len(levels))) + ";"]
    depth = 0
    for j, (n, _, _) in enumerate(levels):
        lines.append("    " * depth + f"for (i{j} = 0; i{j} < {n}; ++i{j}) {{")
        depth += 1
    pad = "    " * depth
    lines.append(pad + f"*o++ = ({T})pbf_{kind}(a[{ia}], b[{ib}], {', '.join(_lit(v) for v in args)});")
    for j in range(len(levels)):
        depth -= 1
        lines.append("    " * depth + "}")
    return {"body": "\n".join(lines)}
