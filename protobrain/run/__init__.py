"""Where generated code runs: this host (ctypes), simulated boards (QEMU, Renode), real
boards over serial (the protocol and the generic device client), and flashing.

May import compiler, codegen, firmware, boards, toolchain and verify.layers (the walk that
captures every intermediate tensor).
"""
