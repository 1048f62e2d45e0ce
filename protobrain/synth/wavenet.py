"""The WaveNet vocoder's integer side: its configuration, the per-step model's interface,
reading and patching the converted models' quantization, and the integer conditioning
path a device runs.

A WaveNet generates audio one sample per step. For a microcontroller the network is
exported as a *per-step* model whose dilated convolutions read their past input from
explicit state tensors, and protobrain.synth.fused turns that model into one specialised C
function with the state kept in ring buffers. The Keras models (the training model, the
step model sharing its weights, the conditioning projection) and their conversion live in
protobrain.train.wavenet_nets; this module reads what they produce.

The step model, one sample per call: inputs sample (1, 1), cond{l}_f and cond{l}_g (1, R) =
layer l's conditioning for the current frame, past{l} (1, R) = layer l's input d_l samples
ago; outputs logits (1, classes), then x{l} (1, R) = layer l's input now, pushed into layer
l's ring buffer (step_input_names, step_output_names, step_signature). Each past{l} gets
exactly the quantization of x{l} (tie_state_quantization), so the ring buffers move raw
integers. Each of the 2 * layers conditioning blocks has its own quantization, read from
the converted model (cond_quantization, quantize_cond).

A device computes the conditioning projection in integers: the cond model (one
FULLY_CONNECTED per block) is converted to a full-integer .tflite whose outputs carry
exactly the step model's cond quantization (tie_cond_quantization), so its integer
outputs are the step's cond_q with no requantization (cond_output_order says which output
fills which block). The frontend's int16 features reach its input through
protobrain.audio.frontend.FeatureQuantizer; `generate_integer` is the host twin of the
whole integer path (features -> cond model -> fused step).

May import compiler, audio and the rest of synth; never train (no TensorFlow here).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import flatbuffers
import numpy as np
import tflite

from protobrain.audio.frontend import FeatureQuantizer, FrontendConfig
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import ProtobrainError
from protobrain.synth.coding import mulaw_decode, mulaw_encode, quantize
from protobrain.synth.fused import StatePair, StepSignature
from protobrain.synth.fused import fuse as fuse_step
from protobrain.synth.stepper import generate as fused_generate


class WaveNetConfigError(ProtobrainError, ValueError):
    """A WaveNet configuration that cannot be built."""


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise WaveNetConfigError(f"WaveNetConfig.{name} must be a positive integer, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class WaveNetConfig:
    layers: int = 12
    dilation_cycle: tuple = (1, 2, 4, 8, 16, 32)
    residual: int = 24
    skip: int = 48
    hidden: int = 64
    classes: int = 256  # 8-bit mu-law
    cond_dim: int = 20  # per-frame features, e.g. 20 log-mel bins
    hop: int = 160  # samples per conditioning frame

    def __post_init__(self):
        for name in ("layers", "residual", "skip", "hidden", "classes", "cond_dim", "hop"):
            _positive_int(name, getattr(self, name))
        cycle = self.dilation_cycle
        if isinstance(cycle, (int, np.integer)) or not hasattr(cycle, "__iter__"):
            raise WaveNetConfigError(f"WaveNetConfig.dilation_cycle must be a sequence of positive integers, got {cycle!r}")
        cycle = tuple(cycle)
        if not cycle:
            raise WaveNetConfigError("WaveNetConfig.dilation_cycle is empty; give at least one dilation, e.g. (1, 2, 4)")
        for d in cycle:
            if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
                raise WaveNetConfigError(f"WaveNetConfig.dilation_cycle: dilation {d!r} is not a positive integer")
        if max(cycle) > 65535:
            raise WaveNetConfigError(f"WaveNetConfig.dilation_cycle: dilation {max(cycle)} exceeds 65535")
        if self.classes < 2 or self.classes > 65536:
            raise WaveNetConfigError(f"WaveNetConfig.classes must be in [2, 65536], got {self.classes}")
        object.__setattr__(self, "dilation_cycle", tuple(int(d) for d in cycle))

    @classmethod
    def from_json(cls, d: dict) -> "WaveNetConfig":
        return cls(**{**d, "dilation_cycle": tuple(d["dilation_cycle"])})

    def dilation(self, layer: int) -> int:
        return self.dilation_cycle[layer % len(self.dilation_cycle)]

    @property
    def dilations(self) -> tuple[int, ...]:
        return tuple(self.dilation(i) for i in range(self.layers))

    @property
    def receptive_field(self) -> int:
        """Samples of audio_in that one output sees: itself plus every layer's dilation."""
        return 1 + sum(self.dilations)

    @property
    def cond_size(self) -> int:
        """Values of the per-frame conditioning projection: layers * 2 * residual."""
        return self.layers * 2 * self.residual

    @property
    def ring_elements(self) -> int:
        """Activations held in the ring buffers of the step model's state."""
        return self.residual * sum(self.dilations)

    def step_macs(self) -> int:
        """Multiply-accumulates of one per-step inference (Dense layers only)."""
        r, s = self.residual, self.skip
        per_layer = 4 * r * r + r * s  # filter/gate on past and on now; skip
        return (r + self.layers * per_layer + (self.layers - 1) * r * r
                + s * self.hidden + self.hidden * self.classes)


