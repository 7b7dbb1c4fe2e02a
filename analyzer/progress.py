"""Progress reporting for long work: a bar on a terminal, silence in pipes and CI.

The library only calls a ``Progress`` (``start``, ``advance``, ``finish``); what is shown is
the caller's choice. ``terminal_progress`` returns a bar when the stream is a terminal and
None otherwise, so piped output and CI logs stay clean.
"""

from __future__ import annotations

import os
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, label: str, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...

    def finish(self) -> None: ...


class TerminalBar:
    """A one-line progress bar redrawn at most 10 times a second."""

    def __init__(self, stream: TextIO, width: int = 30):
        self.stream = stream
        self.width = width
        self.label = ""
        self.total = 0
        self.done = 0
        self._last_draw = 0.0
        self._started = 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done = label, max(total, 1), 0
        self._started = time.monotonic()
        self._draw(force=True)

    def advance(self, amount: int) -> None:
        self.done = min(self.total, self.done + amount)
        self._draw()

    def finish(self) -> None:
        self.done = self.total
        self._draw(force=True)
        self.stream.write("\n")
        self.stream.flush()

    def _draw(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_draw < 0.1:
            return
        self._last_draw = now
        fraction = self.done / self.total
        filled = int(self.width * fraction)
        bar = "#" * filled + "-" * (self.width - filled)
        label = self.label if len(self.label) <= 40 else "..." + self.label[-37:]
        elapsed = now - self._started
        self.stream.write(f"\r{label:40} [{bar}] {fraction:4.0%} {elapsed:5.1f}s")
        self.stream.flush()


def terminal_progress(stream: TextIO) -> Progress | None:
    """A progress bar on ``stream`` if it is an interactive terminal, else None."""
    if os.environ.get("CI") or os.environ.get("MSGTRACE_NO_PROGRESS"):
        return None
    try:
        interactive = stream.isatty()
    except (AttributeError, ValueError):
        interactive = False
    return TerminalBar(stream) if interactive else None
