"""Message keys, join keys and the chain order of rows.

How events are grouped into messages (``message_key``):

1. by ``network_message_id`` (lower-cased): Exchange Online's own id of one message;
2. a row without one (summary downloads, Get-MessageTrace, tracking logs of Exchange 2010)
   joins the message whose rows carry the same Internet ``message_id`` (compared without
   ``<>``, case-insensitively) and the same sender, when exactly one network message id goes
   with that pair; otherwise the pair itself (``<message id>|<sender>``) is the key;
3. rows with neither id are keyed by ``message_trace_id`` (``trace:<id>``), and rows with
   nothing at all stand alone (``row:<input_id>:<line>``).

``join_key`` on each recipient says which of these joined its rows (``JOIN_KEYS``; a
recipient's join key is the weakest of its rows').

Chain order (``chain_order``): message, recipient, ``event_time``, the lifecycle rank of the
event id (``LIFECYCLE_ORDER``) for events logged in the same tick, ``event_seq`` (the position
in an enhanced summary's event list), input and line. Missing times and sequence numbers sort
last.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import is_valid, one_array, per_distinct
from analyzer.chains.groups import cleaned_codes, nanoseconds, sorted_codes, word_codes
from analyzer.chains.vocabulary import EVENT_KINDS, KIND_RANK, Kind
from analyzer.identifiers import address_key, id_key, message_id_key

#: What joined a recipient's rows into its message, strongest first (``join_key`` column).
JOIN_KEYS: tuple[str, ...] = ("network_message_id", "message_id+sender", "message_trace_id", "row")
#: The join code of rows that name no message at all (no id of any kind).
JOINED_BY_ROW = JOIN_KEYS.index("row")


@dataclass(frozen=True)
class ChainOrder:
    """The permutation that puts a case's events in chain order, and the codes it was
    computed from, already in chain order.

    Attributes:
        order: row ``i`` of chain order is row ``order[i]`` of the events.
        message_code: each row's message (index into ``message_values``).
        message_values: the message keys, sorted.
        join_code: each row's join code (index into ``JOIN_KEYS``).
        recipient_code: each row's recipient (index into ``recipient_values``; -1: none).
        recipient_values: the recipient keys, sorted.
        kind: each row's ``Kind``.
        times: each row's event_time in int64 nanoseconds (``NO_TIME``: missing).
    """

    order: np.ndarray
    message_code: np.ndarray
    message_values: pa.Array
    join_code: np.ndarray
    recipient_code: np.ndarray
    recipient_values: pa.Array
    kind: np.ndarray
    times: np.ndarray

    @property
    def rank(self) -> np.ndarray:
        """Each row's lifecycle rank."""
        return np.asarray(KIND_RANK[self.kind])


