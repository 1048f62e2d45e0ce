"""The window-MLP vocoder's Keras half (protobrain.synth.window_mlp says why this shape):
the training model, the per-sample step model and the per-frame cond model that share its
weights, and their conversion to the two int8 .tflite files a device runs.

    training model: history (H,), frame (cond_dim,) -> logits (classes,)
        embed = Dense(E, tanh, "embed")(frame)
        h = Dense(H_0, relu, "hidden0")(concat(history, embed)); ... ; Dense(C, "logits")
    step model:  x (H + E,) -> logits   (hidden0 .. logits, the same weights)
    cond model:  frame (cond_dim,) -> embed (E,)

H is cfg.history: with linear prediction the codes of the last K samples, the last K
excitation classes and the code of the prediction (code_streams and histories build them
exactly as the device does); without, the last K sampled classes. Training examples are single
positions (a history, the frame the position belongs to, the target class), so a batch is
a thousand independent samples rather than a few long segments: the net has no
recurrence, and this trains in a minute or two on a laptop CPU.

May import synth, audio and train.converter. TensorFlow/Keras is imported lazily.
"""

from __future__ import annotations

import numpy as np

from protobrain.synth import lpc
from protobrain.synth.coding import mulaw_encode
from protobrain.synth.sampling import code_value
from protobrain.synth.window_mlp import WindowMlpConfig, check_models
from protobrain.train.converter import convert_integer

# Calibrating the step input on values that include exactly -1 and 127/128 gives it
# scale 1/128 and zero point 0 (the converter's (max - min) / 255, nudged to hold 0).
_INPUT_LOW, _INPUT_HIGH = -1.0, 127.0 / 128.0


def training_model(cfg: WindowMlpConfig):
    import keras  # lazy: TensorFlow loads only when a model is built
    from keras import layers

    window = keras.Input((cfg.history,), name="history")
    frame = keras.Input((cfg.cond_dim,), name="frame")
    embed = layers.Dense(cfg.embed, activation="tanh", name="embed")(frame)
    h = layers.Concatenate(name="step_input")([window, embed])
    for k, width in enumerate(cfg.hidden):
        h = layers.Dense(width, activation="relu", name=f"hidden{k}")(h)
    logits = layers.Dense(cfg.classes, name="logits")(h)
    return keras.Model([window, frame], logits, name="window_mlp_train")


def step_model(cfg: WindowMlpConfig, trained):
    """x = [window | embed] (1, K + E) -> logits (1, classes), `trained`'s weights."""
    import keras  # lazy
    from keras import layers

    x = keras.Input((cfg.input_size,), batch_size=1, name="x")
    h = x
    for name in [f"hidden{k}" for k in range(len(cfg.hidden))] + ["logits"]:
        src = trained.get_layer(name)
        layer = layers.Dense(src.units, activation=src.activation, name=name)
        h = layer(h)
        layer.set_weights(src.get_weights())
    return keras.Model(x, h, name="window_mlp_step")


def cond_model(cfg: WindowMlpConfig, trained):
    """frame (1, cond_dim) -> embed (1, E): the per-frame half, `trained`'s weights."""
    import keras  # lazy
    from keras import layers

    frame = keras.Input((cfg.cond_dim,), batch_size=1, name="frame")
    layer = layers.Dense(cfg.embed, activation="tanh", name="embed")
    out = layer(frame)
    layer.set_weights(trained.get_layer("embed").get_weights())
    return keras.Model(frame, out, name="window_mlp_cond")


def embed(cfg: WindowMlpConfig, trained, frames) -> np.ndarray:
    """(n, cond_dim) float features -> (n, E) float embeddings."""
    w, b = trained.get_layer("embed").get_weights()
    return np.tanh(np.asarray(frames, np.float32).reshape(-1, cfg.cond_dim) @ w + b).astype(np.float32)


