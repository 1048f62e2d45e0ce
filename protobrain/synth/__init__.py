"""The speech synthesizer's integer side: mu-law coding, the WaveNet's per-step interface
and quantization, and the fused per-sample C step with its host twin.

May import compiler, codegen, audio, run and verify; the Keras half lives in train/.
"""
