"""C text from a Program: literals and const arrays, the one Jinja environment over
templates/, and the generated model files (header, source, weights, kernels).

May import compiler and resources; knows nothing of boards, toolchains or serial ports.
"""
