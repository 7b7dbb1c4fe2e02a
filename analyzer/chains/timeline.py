"""Which rows make a recipient's timeline, its times and deferrals, and the gaps between events.

The same fact is often in two exports: an enhanced summary says ``Receive, Deliver`` with the
message's receive time, the extended report logs RECEIVE and DELIVER with their own times.
All rows are kept as evidence, but a recipient's timeline (``in_timeline``) holds the rows
with their own event time when there are any, by tier (``TIMELINE_TIERS``):

- tier 0, full tracking rows (extended report, Exchange tracking logs, unknown formats):
  always;
- tier 1, Get-MessageTraceDetail rows, which repeat the tracking events with whole-second
  times: only when the recipient has no tracking row;
- tier 2, Defender post-delivery actions (ZAP), facts no other export has: always.

Rows timed by the message (``time_basis`` ``message``) only make the timeline when the
recipient has no event with its own time, and summary status rows only when it has no events
at all. Deferrals are counted on the timeline only, so no fact is counted twice.

Times of a recipient: ``first_time`` is when it was received (the timeline's RECEIVE/SUBMIT,
else any RECEIVE row of the recipient (an enhanced summary's is the message's receive time),
else the message's first RECEIVE (group members and redirected addresses are received as
their parent), else its first timeline row); ``final_time`` is the deciding row's own time (a
verdict timed by the message falls back to the terminal event it was laid over, e.g. the
DELIVER into the Junk folder); ``deferral_seconds`` adds, for each DEFER of the timeline, the
time until the next timeline event.

Gaps (``timeline_gaps``, the chain model): each timeline event with its own time has the time
since the previous such event of its recipient; from ``GAP_NOTABLE_SECONDS`` it is a ``gap``,
from ``GAP_LONG_SECONDS`` a ``long-gap``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import one_array, to_numpy_bool
from analyzer.chains.groups import NO_TIME, Groups, Rows, nanoseconds, word_codes
from analyzer.chains.vocabulary import Kind

#: Which rows of a recipient make its timeline when several exports hold the same facts, by
#: report type (upper case): 1 repeats tracking events, 2 holds facts no other export has;
#: every other report type is tier 0 (see the module documentation).
TIMELINE_TIERS = {"GET_MESSAGETRACE_DETAIL": 1, "DEFENDER_EMAIL_POST_DELIVERY_EVENTS": 2}

#: Gaps between timeline events (seconds) from which renderers mark them: shown at all (the
#: focused report shows every gap of a second or more), notable, long.
GAP_SHOWN_SECONDS = 1
GAP_NOTABLE_SECONDS = 300
GAP_LONG_SECONDS = 3_600
#: The levels of a gap, by threshold: "" (not notable), "gap", "long-gap".
GAP_LEVELS: tuple[str, ...] = ("", "gap", "long-gap")


def timeline_rows(rows: Rows) -> np.ndarray:
    """Per row, whether it is part of its recipient's timeline (``in_timeline``)."""
    groups = rows.groups
    is_event, own_time = rows.is_event, rows.own_time
    tier = word_codes(rows.column("report_type"), TIMELINE_TIERS, 0, 0)
    tracking = own_time & (tier == 0)
    return np.asarray(
        tracking
        | (own_time & (tier == 2))
        | (own_time & (tier == 1) & ~groups.any(tracking))
        | (is_event & ~groups.any(own_time))
        | (~is_event & ~groups.any(is_event))
    )


@dataclass(frozen=True)
class RecipientTimes:
    """Per group: when it was received, when its status was decided, its deferrals.

    Attributes:
        first_time: int64 nanoseconds (``NO_TIME``: unknown).
        final_time: int64 nanoseconds (``NO_TIME``: the deciding row has no time of its own).
        duration_seconds: final_time - first_time (NaN when either is unknown).
        deferral_count: DEFER events of the timeline.
        deferral_seconds: their total length.
    """

    first_time: np.ndarray
    final_time: np.ndarray
    duration_seconds: np.ndarray
    deferral_count: np.ndarray
    deferral_seconds: np.ndarray


