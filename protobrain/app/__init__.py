"""The protobrain: one firmware with a ConvNet, a speech recognizer and a speech synthesizer
(bundle), the demos that talk to it (see, listen, speak, loop), and its serial verbs.

May import every stage package below it; nothing imports app but cli.
"""
