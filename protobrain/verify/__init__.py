"""Is it exact: the TFLite Micro reference interpreter, byte-for-byte comparison, layer by
layer capture, and the hostile-model fuzzer (fuzz/).

May import compiler, codegen, firmware, run, boards and toolchain.
"""
