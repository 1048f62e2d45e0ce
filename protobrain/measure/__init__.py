"""How fast and how big: exact instruction counts from the QEMU plugin (icount), whole-model
and per-layer benchmarks (bench) and per-instruction profiles (profile).

May import compiler, firmware, run, verify, boards and toolchain.
"""
