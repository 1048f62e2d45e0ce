"""Errors a user can act on. The CLI prints them as one line and exits with `exit_code`."""


class ProtobrainError(Exception):
    """A problem with the user's input: message says what is wrong and what to do."""

    exit_code = 2


class ModelError(ProtobrainError):
    """The file is not a readable TFLite model."""


class UnsupportedError(ProtobrainError):
    """The model uses operators or types protobrain cannot compile."""


class ToolchainError(ProtobrainError):
    """A compiler or tool needed for the step is missing or failed."""

    exit_code = 3
