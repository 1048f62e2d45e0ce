"""Progress bars for long steps (dataset synthesis, training epochs, evaluation)."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False)


def new_progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, disable=not sys.stderr.isatty())


@contextlib.contextmanager
def task(description: str, total: int, enabled: bool = True):
    """`with task("synthesizing", n) as advance: advance(1, status="...")`."""
    if not enabled:
        yield lambda n=1, status="": None
        return
    with new_progress() as p:
        t = p.add_task(description, total=total, status="")
        yield lambda n=1, status="": p.update(t, advance=n, status=status)


def keras_callback(description: str, epochs: int, enabled: bool = True):
    """A Keras callback that shows one bar over all epochs with the latest metrics."""
    from tensorflow import keras

    class _Bar(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self._cm = task(description, epochs, enabled)
            self._advance = self._cm.__enter__()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = " ".join(f"{k}={v:.3f}" for k, v in logs.items() if k in ("loss", "accuracy", "val_accuracy"))
            self._advance(1, status=shown)

        def on_train_end(self, logs=None):
            self._cm.__exit__(None, None, None)

    return _Bar()
