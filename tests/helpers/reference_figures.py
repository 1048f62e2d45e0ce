"""Figures of the shared reference models measured with TFLite Micro (../shared/models/README.md)."""

# Activation lower bound (bytes) and TFLite Micro's arena, from ../shared/models/README.md.
LOWER_BOUND = {
    "kws_ref_model": 16_000, "vww_96_int8": 55_296, "pretrainedResnet_quant": 49_152,
    "ad01_int8": 768, "micro_speech_quantized": 5_960, "hello_world_int8": 32,
}
