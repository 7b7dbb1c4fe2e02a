"""Facts that disagree with a recipient's final status: flagged in ``conflict``, never resolved.

A recipient has a conflict when:

- its status was decided by events (a terminal event, a verdict, lineage) and the final
  status an export reports for it differs: ``summary says Delivered; events end in FAIL``;
- its status was decided by events with their own time and the enhanced summary's words for
  it (timed by the message) end differently: ``enhanced summary says Delivered; events end in
  FAIL`` (unless a verdict overlaid the events);
- two exports report different final statuses: ``exports disagree: one says Delivered,
  another Failed``.

The event side names what decided: the terminal event (``events end in FAIL``), or the
verdict laid over the events: an event word (``events say Quarantined (enhanced summary:
QUARANTINED)``), a delivery location (``events say FilteredAsSpam (<event id or export>:
delivery location <location>)``) or the spam filter (``events say Quarantined (spam filter
DI=SQ)``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from analyzer.arrays import take_or_null
from analyzer.chains.groups import Rows
from analyzer.chains.status import NO_LOWEST, Decision
from analyzer.chains.vocabulary import FINAL_STATUSES, KIND_STATUS, NO_STATUS, Kind, report_label


def _labels(report_types: np.ndarray) -> np.ndarray:
    return np.array([report_label(r) for r in report_types], dtype=object)


def _event_words(
    overlay: int, status: str, kind: int, event: Any, location: Any, label: str, di: str
) -> str:
    """What the events say, in a conflict sentence."""
    if overlay < 0:
        return f"events end in {event}"
    if kind in (Kind.QUARANTINE, Kind.JUNK):
        return f"events say {status} ({label}: {event})"
    if location:
        return f"events say {status} ({event or label}: delivery location {location})"
    return f"events say {status} (spam filter DI={di})"


def conflict_sentences(rows: Rows, decision: Decision, di: np.ndarray) -> pa.Array:
    """A sentence per group naming the facts that disagree with its final status (null:
    none).

    Args:
        rows: the rows in chain order.
        decision: ``status.decide(...)``.
        di: the disposition (DI) of each group, upper case.
    """
    final, decider, overlay = decision.final, decision.decider, decision.overlay
    reported, strong = decision.reported, decision.by_events
    terminal = decision.terminal
    row_status = KIND_STATUS[rows.kind]
    # enhanced summary words (timed by the message) that repeat what event-timed rows say
    corroborating = (
        rows.is_event
        & rows.message_timed
        & rows.groups.any(rows.own_time)
        & (terminal.always | terminal.dsn_failure)
    )
    corroborating_decider = rows.groups.last(corroborating)
    reported_value = np.where(
        reported.last_final >= 0, reported.status[np.maximum(reported.last_final, 0)], NO_STATUS
    )
    report_disagrees = strong & (reported.last_final >= 0) & (reported_value != final)
    corroborating_status = np.where(
        corroborating_decider >= 0, row_status[np.maximum(corroborating_decider, 0)], NO_STATUS
    )
    enhanced_disagrees = (
        strong & (corroborating_decider >= 0) & (corroborating_status != final) & (overlay < 0)
    )
    reports_differ = (reported.lowest != NO_LOWEST) & (reported.lowest != reported.highest)
    any_conflict = report_disagrees | enhanced_disagrees | reports_differ
    sentences = np.full(len(final), None, dtype=object)
    if not any_conflict.any():
        return pa.array(sentences, pa.string())

    idx = np.flatnonzero(any_conflict)
    statuses = np.array(FINAL_STATUSES, dtype=object)
    report_type = rows.column("report_type")

    def at_rows(values: pa.Array, which: np.ndarray) -> np.ndarray:
        return np.asarray(take_or_null(values, which[idx]).to_numpy(zero_copy_only=False))

    deciding_kind = np.where(decider[idx] >= 0, rows.kind[np.maximum(decider[idx], 0)], -1)
    event_side = [
        _event_words(*values)
        for values in zip(
            overlay[idx],
            statuses[final[idx]],
            deciding_kind,
            at_rows(rows.event_id, decider),
            at_rows(rows.column("delivery_location"), decider),
            _labels(at_rows(report_type, decider)),
            di[idx],
            strict=True,
        )
    ]
    reporter = _labels(at_rows(report_type, reported.last_final))
    enhanced_reporter = _labels(at_rows(report_type, corroborating_decider))
    lowest, highest = reported.lowest[idx], reported.highest[idx]
    parts = (
        [
            f"{who} says {statuses[v]}; {side}" if disagrees else None
            for disagrees, who, v, side in zip(
                report_disagrees[idx], reporter, reported_value[idx], event_side, strict=True
            )
        ],
        [
            f"{who} says {statuses[v]}; {side}" if disagrees else None
            for disagrees, who, v, side in zip(
                enhanced_disagrees[idx],
                enhanced_reporter,
                corroborating_status[idx],
                event_side,
                strict=True,
            )
        ],
        [
            f"exports disagree: one says {statuses[lo]}, another {statuses[hi]}"
            if differ and lo != NO_LOWEST and hi >= 0
            else None
            for differ, lo, hi in zip(reports_differ[idx], lowest, highest, strict=True)
        ],
    )
    sentences[idx] = ["; ".join(p for p in row if p) for row in zip(*parts, strict=True)]
    return pa.array(sentences, pa.string())
