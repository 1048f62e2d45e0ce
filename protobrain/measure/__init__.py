"""How fast and how big: exact instruction counts from the QEMU plugin (icount), whole-model
and per-layer benchmarks (bench), per-instruction profiles (profile), and the memory plan
drawn (plan_plot).

May import compiler, firmware, run, verify, boards and toolchain.
"""
