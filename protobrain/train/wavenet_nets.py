"""The WaveNet vocoder's Keras half: the training model, the per-step model that shares its
weights, the conditioning projection, calibration data, and conversion to the full-integer
.tflite files that protobrain.synth.wavenet reads and protobrain.synth.fused compiles.

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
is needed. `cond_model` is the projection as a Keras model (one Dense per block) and
`cond_tflite` converts it to a full-integer .tflite for a device.

May import synth, audio, compiler and train.converter. TensorFlow/Keras is imported
lazily, only by the functions that build or convert models.
"""

from __future__ import annotations

import numpy as np

from protobrain.synth.stepper import generate as fused_generate
from protobrain.synth.wavenet import (
    WaveNetConfig,
    WaveNetConfigError,
    quantize_cond,
    random_sequences,
    step_signature,
    tie_cond_quantization,
    tie_state_quantization,
)
from protobrain.train.converter import convert_integer


def training_model(cfg: WaveNetConfig, seq_len: int | None = None):
    """Teacher-forced model over whole sequences: audio_in (batch, T, 1) = previous samples
    mu-law decoded to [-1, 1], cond (batch, T, cond_dim) = frames repeated to the sample
    rate; output (batch, T, classes) logits of the next sample's mu-law class."""
    import keras  # lazy: TensorFlow loads only when a model is built
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


def step_model(cfg: WaveNetConfig, trained):
    """One sample per call with explicit state, sharing `trained`'s weights.

    Inputs: sample (1, 1); cond{l}_f, cond{l}_g (1, R) = layer l's conditioning
    contribution for the current frame (see cond_projection); past{l} (1, R) = layer l's
    input x_l from d_l samples ago. Outputs: logits (1, classes), then x{l} (1, R) = layer
    l's input now, to be pushed into layer l's ring buffer.
    """
    import keras  # lazy: TensorFlow loads only when a model is built
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


def cond_model(cfg: WaveNetConfig, trained):
    """cond_projection as a Keras model, for full-integer conversion (cond_tflite): input
    "frame" (1, cond_dim); outputs cond{l}_f, cond{l}_g (1, R), one Dense each with
    `trained`'s filter_cond_l / gate_cond_l weights: what the step model's inputs of the
    same names take."""
    import keras  # lazy: TensorFlow loads only when a model is built
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


def layer_inputs(cfg: WaveNetConfig, trained, audio, frames) -> list[np.ndarray]:
    """Every layer's input x_l over a whole sequence: L arrays of (T, R) float32."""
    import keras  # lazy: TensorFlow loads only when a model is built

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


# ---- the conditioning projection as its own integer model ---------------------------------


def cond_tflite(cfg: WaveNetConfig, trained, frames, step_data: bytes, mode: str = "int8", seed: int = 0,
                max_frames: int = 2000) -> bytes:
    """The conditioning projection (cond_model) as a full-integer .tflite for a device.

    Calibrated on `frames` (n, cond_dim) float features (at most max_frames of them, drawn
    at random), which sets the input's quantization. Every output cond{l}_{f,g} then gets
    exactly the scale and zero point of the step model's input of the same name
    (tie_cond_quantization), so its integers go straight into the fused step's cond_q.
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
    return tie_cond_quantization(data, cfg, step_data)


# ---- end to end ------------------------------------------------------------------------------


def export(cfg: WaveNetConfig, trained, mode: str = "int8", sequences=None, seed: int = 0):
    """(per-step .tflite bytes, its StepSignature), calibrated on `sequences` (default: random)."""
    step = step_model(cfg, trained)
    seqs = sequences if sequences is not None else random_sequences(cfg, seed=seed)
    data = to_tflite(cfg, step, representative_steps(cfg, trained, seqs), mode=mode, seed=seed)
    return data, step_signature(cfg, data)


def generate(cfg: WaveNetConfig, trained, fused_step, frames, temperature: float = 1.0, seed: int = 1) -> np.ndarray:
    """Audio (int16) for (n_frames, cond_dim) features with the fused C step (ctypes)."""
    proj = cond_projection(cfg, trained, frames)
    model = fused_step.model
    cond_q = quantize_cond(cfg, proj, [(b.scale, b.zero_point) for b in model.cond_blocks], model.np_dtype)
    return fused_generate(fused_step, cond_q, cfg.hop, temperature=temperature, seed=seed)