def code_streams(cfg: WindowMlpConfig, audio, coefficients=None) -> dict:
    """The integer streams of one int16 utterance that histories are cut from, as the
    device makes them (teacher forcing: the true past samples). With linear prediction,
    `coefficients` (n_frames, lpc_order) Q12 give p_t (lpc.predict_all), the target is the
    excitation e_t = s_t - p_t (clamped to int16); "s" and "e" are the codes of s and e
    after K codes of silence (the code of 0), "p" the code of p_t. Without, "s" holds the
    codes after K codes of value 0 and the target is the code of s_t."""
    s = np.asarray(audio, np.int64)
    k = cfg.window
    if not cfg.lpc_order:
        codes = mulaw_encode(s / 32768.0, cfg.classes)
        return {"s": np.concatenate([np.full(k, cfg.classes // 2), codes]), "target": codes}
    table = lpc.thresholds(cfg.classes)
    p = lpc.predict_all(s, np.asarray(coefficients), cfg.hop)
    e = np.clip(s - p, -32768, 32767)
    silence = np.full(k, int(lpc.encode(0, table)))
    e_codes = lpc.encode(e, table)
    return {"s": np.concatenate([silence, lpc.encode(s, table)]), "e": np.concatenate([silence, e_codes]),
            "p": lpc.encode(p, table), "target": e_codes}


def histories(cfg: WindowMlpConfig, streams: dict, t: np.ndarray) -> np.ndarray:
    """The history inputs (len(t), cfg.history) float32 at positions t of code_streams."""
    window = np.asarray(t)[:, None] + np.arange(cfg.window)[None]
    parts = [streams["s"][window]]
    if cfg.lpc_order:
        parts += [streams["e"][window], streams["p"][np.asarray(t)][:, None]]
    return code_value(np.concatenate(parts, axis=1), cfg.classes).astype(np.float32)


def step_inputs(cfg: WindowMlpConfig, audio, frames_embedded, coefficients=None) -> np.ndarray:
    """Every step input of one int16 utterance in float: [history | embedding of t's frame]."""
    t = np.arange(len(audio))
    rows = histories(cfg, code_streams(cfg, audio, coefficients), t)
    emb = np.asarray(frames_embedded, np.float32)[np.minimum(t // cfg.hop, len(frames_embedded) - 1)]
    return np.concatenate([rows, emb], axis=1).astype(np.float32)


def step_tflite(cfg: WindowMlpConfig, trained, rows: np.ndarray, max_rows: int = 2000, seed: int = 0) -> bytes:
    """The int8 step model, calibrated on real step inputs `rows` (step_inputs of some
    utterances) plus the two ends of the input range."""
    rows = np.asarray(rows, np.float32).reshape(-1, cfg.input_size)
    if not len(rows):
        raise ValueError("no calibration rows; pass step_inputs of some utterances")
    rng = np.random.default_rng(seed)
    if len(rows) > max_rows:
        rows = rows[np.sort(rng.choice(len(rows), max_rows, replace=False))]
    rows = np.clip(rows, _INPUT_LOW, _INPUT_HIGH)
    ends = np.full((2, cfg.input_size), _INPUT_LOW, np.float32)
    ends[1] = _INPUT_HIGH

    def step_calibration():
        for r in np.concatenate([ends, rows]):
            yield [r[None]]

    # per-tensor weights: every requantization of the step gets literal multiplier and shift
    return convert_integer(step_model(cfg, trained), step_calibration, "int8", per_channel=False)


def cond_tflite(cfg: WindowMlpConfig, trained, frames, max_frames: int = 2000, seed: int = 0) -> bytes:
    """The int8 cond model, its input calibrated on `frames` (n, cond_dim) float features;
    its TANH output is int8 at 1/128 whatever the calibration."""
    frames = np.asarray(frames, np.float32).reshape(-1, cfg.cond_dim)
    rng = np.random.default_rng(seed)
    if len(frames) > max_frames:
        frames = frames[np.sort(rng.choice(len(frames), max_frames, replace=False))]

    def calibration():
        for f in frames:
            yield [f[None]]

    return convert_integer(cond_model(cfg, trained), calibration, "int8")


def export(cfg: WindowMlpConfig, trained, rows, frames, seed: int = 0) -> tuple[bytes, bytes]:
    """(step.tflite, cond.tflite) checked to fit together (window_mlp.check_models)."""
    step = step_tflite(cfg, trained, rows, seed=seed)
    cond = cond_tflite(cfg, trained, frames, seed=seed)
    check_models(cfg, step, cond)
    return step, cond
