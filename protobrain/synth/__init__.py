"""The speech synthesizer's integer side: mu-law coding (coding), the WaveNet's per-step
interface and quantization (wavenet), the fused per-sample C step (fused, with its
per-operator C in emit and its integer sampling in sampling), and the fused step run on
this host next to its TFLite Micro twin (stepper).

May import compiler, codegen, audio, run and verify; the Keras half lives in train/.
"""