# ---- the step model's interface ---------------------------------------------------------


def step_input_names(cfg: WaveNetConfig) -> list[str]:
    names = ["sample"]
    for i in range(cfg.layers):
        names += [f"cond{i}_f", f"cond{i}_g"]
    return names + [f"past{i}" for i in range(cfg.layers)]


def step_output_names(cfg: WaveNetConfig) -> list[str]:
    return ["logits"] + [f"x{i}" for i in range(cfg.layers)]


def cond_names(cfg: WaveNetConfig) -> list[str]:
    """The conditioning blocks: step model inputs and cond model outputs, in Keras order."""
    return [f"cond{i}_{k}" for i in range(cfg.layers) for k in ("f", "g")]


# ---- test material -----------------------------------------------------------------------


def random_sequences(cfg: WaveNetConfig, n: int = 4, frames: int = 4, seed: int = 0):
    """Speech-like random test material: [(audio_in (T,), frames (n_frames, cond_dim))],
    T = frames * hop; audio_in is mu-law quantized (decoded to [-1, 1])."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        t = np.arange(frames * cfg.hop)
        tone = sum(rng.uniform(0.05, 0.4) * np.sin(2 * np.pi * rng.uniform(0.002, 0.1) * t + rng.uniform(0, 6))
                   for _ in range(3))
        audio = np.clip(tone + 0.05 * rng.standard_normal(t.size), -1, 1)
        audio = mulaw_decode(mulaw_encode(audio, cfg.classes), cfg.classes).astype(np.float32)
        out.append((audio, rng.standard_normal((frames, cfg.cond_dim)).astype(np.float32)))
    return out


# ---- reading the converted step model -------------------------------------------------------


def signature_tensors(data: bytes) -> tuple[dict[str, int], dict[str, int]]:
    """The serving signature: ({input name: tensor index}, {output name: tensor index})."""
    model = tflite.Model.GetRootAs(data, 0)
    if model.SignatureDefsLength() < 1:
        raise ProtobrainError("step model has no signature; convert it with wavenet_nets.to_tflite")
    sd = model.SignatureDefs(0)
    ins = {sd.Inputs(j).Name().decode(): sd.Inputs(j).TensorIndex() for j in range(sd.InputsLength())}
    outs = {sd.Outputs(j).Name().decode(): sd.Outputs(j).TensorIndex() for j in range(sd.OutputsLength())}
    return ins, outs


def _named_outputs(cfg: WaveNetConfig, outs: dict[str, int]) -> dict[str, int]:
    """Output names of the step model -> tensor index."""
    return _outputs_by_name(step_output_names(cfg), outs, "step model", "wavenet_nets.to_tflite")


def _outputs_by_name(names: list[str], outs: dict[str, int], what: str, how: str) -> dict[str, int]:
    """Output names of a Keras model -> tensor index. The converter names the outputs
    either after the Keras outputs or output_0, output_1, ... in Keras order."""
    if set(names) <= set(outs):
        return {n: outs[n] for n in names}
    if all(f"output_{k}" in outs for k in range(len(names))):
        return {n: outs[f"output_{k}"] for k, n in enumerate(names)}
    raise ProtobrainError(f"{what} outputs {sorted(outs)} do not match {names}; convert it with {how}")


def step_signature(cfg: WaveNetConfig, data: bytes):
    """Which graph inputs/outputs of the converted step model are the sample, the
    conditioning blocks, the logits and the state pairs (past{l} <-> x{l}, depth d_l)."""
    g = read_model_bytes(data)
    ins, outs = signature_tensors(data)
    outs = _named_outputs(cfg, outs)
    missing = [n for n in step_input_names(cfg) if n not in ins]
    if missing:
        raise ProtobrainError(f"step model lacks inputs {missing}; it was not exported for this WaveNetConfig")

    def in_pos(name):
        return g.inputs.index(ins[name])

    def out_pos(name):
        return g.outputs.index(outs[name])

    cond = tuple(in_pos(f"cond{i}_{k}") for i in range(cfg.layers) for k in ("f", "g"))
    state = tuple(StatePair(in_pos(f"past{i}"), out_pos(f"x{i}"), cfg.dilation(i)) for i in range(cfg.layers))
    return StepSignature(sample=in_pos("sample"), cond=cond, logits=out_pos("logits"), state=state)


def _quant_positions(buf: bytes, tensor_index: int) -> tuple[list[int], list[int]]:
    """Byte positions of a tensor's per-tensor scale (float32) and zero point (int64) in the
    flatbuffer, or empty lists when it is not per-tensor quantized."""
    model = tflite.Model.GetRootAs(buf, 0)
    q = model.Subgraphs(0).Tensors(tensor_index).Quantization()
    if q is None or q.ScaleLength() != 1 or q.ZeroPointLength() != 1:
        return [], []
    tab = q._tab
    pos = []
    for field_offset in (8, 10):  # QuantizationParameters: scale (field 2), zero_point (field 3)
        o = flatbuffers.number_types.UOffsetTFlags.py_type(tab.Offset(field_offset))
        pos.append([tab.Vector(o)])
    return pos[0], pos[1]


def _patch_quantization(data: bytes, new: dict[int, tuple[float, int]], what: str) -> bytes:
    """Overwrite the per-tensor (scale, zero point) of the given tensors in the flatbuffer,
    in place, and check that no other tensor changed: refuse rather than corrupt when the
    model shares a quantization vector between tensors."""
    g = read_model_bytes(data)
    buf = bytearray(data)
    for index, (scale, zero_point) in new.items():
        scale_pos, zp_pos = _quant_positions(data, index)
        if not scale_pos or not zp_pos:
            raise ProtobrainError(f"{what}: tensor {index} ({g.tensors[index].name}) is not per-tensor quantized "
                                  "with a stored zero point")
        struct.pack_into("<f", buf, scale_pos[0], float(np.float32(scale)))
        struct.pack_into("<q", buf, zp_pos[0], int(zero_point))
    g2 = read_model_bytes(bytes(buf))
    for t in g2.tensors:
        if t.index in new:
            continue
        old = g.tensors[t.index].quant
        same = (old is None) == (t.quant is None) and (old is None or (
            np.array_equal(old.scale, t.quant.scale) and np.array_equal(old.zero_point, t.quant.zero_point)))
        if not same:
            raise ProtobrainError(f"{what} also changed tensor {t.index}; the model shares quantization vectors")
    return bytes(buf)


def tie_state_quantization(data: bytes, cfg: WaveNetConfig) -> bytes:
    """Give every past{l} input the scale and zero point of the x{l} output, in place.

    The calibrated range of past{l} (delayed copies of x{l}, plus the zeros before the
    start) lies within that of x{l}, so nothing is lost; the ring buffers can then move raw
    integers from output to input. Valid because past{l} only feeds bias-free
    FULLY_CONNECTED layers (the filter/gate taps on the past), whose Prepare reads the input
    scale from the tensor: no other constant depends on it (checked here).
    """
    g = read_model_bytes(data)
    ins, outs = signature_tensors(data)
    outs = _named_outputs(cfg, outs)
    new = {}
    for i in range(cfg.layers):
        past, x = g.tensors[ins[f"past{i}"]], g.tensors[outs[f"x{i}"]]
        for op in g.consumers(past.index):
            if op.name != "FULLY_CONNECTED" or op.inputs[0] != past.index or (len(op.inputs) > 2 and op.inputs[2] >= 0):
                raise ProtobrainError(f"past{i} feeds {op.name} #{op.index}; expected bias-free FULLY_CONNECTED only")
        if not _quant_positions(data, x.index)[0]:
            raise ProtobrainError(f"x{i} is not per-tensor quantized")
        new[past.index] = (float(np.float32(x.quant.scale[0])), int(x.quant.zero_point[0]))
    return _patch_quantization(data, new, "tying past/x quantization")


def cond_quantization(data: bytes, sig) -> list[tuple[float, int]]:
    """(scale, zero point) of each conditioning block, in cond_q order."""
    g = read_model_bytes(data)
    return [(float(g.tensors[g.inputs[p]].quant.s), g.tensors[g.inputs[p]].quant.zp) for p in sig.cond]


def quantize_cond(cfg: WaveNetConfig, proj, quants: list[tuple[float, int]], dtype=np.int8) -> np.ndarray:
    """Float projection (n_frames, layers*2*R) -> integers, block by block (R values each)."""
    proj = np.asarray(proj, np.float32).reshape(-1, cfg.cond_size)
    R = cfg.residual
    out = np.empty(proj.shape, dtype)
    for k, (s, zp) in enumerate(quants):
        out[:, k * R:(k + 1) * R] = quantize(proj[:, k * R:(k + 1) * R], s, zp, dtype)
    return out


# ---- integer conditioning: the projection as its own integer model ----------------------------


def tie_cond_quantization(data: bytes, cfg: WaveNetConfig, step_data: bytes) -> bytes:
    """Give every output cond{l}_{f,g} of a converted cond model exactly the scale and zero
    point of the step model's input of the same name, in place, so its integers go straight
    into the fused step's cond_q (order: cond_output_order). Valid because each output is
    written by one FULLY_CONNECTED, whose Prepare reads the output scale and zero point from
    the tensor, and nothing else reads it (checked here); the bias is quantized with the
    input and weight scales only.
    """
    step_in, _ = signature_tensors(step_data)
    step_graph = read_model_bytes(step_data)
    missing = [n for n in cond_names(cfg) if n not in step_in]
    if missing:
        raise ProtobrainError(f"step model lacks inputs {missing}; it was not exported for this WaveNetConfig")
    g = read_model_bytes(data)
    _, outs = signature_tensors(data)
    outs = _outputs_by_name(cond_names(cfg), outs, "cond model", "wavenet_nets.cond_tflite")
    new = {}
    for name, index in outs.items():
        producer = g.producer(index)
        if producer is None or producer.name != "FULLY_CONNECTED" or g.consumers(index):
            raise ProtobrainError(f"cond model output {name} is not written by a FULLY_CONNECTED alone; "
                                  "its quantization cannot be replaced")
        want = step_graph.tensors[step_in[name]]
        if want.quant is None or want.quant.per_channel or want.dtype != g.tensors[index].dtype:
            raise ProtobrainError(f"step input {name} is not a per-tensor quantized {g.tensors[index].dtype} tensor; "
                                  "convert both models in the same mode")
        new[index] = (float(want.quant.s), int(want.quant.zp))
    return _patch_quantization(data, new, "giving the cond outputs the step's cond quantization")



def cond_output_order(cfg: WaveNetConfig, cond_data: bytes, step_data: bytes) -> list[int]:
    """For each conditioning block of the fused step, in cond_q order (sig.cond), the
    position among the cond model's graph outputs (CompiledModel.run's order) that fills it.
    Checks that sizes and quantization agree, i.e. that cond_data was made by wavenet_nets.cond_tflite
    for this step model."""
    sig = step_signature(cfg, step_data)
    step_graph = read_model_bytes(step_data)
    step_in, _ = signature_tensors(step_data)
    name_of = {index: name for name, index in step_in.items()}
    g = read_model_bytes(cond_data)
    _, outs = signature_tensors(cond_data)
    outs = _outputs_by_name(cond_names(cfg), outs, "cond model", "wavenet_nets.cond_tflite")
    order = []
    for p in sig.cond:
        want = step_graph.tensors[step_graph.inputs[p]]
        name = name_of[want.index]
        got = g.tensors[outs[name]]
        if (got.size != want.size or got.dtype != want.dtype or got.quant is None
                or np.float32(got.quant.s) != np.float32(want.quant.s) or got.quant.zp != want.quant.zp):
            raise ProtobrainError(f"cond model output {name} ({got.dtype}, scale {got.quant.s if got.quant else None}) "
                                  f"does not match the step input ({want.dtype}, scale {want.quant.s}); "
                                  "build the cond model with wavenet_nets.cond_tflite for this step model")
        order.append(g.outputs.index(outs[name]))
    return order


def cond_feature_quantizer(cond_data: bytes, config=None):
    """The FeatureQuantizer from int16 frontend features (protobrain.audio.frontend, default
    FrontendConfig) into the cond model's input."""
    g = read_model_bytes(cond_data)
    t = g.tensors[g.inputs[0]]
    if len(g.inputs) != 1 or t.quant is None or t.quant.per_channel or t.dtype not in ("int8", "int16"):
        raise ProtobrainError("cond model must have one per-tensor quantized int8/int16 input; "
                              "build it with wavenet_nets.cond_tflite")
    return FeatureQuantizer.for_input(t.quant.s, t.quant.zp, t.dtype, config or FrontendConfig())


