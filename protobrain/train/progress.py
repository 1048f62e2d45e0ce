"""Progress for long steps (dataset synthesis, training epochs, evaluation): live bars on a
terminal; in a log or a pipe, plain lines, so a piped run is never silent for minutes."""

from __future__ import annotations

import contextlib
import sys
import time

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

console = Console(stderr=True, highlight=False)

PLAIN_EVERY = 10.0   # seconds: at most one plain line this often (and one per step when steps are slower)


def new_progress() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[status]}"), TimeElapsedColumn(), TimeRemainingColumn(),
                    console=console, disable=not sys.stderr.isatty())


class _Lines:
    """One line per step, no more than one every PLAIN_EVERY seconds, and always the last step."""

    def __init__(self, description: str, total: int):
        self.description, self.total, self.done = description, total, 0
        self.start = self.last = time.monotonic()

    def advance(self, n: int = 1, status: str = "") -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= PLAIN_EVERY or self.done >= self.total:
            self.last = now
            line = " ".join(s for s in (f"{self.description}: {self.done}/{self.total}", status,
                                        f"({now - self.start:.0f} s)") if s)
            console.print(line, markup=False, highlight=False, soft_wrap=True)


@contextlib.contextmanager
def task(description: str, total: int, enabled: bool = True):
    """`with task("synthesizing", n) as advance: advance(1, status="...")`."""
    if not enabled:
        yield lambda n=1, status="": None
        return
    if not sys.stderr.isatty():    # the bars draw on stderr: where they cannot, print lines there
        yield _Lines(description, total).advance
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
