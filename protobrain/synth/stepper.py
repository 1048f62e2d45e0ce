"""A fused step on this host: its C compiled and loaded with ctypes (FusedStep, generate),
and its twin, TensorFlow Lite Micro running the same per-step .tflite with the state in
Python ring buffers exactly as the fused C keeps it (ReferenceStepper, reference_generate).
With the Sampler (protobrain.synth.sampling) the twin reproduces the device's samples.

May import compiler, run, verify and the rest of synth.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np

from protobrain.compiler.reader import read_model_bytes
from protobrain.run.host import compile_sources
from protobrain.synth import lpc
from protobrain.synth.fused import FusedModel, StepSignature, WindowSignature, all_files, check_signature
from protobrain.synth.sampling import NP_DTYPES, Sampler, temperature_q8
from protobrain.verify.reference import Reference


def build(model: FusedModel, extra_cflags: list[str] | None = None) -> Path:
    """Compile the fused step into a shared library for this host (cached by content)."""
    return compile_sources(f"fused-{model.name}", all_files(model), extra_cflags, what="fused step")


class FusedStep:
    """The fused C step loaded into this process, with one state instance."""

    def __init__(self, model: FusedModel, lib_path: Path | None = None):
        self.model = model
        self.lib_path = lib_path or build(model)
        self._lib = ctypes.CDLL(str(self.lib_path))
        p = model.name
        self._ct = ctypes.c_int8 if model.dtype == "int8" else ctypes.c_int16
        vp, u32p = ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint32)
        self._step = self._fn(f"pb_{p}_step", None, [vp, self._ct, vp, vp])
        self._reset = self._fn(f"pb_{p}_reset", None, [vp])
        self._newest = self._fn(f"pb_{p}_newest", vp, [vp, ctypes.c_int32])
        self._sample = self._fn(f"pb_{p}_sample", ctypes.c_int32, [vp, ctypes.c_uint32, u32p])
        self._generate = self._fn(f"pb_{p}_generate", None, [vp, vp, ctypes.c_int32, ctypes.c_uint32, u32p, vp])
        self.lpc_order = getattr(model.signature, "lpc_order", 0)
        if self.lpc_order:
            self._set_lpc = self._fn(f"pb_{p}_set_lpc", None, [vp, vp])
        size = self._fn(f"pb_{p}_state_bytes", ctypes.c_uint32, [])()
        self._state = ctypes.create_string_buffer(size)
        self.reset()

    def _fn(self, name, restype, argtypes):
        fn = getattr(self._lib, name)
        fn.restype, fn.argtypes = restype, argtypes
        return fn

    def reset(self) -> None:
        self._reset(self._state)

    def _vec(self, x, n: int) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=self.model.np_dtype).reshape(-1)
        if x.size != n:
            raise ValueError(f"expected {n} values, got {x.size}")
        return x

    def step(self, sample_q: int, cond_q) -> np.ndarray:
        cond = self._vec(cond_q, self.model.cond_size)
        logits = np.zeros(self.model.classes, self.model.np_dtype)
        self._step(self._state, int(sample_q), cond.ctypes.data, logits.ctypes.data)
        return logits

    def newest(self, k: int) -> np.ndarray:
        """What the last step pushed into ring k (state output k)."""
        n = self.model.state_widths[k]
        addr = self._newest(self._state, k)
        return np.frombuffer(ctypes.string_at(addr, n * self.model.np_dtype().itemsize), self.model.np_dtype).copy()

    def sample(self, logits_q, temp_q8: int, rng: int) -> tuple[int, int]:
        logits = self._vec(logits_q, self.model.classes)
        state = ctypes.c_uint32(rng)
        c = self._sample(logits.ctypes.data, temp_q8, ctypes.byref(state))
        return int(c), int(state.value)

    def set_lpc(self, coefficients) -> None:
        """A frame's prediction coefficients (Q12 int16), before its samples."""
        a = np.ascontiguousarray(coefficients, dtype=np.int16).reshape(-1)
        if a.size != self.lpc_order:
            raise ValueError(f"expected {self.lpc_order} prediction coefficients, got {a.size}")
        self._set_lpc(self._state, a.ctypes.data)

    def generate_frame(self, cond_q, n: int, temp_q8: int, rng: int) -> tuple[np.ndarray, int]:
        cond = self._vec(cond_q, self.model.cond_size)
        pcm = np.zeros(n, np.int16)
        state = ctypes.c_uint32(rng)
        self._generate(self._state, cond.ctypes.data, n, temp_q8, ctypes.byref(state), pcm.ctypes.data)
        return pcm, int(state.value)