def cond_frame(cond_net, feats_q, fq, order: list[int]) -> np.ndarray:
    """One frame's cond_q, as a device computes it: int16 frontend features -> fq -> the
    integer cond model (a CompiledModel, or anything with the same run(), e.g. the TFLite
    Micro Reference) -> its outputs concatenated in `order` (cond_output_order)."""
    outs = cond_net.run(fq(np.asarray(feats_q).reshape(1, -1)))
    outs = outs if isinstance(outs, list) else [outs]
    return np.concatenate([np.asarray(outs[j]).reshape(-1) for j in order])


def generate_integer(cfg: WaveNetConfig, cond_net, fused_step, feats_q, fq, order: list[int],
                     temperature: float = 1.0, seed: int = 1, lpc_frames=None) -> np.ndarray:
    """Audio (int16) for (n_frames, cond_dim) int16 frontend features, integers only: the
    host twin of a device. Each frame's cond_q comes from cond_frame, computed when its
    frame starts, then the fused step generates `hop` samples (stepper.generate: same
    sampling, temperature and rng as the float-conditioned path). Any cfg with hop and
    cond_dim serves (a vocoders.Vocoder too); lpc_frames: each frame's prediction
    coefficients, for a vocoder with linear prediction."""
    feats_q = np.asarray(feats_q)
    if feats_q.dtype != np.int16 or feats_q.ndim != 2 or feats_q.shape[1] != cfg.cond_dim:
        raise ProtobrainError(f"features must be int16 (n_frames, {cfg.cond_dim}), got {feats_q.dtype} {feats_q.shape}")
    model = fused_step.model
    if fq.dtype != model.dtype:
        raise ProtobrainError(f"feature quantizer gives {fq.dtype} but the fused step is {model.dtype}")
    if len(order) != len(model.cond_blocks):
        raise ProtobrainError(f"order has {len(order)} entries, the fused step {len(model.cond_blocks)} cond blocks")
    rows = (cond_frame(cond_net, f, fq, order) for f in feats_q)
    return fused_generate(fused_step, rows, cfg.hop, temperature=temperature, seed=seed, lpc_frames=lpc_frames)


def fuse(cfg: WaveNetConfig, data: bytes, name: str = "wavenet"):
    """The fused C step (protobrain.synth.fused.FusedModel) of a converted step model."""
    return fuse_step(data, step_signature(cfg, data), name=name)
