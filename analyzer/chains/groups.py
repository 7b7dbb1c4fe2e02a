"""Rows in chain order and their groups: the structures every rule of the chains reads.

``build_chains`` sorts the case's events once (``analyzer.chains.keys``); from then on every
rule works on ``Rows`` (the sorted columns and per-row codes) and ``Groups`` (the rows of one
message x recipient are contiguous: one group each, and the groups of one message are
contiguous too). A per-recipient fact is a reduction over a group: its first or last row where
a condition holds (``Groups.first``, ``Groups.last``), a count, a minimum. Rules return row
indexes (-1: none) so that evidence (input and line) always comes with a fact.

The small code helpers below turn string columns into integer codes once per distinct value,
so no rule compares text row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import is_valid, one_array, to_numpy_bool
from analyzer.chains.vocabulary import Kind
from analyzer.schema import TIMESTAMP

#: A missing time, as int64 nanoseconds: the largest value, so missing times sort last.
NO_TIME = np.iinfo(np.int64).max


def cleaned_codes(
    values: pa.Array | pa.ChunkedArray, function: Callable[[pa.Array], pa.Array]
) -> tuple[np.ndarray, pa.Array]:
    """``function`` applied once per distinct value; returns each row's code (-1 for null) in
    the byte order of the cleaned values, and those values sorted (``values[code]``)."""
    encoded = pc.dictionary_encode(one_array(values))
    inner = pc.dictionary_encode(function(encoded.dictionary))  # case variants become one
    order = pc.array_sort_indices(inner.dictionary).to_numpy()
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # null
    per_raw = rank[inner.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
    per_raw = np.append(per_raw, -1)  # null rows
    codes = per_raw[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
    return codes, inner.dictionary.take(pa.array(order))


def sorted_codes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Dense integer codes whose order is the byte order of the (non-null) strings."""
    encoded = pc.dictionary_encode(one_array(values))
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[encoded.indices.to_numpy(zero_copy_only=False)]


def word_codes(
    values: pa.Array | pa.ChunkedArray, mapping: Mapping[str, int], default: int, null: int
) -> np.ndarray:
    """Map each distinct string (upper-cased, trimmed, without spaces) to a code: one lookup
    per distinct value; ``default`` for words not in ``mapping``, ``null`` for null."""
    encoded = pc.dictionary_encode(one_array(values))
    dictionary = encoded.dictionary.to_pylist()
    table = np.array(
        [mapping.get(str(v).strip().upper().replace(" ", ""), default) for v in dictionary]
        + [null],
        dtype=np.int64,
    )
    indices = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
    return table[indices]


def strings(values: pa.Array, codes: np.ndarray) -> pa.Array:
    """values[code] for every code, null for -1."""
    return values.take(pa.array(codes, mask=codes < 0))


