"""The evidence section: every input file, the time it covers, exports that look cut, and
when the case was last verified.

An input covers the time of its own events and of its rows merged into an event another
input had first (duplicates), so overlapping exports show as overlapping.
"""

from __future__ import annotations

import shlex

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.case import Case
from analyzer.report.context import InputView, VerificationView
from analyzer.timestamps import DisplayZone
from analyzer.verify import last_verification

#: What the evidence section says of exports read directly, without a case folder.
IN_MEMORY_NOTE = (
    "read from the export files directly, without a case folder: there is no stored case to "
    "verify (msgtrace ingest makes one; msgtrace verify then checks it)"
)

#: (input number, first, last): the time an input covers, as aware UTC timestamps.
Span = tuple[int, pd.Timestamp, pd.Timestamp]


def parse_time(value: str | None) -> pd.Timestamp | None:
    """An ISO time of a manifest or a finding as an aware UTC timestamp (naive means UTC);
    None when missing or unreadable."""
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def input_spans(case: Case) -> list[Span]:
    """The time each input covers, in time order: its own events and its duplicate rows.

    A row merged into an event first seen in another input is still evidence that this input
    covers that time, so overlaps between exports show. Inputs without events in the case
    fall back to the manifest's first/last event.
    """
    events = case.events
    times = events.select(["input_id", "event_time", "event_key"])
    parts = [times.select(["input_id", "event_time"])]
    if case.duplicates.num_rows:
        keyed = times.select(["event_key", "event_time"]).filter(pc.is_valid(times["event_key"]))
        joined = case.duplicates.select(["event_key", "input_id"]).join(
            keyed.group_by("event_key").aggregate([("event_time", "min")]), "event_key"
        )
        parts.append(
            joined.select(["input_id", "event_time_min"]).rename_columns(["input_id", "event_time"])
        )
    covered = pa.concat_tables(parts).filter(pc.is_valid(pc.field("event_time")))
    ranges = covered.group_by("input_id").aggregate([("event_time", "min"), ("event_time", "max")])
    by_input = {
        row["input_id"]: (pd.Timestamp(row["event_time_min"]), pd.Timestamp(row["event_time_max"]))
        for row in ranges.to_pylist()
    }
    spans = []
    for number, record in enumerate(case.inputs, start=1):
        first, last = by_input.get(record.input_id, (None, None))
        if first is None:
            first, last = parse_time(record.first_event), parse_time(record.last_event)
        if first is not None and last is not None:
            spans.append((number, first, max(first, last)))
    return sorted(spans, key=lambda span: (span[1], span[2], span[0]))


def size_text(size: int) -> str:
    """A file size for reading: ``1.4 MB``, ``812 bytes``."""
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:,} bytes"


def input_views(case: Case, spans: list[Span], zone: DisplayZone) -> tuple[InputView, ...]:
    """Every input file: the loaded ones (numbered as in ``spans``), then the unreadable."""
    by_number = {number: (first, last) for number, first, last in spans}
    views = []
    # files that could not be read at all are listed too, after the loaded ones, with why
    for number, record in enumerate([*case.inputs, *case.rejected_inputs], start=1):
        first, last = by_number.get(number, (None, None))
        views.append(
            InputView(
                number=number,
                path=record.path,
                size=record.size,
                size_text=size_text(record.size),
                sha256=record.sha256,
                format=record.format or "-",
                encoding=(record.encoding or "-") + (" with BOM" if record.bom else ""),
                rows_read=record.rows_read,
                rows_ingested=record.rows_ingested,
                rows_duplicate=record.rows_duplicate,
                rows_rejected=record.rows_rejected,
                first_event=zone.format(first),
                last_event=zone.format(last),
                status=record.status,
                error=record.error or "",
                warnings=tuple(record.warnings),
            )
        )
    return tuple(views)


def truncation_warnings(case: Case) -> tuple[str, ...]:
    """Inputs holding exactly an export limit of their format: probably cut, in words."""
    warnings = []
    for number, record in enumerate(case.inputs, start=1):
        if record.export_limit:
            warnings.append(
                f"Input {number} ({record.path}) holds exactly {record.export_limit}, an "
                f"export limit of {record.format} reports: it is probably truncated. Export "
                "the rest of the time range separately."
            )
    return tuple(warnings)


def verification_view(case: Case) -> VerificationView:
    """When the case was last verified and what was found (``analyzer.verify``), in words.

    A case folder never verified says how to verify it (the ready-to-run command); exports
    read directly have no stored case to verify.
    """
    if case.path is None:
        return VerificationView(IN_MEMORY_NOTE, "in_memory")
    last = last_verification(case)
    if last is None:
        return VerificationView(
            f"not verified: run msgtrace verify {shlex.quote(str(case.path))}", "never"
        )
    if last.verified_at is None or not last.ok:
        return VerificationView(last.summary, "problems")
    return VerificationView(last.summary, "ok" if last.current else "stale")
