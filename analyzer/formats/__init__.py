"""The registry of export formats, and detection of a file's format from its header.

A format is data, not code (``ExportFormat``): its header signature, the aliases of each
canonical column, how its rows are shaped, and its export limits. Adding a format is adding
one description in ``analyzer.formats.definitions`` plus a sample file; the ingest code does
not change.

Header matching is tolerant, because what no public file shows verbatim is unconfirmed: names
are compared ignoring case, spaces, quotes, ``-`` and ``_`` and a trailing ``(UTC)``; column
order is never assumed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: How the rows of a format map to canonical rows.
#: - ``event``: one row is one event for one or more recipients (``a;b`` with statuses ``x;y``)
#: - ``recipient_events``: one row per message; ``recipient_status`` holds
#:   ``addr##Event, Event;addr##Event`` (enhanced summary)
#: - ``status``: one row is a message x recipient with its final status (summaries, API)
RowShape = Literal["event", "recipient_events", "status"]
#: How a file is laid out: CSV with a header line, Exchange tracking log (``#Fields:`` block),
#: or JSON records (pages, arrays, NDJSON; the records' keys are their header).
Container = Literal["csv", "tracking_log", "json"]


def normalize_header(name: str) -> str:
    """Normalize a header for tolerant matching: ``"Date (UTC)"`` -> ``"date"``."""
    name = name.strip().strip("\ufeff").strip().strip('"').strip("'").lower()
    name = re.sub(r"\(\s*utc\s*\)$", "", name)
    return re.sub(r"[\s_\-\"'.]+", "", name)


@dataclass(frozen=True)
class ExportFormat:
    """Declarative description of one export format.

    Attributes:
        name: short stable name, shown to users and stored as ``report_type``.
        title: what a user calls it.
        containers: how its files are laid out (CSV, tracking log with ``#Fields:``, JSON);
            one format may arrive in several (Defender tables as CSV or streaming JSON).
        columns: canonical column -> header names that fill it (any spelling that
            normalizes the same matches).
        signature: canonical columns that must all be filled for the format to match.
        row_shape: how rows map to canonical rows (see ``RowShape``).
        time_basis: ``event`` when a row's time is the event's own, ``message`` when it is
            the time the message was received.
        status_rules: for formats that say what happened in several columns (Defender):
            ordered (column, substring, reported_status) rules; the first that matches wins.
        limits: row counts at which this export is cut off by the service.
        message_limits: message counts at which it is cut off (the extended report stops
            at 1,000 messages, whatever their number of rows).
        preamble: regular expression of lines that may precede the header (``#TYPE``).
        constants: canonical column -> the value every row of the format has (the event id
            of Defender's attachment, URL and click rows, which have no event column).
        fallbacks: canonical column -> the column whose values fill it when a file has no
            header for it (the message trace id is the network message id).
        record_id_aliases: aliases of ``message_trace_id`` that an export may use for each
            record's own id (Graph's ``id``): taken as the trace id only when records share
            it (see ``analyzer.normalize``).
        category: the ``category`` of Defender streaming API / Event Hub records of this
            format (``AdvancedHunting-EmailEvents``): such records are read by it, whatever
            their keys.
    """

    name: str
    title: str
    containers: tuple[Container, ...]
    columns: Mapping[str, tuple[str, ...]]
    signature: tuple[str, ...]
    row_shape: RowShape
    time_basis: str = "event"
    status_rules: tuple[tuple[str, str, str], ...] = ()
    limits: tuple[int, ...] = ()
    message_limits: tuple[int, ...] = ()
    preamble: str | None = None
    constants: Mapping[str, str] = field(default_factory=dict)
    fallbacks: Mapping[str, str] = field(default_factory=dict)
    record_id_aliases: tuple[str, ...] = ()
    category: str | None = None

    def header_map(self, headers: list[str]) -> dict[int, str]:
        """Map header positions to canonical columns; unmapped positions are left out.

        When several headers could fill one column, the alias listed first wins.
        """
        positions: dict[str, int] = {}
        for position, header in enumerate(headers):
            positions.setdefault(normalize_header(header), position)
        mapped: dict[int, str] = {}
        for column, aliases in self.columns.items():
            for alias in aliases:
                found = positions.get(normalize_header(alias))
                if found is not None and found not in mapped:
                    mapped[found] = column
                    break
        return mapped

    def matches(self, headers: list[str]) -> tuple[bool, int, list[str]]:
        """Whether ``headers`` carry this format's signature.

        Returns:
            (matches, number of headers this format maps, the signature columns missing,
            each named by its first alias)
        """
        mapped = self.header_map(headers)
        filled = set(mapped.values())
        missing = [self.columns[c][0] for c in self.signature if c not in filled]
        return not missing, len(mapped), missing


from analyzer.formats.definitions import REGISTRY  # noqa: E402

BY_NAME: dict[str, ExportFormat] = {spec.name: spec for spec in REGISTRY}
BY_CATEGORY: dict[str, ExportFormat] = {
    spec.category.lower(): spec for spec in REGISTRY if spec.category
}


def detect(headers: list[str], container: Container) -> ExportFormat | None:
    """The best format read from ``container`` files whose signature ``headers`` carry, or
    None.

    When several match, the one that maps the most headers wins; ties go to the format
    listed first in the registry (more specific formats are listed first).
    """
    best: tuple[int, int, ExportFormat] | None = None
    for order, spec in enumerate(REGISTRY):
        if container not in spec.containers:
            continue
        ok, mapped, _ = spec.matches(headers)
        if ok and (best is None or (mapped, -order) > (best[0], best[1])):
            best = (mapped, -order, spec)
    return best[2] if best else None


def by_category(category: str) -> ExportFormat | None:
    """The format of Defender streaming records of this ``category``, if msgtrace reads it."""
    return BY_CATEGORY.get(category.strip().lower())


def closest(
    headers: list[str], container: Container | None = None
) -> tuple[ExportFormat, list[str]]:
    """The format whose signature is nearest to ``headers`` and what it misses (for messages)."""
    ranked = sorted(
        (
            (len(spec.matches(headers)[2]), -spec.matches(headers)[1], order, spec)
            for order, spec in enumerate(REGISTRY)
            if container is None or container in spec.containers
        ),
        key=lambda item: item[:3],
    )
    spec = ranked[0][3]
    return spec, spec.matches(headers)[2]


CONTAINER_WORDS = {"csv": "CSV", "tracking_log": "tracking log", "json": "JSON"}


def formats_markdown() -> str:
    """The registry as a Markdown table (the README's formats section is generated from it)."""
    lines = ["| format | what | read from | identified by |", "|---|---|---|---|"]
    for spec in REGISTRY:
        signature = ", ".join(f"`{spec.columns[c][0]}`" for c in spec.signature)
        if spec.category:
            signature += f"; streaming records by category `{spec.category}`"
        read_from = ", ".join(CONTAINER_WORDS[c] for c in spec.containers)
        lines.append(f"| `{spec.name}` | {spec.title} | {read_from} | {signature} |")
    return "\n".join(lines)


def get(name: str) -> ExportFormat:
    """The format called ``name``; raises ``OptionError`` naming the known ones."""
    from analyzer.errors import OptionError

    try:
        return BY_NAME[name]
    except KeyError:
        known = ", ".join(BY_NAME)
        raise OptionError(f"unknown format {name!r}; known formats: {known}") from None


__all__ = [
    "BY_NAME",
    "REGISTRY",
    "ExportFormat",
    "by_category",
    "closest",
    "detect",
    "formats_markdown",
    "get",
    "normalize_header",
]