def nanoseconds(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 nanoseconds; missing ones as ``NO_TIME`` (they sort last)."""
    return np.asarray(
        one_array(values).cast(pa.int64()).fill_null(NO_TIME).to_numpy(zero_copy_only=False)
    )


def timestamps(values: np.ndarray) -> pa.Array:
    """int64 nanoseconds (``NO_TIME``: null) as a UTC timestamp column."""
    return pa.array(values, mask=values == NO_TIME, type=pa.int64()).cast(TIMESTAMP)


def first_where(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per range of rows (from each of ``starts`` to the next; none empty), the first row
    where ``mask`` holds, or -1."""
    if mask.all():  # a column every row has: the first row of each range
        return np.array(starts, dtype=np.int64)
    hits = np.flatnonzero(mask)
    if len(hits) == 0:
        return np.full(len(starts), -1, dtype=np.int64)
    ends = np.append(starts[1:], len(mask))
    at = np.searchsorted(hits, starts, side="left")
    found = hits[np.minimum(at, len(hits) - 1)]
    return np.where((at < len(hits)) & (found < ends), found, -1)


def last_where(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per range of rows (from each of ``starts`` to the next; none empty), the last row
    where ``mask`` holds, or -1."""
    ends = np.append(starts[1:], len(mask))
    if mask.all():
        return (ends - 1).astype(np.int64)
    hits = np.flatnonzero(mask)
    if len(hits) == 0:
        return np.full(len(starts), -1, dtype=np.int64)
    at = np.searchsorted(hits, ends, side="left") - 1
    found = hits[np.maximum(at, 0)]
    return np.where((at >= 0) & (found >= starts), found, -1)


@dataclass(frozen=True)
class Groups:
    """The groups of rows in chain order: one per message x recipient.

    Attributes:
        starts: the first row of each group, increasing.
        of_row: the group of each row.
        message_starts: the first group of each message, increasing.
        message_of_group: the message (0..M-1 in key order) of each group.
        rows: the number of rows.
    """

    starts: np.ndarray
    of_row: np.ndarray
    message_starts: np.ndarray
    message_of_group: np.ndarray
    rows: int

    @classmethod
    def of(cls, message_code: np.ndarray, recipient_code: np.ndarray) -> Groups:
        """The groups of rows sorted by message then recipient code."""
        new_group = np.ones(len(message_code), dtype=bool)
        new_group[1:] = (message_code[1:] != message_code[:-1]) | (
            recipient_code[1:] != recipient_code[:-1]
        )
        starts = np.flatnonzero(new_group)
        group_message = message_code[starts]
        new_message = np.diff(group_message, prepend=-1) != 0
        return cls(
            starts=starts,
            of_row=np.cumsum(new_group) - 1,
            message_starts=np.flatnonzero(new_message),
            message_of_group=np.cumsum(new_message) - 1,
            rows=len(message_code),
        )

    @property
    def count(self) -> int:
        """The number of groups."""
        return len(self.starts)

    @cached_property
    def sizes(self) -> np.ndarray:
        """Rows in each group."""
        return np.diff(np.append(self.starts, self.rows))

    @cached_property
    def message_row_starts(self) -> np.ndarray:
        """The first row of each message."""
        return self.starts[self.message_starts]

    def first(self, mask: np.ndarray) -> np.ndarray:
        """Per group, the first row where ``mask`` holds, or -1."""
        return first_where(mask, self.starts)

    def last(self, mask: np.ndarray) -> np.ndarray:
        """Per group, the last row where ``mask`` holds, or -1."""
        return last_where(mask, self.starts)

    def count_of(self, mask: np.ndarray) -> np.ndarray:
        """Per group, the rows where ``mask`` holds."""
        return np.add.reduceat(mask.astype(np.int64), self.starts)

    def any(self, mask: np.ndarray) -> np.ndarray:
        """Per row, whether ``mask`` holds on some row of its group."""
        return (self.count_of(mask) > 0)[self.of_row]

    def first_in_message(self, mask: np.ndarray) -> np.ndarray:
        """Per group, the first row of its whole message where ``mask`` holds, or -1."""
        return first_where(mask, self.message_row_starts)[self.message_of_group]

    def own_or_message_first(self, mask: np.ndarray) -> np.ndarray:
        """Per group, its own first row where ``mask`` holds, else its message's first."""
        own = self.first(mask)
        return np.where(own >= 0, own, self.first_in_message(mask))


@dataclass(frozen=True)
class Rows:
    """The case's events in chain order, with the codes the rules read.

    Attributes:
        table: the event columns the rules read (``RULE_COLUMNS``), in chain order.
        kind: the ``Kind`` of each row.
        rank: its lifecycle rank.
        times: its event_time as int64 nanoseconds (``NO_TIME``: missing).
        join_code: how its message key was found (index into ``JOIN_KEYS``).
        message_code: its message (index into ``message_values``).
        recipient_code: its recipient (index into ``recipient_values``; -1: none).
        message_values: the message keys, sorted.
        recipient_values: the recipient keys (cleaned addresses), sorted.
        groups: its groups (message x recipient).
    """

    table: pa.Table
    kind: np.ndarray
    rank: np.ndarray
    times: np.ndarray
    join_code: np.ndarray
    message_code: np.ndarray
    recipient_code: np.ndarray
    message_values: pa.Array
    recipient_values: pa.Array
    groups: Groups

    def column(self, name: str) -> pa.Array:
        """One rule column, in chain order, as one array."""
        return one_array(self.table.column(name))

    @cached_property
    def message_key(self) -> pa.Array:
        """The message key of each row."""
        return strings(self.message_values, self.message_code)

    @cached_property
    def recipient_key(self) -> pa.Array:
        """The recipient key of each row; empty for rows about no recipient."""
        return pc.fill_null(strings(self.recipient_values, self.recipient_code), "")

    @cached_property
    def is_event(self) -> np.ndarray:
        """Rows with an event id (not a reported status)."""
        return np.asarray(self.kind != Kind.STATUS)

    @cached_property
    def message_timed(self) -> np.ndarray:
        """Rows timed by their message (``time_basis`` message: the receive time)."""
        return word_codes(self.column("time_basis"), {"MESSAGE": 1}, 0, 0) == 1

    @cached_property
    def own_time(self) -> np.ndarray:
        """Events with a time of their own (``time_basis`` event)."""
        return self.is_event & ~self.message_timed

    @cached_property
    def event_id(self) -> pa.Array:
        """The event id, trimmed and upper-cased."""
        return pc.utf8_upper(pc.utf8_trim_whitespace(self.column("event_id")))

    @cached_property
    def is_submit(self) -> np.ndarray:
        """SUBMIT events (a mailbox of the tenant submitted the message)."""
        return to_numpy_bool(pc.equal(self.event_id, "SUBMIT"))

    def valid(self, name: str) -> np.ndarray:
        """Rows where a column has a value."""
        return is_valid(self.column(name))
