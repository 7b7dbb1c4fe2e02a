"""What many mailboxes did, in one pass: the lists and counts of their views.

Every function here takes the rows of all the mailboxes asked for at once and returns, per
mailbox, its part of the view (``analyzer.incident.mailbox``): one filter of the chains'
recipients table, then one pandas group-by per list for all mailboxes together. Python runs
once per output record (what the JSON lists), never per mailbox over the data.

The rows: ``sent`` holds each copy (message x recipient) a mailbox sent, with ``mailbox`` its
sender; ``received`` each copy it received, with ``mailbox`` its recipient.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.identifiers import address_key, address_text, domain_of
from analyzer.incident.base import Investigation
from analyzer.timestamps import iso_utc

_COLUMNS = (
    "message_key",
    "network_message_id",
    "message_id",
    "sender_address",
    "recipient_address",
    "message_subject",
    "final_status",
    "from_ip",
)

Lists = dict[str, list[dict[str, Any]]]


def _plain(table: pa.Table) -> pd.DataFrame:
    """A table as pandas with dictionary columns as plain strings (categoricals are slow to
    filter and group)."""
    columns = {
        name: column.cast(pa.string()) if pa.types.is_dictionary(column.type) else column
        for name, column in zip(table.column_names, table.columns, strict=True)
    }
    return pa.table(columns).to_pandas()


def _ns(column: pa.ChunkedArray) -> pd.Series:
    values = column.cast(pa.int64()).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return pd.Series(values).reset_index(drop=True)


def sides(inv: Investigation, keys: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The copies the mailbox ``keys`` sent and received (see the module doc), each with
    ``mailbox``, ``sender_key``, ``recipient_key`` and ``time_ns`` (first time, UTC)."""
    r = inv.chains.recipients
    sender, recipient = address_key(r["sender_address"]), address_key(r["recipient_address"])
    wanted = pa.array(keys, pa.string())
    mask = pc.or_(
        fill_false(pc.is_in(sender, value_set=wanted)),
        fill_false(pc.is_in(recipient, value_set=wanted)),
    )
    frame = _plain(r.select(list(_COLUMNS)).filter(mask))
    frame["sender_key"] = sender.filter(mask).to_pandas().to_numpy()
    frame["recipient_key"] = recipient.filter(mask).to_pandas().to_numpy()
    frame["time_ns"] = _ns(r["first_time"].filter(mask)).array
    sent = frame[frame["sender_key"].isin(keys)].assign(mailbox=lambda f: f["sender_key"])
    received = frame[frame["recipient_key"].isin(keys)].assign(mailbox=lambda f: f["recipient_key"])
    return sent.reset_index(drop=True), received.reset_index(drop=True)


