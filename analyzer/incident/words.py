"""Filling the templates of rule stories (``analyzer.findings.story``) with values.

A count formats as its word (``{total:send}`` -> ``34 sends``, ``{count:copy/copies}`` ->
``1 copy``); a list of names as the first few and how many more (``a, b, c and 2 more``),
``(none)`` when empty. Values stay as the export wrote them: each output makes them safe for
where it goes (terminal, HTML, CSV).
"""

from __future__ import annotations

import string
from collections.abc import Iterable, Mapping

from analyzer.findings.base import listing, plural


class Count(int):
    """A number that formats as ``N word(s)`` when its format names the word."""

    def __format__(self, spec: str) -> str:
        if not spec:
            return f"{int(self):,}"
        one, _, many = spec.partition("/")
        return plural(int(self), one, many or None)


class Names(tuple[str, ...]):
    """Names that format as a short list: ``a, b, c and 2 more``."""

    def __new__(cls, values: Iterable[str]) -> Names:
        return super().__new__(cls, tuple(values))

    def __format__(self, spec: str) -> str:
        return listing(self) or "(none)"


def fill(template: str, values: Mapping[str, object]) -> str:
    """The template with its named values (every name must be given)."""
    return string.Formatter().vformat(template, (), values)


__all__ = ["Count", "Names", "fill"]
