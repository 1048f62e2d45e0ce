"""The hostile-model fuzzer: mutate .tflite files, and check that each one gives a one-line
error or C that matches TensorFlow Lite Micro (on the host under sanitizers, and a sample
in QEMU).
"""