def _bucket(records: Iterable[dict[str, Any]]) -> Lists:
    found: Lists = {}
    for record in records:
        found.setdefault(record.pop("mailbox"), []).append(record)
    return found


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def counts(rows: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """Per mailbox: ``message_count``, ``copy_count``, ``by_status``."""
    if rows.empty:
        return {}
    grouped = rows.groupby("mailbox")
    messages, copies = grouped["message_key"].nunique(), grouped.size()
    statuses = rows.assign(status=rows["final_status"].fillna("Unknown"))
    by_status = statuses.groupby(["mailbox", "status"]).size()
    found: dict[str, dict[str, Any]] = {
        str(m): {"message_count": int(messages[m]), "copy_count": int(copies[m]), "by_status": {}}
        for m in messages.index
    }
    for (mailbox, status), n in zip(by_status.index, by_status.to_numpy(), strict=True):
        found[str(mailbox)]["by_status"][str(status)] = int(n)
    return found


def _distinct_lists(rows: pd.DataFrame, by: list[str], column: str) -> pd.Series:
    """Per ``by`` group, the sorted distinct values of ``column``."""
    pairs = rows[[*by, column]].dropna().drop_duplicates().sort_values([*by, column])
    return pairs.groupby(by, sort=False)[column].agg(list)


def sent_messages(sent: pd.DataFrame) -> Lists:
    """Per mailbox, the messages it sent, in time order, with their recipients and statuses."""
    if sent.empty:
        return {}
    ordered = sent.sort_values(["mailbox", "time_ns", "message_key", "recipient_key"])
    listed = ordered.groupby(["mailbox", "message_key"], sort=False).agg(
        time_ns=("time_ns", "min"),
        network_message_id=("network_message_id", "first"),
        message_id=("message_id", "first"),
        subject=("message_subject", "first"),
        from_ip=("from_ip", "first"),
    )
    listed["recipients"] = _distinct_lists(ordered, ["mailbox", "message_key"], "recipient_key")
    statuses = ordered.assign(final_status=ordered["final_status"].fillna("Unknown"))
    listed["statuses"] = _distinct_lists(statuses, ["mailbox", "message_key"], "final_status")
    listed = listed.reset_index().sort_values(["mailbox", "time_ns", "message_key"])
    return _bucket(
        {
            "mailbox": record["mailbox"],
            "time": iso_utc(record["time_ns"]),
            "message_key": record["message_key"],
            "network_message_id": _text(record["network_message_id"]),
            "message_id": _text(record["message_id"]),
            "subject": _text(record["subject"]),
            "from_ip": _text(record["from_ip"]),
            "recipients": record["recipients"] if isinstance(record["recipients"], list) else [],
            "statuses": record["statuses"] if isinstance(record["statuses"], list) else [],
        }
        for record in listed.to_dict("records")
    )


def received_messages(received: pd.DataFrame, facts: pd.DataFrame) -> Lists:
    """Per mailbox, the copies it received, in time order, with when each was delivered and
    removed (``analyzer.incident.delivery`` facts)."""
    if received.empty:
        return {}
    merged = received.merge(
        facts[["message_key", "recipient_key", "delivered_ns", "removed_ns", "removed_by"]],
        how="left",
        on=["message_key", "recipient_key"],
    ).sort_values(["mailbox", "time_ns", "message_key"])
    return _bucket(
        {
            "mailbox": record["mailbox"],
            "time": iso_utc(record["time_ns"]),
            "message_key": record["message_key"],
            "network_message_id": _text(record["network_message_id"]),
            "message_id": _text(record["message_id"]),
            "sender": _text(record["sender_address"]),
            "subject": _text(record["message_subject"]),
            "final_status": _text(record["final_status"]),
            "delivered_at": iso_utc(record["delivered_ns"]),
            "removed_at": iso_utc(record["removed_ns"]),
            "removed_by": _text(record["removed_by"]),
        }
        for record in merged.to_dict("records")
    )


def exchanges(sent: pd.DataFrame, received: pd.DataFrame) -> pd.DataFrame:
    """Every (mailbox, correspondent, message): ``address`` (the other side), ``domain``,
    ``time_ns``, ``message_key``, ``how`` (sent to, received from)."""
    parts = [
        pd.DataFrame(
            {
                "mailbox": rows["mailbox"],
                "address": rows[other],
                "time_ns": rows["time_ns"],
                "message_key": rows["message_key"],
                "how": how,
            }
        )
        for rows, other, how in (
            (sent, "recipient_key", "sent to"),
            (received, "sender_key", "received from"),
        )
    ]
    both = pd.concat(parts, ignore_index=True).dropna(subset=["address"])
    both = both[both["address"] != both["mailbox"]]
    values = pa.array(both["address"].astype(object), pa.string())
    return both.assign(domain=domain_of(values).to_pandas().to_numpy())


def new_since(rows: pd.DataFrame, key: str, since: dict[str, int | None]) -> Lists:
    """Per mailbox, the correspondents (``key``: address or domain) it first exchanged mail
    with at or after its ``since`` time, in order of that first time."""
    rows = rows.dropna(subset=[key])
    if rows.empty:
        return {}
    grouped = rows.groupby(["mailbox", key])
    table = pd.DataFrame(
        {
            "first_ns": grouped["time_ns"].min(),
            "last_ns": grouped["time_ns"].max(),
            "messages": grouped["message_key"].nunique(),
            "how": _distinct_lists(rows, ["mailbox", key], "how"),
        }
    ).reset_index()
    limit = table["mailbox"].map(since).astype("Float64")
    new = table[table["first_ns"].notna() & limit.notna() & (table["first_ns"] >= limit)]
    return _bucket(
        {
            "mailbox": record["mailbox"],
            key: record[key],
            "first_seen": iso_utc(record["first_ns"]),
            "last_seen": iso_utc(record["last_ns"]),
            "messages": int(record["messages"]),
            "how": list(record["how"]),
        }
        for record in new.sort_values(["mailbox", "first_ns", key]).to_dict("records")
    )


def sending_ips(sent: pd.DataFrame) -> Lists:
    """Per mailbox, the IPs it sent from, in order of first use."""
    rows = sent.assign(ip=sent["from_ip"].str.strip()).dropna(subset=["ip"])
    rows = rows[rows["ip"] != ""]
    if rows.empty:
        return {}
    grouped = rows.groupby(["mailbox", "ip"])
    table = pd.DataFrame(
        {
            "first_ns": grouped["time_ns"].min(),
            "last_ns": grouped["time_ns"].max(),
            "messages": grouped["message_key"].nunique(),
        }
    ).reset_index()
    return _bucket(
        {
            "mailbox": record["mailbox"],
            "ip": record["ip"],
            "first_seen": iso_utc(record["first_ns"]),
            "last_seen": iso_utc(record["last_ns"]),
            "messages": int(record["messages"]),
        }
        for record in table.sort_values(["mailbox", "first_ns", "ip"]).to_dict("records")
    )


def _event_rows(inv: Investigation, mask: pa.ChunkedArray | pa.Array) -> pd.DataFrame:
    events = inv.chains.events
    names = [
        "sender_address",
        "recipient_address",
        "related_recipient_address",
        "message_key",
        "network_message_id",
        "message_id",
        "message_subject",
        "input_id",
        "line",
    ]
    table = events.select([n for n in names if n in events.column_names]).filter(mask)
    frame = _plain(table)
    frame["time_ns"] = _ns(events["event_time"].filter(mask)).array
    frame["input"] = frame["input_id"].map(inv.input_paths)
    return frame


def forward_rows(inv: Investigation) -> pd.DataFrame:
    """Every inbox-rule copy for an outside address: the copy's MAILBOXRULE row, the outside
    ``target``, and the internal ``mailbox`` whose rule made it (the copy's sender when
    internal, else the internal recipients of the message that triggered it)."""
    events = inv.chains.events
    if events.num_rows == 0 or "source" not in events.column_names:
        return pd.DataFrame()
    by_rule = fill_false(pc.equal(pc.utf8_upper(events["source"]), "MAILBOXRULE"))
    rule_rows = _event_rows(inv, by_rule)
    if rule_rows.empty:
        return rule_rows
    rule_rows = rule_rows.sort_values(["time_ns", "input", "line"]).drop_duplicates("message_key")
    keys = sorted(set(rule_rows["message_key"].dropna()))
    recipients = inv.chains.recipients.select(["message_key", "recipient_address"])

    def recipients_of(message_keys: list[str]) -> pd.DataFrame:
        wanted = pa.array(message_keys, pa.string())
        return _plain(
            recipients.filter(fill_false(pc.is_in(recipients["message_key"], value_set=wanted)))
        )

    copies = recipients_of(keys)
    copies["target"] = copies["recipient_address"].map(address_text)
    copies = copies[~inv.internal_mask(copies["target"])].dropna(subset=["target"])
    links = _plain(inv.chains.links)
    links = links[(links["relation"] == "inbox_rule_forward_of") & links["message_key"].isin(keys)]
    triggered = recipients_of(sorted(set(links["related_message_key"].dropna())))
    triggered["mailbox"] = triggered["recipient_address"].map(address_text)
    triggered = triggered[inv.internal_mask(triggered["mailbox"])]
    by_trigger = links.merge(
        triggered, left_on="related_message_key", right_on="message_key", suffixes=("", "_x")
    )
    owners = pd.concat(
        [
            pd.DataFrame(
                {
                    "message_key": rule_rows["message_key"],
                    "mailbox": rule_rows["sender_address"].map(address_text),
                }
            ),
            by_trigger[["message_key", "mailbox"]],
        ],
        ignore_index=True,
    ).dropna()
    owners = owners[inv.internal_mask(owners["mailbox"])].drop_duplicates()
    rows = rule_rows.drop(columns=["recipient_address"]).merge(
        copies[["message_key", "target"]], on="message_key"
    )
    rows = rows.merge(owners, on="message_key")
    return rows.drop_duplicates(["message_key", "target", "mailbox"])


def redirect_rows(inv: Investigation) -> pd.DataFrame:
    """REDIRECT rows between an internal ``mailbox`` and an outside ``target`` (Exchange names
    the two in either order)."""
    events = inv.chains.events
    if events.num_rows == 0 or "related_recipient_address" not in events.column_names:
        return pd.DataFrame()
    rows = _event_rows(inv, fill_false(pc.equal(pc.utf8_upper(events["event_id"]), "REDIRECT")))
    if rows.empty:
        return rows
    recipient = rows["recipient_address"].map(address_text, na_action="ignore")
    related = rows["related_recipient_address"].map(address_text, na_action="ignore")
    inside = pd.Series(inv.internal_mask(recipient), index=rows.index)
    other_inside = pd.Series(inv.internal_mask(related), index=rows.index)
    rows["mailbox"] = recipient.where(inside, related)
    rows["target"] = related.where(inside, recipient)
    keep = (inside ^ other_inside) & recipient.notna() & related.notna()
    return rows[keep.to_numpy()]


def outward(rows: pd.DataFrame, keys: list[str], how: str) -> Lists:
    """Per mailbox of ``keys``, its forwards or redirects out, in time order."""
    if rows.empty:
        return {}
    mine = rows[rows["mailbox"].isin(keys)].sort_values(
        ["mailbox", "time_ns", "target", "input", "line"]
    )
    return _bucket(
        {
            "mailbox": record["mailbox"],
            "time": iso_utc(record["time_ns"]),
            "how": how,
            "target": record["target"],
            "message_key": record["message_key"],
            "network_message_id": _text(record.get("network_message_id")),
            "message_id": _text(record.get("message_id")),
            "subject": _text(record.get("message_subject")),
            "input": _text(record["input"]),
            "line": None if pd.isna(record["line"]) else int(record["line"]),
        }
        for record in mine.to_dict("records")
    )


__all__ = [
    "counts",
    "exchanges",
    "forward_rows",
    "new_since",
    "outward",
    "received_messages",
    "redirect_rows",
    "sending_ips",
    "sent_messages",
    "sides",
]