def generate(fused: FusedStep, cond_q_frames, hop: int, temperature: float = 1.0, seed: int = 1,
             reset: bool = True, lpc_frames=None) -> np.ndarray:
    """int16 audio: `hop` samples per row of quantized conditioning (n_frames, cond_size),
    generated on this host by the fused C (pb_<name>_generate). cond_q_frames may also be
    any iterable of rows, e.g. a generator computing each row when its frame starts.
    lpc_frames: each frame's prediction coefficients, for a step with linear prediction."""
    frames = cond_q_frames
    if isinstance(frames, (np.ndarray, list, tuple)):
        frames = np.asarray(frames).reshape(-1, fused.model.cond_size)
    if bool(fused.lpc_order) != (lpc_frames is not None):
        raise ValueError("a step with linear prediction needs lpc_frames, and only such a step takes them")
    if reset:
        fused.reset()
    rng, out = seed & 0xFFFFFFFF, []
    tq = temperature_q8(temperature)
    for k, row in enumerate(frames):
        if lpc_frames is not None:
            fused.set_lpc(lpc_frames[k])
        pcm, rng = fused.generate_frame(row, hop, tq, rng)
        out.append(pcm)
    return np.concatenate(out) if out else np.zeros(0, np.int16)


# ---- the Python twin: TFLite Micro with ring buffers in Python ---------------------------------


