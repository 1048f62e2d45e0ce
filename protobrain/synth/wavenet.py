"""A WaveNet-style vocoder: architecture, per-step export with explicit state, and quantization.

A WaveNet generates audio one sample per step. For a microcontroller the network is
exported as a *per-step* model whose dilated convolutions read their past input from
explicit state tensors, and protobrain.synth.fused turns that model into one specialised C
function with the state kept in ring buffers.

Architecture (layer names are shared by the two Keras models so weights can be copied):

    x_0 = input_conv(audio_in)                      causal conv, kernel 1, `residual` channels
    layer l (dilation d_l = dilation_cycle[l % len(dilation_cycle)]):
        f = filter_conv_l(x_l) + filter_cond_l(cond)  dilated causal conv, kernel 2 (taps t-d, t)
        g = gate_conv_l(x_l)   + gate_cond_l(cond)
        h = tanh(f) * sigmoid(g)
        skip += skip_l(h)                            `skip` channels
        x_{l+1} = x_l + res_l(h)                     (not in the last layer: nothing reads it)
    logits = logits(relu(head(relu(skip))))         `hidden`, then `classes` (8-bit mu-law: 256)

Filter and gate are separate convolutions so the per-step graph needs no split. The
per-step model expresses each kernel-2 convolution as two Dense layers, one on the
layer's input d_l samples ago (`past_l`, from the ring buffer) and one on its input now,
summed: it is built from FULLY_CONNECTED, ADD, MUL, TANH, LOGISTIC and RELU only (the
converter adds RESHAPEs, which protobrain compiles to nothing).

Conditioning is a per-frame precomputation: `cond_projection` applies every layer's
filter_cond/gate_cond Dense to each frame of features once, giving layers * 2 * residual
values per frame that are fed unchanged to all `hop` steps of that frame (the training
model sees the frames upsampled by repetition, which is the same thing). Each of these
2 * layers blocks is its own input of the step model (cond{l}_f, cond{l}_g), so no slice
is needed; each block has its own quantization, read from the converted model
(`cond_quantization`, `quantize_cond`).

A device computes the projection in integers: `cond_model` is the projection as a Keras
model (one Dense per block), `cond_tflite` converts it to a full-integer .tflite whose
outputs carry exactly the step model's cond quantization, so its integer outputs are the
step's cond_q with no requantization (`cond_output_order` says which output fills which
block). The frontend's int16 features reach its input through
protobrain.audio.frontend.FeatureQuantizer; `generate_integer` is the host twin of the
whole integer path (features -> cond model -> fused step).

TensorFlow/Keras is imported lazily, only by the functions that build or convert models.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass

import numpy as np

from protobrain.audio.frontend import FeatureQuantizer, FrontendConfig
from protobrain.compiler.reader import read_model_bytes
from protobrain.errors import ProtobrainError
from protobrain.synth.coding import mulaw_decode, mulaw_encode, quantize
from protobrain.synth.fused import StatePair, StepSignature
from protobrain.synth.fused import fuse as fuse_step
from protobrain.synth.fused import generate as fused_generate
from protobrain.train.converter import convert_integer


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


# ---- Keras models --------------------------------------------------------------------------


def training_model(cfg: WaveNetConfig, seq_len: int | None = None):
    """Teacher-forced model over whole sequences: audio_in (batch, T, 1) = previous samples
    mu-law decoded to [-1, 1], cond (batch, T, cond_dim) = frames repeated to the sample
    rate; output (batch, T, classes) logits of the next sample's mu-law class."""
    import keras
    from keras import layers

    R, S = cfg.residual, cfg.skip
    audio = keras.Input((seq_len, 1), name="audio_in")
    cond = keras.Input((seq_len, cfg.cond_dim), name="cond")
    x = layers.Conv1D(R, 1, name="input_conv")(audio)
    skip = None
    for i in range(cfg.layers):
        d = cfg.dilation(i)
        f = layers.Add(name=f"filter_sum_{i}")([
            layers.Conv1D(R, 2, dilation_rate=d, padding="causal", name=f"filter_conv_{i}")(x),
            layers.Dense(R, name=f"filter_cond_{i}")(cond)])
        g = layers.Add(name=f"gate_sum_{i}")([
            layers.Conv1D(R, 2, dilation_rate=d, padding="causal", name=f"gate_conv_{i}")(x),
            layers.Dense(R, name=f"gate_cond_{i}")(cond)])
        h = layers.Multiply(name=f"gated_{i}")([layers.Activation("tanh", name=f"tanh_{i}")(f),
                                                layers.Activation("sigmoid", name=f"sigmoid_{i}")(g)])
        s = layers.Dense(S, name=f"skip_{i}")(h)
        skip = s if skip is None else layers.Add(name=f"skip_sum_{i}")([skip, s])
        if i < cfg.layers - 1:
            x = layers.Add(name=f"residual_sum_{i}")([x, layers.Dense(R, name=f"res_{i}")(h)])
    y = layers.ReLU(name="skip_relu")(skip)
    y = layers.Dense(cfg.hidden, activation="relu", name="head")(y)
    logits = layers.Dense(cfg.classes, name="logits")(y)
    return keras.Model([audio, cond], logits, name="wavenet_train")


