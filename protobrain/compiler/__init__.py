"""From a .tflite file to a Program: the graph IR, the reader and the writer, graph passes,
generation-time fixed point and quantization, the offline memory planner, operator
lowerings (ops/) and the fast tiers' rewrites (ops/tiers/).

May import errors only: it knows nothing of C text, boards or devices.
"""