class ReferenceStepper:
    """TFLite Micro running the per-step model, its state kept in Python exactly as the
    fused C keeps it: ring buffers reset to the state inputs' zero points, or (a
    WindowSignature) the window of fed-back samples reset to the input's zero point."""

    def __init__(self, data: bytes, sig: StepSignature | WindowSignature):
        self.ref = Reference(data)
        self.graph = read_model_bytes(data)
        self.sig = sig
        g = self.graph
        self.dtype = check_signature(g, sig)
        self.np_dtype = NP_DTYPES[self.dtype]
        self.shapes = [g.tensors[i].shape for i in g.inputs]
        self.windowed = isinstance(sig, WindowSignature)
        pairs = () if self.windowed else sig.state
        self.cond_sizes = [] if self.windowed else [g.tensors[g.inputs[p]].size for p in sig.cond]
        self.widths = [g.tensors[g.inputs[p.input]].size for p in pairs]
        self.zps = [g.tensors[g.inputs[p.input]].quant.zp for p in pairs]
        self.input_zp = g.tensors[g.inputs[0]].quant.zp
        self.lpc_order = sig.lpc_order if self.windowed else 0
        if self.lpc_order:
            self.classes = g.tensors[g.outputs[0]].size
            self.code_scale = 256 // self.classes
            self.thresholds = lpc.thresholds(self.classes)
            self.pcm = Sampler(self.classes, "int8", 1.0, 1.0, 0, input_coding="code").pcm
            self.silence = self._code(0)
        self.reset()

    def _code(self, x: int) -> int:
        return (int(lpc.encode(x, self.thresholds)) - self.classes // 2) * self.code_scale

    def set_lpc(self, coefficients) -> None:
        self.lpc = np.asarray(coefficients, np.int64).reshape(-1)

    @property
    def sample_position(self) -> int:
        """The input that takes the fed-back sample."""
        return 0 if self.windowed else self.sig.sample

    def reset(self) -> None:
        if self.lpc_order:
            self.history = np.full(self.sig.history, self.silence, np.int64)
            self.hist = np.zeros(self.lpc_order, np.int64)
            self.lpc = np.zeros(self.lpc_order, np.int64)
            self.p = 0
            return
        if self.windowed:
            self.window = np.full(self.sig.window, self.input_zp, self.np_dtype)
            return
        self.rings = [np.full((p.depth, w), zp, self.np_dtype) for p, w, zp in zip(self.sig.state, self.widths, self.zps)]
        self.heads = [0] * len(self.rings)

    def _lpc_step(self, sample_q: int, cond_q: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """As the generated C: the previous class's sample joins the history, then predict."""
        k = self.sig.window
        c = int(sample_q) // self.code_scale + self.classes // 2  # sample_q is a multiple of the scale
        x = int(np.clip(self.p + int(self.pcm[c]), -32768, 32767))
        self.hist = np.concatenate([[x], self.hist[:-1]])
        h = self.history
        h[:k - 1], h[k - 1] = h[1:k].copy(), self._code(x)
        h[k:2 * k - 1], h[2 * k - 1] = h[k + 1:2 * k].copy(), int(sample_q)
        self.p = lpc.predict(self.hist, self.lpc)
        h[2 * k] = self._code(self.p)
        x_in = np.concatenate([h, cond_q.astype(np.int64)]).astype(self.np_dtype).reshape(self.shapes[0])
        out = self.ref.run(x_in)
        out = out[0] if isinstance(out, list) else out
        return np.asarray(out).reshape(-1), [h.astype(self.np_dtype)]

    def _window_step(self, sample_q: int, cond_q: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        self.window = np.concatenate([self.window[1:], np.array([sample_q], self.np_dtype)])
        x = np.concatenate([self.window, cond_q]).reshape(self.shapes[0])
        out = self.ref.run(x)
        out = out[0] if isinstance(out, list) else out
        return np.asarray(out).reshape(-1), [self.window.copy()]

    def step(self, sample_q: int, cond_q) -> tuple[np.ndarray, list[np.ndarray]]:
        cond_q = np.asarray(cond_q, self.np_dtype).reshape(-1)
        if self.lpc_order:
            return self._lpc_step(sample_q, cond_q)
        if self.windowed:
            return self._window_step(sample_q, cond_q)
        xs = [None] * len(self.shapes)
        xs[self.sig.sample] = np.array([sample_q], self.np_dtype)
        offset = 0
        for p, n in zip(self.sig.cond, self.cond_sizes):
            xs[p] = cond_q[offset:offset + n]
            offset += n
        for k, p in enumerate(self.sig.state):
            xs[p.input] = self.rings[k][self.heads[k]]
        outs = self.ref.run(*[np.asarray(x, self.np_dtype).reshape(s) for x, s in zip(xs, self.shapes)])
        outs = outs if isinstance(outs, list) else [outs]
        new = []
        for k, p in enumerate(self.sig.state):
            x = np.asarray(outs[p.output], self.np_dtype).reshape(-1)
            self.rings[k][self.heads[k]] = x
            self.heads[k] = (self.heads[k] + 1) % p.depth
            new.append(x.copy())
        return np.asarray(outs[self.sig.logits]).reshape(-1), new


def reference_generate(stepper: ReferenceStepper, sampler: Sampler, cond_q_frames, hop: int,
                       temperature: float = 1.0, seed: int = 1, lpc_frames=None) -> np.ndarray:
    """The twin of generate(): TFLite Micro steps and Python sampling, same samples."""
    g = stepper.graph
    last = stepper.silence if stepper.lpc_order else g.tensors[g.inputs[stepper.sample_position]].quant.zp
    rng, tq, out = seed & 0xFFFFFFFF, temperature_q8(temperature), []
    stepper.reset()
    for k, row in enumerate(np.asarray(cond_q_frames).reshape(len(cond_q_frames), -1)):
        if stepper.lpc_order:
            stepper.set_lpc(lpc_frames[k])
        for _ in range(hop):
            logits, _ = stepper.step(last, row)
            c, rng = sampler.pick(logits, tq, rng)
            out.append(int(np.clip(stepper.p + int(sampler.pcm[c]), -32768, 32767)) if stepper.lpc_order
                       else sampler.pcm[c])
            last = int(sampler.next_input[c])
    return np.array(out, np.int16)


__all__ = ["build", "FusedStep", "generate", "ReferenceStepper", "reference_generate"]