def _layer_input_names(cfg: WaveNetConfig) -> list[str]:
    """Names of the training-model layers whose outputs are x_0 .. x_{L-1}."""
    return ["input_conv"] + [f"residual_sum_{i}" for i in range(cfg.layers - 1)]


def step_input_names(cfg: WaveNetConfig) -> list[str]:
    names = ["sample"]
    for i in range(cfg.layers):
        names += [f"cond{i}_f", f"cond{i}_g"]
    return names + [f"past{i}" for i in range(cfg.layers)]


def step_output_names(cfg: WaveNetConfig) -> list[str]:
    return ["logits"] + [f"x{i}" for i in range(cfg.layers)]


def step_model(cfg: WaveNetConfig, trained):
    """One sample per call with explicit state, sharing `trained`'s weights.

    Inputs: sample (1, 1); cond{l}_f, cond{l}_g (1, R) = layer l's conditioning
    contribution for the current frame (see cond_projection); past{l} (1, R) = layer l's
    input x_l from d_l samples ago. Outputs: logits (1, classes), then x{l} (1, R) = layer
    l's input now, to be pushed into layer l's ring buffer.
    """
    import keras
    from keras import layers

    R, S = cfg.residual, cfg.skip
    src = {layer.name: layer for layer in trained.layers}

    def dense(name, units, inp, kernel, bias=None, activation=None):
        layer = layers.Dense(units, use_bias=bias is not None, activation=activation, name=name)
        y = layer(inp)
        layer.set_weights([np.asarray(kernel)] + ([np.asarray(bias)] if bias is not None else []))
        return y

    sample = keras.Input((1,), batch_size=1, name="sample")
    conds, pasts = [], []
    for i in range(cfg.layers):
        conds.append((keras.Input((R,), batch_size=1, name=f"cond{i}_f"),
                      keras.Input((R,), batch_size=1, name=f"cond{i}_g")))
    for i in range(cfg.layers):
        pasts.append(keras.Input((R,), batch_size=1, name=f"past{i}"))

    k, b = src["input_conv"].get_weights()
    x = dense("input_conv", R, sample, k[0], b)
    xs, skip = [], None
    for i in range(cfg.layers):
        xs.append(layers.Identity(name=f"x{i}")(x))
        branches = []
        for kind, cond_in in (("filter", conds[i][0]), ("gate", conds[i][1])):
            # Keras' causal kernel-2 conv: tap 0 reads x[t - d], tap 1 reads x[t].
            k, b = src[f"{kind}_conv_{i}"].get_weights()
            branches.append(layers.Add(name=f"{kind}_sum_{i}")([
                dense(f"{kind}_past_{i}", R, pasts[i], k[0]),
                dense(f"{kind}_now_{i}", R, x, k[1], b),
                cond_in]))
        h = layers.Multiply(name=f"gated_{i}")([layers.Activation("tanh", name=f"tanh_{i}")(branches[0]),
                                                layers.Activation("sigmoid", name=f"sigmoid_{i}")(branches[1])])
        s = dense(f"skip_{i}", S, h, *src[f"skip_{i}"].get_weights())
        skip = s if skip is None else layers.Add(name=f"skip_sum_{i}")([skip, s])
        if i < cfg.layers - 1:
            x = layers.Add(name=f"residual_sum_{i}")([x, dense(f"res_{i}", R, h, *src[f"res_{i}"].get_weights())])
    y = layers.ReLU(name="skip_relu")(skip)
    y = dense("head", cfg.hidden, y, *src["head"].get_weights(), activation="relu")
    logits = dense("logits", cfg.classes, y, *src["logits"].get_weights())
    inputs = [sample] + [c for pair in conds for c in pair] + pasts
    return keras.Model(inputs, [logits] + xs, name="wavenet_step")


