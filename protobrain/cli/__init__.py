"""The `protobrain` command: one module per group of commands, registered in main.py.

Argument parsing, calling a stage, printing; the logic lives in the stage packages.
May import everything; nothing imports cli.
"""
