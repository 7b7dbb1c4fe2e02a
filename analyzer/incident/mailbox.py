"""One mailbox as the data shows it: what it sent and received, who is new, where it sent
from, what it forwards and redirects out, and the findings that name it.

``mailbox_views`` computes the views of many mailboxes in one pass over the chains'
recipients table (``analyzer.incident.activity``: one filter, then one group-by per list for
all the mailboxes together); ``mailbox_view`` is one of them, or ``NotFoundError`` with close
matches.

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

from analyzer.errors import NotFoundError, OptionError
from analyzer.identifiers import address_key, address_text
from analyzer.incident import activity
from analyzer.incident.base import Investigation, time_ns
from analyzer.incident.delivery import delivery_facts
from analyzer.incident.summary import AffectedMailbox, affected_mailboxes
from analyzer.incident.words import Count
from analyzer.text import terminal_safe
from analyzer.timestamps import UTC, DisplayZone, iso_utc, parse_timestamps


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
    sent, received = activity.sides(inv, keys)
    affected = {m.address: m for m in affected_mailboxes(inv)}
    facts = delivery_facts(inv.chains, received["message_key"])
    naming, first_row = _naming(inv, keys)
    since: dict[str, int | None] = {}
    for address in keys:
        entry = affected.get(address)
        since[address] = since_ns
        if since_ns is None:
            first = entry.first_ns if entry and entry.first_ns is not None else None
            since[address] = first_row.get(address) if first is None else first
    exchanges = activity.exchanges(sent, received)
    sent_counts, received_counts = activity.counts(sent), activity.counts(received)
    outside = sent[~inv.internal_mask(sent["recipient_key"])].groupby("mailbox").size()
    lists = {
        "sent": activity.sent_messages(sent),
        "received": activity.received_messages(received, facts),
        "new_correspondents": activity.new_since(exchanges, "address", since),
        "new_domains": activity.new_since(exchanges, "domain", since),
        "ips": activity.sending_ips(sent),
        "forwards": activity.outward(activity.forward_rows(inv), keys, "inbox rule"),
        "redirects": activity.outward(activity.redirect_rows(inv), keys, "redirect"),
    }
    empty: dict[str, Any] = {"message_count": 0, "copy_count": 0, "by_status": {}}
    views = {}
    for address in keys:
        if address not in sent_counts and address not in received_counts:
            continue
        sent_part: dict[str, Any] = dict(sent_counts.get(address, empty))
        sent_part["outside_copy_count"] = int(outside.get(address, 0))
        sent_part["messages"] = lists["sent"].get(address, [])
        received_part: dict[str, Any] = dict(received_counts.get(address, empty))
        received_part["messages"] = lists["received"].get(address, [])
        data: dict[str, Any] = {"sent": sent_part, "received": received_part}
        for name in list(lists)[2:]:
            data[name] = lists[name].get(address, [])
        from_option = since_ns is not None
        views[address] = MailboxView(
            address=address,
            affected=affected.get(address),
            findings=tuple(inv.finding_ref(n) for n in naming.get(address, [])),
            since_ns=since[address],
            since_from="--since"
            if from_option
            else ("first suspicious time" if since[address] is not None else None),
            data=data,
        )
    return views


def _naming(inv: Investigation, keys: list[str]) -> tuple[dict[str, list[int]], dict[str, int]]:
    """Per mailbox of ``keys``: the findings naming it (any severity), and the first time of
    their rows."""
    naming: dict[str, list[int]] = {}
    first_row: dict[str, int] = {}
    wanted = set(keys)
    for index in range(len(inv.findings)):
        found = inv.facts(index)
        named = set(found.actor) | set(found.recipients) | set(found.delivered_mailboxes)
        times = [t for t in map(time_ns, found.rows) if t is not None]
        for address in sorted(named & wanted):
            naming.setdefault(address, []).append(index)
            if times:
                first_row[address] = min(first_row.get(address, times[0]), *times)
    return naming, first_row


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