def cond_projection(cfg: WaveNetConfig, trained, frames) -> np.ndarray:
    """(n_frames, cond_dim) features -> (n_frames, layers * 2 * residual) float32: for each
    layer l, filter_cond_l(frame) then gate_cond_l(frame). Computed once per frame (not per
    sample) and fed to every step of that frame."""
    frames = np.asarray(frames, np.float32).reshape(-1, cfg.cond_dim)
    src = {layer.name: layer for layer in trained.layers}
    blocks = []
    for i in range(cfg.layers):
        for kind in ("filter", "gate"):
            k, b = src[f"{kind}_cond_{i}"].get_weights()
            blocks.append(frames @ k + b)
    return np.concatenate(blocks, axis=1).astype(np.float32)


def cond_names(cfg: WaveNetConfig) -> list[str]:
    """The conditioning blocks: step model inputs and cond model outputs, in Keras order."""
    return [f"cond{i}_{k}" for i in range(cfg.layers) for k in ("f", "g")]


def cond_model(cfg: WaveNetConfig, trained):
    """cond_projection as a Keras model, for full-integer conversion (cond_tflite): input
    "frame" (1, cond_dim); outputs cond{l}_f, cond{l}_g (1, R), one Dense each with
    `trained`'s filter_cond_l / gate_cond_l weights: what the step model's inputs of the
    same names take."""
    import keras
    from keras import layers

    src = {layer.name: layer for layer in trained.layers}
    frame = keras.Input((cfg.cond_dim,), batch_size=1, name="frame")
    outs = []
    for i in range(cfg.layers):  # the order of cond_names
        for kind, tag in (("filter", "f"), ("gate", "g")):
            dense = layers.Dense(cfg.residual, name=f"cond{i}_{tag}")
            outs.append(dense(frame))
            dense.set_weights(src[f"{kind}_cond_{i}"].get_weights())
    return keras.Model(frame, outs, name="wavenet_cond")


def upsample(frames, hop: int) -> np.ndarray:
    """Per-frame features to the sample rate by repetition: (n, dim) -> (n * hop, dim)."""
    return np.repeat(np.asarray(frames, np.float32), hop, axis=0)


# ---- representative steps -----------------------------------------------------------------


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


def layer_inputs(cfg: WaveNetConfig, trained, audio, frames) -> list[np.ndarray]:
    """Every layer's input x_l over a whole sequence: L arrays of (T, R) float32."""
    import keras

    probe = keras.Model(trained.inputs, [trained.get_layer(n).output for n in _layer_input_names(cfg)])
    audio = np.asarray(audio, np.float32).reshape(1, -1, 1)
    cond = upsample(frames, cfg.hop)[None, : audio.shape[1]]
    outs = probe.predict_on_batch([audio, cond])
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    return [np.asarray(o)[0] for o in outs]


