"""One mailbox as the data shows it: what it sent and received, who is new, where it sent
from, what it forwards and redirects out, and the findings that name it.

``mailbox_views`` computes the views of many mailboxes in one pass over the chains'
recipients table (vectorized filters and group-bys; the Python work is per mailbox asked for,
never per row); ``mailbox_view`` is one of them, or ``NotFoundError`` with close matches.

- ``sent``: the messages whose sender is the mailbox; ``received``: those it is a recipient
  of; both counted in messages and in copies (message x recipient), by final status, and
  listed with their ids (received copies with when they were delivered and removed, where the
  data shows it).
- New correspondents and domains: those the mailbox first exchanged mail with at or after
  ``since`` (default: its first suspicious time, the first row of the findings in scope that
  give it a role; else of any finding naming it), never before in the data.
- Sending IPs: the IPs of its sent mail (``from_ip``), with when and how many messages.
- Forwards: copies an inbox rule (MAILBOXRULE) made of its mail for outside addresses (the
  copy's sender is the mailbox, or the triggering message was addressed to it); redirects:
  REDIRECT rows between the mailbox and an outside address. Each with its input row.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.errors import NotFoundError, OptionError
from analyzer.identifiers import address_key, address_text, domain_of
from analyzer.incident.base import Investigation, time_ns
from analyzer.incident.delivery import delivery_facts
from analyzer.incident.summary import AffectedMailbox, affected_mailboxes
from analyzer.incident.words import Count
from analyzer.text import terminal_safe
from analyzer.timestamps import UTC, DisplayZone, iso_utc, parse_timestamps

_COLUMNS = (
    "message_key",
    "network_message_id",
    "message_id",
    "sender_address",
    "recipient_address",
    "message_subject",
    "final_status",
    "from_ip",
    "first_time",
)


def parse_since(text: str | None) -> int | None:
    """``--since``: an ISO time (UTC unless it says otherwise) as nanoseconds, or None.

    Raises:
        OptionError: a value that is not an ISO time.
    """
    if text is None or not text.strip():
        return None
    parsed = parse_timestamps(pa.array([text.strip()], pa.string()))
    value = parsed.cast(pa.int64())[0].as_py()
    if value is None:
        raise OptionError(
            f"--since: {text!r} is not a time; give an ISO time such as 2026-11-18T09:00:00Z "
            "(UTC unless it has an offset)"
        )
    return int(value)


def _frame(inv: Investigation, keys: list[str]) -> pd.DataFrame:
    """The recipients rows the mailboxes sent or received, with sender and recipient keys."""
    r = inv.chains.recipients
    sender = address_key(r["sender_address"])
    recipient = address_key(r["recipient_address"])
    wanted = pa.array(keys, pa.string())
    mask = pc.or_(
        fill_false(pc.is_in(sender, value_set=wanted)),
        fill_false(pc.is_in(recipient, value_set=wanted)),
    )
    frame = r.select(list(_COLUMNS)).filter(mask).to_pandas()
    frame["sender_key"] = sender.filter(mask).to_pandas()
    frame["recipient_key"] = recipient.filter(mask).to_pandas()
    times = r["first_time"].filter(mask).cast(pa.int64())
    frame["time_ns"] = pd.Series(
        times.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    ).array
    return frame


def _counts(rows: pd.DataFrame) -> dict[str, Any]:
    statuses = rows["final_status"].fillna("Unknown").value_counts()
    return {
        "message_count": int(rows["message_key"].nunique()),
        "copy_count": len(rows),
        "by_status": {str(k): int(v) for k, v in sorted(statuses.items())},
    }


def _sent_messages(rows: pd.DataFrame) -> list[dict[str, Any]]:
    ordered = rows.sort_values(["time_ns", "message_key", "recipient_key"], na_position="last")
    grouped = ordered.groupby("message_key", sort=False)
    listed = grouped.agg(
        time_ns=("time_ns", "min"),
        network_message_id=("network_message_id", "first"),
        message_id=("message_id", "first"),
        subject=("message_subject", "first"),
        from_ip=("from_ip", "first"),
    )
    recipients = _distinct_per_message(ordered, "recipient_key")
    statuses = _distinct_per_message(ordered.fillna({"final_status": "Unknown"}), "final_status")
    return [
        {
            "time": iso_utc(record["time_ns"]),
            "message_key": record["message_key"],
            "network_message_id": _text(record["network_message_id"]),
            "message_id": _text(record["message_id"]),
            "subject": _text(record["subject"]),
            "from_ip": _text(record["from_ip"]),
            "recipients": recipients.get(record["message_key"], []),
            "statuses": statuses.get(record["message_key"], []),
        }
        for record in listed.reset_index().to_dict("records")
    ]


def _distinct_per_message(rows: pd.DataFrame, column: str) -> dict[str, list[str]]:
    """Per message, the sorted distinct values of a column."""
    pairs = rows[["message_key", column]].dropna().drop_duplicates()
    pairs = pairs.sort_values(["message_key", column])
    return {str(k): list(v) for k, v in pairs.groupby("message_key", sort=False)[column]}


def _received_messages(rows: pd.DataFrame, facts: pd.DataFrame) -> list[dict[str, Any]]:
    ordered = rows.sort_values(["time_ns", "message_key"], na_position="last")
    merged = ordered.merge(
        facts[["message_key", "recipient_key", "delivered_ns", "removed_ns", "removed_by"]],
        how="left",
        on=["message_key", "recipient_key"],
    )
    return [
        {
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
    ]


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _exchanges(address: str, sent: pd.DataFrame, received: pd.DataFrame) -> pd.DataFrame:
    """Every (correspondent, message) the mailbox exchanged: ``address`` (the other side),
    ``domain``, ``time_ns``, ``message_key``, ``how`` (sent to, received from)."""
    parts = [
        pd.DataFrame(
            {
                "address": sent["recipient_key"],
                "time_ns": sent["time_ns"],
                "message_key": sent["message_key"],
                "how": "sent to",
            }
        ),
        pd.DataFrame(
            {
                "address": received["sender_key"],
                "time_ns": received["time_ns"],
                "message_key": received["message_key"],
                "how": "received from",
            }
        ),
    ]
    both = pd.concat(parts, ignore_index=True).dropna(subset=["address"])
    both = both[both["address"] != address]
    values = pa.array(both["address"].astype(object), pa.string())
    both["domain"] = domain_of(values).to_pandas().array
    return both


def _new_since(exchanges: pd.DataFrame, key: str, since_ns: int | None) -> list[dict[str, Any]]:
    """The correspondents (``key``: address or domain) first seen at or after ``since_ns``."""
    rows = exchanges.dropna(subset=[key])
    if since_ns is None or rows.empty:
        return []
    grouped = rows.groupby(key, sort=True)
    table = pd.DataFrame(
        {
            "first_ns": grouped["time_ns"].min(),
            "last_ns": grouped["time_ns"].max(),
            "messages": grouped["message_key"].nunique(),
            "how": grouped["how"].agg(lambda v: sorted(set(v))),
        }
    ).reset_index()
    new = table[table["first_ns"].notna() & (table["first_ns"] >= since_ns)]
    return [
        {
            key: record[key],
            "first_seen": iso_utc(record["first_ns"]),
            "last_seen": iso_utc(record["last_ns"]),
            "messages": int(record["messages"]),
            "how": list(record["how"]),
        }
        for record in new.sort_values(["first_ns", key]).to_dict("records")
    ]


def _ips(sent: pd.DataFrame) -> list[dict[str, Any]]:
    rows = sent.assign(ip=sent["from_ip"].str.strip()).dropna(subset=["ip"])
    rows = rows[rows["ip"] != ""]
    grouped = rows.groupby("ip", sort=True)
    table = pd.DataFrame(
        {
            "first_ns": grouped["time_ns"].min(),
            "last_ns": grouped["time_ns"].max(),
            "messages": grouped["message_key"].nunique(),
        }
    ).reset_index()
    return [
        {
            "ip": record["ip"],
            "first_seen": iso_utc(record["first_ns"]),
            "last_seen": iso_utc(record["last_ns"]),
            "messages": int(record["messages"]),
        }
        for record in table.sort_values(["first_ns", "ip"]).to_dict("records")
    ]


def _event_rows(inv: Investigation, mask: pa.ChunkedArray) -> pd.DataFrame:
    events = inv.chains.events
    names = [
        "event_time",
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
    frame = table.to_pandas()
    frame["time_ns"] = pd.Series(
        table["event_time"]
        .cast(pa.int64())
        .to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    ).array
    frame["input"] = frame["input_id"].map(inv.input_paths)
    return frame


def _forward_rows(inv: Investigation) -> pd.DataFrame:
    """Every inbox-rule copy for an outside address: the copy's MAILBOXRULE row, the outside
    target, and the internal mailboxes whose rule made it (``mailboxes``)."""
    events = inv.chains.events
    if events.num_rows == 0 or "source" not in events.column_names:
        return pd.DataFrame()
    by_rule = fill_false(pc.equal(pc.utf8_upper(events["source"]), "MAILBOXRULE"))
    rule_rows = _event_rows(inv, by_rule)
    if rule_rows.empty:
        return rule_rows
    rule_rows = rule_rows.sort_values(["time_ns", "input", "line"]).drop_duplicates("message_key")
    keys = sorted(set(rule_rows["message_key"].dropna()))
    recipients = inv.chains.recipients
    copies = (
        recipients.select(["message_key", "recipient_address"])
        .filter(
            fill_false(pc.is_in(recipients["message_key"], value_set=pa.array(keys, pa.string())))
        )
        .to_pandas()
    )
    copies["target"] = copies["recipient_address"].map(address_text)
    copies = copies[~inv.internal_mask(copies["target"])].dropna(subset=["target"])
    links = inv.chains.links.to_pandas()
    links = links[(links["relation"] == "inbox_rule_forward_of") & links["message_key"].isin(keys)]
    triggered = (
        recipients.select(["message_key", "recipient_address"])
        .filter(
            fill_false(
                pc.is_in(
                    recipients["message_key"],
                    value_set=pa.array(
                        sorted(set(links["related_message_key"].dropna())), pa.string()
                    ),
                )
            )
        )
        .to_pandas()
    )
    triggered["mailbox"] = triggered["recipient_address"].map(address_text)
    triggered = triggered[inv.internal_mask(triggered["mailbox"])]
    by_trigger = links.merge(
        triggered, left_on="related_message_key", right_on="message_key", suffixes=("", "_trigger")
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


def _redirect_rows(inv: Investigation) -> pd.DataFrame:
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


def _outward(rows: pd.DataFrame, mailbox: str, how: str) -> list[dict[str, Any]]:
    if rows.empty:
        return []
    mine = rows[rows["mailbox"] == mailbox].sort_values(["time_ns", "target", "input", "line"])
    return [
        {
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
    ]


@dataclass(frozen=True)
class MailboxView:
    """One mailbox as the data shows it (see the module doc).

    Attributes:
        address: the mailbox (lower case).
        affected: its entry in the incident summary, or None when no finding in scope gives
            it a role.
        findings: ``{"id", "rule", "severity", "title"}`` of every finding naming it.
        since_ns: the time new correspondents are counted from, or None.
        since_from: where it came from: ``--since``, ``first suspicious time``, or None.
        data: the view's lists and counts (``to_json`` gives them with the rest).
    """

    address: str
    affected: AffectedMailbox | None
    findings: tuple[dict[str, str], ...]
    since_ns: int | None
    since_from: str | None
    data: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """``{"address", "role", "roles", "first_seen", "last_seen", "findings", "since",
        "since_from", "sent", "received", "new_correspondents", "new_domains", "ips",
        "forwards", "redirects"}``."""
        affected = self.affected
        return {
            "address": self.address,
            "role": affected.role if affected else None,
            "roles": [role.to_json() for role in affected.roles] if affected else [],
            "first_seen": iso_utc(affected.first_ns) if affected else None,
            "last_seen": iso_utc(affected.last_ns) if affected else None,
            "findings": [dict(ref) for ref in self.findings],
            "since": iso_utc(self.since_ns),
            "since_from": self.since_from,
            **self.data,
        }


def known_addresses(inv: Investigation) -> set[str]:
    """Every sender and recipient address of the case (``address_key`` form)."""
    r = inv.chains.recipients
    found = pc.unique(
        pa.chunked_array(
            [*address_key(r["sender_address"]).chunks, *address_key(r["recipient_address"]).chunks],
            pa.string(),
        )
    )
    return {a for a in found.to_pylist() if a}


def mailbox_views(
    inv: Investigation, addresses: Iterable[str], since_ns: int | None = None
) -> dict[str, MailboxView]:
    """The views of these mailboxes (those not in the data are left out).

    Args:
        inv: the investigation.
        addresses: the mailboxes, in any case or with ``<>``.
        since_ns: count new correspondents from this time (default: each mailbox's first
            suspicious time).

    Returns:
        Address (lower case) -> view, in the order asked.
    """
    keys = list(dict.fromkeys(a for a in map(address_text, addresses) if a))
    frame = _frame(inv, keys)
    affected = {m.address: m for m in affected_mailboxes(inv)}
    received_keys = frame.loc[frame["recipient_key"].isin(keys), "message_key"]
    facts = delivery_facts(inv.chains, received_keys)
    forwards, redirects = _forward_rows(inv), _redirect_rows(inv)
    naming: dict[str, list[int]] = {}
    first_row: dict[str, int] = {}
    for index in range(len(inv.findings)):
        found = inv.facts(index)
        named = set(found.actor) | set(found.recipients) | set(found.delivered_mailboxes)
        for address in named & set(keys):
            naming.setdefault(address, []).append(index)
            times = [t for t in map(time_ns, found.rows) if t is not None]
            if times:
                first_row[address] = min(first_row.get(address, times[0]), *times)
    views = {}
    for address in keys:
        sent = frame[frame["sender_key"] == address]
        received = frame[frame["recipient_key"] == address]
        if sent.empty and received.empty:
            continue
        entry = affected.get(address)
        since, since_from = since_ns, "--since" if since_ns is not None else None
        if since is None:
            since = entry.first_ns if entry and entry.first_ns is not None else None
            since = first_row.get(address) if since is None else since
            since_from = "first suspicious time" if since is not None else None
        exchanges = _exchanges(address, sent, received)
        data = {
            "sent": {
                **_counts(sent),
                "outside_copy_count": int((~inv.internal_mask(sent["recipient_key"])).sum()),
                "messages": _sent_messages(sent),
            },
            "received": {
                **_counts(received),
                "messages": _received_messages(received, facts[facts["recipient_key"] == address]),
            },
            "new_correspondents": _new_since(exchanges, "address", since),
            "new_domains": _new_since(exchanges, "domain", since),
            "ips": _ips(sent),
            "forwards": _outward(forwards, address, "inbox rule"),
            "redirects": _outward(redirects, address, "redirect"),
        }
        views[address] = MailboxView(
            address=address,
            affected=entry,
            findings=tuple(inv.finding_ref(n) for n in naming.get(address, [])),
            since_ns=since,
            since_from=since_from,
            data=data,
        )
    return views


def mailbox_view(inv: Investigation, address: str, since_ns: int | None = None) -> MailboxView:
    """The view of one mailbox (see ``mailbox_views``).

    Raises:
        NotFoundError: the address sends and receives nothing in the data; the message names
            close matches.
    """
    key = address_text(address) or ""
    views = mailbox_views(inv, [key], since_ns)
    if key in views:
        return views[key]
    close = difflib.get_close_matches(key, sorted(known_addresses(inv)), n=3, cutoff=0.75)
    hint = (
        f"; did you mean {', '.join(close)}?"
        if close
        else ("; msgtrace search lists the senders and recipients")
    )
    raise NotFoundError(f"{address!r} sends and receives no mail in this data{hint}")


def _shown(values: list[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], str]:
    if len(values) <= limit:
        return values, ""
    return values[:limit], f"    ... and {len(values) - limit:,} more (--json lists them all)"


def _statuses(counts: dict[str, Any]) -> str:
    by_status = ", ".join(f"{status} {n:,}" for status, n in counts["by_status"].items())
    return f"{counts['message_count']:,} messages, {counts['copy_count']:,} copies" + (
        f" ({by_status})" if by_status else ""
    )


#: The longest subject the text shows (JSON has it whole).
SUBJECT_WIDTH = 80


def _subject(subject: str | None) -> str:
    text = terminal_safe(subject or "(no subject)")
    return text if len(text) <= SUBJECT_WIDTH else text[: SUBJECT_WIDTH - 1] + "…"


def _time(value: str | None, zone: DisplayZone) -> str:
    return zone.format(pd.Timestamp(value) if value else None)


def mailbox_text(view: MailboxView, zone: DisplayZone = UTC, limit: int = 20) -> str:
    """The view for a terminal (export text made terminal-safe; lists cut at ``limit``)."""
    data, safe = view.data, terminal_safe
    out = [f"Mailbox {safe(view.address)}  ({zone.note()})"]
    if view.affected:
        out.append(f"  roles: {safe(view.affected.role)}")
        out.append(
            f"  suspicious from {zone.format(view.affected.first_ns)} to "
            f"{zone.format(view.affected.last_ns)}"
        )
    else:
        out.append("  no finding in scope gives it a role")
    out.append(f"Findings naming it ({len(view.findings)}):")
    out += [
        f"  {ref['id']} [{ref['rule']}, {ref['severity']}] {safe(ref['title'])}"
        for ref in view.findings
    ] or ["  none"]
    sent = data["sent"]
    out.append(
        f"Sent: {_statuses(sent)}; {sent['outside_copy_count']:,} copies to outside recipients"
    )
    shown, more = _shown(sent["messages"], limit)
    for item in shown:
        to = ", ".join(item["recipients"][:3]) + (
            f" and {len(item['recipients']) - 3} more" if len(item["recipients"]) > 3 else ""
        )
        ident = item["network_message_id"] or item["message_key"]
        out.append(
            f"  {_time(item['time'], zone)}  {_subject(item['subject'])}  to {safe(to)}  "
            f"[{', '.join(item['statuses'])}]  {safe(ident)}"
        )
    out += [more] if more else []
    received = data["received"]
    out.append(f"Received: {_statuses(received)}")
    shown, more = _shown(received["messages"], limit)
    for item in shown:
        stay = ""
        if item["removed_at"]:
            stay = (
                f"; removed by {safe(item['removed_by'] or '?')} {_time(item['removed_at'], zone)}"
            )
        out.append(
            f"  {_time(item['time'], zone)}  from {safe(item['sender'] or '?')}  "
            f"{_subject(item['subject'])}  [{item['final_status']}{stay}]  "
            f"{safe(item['network_message_id'] or item['message_key'])}"
        )
    out += [more] if more else []
    out.append(f"Sending IPs ({len(data['ips'])}):")
    out += [
        f"  {safe(ip['ip'])}  {Count(ip['messages']):message}, {_time(ip['first_seen'], zone)} to "
        f"{_time(ip['last_seen'], zone)}"
        for ip in data["ips"]
    ] or ["  none"]
    for title, key in (("Forwards out (inbox rules)", "forwards"), ("Redirects out", "redirects")):
        out.append(f"{title} ({len(data[key])}):")
        out += [
            f"  {_time(item['time'], zone)}  to {safe(item['target'])}  "
            f"{_subject(item['subject'])}  [{safe(item['input'] or '?')}:"
            f"{item['line']}]"
            for item in data[key]
        ] or ["  none"]
    if view.since_ns is None:
        out.append("New correspondents: no suspicious time to count from; give --since")
    else:
        since = f"since {zone.format(view.since_ns)} ({view.since_from})"
        for title, key, name in (
            ("New correspondents", "new_correspondents", "address"),
            ("New domains", "new_domains", "domain"),
        ):
            out.append(f"{title} {since} ({len(data[key])}):")
            shown, more = _shown(data[key], limit)
            out += [
                f"  {safe(item[name])}  first {_time(item['first_seen'], zone)}, "
                f"{Count(item['messages']):message}, {' and '.join(item['how'])}"
                for item in shown
            ] or ["  none"]
            out += [more] if more else []
    return "\n".join(out) + "\n"


__all__ = [
    "MailboxView",
    "known_addresses",
    "mailbox_text",
    "mailbox_view",
    "mailbox_views",
    "parse_since",
]