def event_kinds(event_ids: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The ``Kind`` of each row from its event id (``STATUS`` for rows without one)."""
    return word_codes(event_ids, EVENT_KINDS, Kind.OTHER, Kind.STATUS)


def chain_order(events: pa.Table) -> ChainOrder:
    """Sort a case's events: message, recipient, time, lifecycle rank, event_seq, input, line.

    Args:
        events: canonical events (``analyzer.schema.EVENT_SCHEMA``).

    Returns:
        The permutation into chain order and the codes the rules read, in that order.
    """
    message_code, message_values, join_code = message_codes(events)
    # recipient code -1 (no recipient) sorts first, as the empty recipient_key does
    recipient_code, recipient_values = cleaned_codes(
        events.column("recipient_address"), address_key
    )
    kind = event_kinds(events.column("event_id"))
    rank = KIND_RANK[kind]
    times = nanoseconds(events.column("event_time"))
    seq = (
        one_array(events.column("event_seq"))
        .cast(pa.int32())
        .fill_null(np.iinfo(np.int32).max)
        .to_numpy(zero_copy_only=False)
    )
    input_code = sorted_codes(pc.fill_null(one_array(events.column("input_id")), ""))
    lines = (
        one_array(events.column("line"))
        .fill_null(np.iinfo(np.int64).max)
        .to_numpy(zero_copy_only=False)
    )
    order = np.lexsort(
        (
            *_combined(input_code, lines),
            # rank 0..8 and a 32-bit sequence number make one 64-bit key
            rank.astype(np.int64) * 2**32 + (seq.astype(np.int64) - np.iinfo(np.int32).min),
            times,
            *_combined(message_code, recipient_code + 1),
        )
    )
    return ChainOrder(
        order=order,
        message_code=message_code[order],
        message_values=message_values,
        join_code=join_code[order],
        recipient_code=recipient_code[order],
        recipient_values=recipient_values,
        kind=kind[order],
        times=times[order],
    )


def _combined(major: np.ndarray, minor: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sort keys of ``(major, minor)`` (both >= 0) for ``np.lexsort``, the last one primary:
    one key ``major * (max(minor) + 1) + minor`` when it fits in 63 bits (a pass of the sort
    less), else the two keys."""
    if len(minor) == 0 or int(minor.min()) < 0 or int(major.min()) < 0:
        return (minor, major)
    span = int(minor.max()) + 1
    if (int(major.max()) + 1) * span < 2**62:
        return (major.astype(np.int64) * span + minor,)
    return (minor, major)


def message_codes(events: pa.Table) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """Each row's message code (in the byte order of its message_key), the message keys
    (``keys[code]``), and each row's join code (index into ``JOIN_KEYS``)."""
    codes, keys = cleaned_codes(events.column("network_message_id"), id_key)
    if (codes >= 0).all():  # every row carries a network message id: the common case
        return codes, keys, np.zeros(len(codes), dtype=np.int64)
    message_key, join = message_keys(events)
    encoded = pc.dictionary_encode(one_array(message_key))
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    return codes, encoded.dictionary.take(pa.array(order)), join


def message_keys(events: pa.Table) -> tuple[pa.Array, np.ndarray]:
    """message_key and join code of every row, for data where some rows lack a network
    message id (see the module documentation for the rules)."""
    nmid = per_distinct(events.column("network_message_id"), id_key)
    nmid_valid = is_valid(nmid)
    mid = per_distinct(events.column("message_id"), message_id_key)
    sender = per_distinct(events.column("sender_address"), address_key)
    pair = pc.binary_join_element_wise(mid, pc.fill_null(sender, ""), "|")
    # only the pairs of rows that lack a network message id need a lookup
    wanted = pc.unique(pair.filter(pa.array(~nmid_valid)).drop_null())
    has_both = pc.and_(
        pc.and_(pc.is_valid(nmid), pc.is_valid(pair)), pc.is_in(pair, value_set=wanted)
    )
    known = (
        pa.table({"pair": pair.filter(has_both), "nmid": nmid.filter(has_both)})
        .group_by(["pair", "nmid"])
        .aggregate([])
    )
    per_pair = known.group_by("pair").aggregate([("nmid", "count"), ("nmid", "min")])
    unique = per_pair.filter(pc.equal(per_pair["nmid_count"], 1))
    mapped = pc.take(unique["nmid_min"], pc.index_in(pair, value_set=unique["pair"]))
    trace = id_key(one_array(events.column("message_trace_id")))
    trace_key = pc.binary_join_element_wise("trace:", trace, "")
    row_key = pc.binary_join_element_wise(
        "row:",
        pc.fill_null(one_array(events.column("input_id")), ""),
        pc.fill_null(one_array(events.column("line")).cast(pa.string()), ""),
        ":",
    )
    row_key = pc.replace_substring(row_key, "row::", "row:", max_replacements=1)
    message_key = pc.coalesce(nmid, mapped, pair, trace_key, row_key)
    join = np.select(
        [nmid_valid, is_valid(pair), is_valid(trace)],
        [0, 1, 2],
        default=JOINED_BY_ROW,
    )
    return message_key, join