def recipient_times(
    rows: Rows, in_timeline: np.ndarray, decider: np.ndarray, event_decider: np.ndarray
) -> RecipientTimes:
    """The times of every group (see the module documentation).

    Args:
        rows: the rows in chain order.
        in_timeline: ``timeline_rows(rows)``.
        decider: the row that decided each group's final status (-1: none).
        event_decider: the terminal event of each group's timeline (-1: none).
    """
    groups, times, kind = rows.groups, rows.times, rows.kind
    received = (rows.rank == 0) & rows.is_event
    first_receive = groups.first(in_timeline & received)
    any_receive = groups.first(received)
    message_receive = groups.first_in_message(received)
    first_row = np.select(
        [first_receive >= 0, any_receive >= 0, message_receive >= 0],
        [first_receive, any_receive, message_receive],
        default=groups.first(in_timeline),
    )
    first_time = np.where(first_row >= 0, times[np.maximum(first_row, 0)], NO_TIME)

    def own_time_of(deciding: np.ndarray) -> np.ndarray:
        safe = np.maximum(deciding, 0)
        ok = (deciding >= 0) & rows.own_time[safe]
        return np.where(ok, times[safe], NO_TIME)

    final_time = own_time_of(decider)
    final_time = np.where(final_time == NO_TIME, own_time_of(event_decider), final_time)
    duration = np.where(
        (first_time != NO_TIME) & (final_time != NO_TIME),
        (final_time.astype(np.float64) - first_time.astype(np.float64)) / 1e9,
        np.nan,
    )
    return RecipientTimes(
        first_time=first_time,
        final_time=final_time,
        duration_seconds=duration,
        deferral_count=groups.count_of(in_timeline & (kind == Kind.DEFER)),
        deferral_seconds=_deferral_seconds(groups, in_timeline, kind, times),
    )


def _deferral_seconds(
    groups: Groups, in_timeline: np.ndarray, kind: np.ndarray, times: np.ndarray
) -> np.ndarray:
    """Per group, for each DEFER of the timeline, the time until the next timeline event."""
    timeline_index = np.flatnonzero(in_timeline)
    if len(timeline_index) <= 1:
        return np.zeros(groups.count)
    current, following = timeline_index[:-1], timeline_index[1:]
    of_row = groups.of_row
    ok = (
        (of_row[current] == of_row[following])
        & (kind[current] == Kind.DEFER)
        & (times[current] != NO_TIME)
        & (times[following] != NO_TIME)
    )
    lengths = (times[following[ok]] - times[current[ok]]) / 1e9
    return np.bincount(of_row[current[ok]], weights=lengths, minlength=groups.count)


def gap_level(seconds: float | None) -> str:
    """The level of a gap between timeline events: "", "gap" or "long-gap"."""
    if seconds is None or np.isnan(seconds):
        return ""
    return GAP_LEVELS[int(seconds >= GAP_NOTABLE_SECONDS) + int(seconds >= GAP_LONG_SECONDS)]


def timeline_gaps(events: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The gap before every timeline event with its own time, over many recipients at once.

    Args:
        events: rows of ``Chains.events`` (``message_key``, ``recipient_key``,
            ``event_time``, ``time_basis``, ``in_timeline``), in chain order or any subset of
            it kept in that order.

    Returns:
        Per row: the seconds since the previous timeline event with its own time of the same
        recipient (NaN for the first one, for rows off the timeline, timed by the message or
        without a time), and its level (``GAP_LEVELS`` index: 0 "", 1 "gap", 2 "long-gap").
    """
    count = events.num_rows
    gaps = np.full(count, np.nan)
    levels = np.zeros(count, dtype=np.int8)
    if count == 0:
        return gaps, levels
    times = nanoseconds(events.column("event_time"))
    message_timed = word_codes(events.column("time_basis"), {"MESSAGE": 1}, 0, 0) == 1
    timed = to_numpy_bool(events.column("in_timeline")) & ~message_timed & (times != NO_TIME)
    message = one_array(events.column("message_key"))
    recipient = one_array(events.column("recipient_key"))
    same_group = np.zeros(count, dtype=bool)  # row i belongs to the group of row i - 1
    if count > 1:
        same_group[1:] = to_numpy_bool(
            pc.and_(
                pc.equal(message.slice(1), message.slice(0, count - 1)),
                pc.equal(recipient.slice(1), recipient.slice(0, count - 1)),
            )
        )
    group = np.cumsum(~same_group)
    index = np.flatnonzero(timed)
    previous, current = index[:-1], index[1:]
    same = group[previous] == group[current]
    seconds = (times[current[same]] - times[previous[same]]) / 1e9
    gaps[current[same]] = seconds
    levels[current[same]] = (seconds >= GAP_NOTABLE_SECONDS).astype(np.int8) + (
        seconds >= GAP_LONG_SECONDS
    ).astype(np.int8)
    return gaps, levels
