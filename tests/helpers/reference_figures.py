"""Figures of the shared reference models measured with TFLite Micro (../shared/models/README.md)."""

# Activation lower bound (bytes) and TFLite Micro's arena, from ../shared/models/README.md.
LOWER_BOUND = {
    "kws_ref_model": 16_000, "vww_96_int8": 55_296, "pretrainedResnet_quant": 49_152,
    "ad01_int8": 768, "micro_speech_quantized": 5_960, "hello_world_int8": 32,
    # input and output of the LSTM (its states are variables, outside the activations);
    # the int16 input and int8 output of the keyword model's first QUANTIZE
    "trained_lstm_int8": 1_344, "keyword_scrambled_8bit": 288,
}
