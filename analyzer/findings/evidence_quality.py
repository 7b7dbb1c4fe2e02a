"""Evidence quality: what the inputs themselves say about how complete the data is.

- An export that stops exactly at one of its format's limits (``InputRecord.export_limit``: rows, or
  messages for the extended report) was probably cut off: events after the cut are missing.
- A stretch of time between inputs that no input covers (from each input's first and last
  event) is a blind spot.
- Rows (or whole files) rejected at ingest are events the analysis did not see.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.case import InputRecord
from analyzer.findings.base import RULE_EVENT_COLUMNS, Context, plural
from analyzer.findings.model import Evidence, Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import INSPECT_INPUT, Moment, Step, Story
from analyzer.timestamps import duration_text

LIMIT_RULE = "export-limit"
GAP_RULE = "coverage-gap"
REJECTED_RULE = "rejected-rows"


def _loaded(ctx: Context) -> list[InputRecord]:
    return [r for r in ctx.case.inputs if not r.error and r.status != "rejected"]


@dataclass
class InputRows:
    """Where an input's rows are in ``Chains.events``: its own events, and the events its
    duplicate rows were merged into (with the duplicates' own line numbers)."""

    positions: np.ndarray  # row positions in Chains.events
    lines: np.ndarray  # the line of each in this input

    def pick(self, ctx: Context, index: int, input_id: str, detail: str) -> pd.DataFrame:
        """One evidence row: the event at ``positions[index]``, on this input's line."""
        row = ctx.event_rows(self.positions[index : index + 1], RULE_EVENT_COLUMNS)
        return row.assign(input_id=input_id, line=int(self.lines[index]), detail=detail)


def _input_rows(ctx: Context, input_id: str) -> InputRows:
    """The rows an input holds (without materializing them)."""
    mine = pc.equal(ctx.events["input_id"], input_id)
    mine = mine.combine_chunks() if isinstance(mine, pa.ChunkedArray) else mine
    positions = pc.indices_nonzero(fill_false(mine)).to_numpy()
    lines = ctx.events["line"].take(pa.array(positions)).to_numpy(zero_copy_only=False)
    duplicates = ctx.case.duplicates
    if (
        duplicates is not None
        and duplicates.num_rows
        and "event_key" in ctx.chains.events.column_names
    ):
        dups = duplicates.filter(pc.equal(duplicates["input_id"], input_id))
        if dups.num_rows:
            where = pc.index_in(dups["event_key"], value_set=ctx.chains.events["event_key"])
            found = pc.is_valid(where)
            positions = np.concatenate(
                [positions, where.filter(found).to_numpy(zero_copy_only=False)]
            )
            lines = np.concatenate(
                [lines, dups["line"].filter(found).to_numpy(zero_copy_only=False)]
            )
    return InputRows(positions.astype(np.int64), lines.astype(np.int64))


@rule(
    id=LIMIT_RULE,
    severity="medium",
    summary="Inputs that stop exactly at an export limit (rows, or messages): probably truncated",
    story=Story(
        moments=(Moment("{title}: its last row; later events may be missing", about="none"),),
        steps=(
            Step(
                "Export the cut file's time range again in shorter pieces, each under the limit",
                "Get-MessageTraceV2 -StartDate {start} -EndDate {end} -ResultSize 5000",
                max_days=10,
            ),
        ),
    ),
)
def export_limits(ctx: Context) -> list[Finding]:
    """Inputs whose row or message count is exactly an export limit (probably truncated).

    Ingest decides it (``InputRecord.export_limit``) from the limits of the file's format.
    """
    findings = []
    for record in _loaded(ctx):
        counted = record.export_limit
        if not counted:
            continue
        rows = _input_rows(ctx, record.input_id)
        if len(rows.lines):
            last = rows.pick(
                ctx, int(np.argmax(rows.lines)), record.input_id, "last row of the export"
            )
            extra = []
        else:  # nothing of it in the events: the file itself is the evidence
            last = None
            extra = [Evidence(input=record.path, input_id=record.input_id, detail=counted)]
        first, end = _parse(record.first_event), _parse(record.last_event)
        covered = (
            f" It covers {ctx.time_text(first)} to {ctx.time_text(end)}; the service stopped "
            "somewhere in the time range asked for."
            if first is not None and end is not None
            else ""
        )
        finding = ctx.finding(
            LIMIT_RULE,
            "medium",
            f"{record.path} stops at an export limit ({counted})",
            f"The {record.format or 'export'} file {record.path} holds exactly {counted}, one of "
            f"the limits at which Microsoft's message trace exports stop.{covered} Events beyond "
            "the cut are probably missing, so the absence of something in this data proves "
            "nothing. Export again over shorter time ranges or with narrower filters until "
            "each file is under the limit.",
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


@rule(
    id=GAP_RULE,
    severity="medium",
    summary="Stretches of time between inputs that no input covers",
    thresholds=("coverage_gap_hours",),
    story=Story(
        moments=(
            Moment("Last event before a coverage gap: {title}", about="none"),
            Moment("First event after the coverage gap", rows="last", about="none"),
        ),
        steps=(
            Step(
                "Export the time no input covers",
                "Get-MessageTraceV2 -StartDate {start} -EndDate {end} -ResultSize 5000",
                exact=True,
                max_days=10,
            ),
        ),
    ),
)
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
    """The input's row whose time is closest to ``time_ns`` (lowest line on a tie)."""
    rows = _input_rows(ctx, record.input_id)
    if len(rows.positions) == 0:
        return pd.DataFrame()
    times = ctx.event_time_ns.take(pa.array(rows.positions)).to_numpy(zero_copy_only=False)
    distance = np.abs(np.nan_to_num(times.astype("float64"), nan=np.inf) - time_ns)
    index = int(np.lexsort((rows.lines, distance))[0])
    return rows.pick(ctx, index, record.input_id, detail)


def _gap_finding(
    ctx: Context, start: int, before: InputRecord, end: int, after: InputRecord
) -> Finding | None:
    length = duration_text((end - start) / 1_000_000_000)
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
        f"No input covers {ctx.time_text(start)} to {ctx.time_text(end)} ({length})",
        f"The inputs leave {length} uncovered: {before.path} ends at {ctx.time_text(start)} and "
        f"the next input, {after.path}, starts at {ctx.time_text(end)}. Whatever happened in "
        "between is not in this data. Export that time range too (message trace keeps 90 "
        "days) before concluding that nothing happened then.",
        {},
        edges,
        extra=extra,
    )


@rule(
    id=REJECTED_RULE,
    severity="low/medium",
    summary="Rows or whole files rejected at ingest",
    thresholds=("rejected_rows_medium_fraction",),
    # rejected rows have no time: no moment; the step names each input
    story=Story(steps=(INSPECT_INPUT,)),
)
def rejected_rows(ctx: Context) -> list[Finding]:
    """Inputs with rows (or the whole file) rejected at ingest."""
    t = ctx.thresholds
    findings = []
    for record in [*ctx.case.inputs, *ctx.case.rejected_inputs]:
        if record.error:
            evidence = [Evidence(input=record.path, input_id=record.input_id, detail=record.error)]
            finding = ctx.finding(
                REJECTED_RULE,
                "medium",
                f"{record.path} could not be read",
                f"The whole input {record.path} was rejected: {record.error.rstrip('.')}. None of "
                "its events "
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
