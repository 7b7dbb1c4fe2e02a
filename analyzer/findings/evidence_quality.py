"""Evidence quality: what the inputs themselves say about how complete the data is.

- An export that stops exactly at one of the service's limits (``EXPORT_LIMITS``: rows, or
  messages for the extended report) was probably cut off: events after the cut are missing.
- A stretch of time between inputs that no input covers (from each input's first and last
  event) is a blind spot.
- Rows (or whole files) rejected at ingest are events the analysis did not see.
"""

from __future__ import annotations

import pandas as pd
import pyarrow.compute as pc

from analyzer.case import InputRecord
from analyzer.findings.base import (
    EVENT_COLUMNS,
    Context,
    display_utc,
    duration_words,
    plural,
)
from analyzer.findings.model import Evidence, Finding
from analyzer.formats import BY_NAME as FORMATS
from analyzer.formats.definitions import EXPORT_LIMITS

LIMIT_RULE = "export-limit"
GAP_RULE = "coverage-gap"
REJECTED_RULE = "rejected-rows"


def _loaded(ctx: Context) -> list[InputRecord]:
    return [r for r in ctx.case.inputs if not r.error and r.status != "rejected"]


def _input_rows(ctx: Context, input_id: str) -> pd.DataFrame:
    """The event rows an input holds: its own events and the duplicates merged away."""
    events = ctx.event_frame(pc.equal(ctx.events["input_id"], input_id), EVENT_COLUMNS)
    duplicates = ctx.case.duplicates
    if (
        duplicates is None
        or duplicates.num_rows == 0
        or "event_key" not in (ctx.chains.events.column_names)
    ):
        return events
    mine = duplicates.filter(pc.equal(duplicates["input_id"], input_id))
    if mine.num_rows == 0:
        return events
    keys = ctx.chains.events["event_key"]
    positions = pc.index_in(mine["event_key"], value_set=keys)
    found = pc.is_valid(positions)
    mine, positions = mine.filter(found), positions.filter(found)
    merged = ctx.event_rows(positions.to_numpy(zero_copy_only=False), EVENT_COLUMNS)
    merged["input_id"] = mine["input_id"].to_pandas().to_numpy()
    merged["line"] = mine["line"].to_pandas().to_numpy()
    return pd.concat([events, merged], ignore_index=True)


def _message_count(rows: pd.DataFrame) -> int:
    ids = rows["network_message_id"].fillna(rows["message_id"])
    return int(ids.dropna().str.lower().nunique())


def export_limits(ctx: Context) -> list[Finding]:
    """Inputs whose row or message count is exactly an export limit (probably truncated)."""
    findings = []
    for record in _loaded(ctx):
        spec = FORMATS.get(record.format or "")
        limits = set(spec.limits if spec and spec.limits else EXPORT_LIMITS)
        rows = _input_rows(ctx, record.input_id)
        messages = _message_count(rows) if not rows.empty else 0
        warned = [w for w in record.warnings if "limit" in w.lower() or "truncat" in w.lower()]
        if record.rows_read in limits:
            counted = f"{record.rows_read:,} rows"
        elif messages in limits:
            counted = f"{messages:,} messages"
        elif warned:
            counted = warned[0]
        else:
            continue
        last = rows.sort_values(["line", "row"], kind="stable").tail(1)
        last = last.assign(detail="last row of the export")
        extra = (
            []
            if not last.empty
            else [Evidence(input=record.path, input_id=record.input_id, detail=counted)]
        )
        end = record.last_event or "its last event"
        finding = ctx.finding(
            LIMIT_RULE,
            "medium",
            f"{record.path} stops at an export limit ({counted})",
            f"The {record.format or 'export'} file {record.path} holds exactly {counted}, one of "
            "the limits at which Microsoft's message trace exports stop. Events after the cut "
            f"(after {end} in export order) are probably missing, so absence of evidence in "
            "this data proves nothing. Export again over shorter time ranges or with narrower "
            "filters until each file is under the limit.",
            {},
            last,
            extra=extra,
        )
        if finding:
            findings.append(finding)
    return findings


def _parse(value: str | None) -> int | None:
    if not value:
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return int(stamp.value)


