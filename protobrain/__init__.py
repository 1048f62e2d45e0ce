"""protobrain: neural networks in, static-memory microcontroller firmware out."""

__version__ = "0.1.0"


def compile(path, strategy: str = "best"):  # noqa: A001 - the natural name for this API
    """Generate C for a .tflite model, build it for this host and return a handle with .run(x)."""
    # Imported here so that `import protobrain` (and the CLI's start) stays light.
    from protobrain.run.host import compile_model

    return compile_model(path, strategy)


__all__ = ["compile", "__version__"]
