"""The recipient and message tables of ``Chains``, from the decisions of the other modules.

Per recipient, addresses, ids, subject and IPs are its own rows' first value, else its
message's: ``from_ip`` is from_ip, else original_client_ip, else the client_ip of the first
RECEIVE; ``to_ip`` is to_ip, else the server_ip of the last SEND; ``total_bytes`` the largest
size seen (its own rows', else its message's). Rows about no recipient stand for the message
only when it has no recipient at all.

Per message (``MESSAGE_COLUMNS``): the first value of its recipients, the earliest first time,
the latest event time of any of its rows, the strongest direction (outbound, inbound,
internal, unknown), its distinct statuses and the number of messages linked to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import NULL_STRING, is_valid, one_array, take_or_null, to_numpy_bool
from analyzer.chains.columns import MESSAGE_SCHEMA, RECIPIENT_SCHEMA
from analyzer.chains.conflicts import conflict_sentences
from analyzer.chains.direction import group_directions
from analyzer.chains.groups import (
    NO_TIME,
    Rows,
    first_where,
    nanoseconds,
    timestamps,
    word_codes,
)
from analyzer.chains.keys import JOIN_KEYS
from analyzer.chains.lineage import Lineage
from analyzer.chains.meaning import NO_MESSAGE_WORDS, status_meanings
from analyzer.chains.status import Decision
from analyzer.chains.timeline import recipient_times
from analyzer.chains.verdicts import Verdicts, whole_numbers
from analyzer.chains.vocabulary import FINAL_STATUSES, Kind, Status


def _first_of(rows: Rows, name: str) -> pa.Array:
    """Per group, its own first value of a column, else its message's."""
    return take_or_null(rows.column(name), rows.groups.own_or_message_first(rows.valid(name)))


def _ips(rows: Rows) -> tuple[pa.Array, pa.Array]:
    """from_ip and to_ip of every group (see the module documentation)."""
    groups, kind = rows.groups, rows.kind
    first_receive = groups.first((rows.rank == 0) & rows.valid("client_ip"))
    last_send = groups.last((kind == Kind.SEND) & rows.valid("server_ip"))
    from_ip = pc.coalesce(
        _first_of(rows, "from_ip"),
        _first_of(rows, "original_client_ip"),
        take_or_null(rows.column("client_ip"), first_receive),
    )
    to_ip = pc.coalesce(_first_of(rows, "to_ip"), take_or_null(rows.column("server_ip"), last_send))
    return from_ip, to_ip


def _total_bytes(rows: Rows) -> pa.Array:
    """The largest size of each group's rows, else of its message's."""
    groups = rows.groups
    sizes = pc.fill_null(rows.column("total_bytes"), -1).to_numpy(zero_copy_only=False)
    own = np.maximum.reduceat(sizes, groups.starts)
    whole = np.maximum.reduceat(own, groups.message_starts)
    total = np.where(own >= 0, own, whole[groups.message_of_group])
    return pa.array(total, mask=total < 0, type=pa.int64())


def recipient_table(
    rows: Rows,
    in_timeline: np.ndarray,
    lineage: Lineage,
    verdicts: Verdicts,
    decision: Decision,
    exported: np.ndarray,
    tenant: tuple[str, ...],
) -> pa.Table:
    """One row per recipient of the groups (``RECIPIENT_SCHEMA``), without unseen children.

    Args:
        rows: the rows in chain order.
        in_timeline: ``timeline_rows(rows)``.
        lineage: ``read_lineage(rows)``.
        verdicts: ``read_verdicts(rows, ...)``.
        decision: ``decide(...)``.
        exported: ``export_directions(rows)``.
        tenant: ``tenant_domains(rows, exported)``.
    """
    groups = rows.groups
    final, decider = decision.final, decision.decider
    times = recipient_times(rows, in_timeline, decider, decision.event_decider)
    sender = _first_of(rows, "sender_address")
    decider_kind = np.where(decider >= 0, rows.kind[np.maximum(decider, 0)], -1)
    status_code = take_or_null(rows.column("status_code"), decider)
    di = verdicts.di
    meaning = status_meanings(
        final,
        decider_kind,
        status_code,
        take_or_null(rows.column("smtp_reply_code"), decider),
        di,
        take_or_null(rows.column("report_type"), decider),
        has_events=groups.count_of(rows.is_event) > 0,
        malware=is_valid(verdicts.values["malware_name"]),
    )
    meaning = pc.if_else(pa.array(decision.no_message), pa.scalar(NO_MESSAGE_WORDS), meaning)
    recipient = rows.recipient_key.take(pa.array(groups.starts))
    from_ip, to_ip = _ips(rows)
    join = np.maximum.reduceat(rows.join_code, groups.starts)
    duration = times.duration_seconds
    values = verdicts.values
    table = pa.table(
        {
            "message_key": rows.message_key.take(pa.array(groups.starts)),
            "join_key": pa.array(np.array(JOIN_KEYS, dtype=object)[join], pa.string()),
            "network_message_id": _first_of(rows, "network_message_id"),
            "message_id": _first_of(rows, "message_id"),
            "sender_address": sender,
            "message_subject": _first_of(rows, "message_subject"),
            "recipient_address": pc.if_else(pc.equal(recipient, ""), NULL_STRING, recipient),
            "parent_recipient": lineage.parent_recipient,
            "recipient_relation": lineage.recipient_relation,
            "final_status": pa.array(np.array(FINAL_STATUSES, dtype=object)[final], pa.string()),
            "status_code": status_code,
            "smtp_reply": take_or_null(rows.column("recipient_status"), decider),
            "status_meaning": meaning,
            "direction": group_directions(rows, exported, sender, tenant),
            "first_time": timestamps(times.first_time),
            "final_time": timestamps(times.final_time),
            "duration_seconds": pa.array(duration, mask=np.isnan(duration)),
            "deferral_count": pa.array(times.deferral_count, pa.int64()),
            "deferral_seconds": pa.array(times.deferral_seconds, pa.float64()),
            "from_ip": from_ip,
            "to_ip": to_ip,
            "total_bytes": _total_bytes(rows),
            "sfv": values["sfv"],
            "scl": whole_numbers(values["scl"]),
            "pcl": whole_numbers(values["pcl"]),
            "di": values["di"],
            "country": values["country"],
            "malware_name": values["malware_name"],
            "transport_rules": verdicts.rules,
            "conflict": conflict_sentences(rows, decision, di),
            "event_count": pa.array(groups.sizes, pa.int64()),
            "decided_input_id": take_or_null(rows.column("input_id"), decider),
            "decided_line": take_or_null(rows.column("line"), decider),
        },
        schema=RECIPIENT_SCHEMA,
    )
    # rows about no recipient stand for the message only when it has no recipient at all
    blank = np.flatnonzero(rows.recipient_code[groups.starts] < 0)
    groups_of_message = np.diff(np.append(groups.message_starts, groups.count))
    keep = np.ones(groups.count, dtype=bool)
    keep[blank] = groups_of_message[groups.message_of_group[blank]] == 1
    return table.filter(pa.array(keep))


