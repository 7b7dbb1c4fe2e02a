"""The final status of each recipient, decided in named steps, with the deciding row.

Final status of a recipient (``FINAL_STATUSES``), decided in this order:

1. ``by_timeline_event``: the last terminal event of the timeline: DELIVER -> Delivered; SEND
   -> Delivered (handed to the next, usually outside, server); FAIL/DELIVERFAIL or a DSN with
   a 5.x.x code -> Failed; DROP -> Dropped; EXPAND -> Expanded; REDIRECT/RESOLVE ->
   Redirected (for the parent the row was logged for); the enhanced summary words QUARANTINED
   / FILTEREDASSPAM -> Quarantined / FilteredAsSpam.
   ``verdict_overlay``: a spam or malware verdict of quarantine (custom_data ``DI=SQ``, a
   QUARANTINED word, a Defender delivery location of Quarantine) turns Delivered, Pending or
   undecided into Quarantined; a junk verdict (``DI=SJ``, FILTEREDASSPAM, location Junk) into
   FilteredAsSpam; quarantine beats junk. The evidence is the spam filter's own verdict row,
   else the word or location row. A group that was expanded (or an address redirected) and
   has no terminal event of its own keeps that status: the verdict applies to its copies;
2. ``by_lineage``: a recipient whose address was expanded or rewritten into others (see
   ``analyzer.chains.lineage``) and that has no terminal event of its own: Expanded or
   Redirected;
3. ``by_reported_final``: the status an export reports for it (summary, Get-MessageTrace,
   API, Defender), when it is final (GettingStatus counts as Pending);
4. ``by_unfinished_events``: events without a terminal one (last event DEFER, or no final
   event yet): Pending, decided by the last timeline event;
5. ``by_reported_any``: a reported Pending (or an unknown word: Unknown); otherwise Unknown.

Rows that name no message at all (no id of any kind, e.g. NOTIFYMAPI rows of tracking logs)
cannot be followed: Unknown, whatever they say.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from analyzer.arrays import to_numpy_bool
from analyzer.chains.groups import Rows, word_codes
from analyzer.chains.keys import JOINED_BY_ROW
from analyzer.chains.lineage import Lineage
from analyzer.chains.verdicts import Verdicts
from analyzer.chains.vocabulary import (
    KIND_STATUS,
    NO_STATUS,
    REPORTED_STATUSES,
    TERMINAL_KINDS,
    Kind,
    Status,
)

#: ``Reported.lowest`` of a group without a final reported status.
NO_LOWEST = 99


@dataclass(frozen=True)
class Terminal:
    """Which rows are terminal events of their recipient.

    Attributes:
        always: rows of a kind that is always terminal (DELIVER, SEND, FAIL, DROP, the
            QUARANTINED and FILTEREDASSPAM words).
        dsn_failure: DSN rows with a 5.x.x status code or a 5xx SMTP reply.
        rows: every terminal row: those, and the relation rows of their own recipient.
    """

    always: np.ndarray
    dsn_failure: np.ndarray
    rows: np.ndarray


@dataclass(frozen=True)
class Reported:
    """Statuses reported by summary-type exports (rows without an event id).

    Attributes:
        status: per row, the reported ``Status`` (NO_STATUS for events).
        last_final: per group, the last row reporting a final status (-1: none).
        last_any: per group, the last row reporting any status (-1: none).
        lowest: per group, the lowest final status code reported (``NO_LOWEST``: none).
        highest: per group, the highest final status code reported (NO_STATUS: none).
    """

    status: np.ndarray
    last_final: np.ndarray
    last_any: np.ndarray
    lowest: np.ndarray
    highest: np.ndarray


@dataclass(frozen=True)
class Decision:
    """The final status of every group and what decided it.

    Attributes:
        final: the ``Status`` of each group.
        decider: the row that decided it (-1: none).
        event_decider: the terminal event of the timeline (-1: none).
        overlay: the verdict that overlaid the events' status (NO_STATUS: none).
        by_events: decided by events (a terminal event, a verdict, or lineage): a report
            that says otherwise is a conflict.
        no_message: groups of rows that name no message.
        terminal: the terminal rows.
        reported: the reported statuses.
    """

    final: np.ndarray
    decider: np.ndarray
    event_decider: np.ndarray
    overlay: np.ndarray
    by_events: np.ndarray
    no_message: np.ndarray
    terminal: Terminal
    reported: Reported


def terminal_rows(rows: Rows, lineage: Lineage) -> Terminal:
    """Rows that are terminal events: terminal kinds, failing DSNs, own relation rows."""
    kind = rows.kind
    code_is_failure = to_numpy_bool(
        pc.starts_with(pc.utf8_trim_whitespace(rows.column("status_code")), "5")
    )
    reply = np.asarray(pc.fill_null(rows.column("smtp_reply_code"), 0).to_numpy())
    dsn_failure = (kind == Kind.DSN) & (code_is_failure | (reply >= 500))
    always = np.isin(kind, TERMINAL_KINDS)
    return Terminal(always, dsn_failure, always | dsn_failure | lineage.own_relation)


def by_timeline_event(
    rows: Rows, in_timeline: np.ndarray, terminal: Terminal
) -> tuple[np.ndarray, np.ndarray]:
    """Step 1: the last terminal event of each timeline, and the status it decides
    (NO_STATUS: none)."""
    decider = rows.groups.last(in_timeline & terminal.rows & rows.is_event)
    status = np.where(decider >= 0, KIND_STATUS[rows.kind[np.maximum(decider, 0)]], NO_STATUS)
    return decider, status


def verdict_overlay(
    rows: Rows, verdicts: Verdicts, event_status: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Step 1, verdicts: Quarantined or FilteredAsSpam over Delivered, Pending or undecided,
    and the row that says so (quarantine beats junk)."""
    groups, kind = rows.groups, rows.kind
    location = pc.utf8_lower(pc.fill_null(rows.column("delivery_location"), ""))
    quarantine_row = (kind == Kind.QUARANTINE) | to_numpy_bool(
        pc.match_substring(location, "quarantine")
    )
    junk_row = (kind == Kind.JUNK) | to_numpy_bool(pc.match_substring(location, "junk"))
    di, di_row = verdicts.di, verdicts.rows["di"]
    quarantine_any = groups.last(quarantine_row)
    junk_any = groups.last(junk_row)
    quarantine = (quarantine_any >= 0) | (di == "SQ")
    junk = (junk_any >= 0) | (di == "SJ")
    # the evidence: the spam filter's own verdict row first, else the word or location row
    quarantine_by = np.where((di == "SQ") & (di_row >= 0), di_row, quarantine_any)
    junk_by = np.where((di == "SJ") & (di_row >= 0), di_row, junk_any)
    applies = np.isin(event_status, [Status.DELIVERED, NO_STATUS, Status.PENDING])
    overlay = np.full(groups.count, NO_STATUS, dtype=np.int64)
    overlay_by = np.full(groups.count, -1, dtype=np.int64)
    use_junk = applies & junk & ~quarantine
    use_quarantine = applies & quarantine
    overlay[use_junk] = Status.FILTERED
    overlay_by[use_junk] = junk_by[use_junk]
    overlay[use_quarantine] = Status.QUARANTINED
    overlay_by[use_quarantine] = quarantine_by[use_quarantine]
    return overlay, overlay_by


