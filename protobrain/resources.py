"""Where the templates and board files live, in a source checkout or an installed wheel."""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"protobrain data folder '{name}' not found; reinstall protobrain")


def templates_dir() -> Path:
    return _find("templates")


def kernels_dir() -> Path:
    return templates_dir() / "kernels"


def boards_dir() -> Path:
    return _find("boards")


# The reference int8 models (MLPerf Tiny's four, TFLite Micro's two examples, and its two
# recurrent ones: an LSTM and an SVDF keyword model, which keep state between invocations)
# that `make demo`, `make bench` and the tests read from a models folder (../shared/models).
REFERENCE_MODELS = ["hello_world_int8", "micro_speech_quantized", "kws_ref_model", "ad01_int8",
                    "pretrainedResnet_quant", "vww_96_int8", "trained_lstm_int8", "keyword_scrambled_8bit"]
# The models folder's signal-processing model: TFLite Micro's micro_speech audio frontend
# (window, FFT, filterbank, noise reduction, log) as a model, measured by `make bench` too.
SIGNAL_MODELS = ["audio_preprocessor_int8"]