def message_table(recipients: pa.Table, rows: Rows, links: pa.Table) -> pa.Table:
    """One row per message (``MESSAGE_SCHEMA``), from its recipients and its rows.

    Args:
        recipients: the recipient table, sorted by message_key (every message has a row).
        rows: the rows in chain order (for each message's last event time).
        links: the links between messages.
    """
    message_row_starts = rows.groups.message_row_starts
    known = np.where(rows.times == NO_TIME, -1, rows.times)
    latest = np.maximum.reduceat(known, message_row_starts)
    last_time = np.where(latest < 0, NO_TIME, latest)

    keys = one_array(recipients.column("message_key"))
    count = len(keys)
    new_message = np.ones(count, dtype=bool)  # recipients are sorted by message_key
    if count > 1:
        new_message[1:] = to_numpy_bool(pc.not_equal(keys.slice(1), keys.slice(0, count - 1)))
    starts = np.flatnonzero(new_message)

    def first(name: str) -> pa.Array:
        values = one_array(recipients.column(name))
        return take_or_null(values, first_where(is_valid(values), starts))

    first_time = np.minimum.reduceat(nanoseconds(recipients.column("first_time")), starts)
    direction_rank = {"OUTBOUND": 4, "INBOUND": 3, "INTERNAL": 2, "UNKNOWN": 1}
    direction_code = word_codes(recipients.column("direction"), direction_rank, 1, 1)
    best = np.maximum.reduceat(direction_code, starts)
    names = np.array(["", "unknown", "internal", "inbound", "outbound"], dtype=object)
    status_bit = word_codes(
        recipients.column("final_status"),
        {s.upper(): 1 << i for i, s in enumerate(FINAL_STATUSES)},
        1 << Status.UNKNOWN,
        1 << Status.UNKNOWN,
    )
    masks = np.bitwise_or.reduceat(status_bit, starts)
    distinct_masks, inverse = np.unique(masks, return_inverse=True)
    mask_text = np.array(
        [
            ", ".join(s for i, s in enumerate(FINAL_STATUSES) if m & (1 << i))
            for m in distinct_masks
        ],
        dtype=object,
    )
    sizes = pc.fill_null(recipients.column("total_bytes"), -1).to_numpy(zero_copy_only=False)
    total_bytes = np.maximum.reduceat(sizes, starts)
    message_keys = keys.take(pa.array(starts))
    return pa.table(
        {
            "message_key": message_keys,
            "network_message_id": first("network_message_id"),
            "message_id": first("message_id"),
            "sender_address": first("sender_address"),
            "message_subject": first("message_subject"),
            "first_time": timestamps(first_time),
            "last_time": timestamps(last_time),
            "direction": pa.array(names[best], pa.string()),
            "recipient_count": pa.array(np.diff(np.append(starts, len(keys))), pa.int64()),
            "total_bytes": pa.array(total_bytes, mask=total_bytes < 0, type=pa.int64()),
            "statuses": pa.array(mask_text[inverse], pa.string()),
            "related_count": pa.array(_related_counts(message_keys, links), pa.int64()),
        },
        schema=MESSAGE_SCHEMA,
    )


def _related_counts(message_keys: pa.Array | pa.ChunkedArray, links: pa.Table) -> np.ndarray:
    """The number of other messages linked to each message, either way."""
    related = pd.concat(
        [
            links.select(["message_key", "related_message_key"]).to_pandas(),
            links.select(["related_message_key", "message_key"])
            .rename_columns(["message_key", "related_message_key"])
            .to_pandas(),
        ]
    ).dropna()
    counts = (
        related.drop_duplicates().groupby("message_key").size()
        if len(related)
        else pd.Series(dtype=np.int64)
    )
    return np.asarray(
        pd.Series(message_keys.to_numpy(zero_copy_only=False), dtype=object)
        .map(counts)
        .fillna(0)
        .to_numpy(dtype=np.int64)
    )
