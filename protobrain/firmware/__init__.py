"""A board's firmware around generated models: the model files compiled for the boards
that run them (programs), rendering the board support and protocol server, compiling and
linking, the fit check, the worst-case stack bound, the RP2040 boot stage and UF2 image,
PlatformIO projects, and Arduino libraries.

May import compiler, codegen, boards and toolchain.
"""
