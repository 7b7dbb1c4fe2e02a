"""The data quality section, and what the report leaves out (its caps), in words."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.case import Case
from analyzer.findings.model import Finding
from analyzer.report.columns import column
from analyzer.report.context import QualityView, RejectedView

#: Recipients with conflicting facts listed in the data quality section (all are counted).
MAX_CONFLICTS = 200


def quality_view(
    case: Case,
    recipients: pa.Table,
    messages: pa.Table,
    link_ids: list[str],
    max_listed_rejections: int,
) -> QualityView:
    """Rejected rows (the first ``max_listed_rejections``), load errors, ingest warnings and
    the recipients whose exports disagree."""
    rejected: list[RejectedView] = []
    total = 0
    for record in case.inputs:
        total += record.rows_rejected
        for row in record.rejected:
            if len(rejected) < max_listed_rejections:
                rejected.append(
                    RejectedView(record.path, "" if row.line is None else str(row.line), row.reason)
                )
    errors = tuple((r.path, r.error) for r in case.inputs if r.error)
    warnings = tuple(("case", w) for w in case.warnings) + tuple(
        (r.path, w) for r in case.inputs for w in r.warnings
    )
    # chains describe disagreeing facts in `conflict` (null when the exports agree)
    flagged = recipients.filter(pc.is_valid(column(recipients, "conflict")))
    subjects = messages.column("message_subject").to_pylist()
    shown = flagged.slice(0, MAX_CONFLICTS)
    conflicts = [
        (link_ids[m], subjects[m] or "", address or "", what)
        for m, address, what in zip(
            shown.column("m").to_pylist(),
            shown.column("recipient_address").to_pylist(),
            shown.column("conflict").to_pylist(),
            strict=True,
        )
    ]
    return QualityView(
        rejected=tuple(rejected),
        rejected_total=total,
        input_errors=errors,
        warnings=warnings,
        conflicts=tuple(conflicts),
        conflicts_total=flagged.num_rows,
    )


def caps_text(
    events_note: str,
    max_evidence_rows: int,
    findings: Sequence[Finding],
    focused: bool,
) -> tuple[str, ...]:
    """What this report leaves out, in words: event rows, evidence rows, other messages."""
    notes = []
    if events_note:
        notes.append(
            f"Message detail: {events_note}. Those messages still show their recipients, "
            "final statuses, SMTP replies and verdicts; `msgtrace report SOURCE --message ID` "
            "makes a focused report with every event of one message."
        )
    cut = [f for f in findings if max(f.evidence_total, len(f.evidence)) > max_evidence_rows]
    if cut:
        notes.append(
            f"{len(cut)} finding(s) cite more than {max_evidence_rows} evidence rows; "
            "the first are shown, and `msgtrace findings SOURCE --json` lists them all."
        )
    if focused:
        notes.append(
            "This is a focused report: it holds one message, the messages linked to it and "
            "the findings that cite them."
        )
    return tuple(notes)
