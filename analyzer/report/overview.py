"""The overview's count tables: final statuses, directions and the top lists."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import per_distinct
from analyzer.chains import DIRECTIONS, FINAL_STATUSES
from analyzer.identifiers import address_key, domain_of
from analyzer.report.columns import column
from analyzer.report.context import CountRow, TopList

#: Rows of each top list.
_TOP = 10


def share(count: int, total: int) -> str:
    """``count`` as a share of ``total``: ``12.5 %``; "-" when the total is 0."""
    return f"{100 * count / total:.1f} %" if total else "-"


def status_class(status: str) -> str:
    """The CSS class of a final status's colour (``st-Unknown`` for any other status)."""
    return "st-" + (status if status in FINAL_STATUSES else "Unknown")


def _value_counts(values: pa.ChunkedArray | pa.Array) -> list[tuple[str, int]]:
    """(value, count) pairs, most frequent first, ties by value; null counts as ''."""
    counts = pc.value_counts(pc.fill_null(values.cast(pa.string()), ""))
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))


def status_counts(recipients: pa.Table) -> tuple[CountRow, ...]:
    """Message x recipient rows by final status, in the chains' order, then others."""
    counts = dict(_value_counts(recipients.column("final_status")))
    total = recipients.num_rows
    order = list(FINAL_STATUSES) + sorted(set(counts) - set(FINAL_STATUSES))
    return tuple(
        CountRow(
            status or "Unknown",
            counts[status],
            share(counts[status], total),
            status_class(status),
        )
        for status in order
        if counts.get(status)
    )


def direction_counts(messages: pa.Table) -> tuple[CountRow, ...]:
    """Messages by direction, in the chains' order, then others."""
    counts = dict(_value_counts(messages.column("direction")))
    total = messages.num_rows
    order = list(DIRECTIONS) + sorted(set(counts) - set(DIRECTIONS))
    return tuple(
        CountRow(direction or "unknown", counts[direction], share(counts[direction], total))
        for direction in order
        if counts.get(direction)
    )


def _top(values: pa.ChunkedArray | pa.Array, total: int) -> tuple[CountRow, ...]:
    rows = [(v, c) for v, c in _value_counts(values) if v][:_TOP]
    return tuple(CountRow(value, count, share(count, total)) for value, count in rows)


def top_lists(messages: pa.Table, recipients: pa.Table) -> tuple[TopList, ...]:
    """Top senders, recipients, sender domains and sending IPs, each counted in messages."""
    # addresses compare as everywhere else (analyzer.identifiers): <Bob@Contoso.com> and
    # bob@contoso.com are one sender, of the domain contoso.com
    senders = per_distinct(messages.column("sender_address"), address_key)
    domains = per_distinct(senders, domain_of)  # of the keys: address_key is idempotent
    per_message_ip = (
        pa.table({"key": recipients.column("message_key"), "ip": column(recipients, "from_ip")})
        .group_by(["key", "ip"])
        .aggregate([])
    )
    recipient_pairs = (
        pa.table(
            {
                "key": recipients.column("message_key"),
                "r": per_distinct(recipients.column("recipient_address"), address_key),
            }
        )
        .group_by(["key", "r"])
        .aggregate([])
    )
    total = messages.num_rows
    return (
        TopList("Top senders", "Sender", "messages", _top(senders, total)),
        TopList(
            "Top recipients", "Recipient", "messages", _top(recipient_pairs.column("r"), total)
        ),
        TopList("Top sender domains", "Domain", "messages", _top(domains, total)),
        TopList("Top sending IPs", "IP", "messages", _top(per_message_ip.column("ip"), total)),
    )
