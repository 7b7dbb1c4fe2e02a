"""The writers: one function per export, registered under the name scenario.toml's files use.

A writer takes the world (the scenario and its messages) and its file's ``options`` as keyword
arguments, and returns the file's text, which ``encode`` writes in the file's encoding, or
bytes written as they are (an archive, whose writer renders and encodes its members itself).
Every module of this package is imported when a writer is first looked up, so a new module's
``@writer`` functions need no other edit to be found.
"""

from __future__ import annotations

import csv
import functools
import importlib
import io
import pkgutil
from collections.abc import Callable, Iterable
from typing import Any

from ..model import World

Writer = Callable[..., str | bytes]
WRITERS: dict[str, Writer] = {}


def writer(name: str) -> Callable[[Writer], Writer]:
    """Register the decorated function as the writer ``name``."""

    def register(function: Writer) -> Writer:
        if name in WRITERS:
            raise ValueError(f"two writers are named {name!r}")
        WRITERS[name] = function
        return function

    return register


@functools.cache
def _import_every_writer() -> None:
    # Once per process, whichever writer modules were imported before: each registers itself.
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")


def render(name: str, world: World, options: dict[str, Any]) -> str | bytes:
    """What the writer ``name`` writes with ``options``.

    Raises:
        ValueError: no writer has that name.
    """
    _import_every_writer()
    if name not in WRITERS:
        raise ValueError(f"scenario.toml names the writer {name!r}; known: {', '.join(WRITERS)}")
    return WRITERS[name](world, **options)


def csv_text(rows: Iterable[Iterable[object]], quote_all: bool, line_end: str = "\r\n") -> str:
    """Rows as CSV with CRLF line ends (or ``line_end``), every value quoted or only where
    needed."""
    buffer = io.StringIO()
    out = csv.writer(
        buffer, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator=line_end
    )
    out.writerows(rows)
    return buffer.getvalue()


def encode(content: str | bytes, encoding: str, bom: bool) -> bytes:
    """A file's bytes: text in ``encoding``, after a byte order mark if ``bom``; bytes as
    they are."""
    if isinstance(content, bytes):
        return content
    data = content.encode(encoding)
    return "\ufeff".encode(encoding) + data if bom else data