def representative_steps(cfg: WaveNetConfig, trained, sequences) -> list[dict]:
    """The step model's inputs at every step of the given sequences, as {input name: array}.

    These are exactly what running the float step model sample by sample feeds itself
    (past_l = x_l from d_l steps ago, zero before the start); they are computed here from
    the training model's layer inputs in one pass (test_wavenet checks the equivalence).
    """
    steps = []
    for audio, frames in sequences:
        xs = layer_inputs(cfg, trained, audio, frames)
        proj = cond_projection(cfg, trained, frames)
        R = cfg.residual
        for t in range(len(audio)):
            row = proj[t // cfg.hop]
            d = {"sample": np.array([[audio[t]]], np.float32)}
            for i in range(cfg.layers):
                d[f"cond{i}_f"] = row[None, (2 * i) * R:(2 * i + 1) * R]
                d[f"cond{i}_g"] = row[None, (2 * i + 1) * R:(2 * i + 2) * R]
                past = t - cfg.dilation(i)
                d[f"past{i}"] = (xs[i][past] if past >= 0 else np.zeros(R, np.float32))[None].astype(np.float32)
            steps.append(d)
    return steps


# ---- conversion ----------------------------------------------------------------------------


def to_tflite(cfg: WaveNetConfig, step, steps: list[dict], mode: str = "int8", max_steps: int = 2000,
              seed: int = 0) -> bytes:
    """Quantize the step model (int8, or "16x8": int16 activations, int8 weights) calibrated
    on real step inputs (`representative_steps`); inputs and outputs stay integer.

    Afterwards every past{l} input gets exactly the quantization of the x{l} output, so the
    ring buffers move raw integers from output to input with no requantization (see
    tie_state_quantization)."""
    if mode not in ("int8", "16x8"):
        raise WaveNetConfigError(f"mode must be 'int8' or '16x8', got {mode!r}")
    if not steps:
        raise WaveNetConfigError("no representative steps; pass representative_steps(cfg, trained, sequences)")
    rng = np.random.default_rng(seed)
    chosen = steps if len(steps) <= max_steps else [steps[i] for i in sorted(rng.choice(len(steps), max_steps, replace=False))]

    def representative():
        for d in chosen:
            yield {k: np.asarray(v, np.float32) for k, v in d.items()}

    data = convert_integer(step, representative, mode)
    return tie_state_quantization(data, cfg)


# ---- reading the converted step model -------------------------------------------------------


def signature_tensors(data: bytes) -> tuple[dict[str, int], dict[str, int]]:
    """The serving signature: ({input name: tensor index}, {output name: tensor index})."""
    import tflite

    model = tflite.Model.GetRootAs(data, 0)
    if model.SignatureDefsLength() < 1:
        raise ProtobrainError("step model has no signature; convert it with wavenet.to_tflite")
    sd = model.SignatureDefs(0)
    ins = {sd.Inputs(j).Name().decode(): sd.Inputs(j).TensorIndex() for j in range(sd.InputsLength())}
    outs = {sd.Outputs(j).Name().decode(): sd.Outputs(j).TensorIndex() for j in range(sd.OutputsLength())}
    return ins, outs


def _named_outputs(cfg: WaveNetConfig, outs: dict[str, int]) -> dict[str, int]:
    """Output names of the step model -> tensor index."""
    return _outputs_by_name(step_output_names(cfg), outs, "step model", "wavenet.to_tflite")


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
    import flatbuffers
    import tflite

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


def cond_tflite(cfg: WaveNetConfig, trained, frames, step_data: bytes, mode: str = "int8", seed: int = 0,
                max_frames: int = 2000) -> bytes:
    """The conditioning projection (cond_model) as a full-integer .tflite for a device.

    Calibrated on `frames` (n, cond_dim) float features (at most max_frames of them, drawn
    at random), which sets the input's quantization. Every output cond{l}_{f,g} then gets
    exactly the scale and zero point of the step model's input of the same name, so its
    integers go straight into the fused step's cond_q (order: cond_output_order). Valid
    because each output is written by one FULLY_CONNECTED, whose Prepare reads the output
    scale and zero point from the tensor, and nothing else reads it (checked here); the
    bias is quantized with the input and weight scales only.
    """
    if mode not in ("int8", "16x8"):
        raise WaveNetConfigError(f"mode must be 'int8' or '16x8', got {mode!r}")
    frames = np.asarray(frames, np.float32).reshape(-1, cfg.cond_dim)
    if not len(frames):
        raise WaveNetConfigError("no calibration frames; pass the features the vocoder is conditioned on")
    rng = np.random.default_rng(seed)
    if len(frames) > max_frames:
        frames = frames[np.sort(rng.choice(len(frames), max_frames, replace=False))]

    def representative():
        for f in frames:
            yield {"frame": f[None]}

    data = convert_integer(cond_model(cfg, trained), representative, mode)
    step_in, _ = signature_tensors(step_data)
    step_graph = read_model_bytes(step_data)
    missing = [n for n in cond_names(cfg) if n not in step_in]
    if missing:
        raise ProtobrainError(f"step model lacks inputs {missing}; it was not exported for this WaveNetConfig")
    g = read_model_bytes(data)
    _, outs = signature_tensors(data)
    outs = _outputs_by_name(cond_names(cfg), outs, "cond model", "wavenet.cond_tflite")
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
    Checks that sizes and quantization agree, i.e. that cond_data was made by cond_tflite
    for this step model."""
    sig = step_signature(cfg, step_data)
    step_graph = read_model_bytes(step_data)
    step_in, _ = signature_tensors(step_data)
    name_of = {index: name for name, index in step_in.items()}
    g = read_model_bytes(cond_data)
    _, outs = signature_tensors(cond_data)
    outs = _outputs_by_name(cond_names(cfg), outs, "cond model", "wavenet.cond_tflite")
    order = []
    for p in sig.cond:
        want = step_graph.tensors[step_graph.inputs[p]]
        name = name_of[want.index]
        got = g.tensors[outs[name]]
        if (got.size != want.size or got.dtype != want.dtype or got.quant is None
                or np.float32(got.quant.s) != np.float32(want.quant.s) or got.quant.zp != want.quant.zp):
            raise ProtobrainError(f"cond model output {name} ({got.dtype}, scale {got.quant.s if got.quant else None}) "
                                  f"does not match the step input ({want.dtype}, scale {want.quant.s}); "
                                  "build the cond model with wavenet.cond_tflite for this step model")
        order.append(g.outputs.index(outs[name]))
    return order


def cond_feature_quantizer(cond_data: bytes, config=None):
    """The FeatureQuantizer from int16 frontend features (protobrain.audio.frontend, default
    FrontendConfig) into the cond model's input."""
    g = read_model_bytes(cond_data)
    t = g.tensors[g.inputs[0]]
    if len(g.inputs) != 1 or t.quant is None or t.quant.per_channel or t.dtype not in ("int8", "int16"):
        raise ProtobrainError("cond model must have one per-tensor quantized int8/int16 input; "
                              "build it with cond_tflite")
    return FeatureQuantizer.for_input(t.quant.s, t.quant.zp, t.dtype, config or FrontendConfig())


def cond_frame(cond_net, feats_q, fq, order: list[int]) -> np.ndarray:
    """One frame's cond_q, as a device computes it: int16 frontend features -> fq -> the
    integer cond model (a CompiledModel, or anything with the same run(), e.g. the TFLite
    Micro Reference) -> its outputs concatenated in `order` (cond_output_order)."""
    outs = cond_net.run(fq(np.asarray(feats_q).reshape(1, -1)))
    outs = outs if isinstance(outs, list) else [outs]
    return np.concatenate([np.asarray(outs[j]).reshape(-1) for j in order])


def generate_integer(cfg: WaveNetConfig, cond_net, fused_step, feats_q, fq, order: list[int],
                     temperature: float = 1.0, seed: int = 1) -> np.ndarray:
    """Audio (int16) for (n_frames, cond_dim) int16 frontend features, integers only: the
    host twin of a device. Each frame's cond_q comes from cond_frame, computed when its
    frame starts, then the fused step generates `hop` samples (fused.generate: same
    sampling, temperature and rng as the float-conditioned path)."""
    feats_q = np.asarray(feats_q)
    if feats_q.dtype != np.int16 or feats_q.ndim != 2 or feats_q.shape[1] != cfg.cond_dim:
        raise ProtobrainError(f"features must be int16 (n_frames, {cfg.cond_dim}), got {feats_q.dtype} {feats_q.shape}")
    model = fused_step.model
    if fq.dtype != model.dtype:
        raise ProtobrainError(f"feature quantizer gives {fq.dtype} but the fused step is {model.dtype}")
    if len(order) != len(model.cond_blocks):
        raise ProtobrainError(f"order has {len(order)} entries, the fused step {len(model.cond_blocks)} cond blocks")
    rows = (cond_frame(cond_net, f, fq, order) for f in feats_q)
    return fused_generate(fused_step, rows, cfg.hop, temperature=temperature, seed=seed)


# ---- end to end ------------------------------------------------------------------------------


def export(cfg: WaveNetConfig, trained, mode: str = "int8", sequences=None, seed: int = 0):
    """(per-step .tflite bytes, its StepSignature), calibrated on `sequences` (default: random)."""
    step = step_model(cfg, trained)
    seqs = sequences if sequences is not None else random_sequences(cfg, seed=seed)
    data = to_tflite(cfg, step, representative_steps(cfg, trained, seqs), mode=mode, seed=seed)
    return data, step_signature(cfg, data)


def fuse(cfg: WaveNetConfig, data: bytes, name: str = "wavenet"):
    """The fused C step (protobrain.synth.fused.FusedModel) of a converted step model."""
    return fuse_step(data, step_signature(cfg, data), name=name)


def generate(cfg: WaveNetConfig, trained, fused_step, frames, temperature: float = 1.0, seed: int = 1) -> np.ndarray:
    """Audio (int16) for (n_frames, cond_dim) features with the fused C step (ctypes)."""
    proj = cond_projection(cfg, trained, frames)
    model = fused_step.model
    cond_q = quantize_cond(cfg, proj, [(b.scale, b.zero_point) for b in model.cond_blocks], model.np_dtype)
    return fused_generate(fused_step, cond_q, cfg.hop, temperature=temperature, seed=seed)
