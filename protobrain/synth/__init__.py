"""The speech synthesizer's integer side: mu-law coding (coding); the vocoder architectures
behind one interface (vocoders): the window MLP with linear prediction (window_mlp, lpc),
sized for a Cortex-M4 in real time, and the WaveNet (wavenet); the fused per-sample C step
(fused, with its per-operator C in emit and its integer sampling in sampling); and the
fused step run on this host next to its TFLite Micro twin (stepper).

May import compiler, codegen, audio, run and verify; the Keras half lives in train/.
"""