def coverage_gaps(ctx: Context) -> list[Finding]:
    """Stretches of time between inputs that no input covers."""
    gap_ns = int(ctx.thresholds.coverage_gap_hours * 3600 * 1_000_000_000)
    spans = []
    for record in _loaded(ctx):
        first, last = _parse(record.first_event), _parse(record.last_event)
        if first is None or last is None:
            times = ctx.event_time_ns.filter(pc.equal(ctx.events["input_id"], record.input_id))
            if len(times) == 0 or times.null_count == len(times):
                continue
            first, last = pc.min(times).as_py(), pc.max(times).as_py()
        spans.append((first, last, record.path, record))
    if len(spans) < 2:
        return []
    spans.sort(key=lambda s: (s[0], s[1], s[2]))
    findings = []
    covered_until, until_record = spans[0][1], spans[0][3]
    for first, last, _, record in spans[1:]:
        if first - covered_until >= gap_ns:
            findings.append(_gap_finding(ctx, covered_until, until_record, first, record))
        if last > covered_until:
            covered_until, until_record = last, record
    return [f for f in findings if f]


def _edge_row(ctx: Context, record: InputRecord, time_ns: int, detail: str) -> pd.DataFrame:
    rows = _input_rows(ctx, record.input_id)
    if rows.empty:
        return rows
    rows = rows.assign(distance=(rows["time_ns"] - time_ns).abs())
    rows = rows.sort_values(["distance", "line", "row"], kind="stable").head(1)
    return rows.assign(detail=detail)


def _gap_finding(
    ctx: Context, start: int, before: InputRecord, end: int, after: InputRecord
) -> Finding | None:
    length = duration_words((end - start) / 1_000_000_000)
    edges = []
    extra = []
    for record, time_ns, detail in (
        (before, start, "last event before the gap"),
        (after, end, "first event after the gap"),
    ):
        row = _edge_row(ctx, record, time_ns, detail)
        if row.empty:  # every row of the input merged into another input's events
            extra.append(Evidence(input=record.path, input_id=record.input_id, detail=detail))
        edges.append(row)
    return ctx.finding(
        GAP_RULE,
        "medium",
        f"No input covers {display_utc(start)} to {display_utc(end)} ({length})",
        f"The inputs leave {length} uncovered: {before.path} ends at {display_utc(start)} and "
        f"the next input, {after.path}, starts at {display_utc(end)}. Whatever happened in "
        "between is not in this data. Export that time range too (message trace keeps 90 "
        "days) before concluding that nothing happened then.",
        {},
        edges,
        extra=extra,
    )


def rejected_rows(ctx: Context) -> list[Finding]:
    """Inputs with rows (or the whole file) rejected at ingest."""
    t = ctx.thresholds
    findings = []
    for record in ctx.case.inputs:
        if record.error:
            evidence = [Evidence(input=record.path, input_id=record.input_id, detail=record.error)]
            finding = ctx.finding(
                REJECTED_RULE,
                "medium",
                f"{record.path} could not be read",
                f"The whole input {record.path} was rejected: {record.error}. None of its events "
                "are in this analysis. Fix or re-export the file and run again.",
                {},
                extra=evidence,
            )
        elif record.rows_rejected:
            share = record.rows_rejected / max(record.rows_read, 1)
            evidence = [
                Evidence(
                    input=record.path, input_id=record.input_id, line=row.line, detail=row.reason
                )
                for row in record.rejected
            ]
            finding = ctx.finding(
                REJECTED_RULE,
                "medium" if share >= t.rejected_rows_medium_fraction else "low",
                f"{record.path}: {plural(record.rows_rejected, 'row')} rejected at ingest",
                f"{plural(record.rows_rejected, 'row')} of {record.rows_read:,} in {record.path} "
                f"({share:.1%}) could not be read and are not in this analysis. The evidence "
                "lists each rejected line and why; fix or re-export the file if those rows may "
                "matter.",
                {},
                extra=evidence,
                extra_total=record.rows_rejected,
            )
        else:
            continue
        if finding:
            findings.append(finding)
    return findings


__all__ = ["coverage_gaps", "export_limits", "rejected_rows"]
