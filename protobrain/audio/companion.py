"""What a trained model's C ships with (model_extras): a classifier's class labels, and for
a speech net the audio frontend: the same generated C the bundle runs (pb_frontend.h/.c,
for the run's FrontendConfig) and how its features fill the net's input (frames, mels and
the FeatureQuantizer's constants, as macros in the net's header).

A speech net trained by `protobrain train speech` reads integer log-mel features, which no
.tflite computes: without this C a user's firmware could not feed it."""

from __future__ import annotations

from pathlib import Path

from protobrain.audio.frontend import FeatureQuantizer, FrontendConfig, render_texts
from protobrain.codegen.render import Extras
from protobrain.compiler.program import Program
from protobrain.compiler.run_info import RunInfo, classifier_labels, run_info
from protobrain.errors import ProtobrainError

PREFIX = "pb_frontend"


def frontend_config(info: RunInfo) -> FrontendConfig:
    try:
        return FrontendConfig(**info.frontend)
    except TypeError as e:
        raise ProtobrainError(f"{info.path}: its frontend settings are not a FrontendConfig ({e}); "
                              "rerun protobrain train speech") from None


def feature_input(program: Program, config: FrontendConfig) -> dict:
    """How frames of features fill input 0: the header's PB_<NAME>_FEATURE_* values."""
    g = program.graph
    t = g.tensors[g.inputs[0]]
    if len(g.inputs) != 1 or len(t.shape) < 3 or t.shape[2] != config.n_mels or t.dtype not in ("int8", "int16") \
            or t.quant is None:
        raise ProtobrainError(f"{g.name}: input {t.dtype} {list(t.shape)} is not frames x {config.n_mels} mels of "
                              "int8/int16 features, as its run's frontend gives; is this the speech run's model?")
    q = FeatureQuantizer.for_input(float(t.quant.s), int(t.quant.zp), t.dtype, config)
    return {"frames": t.shape[1], "mels": config.n_mels, "multiplier": q.multiplier, "shift": q.shift,
            "zero_point": q.zero_point, "quantize": f"{PREFIX}_quantize_{'s8' if t.dtype == 'int8' else 's16'}",
            "ctype": "int8_t" if t.dtype == "int8" else "int16_t", "frontend": PREFIX}


def speech_companion(program: Program, info: RunInfo | None) -> tuple[dict[str, str], dict | None]:
    """For a speech run's net: the frontend's files ({name: text}) and its feature_input;
    for any other model: ({}, None)."""
    if info is None or info.frontend is None:
        return {}, None
    config = frontend_config(info)
    return render_texts(config, PREFIX), feature_input(program, config)


def model_extras(program: Program, model: str | Path) -> Extras:
    """Everything the model's training run (if MODEL is one's, or its model.tflite) adds to
    its generated C: the labels of a classifier, the frontend of a speech net."""
    info = run_info(model)
    files, features = speech_companion(program, info)
    return Extras(classifier_labels(program.graph, info), tuple(files.items()), features)