def reported_statuses(rows: Rows) -> Reported:
    """The statuses summary-type rows report, per row and per group."""
    groups = rows.groups
    words = {word.upper(): status for word, status in REPORTED_STATUSES.items()}
    status = word_codes(rows.column("reported_status"), words, Status.UNKNOWN, NO_STATUS)
    status = np.where(rows.is_event, NO_STATUS, status)
    final = ~np.isin(status, [NO_STATUS, Status.PENDING, Status.UNKNOWN])
    return Reported(
        status=status,
        last_final=groups.last(final),
        last_any=groups.last(status >= 0),
        lowest=np.minimum.reduceat(np.where(final, status, NO_LOWEST), groups.starts),
        highest=np.maximum.reduceat(np.where(final, status, NO_STATUS), groups.starts),
    )


@dataclass(frozen=True)
class Candidate:
    """What one step would decide, per group.

    Attributes:
        applies: the groups the step decides (when no earlier step did).
        status: the ``Status`` it gives them.
        by: the deciding row.
    """

    applies: np.ndarray
    status: np.ndarray
    by: np.ndarray


def by_lineage(lineage: Lineage) -> Candidate:
    """Step 2: a parent named only in its children's relation rows is Expanded or
    Redirected, decided by its last relation row."""
    return Candidate(lineage.parent_status >= 0, lineage.parent_status, lineage.parent_by)


def by_reported_final(reported: Reported) -> Candidate:
    """Step 3: the last final status an export reports for the recipient."""
    last = reported.last_final
    return Candidate(last >= 0, reported.status[np.maximum(last, 0)], last)


def by_unfinished_events(rows: Rows, in_timeline: np.ndarray) -> Candidate:
    """Step 4: events without a terminal one: Pending, decided by the last timeline event."""
    last = rows.groups.last(in_timeline & rows.is_event)
    return Candidate(last >= 0, np.full(len(last), Status.PENDING, dtype=np.int64), last)


def by_reported_any(reported: Reported) -> Candidate:
    """Step 5: the last status an export reports, final or not (Pending, Unknown)."""
    last = reported.last_any
    return Candidate(last >= 0, reported.status[np.maximum(last, 0)], last)


def decide(rows: Rows, in_timeline: np.ndarray, lineage: Lineage, verdicts: Verdicts) -> Decision:
    """The final status of every group, by the steps of the module documentation.

    Args:
        rows: the rows in chain order.
        in_timeline: ``timeline_rows(rows)``.
        lineage: ``read_lineage(rows)``.
        verdicts: ``read_verdicts(rows, ...)``.
    """
    groups = rows.groups
    terminal = terminal_rows(rows, lineage)
    event_decider, event_status = by_timeline_event(rows, in_timeline, terminal)
    overlay, overlay_by = verdict_overlay(rows, verdicts, event_status)
    # a group that was expanded (or an address redirected) keeps that status: the verdict
    # applies to the copies of its members
    overlay[(lineage.parent_status >= 0) & (event_decider < 0)] = NO_STATUS
    reported = reported_statuses(rows)

    overlaid = overlay >= 0
    final = np.where(overlaid, overlay, np.where(event_decider >= 0, event_status, Status.UNKNOWN))
    decider = np.where(overlaid, overlay_by, np.where(event_decider >= 0, event_decider, -1))
    decided = overlaid | (event_decider >= 0)
    by_events = decided | (lineage.parent_status >= 0)
    for candidate in (
        by_lineage(lineage),
        by_reported_final(reported),
        by_unfinished_events(rows, in_timeline),
        by_reported_any(reported),
    ):
        chosen = ~decided & candidate.applies
        final[chosen] = candidate.status[chosen]
        decider[chosen] = candidate.by[chosen]
        decided |= chosen
    # rows that name no message at all (no id of any kind) cannot be followed
    no_message = np.maximum.reduceat(rows.join_code, groups.starts) == JOINED_BY_ROW
    final[no_message] = Status.UNKNOWN
    return Decision(
        final=final,
        decider=decider,
        event_decider=event_decider,
        overlay=overlay,
        by_events=by_events,
        no_message=no_message,
        terminal=terminal,
        reported=reported,
    )
