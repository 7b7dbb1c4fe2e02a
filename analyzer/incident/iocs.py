"""Indicators: the domains, addresses, IPs, subjects, message ids and URLs behind the findings,
and who to notify.

Each rule declares the kinds of indicator behind its findings (``Story.indicators``, see
``analyzer.findings.story.INDICATORS`` for where each value comes from). For each value of a
finding in scope: its type (``domain``, ``sender``, ``forwarding_address``, ``ip``,
``subject``, ``message_id``, ``url``), the first and last time a message with it appears
anywhere in the case and how many messages do (one vectorized group-by per type over the
chains' recipients table), and the findings behind it.

Who to notify: the internal recipients who had a copy of a message cited by a finding whose
messages are malicious (``Story.malicious_mail``: phish, malware, look-alike domains)
delivered into their mailbox, with when it was delivered, when and by what it was removed,
and how long it stayed (``analyzer.incident.delivery``); a copy not removed in the data is
still delivered at the end of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.identifiers import (
    address_key,
    address_text,
    domain_of,
    domain_text,
    message_id_key,
    message_id_text,
)
from analyzer.incident.base import FindingFacts, Investigation
from analyzer.incident.words import Count
from analyzer.text import csv_text, terminal_safe
from analyzer.timestamps import UTC, DisplayZone, duration_text, iso_utc

#: Indicator types in the order they are listed.
TYPES = ("domain", "sender", "forwarding_address", "ip", "subject", "message_id", "url")

#: The indicator type of each kind a story declares.
TYPE_OF_KIND = {
    "sender": "sender",
    "sender_domain": "domain",
    "domain": "domain",
    "subject": "subject",
    "message_id": "message_id",
    "sender_ip": "ip",
    "ip": "ip",
    "target": "forwarding_address",
    "url": "url",
}

#: The CSV's columns (indicators, then the recipients to notify as ``notify`` rows).
CSV_COLUMNS = (
    "type",
    "value",
    "first_seen",
    "last_seen",
    "messages",
    "findings",
    "message_id",
    "removed_by",
    "dwell_seconds",
)


@dataclass(frozen=True)
class Indicator:
    """One indicator.

    Attributes:
        type: one of ``TYPES``.
        value: as the export wrote it (addresses and domains lower case).
        first_ns, last_ns: the first and last time a message with it appears in the case.
        messages: how many messages of the case have it.
        findings: the ids of the findings behind it.
    """

    type: str
    value: str
    first_ns: int | None
    last_ns: int | None
    messages: int
    findings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"type", "value", "first_seen", "last_seen", "messages", "findings"}``."""
        return {
            "type": self.type,
            "value": self.value,
            "first_seen": iso_utc(self.first_ns),
            "last_seen": iso_utc(self.last_ns),
            "messages": self.messages,
            "findings": list(self.findings),
        }


@dataclass(frozen=True)
class Notify:
    """One recipient who had a malicious message delivered.

    Attributes:
        recipient: the mailbox.
        message_key, network_message_id, message_id, sender, subject: the message.
        delivered_ns: when it was delivered; removed_ns, removed_by: when and by what it
            was taken out (None while it stays); dwell_seconds: how long it stayed (None
            while it stays).
        findings: the ids of the findings citing the message.
        rows: ``(input, line)`` of the delivery row and, if removed, of the removal row.
    """

    recipient: str
    message_key: str
    network_message_id: str | None
    message_id: str | None
    sender: str | None
    subject: str | None
    delivered_ns: int
    removed_ns: int | None
    removed_by: str | None
    dwell_seconds: float | None
    findings: tuple[str, ...]
    rows: tuple[tuple[str, int | None], ...]

    def to_json(self) -> dict[str, Any]:
        """``{"recipient", "message_key", "network_message_id", "message_id", "sender",
        "subject", "delivered_at", "removed_at", "removed_by", "dwell_seconds",
        "still_delivered", "findings", "evidence": [{"input", "line"}]}``."""
        return {
            "recipient": self.recipient,
            "message_key": self.message_key,
            "network_message_id": self.network_message_id,
            "message_id": self.message_id,
            "sender": self.sender,
            "subject": self.subject,
            "delivered_at": iso_utc(self.delivered_ns),
            "removed_at": iso_utc(self.removed_ns),
            "removed_by": self.removed_by,
            "dwell_seconds": self.dwell_seconds,
            "still_delivered": self.removed_ns is None,
            "findings": list(self.findings),
            "evidence": [{"input": path, "line": line} for path, line in self.rows],
        }


@dataclass(frozen=True)
class Indicators:
    """What ``msgtrace iocs`` prints.

    Attributes:
        min_severity: the scope (findings of this severity or above).
        indicators: by type (``TYPES`` order), then first seen, then value.
        notify: by recipient, then delivery time.
    """

    min_severity: str
    indicators: tuple[Indicator, ...]
    notify: tuple[Notify, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"scope", "indicators": [...], "notify": [...]}``."""
        return {
            "scope": {"min_severity": self.min_severity},
            "indicators": [item.to_json() for item in self.indicators],
            "notify": [item.to_json() for item in self.notify],
        }


def _urls(inv: Investigation) -> pd.DataFrame:
    """``message_key``, ``url``, ``time_ns`` of the events that carry a URL (Defender URL
    data), or an empty frame when the events have no ``url`` column."""
    events = inv.chains.events
    if "url" not in events.column_names:
        return pd.DataFrame({"message_key": [], "url": [], "time_ns": []})
    url = pc.utf8_trim_whitespace(events["url"].cast(pa.string()))
    mask = fill_false(pc.greater(pc.utf8_length(url), 0))
    return pd.DataFrame(
        {
            "message_key": events["message_key"].filter(mask).to_pandas(),
            "url": url.filter(mask).to_pandas(),
            "time_ns": events["event_time"].filter(mask).cast(pa.int64()).to_pandas(),
        }
    )


def _values(inv: Investigation, facts: FindingFacts, kind: str, urls: pd.DataFrame) -> list[str]:
    """The values of one kind behind one finding (see ``analyzer.findings.story``)."""
    if kind == "sender":
        return facts.senders
    if kind == "sender_domain":
        return sorted({d for d in map(domain_text, facts.senders) if d})
    if kind == "domain":
        messages = inv.messages[inv.messages["message_key"].isin(facts.message_keys)]
        seen = {domain_text(a) for a in messages["sender_key"].dropna().unique()}
        seen |= {domain_text(r.recipient_address) for r in facts.rows}
        return [d for d in facts.domains if d in seen]
    if kind == "url":
        return sorted(set(urls.loc[urls["message_key"].isin(facts.message_keys), "url"]))
    chosen: dict[str, list[str]] = {
        "subject": facts.subjects,
        "message_id": facts.message_ids,
        "sender_ip": facts.sender_ips,
        "ip": facts.ips,
        "target": facts.targets,
    }
    return chosen[kind]


def _keyed(inv: Investigation, kind: str) -> list[tuple[pa.ChunkedArray, pa.ChunkedArray]]:
    """(key, time) columns over the recipients table that an indicator type is matched on."""
    r = inv.chains.recipients
    time = r["first_time"].cast(pa.int64())
    if kind == "sender":
        return [(address_key(r["sender_address"]), time)]
    if kind == "forwarding_address":
        return [(address_key(r["recipient_address"]), time)]
    if kind == "domain":
        return [(domain_of(r["sender_address"]), time), (domain_of(r["recipient_address"]), time)]
    if kind == "message_id":
        return [(message_id_key(r["message_id"]), time)]
    if kind == "ip":
        return [(pc.utf8_trim_whitespace(r["from_ip"]), time)]
    return [(pc.utf8_trim_whitespace(r["message_subject"]), time)]


def _match_key(kind: str, value: str) -> str:
    if kind in ("sender", "forwarding_address"):
        return address_text(value) or value
    if kind == "domain":
        return value.lower()
    if kind == "message_id":
        return message_id_text(value) or value
    return value.strip()


def _stats(inv: Investigation, kind: str, values: list[str], urls: pd.DataFrame) -> pd.DataFrame:
    """Per matching key: ``first_ns``, ``last_ns``, ``messages`` over the whole case."""
    keys = sorted({_match_key(kind, v) for v in values})
    if kind == "url":
        rows = urls[urls["url"].isin(keys)].rename(columns={"url": "key"})
    else:
        parts = []
        wanted = pa.array(keys, pa.string())
        for key, time in _keyed(inv, kind):
            mask = fill_false(pc.is_in(key, value_set=wanted))
            parts.append(
                pd.DataFrame(
                    {
                        "key": key.filter(mask).to_pandas(),
                        "time_ns": time.filter(mask).to_pandas(),
                        "message_key": inv.chains.recipients["message_key"]
                        .filter(mask)
                        .to_pandas(),
                    }
                )
            )
        rows = pd.concat(parts, ignore_index=True)
    grouped = rows.groupby("key")
    return pd.DataFrame(
        {
            "first_ns": grouped["time_ns"].min(),
            "last_ns": grouped["time_ns"].max(),
            "messages": grouped["message_key"].nunique(),
        }
    )


def _notify(inv: Investigation, scoped: list[FindingFacts]) -> list[Notify]:
    asked: dict[tuple[str, str], list[str]] = {}
    for facts in scoped:
        if facts.story.malicious_mail:
            delivered = facts.delivered
            for pair in zip(delivered["recipient_key"], delivered["message_key"], strict=True):
                ids = asked.setdefault(pair, [])
                if facts.id not in ids:
                    ids.append(facts.id)
    if not asked:
        return []
    facts_by_pair = {
        (record["recipient_key"], record["message_key"]): record
        for record in inv.delivery.to_dict("records")
    }
    messages = {
        record["message_key"]: record
        for record in inv.messages.drop_duplicates("message_key").to_dict("records")
    }
    found = []
    for (recipient, key), ids in asked.items():
        fact = facts_by_pair[(recipient, key)]
        message = messages.get(key, {})
        removed = None if pd.isna(fact["removed_ns"]) else int(fact["removed_ns"])
        rows = [(inv.input_paths.get(fact["deliver_input_id"], ""), _line(fact["deliver_line"]))]
        if removed is not None:
            rows.append(
                (inv.input_paths.get(fact["removal_input_id"], ""), _line(fact["removal_line"]))
            )
        found.append(
            Notify(
                recipient=recipient,
                message_key=key,
                network_message_id=_text(message, "network_message_id"),
                message_id=_text(message, "message_id"),
                sender=_text(message, "sender_address"),
                subject=_text(message, "message_subject"),
                delivered_ns=int(fact["delivered_ns"]),
                removed_ns=removed,
                removed_by=None if removed is None else str(fact["removed_by"]),
                dwell_seconds=None if removed is None else float(fact["dwell_seconds"]),
                findings=tuple(ids),
                rows=tuple(rows),
            )
        )
    return sorted(found, key=lambda n: (n.recipient, n.delivered_ns, n.message_key))


def _line(value: Any) -> int | None:
    return None if pd.isna(value) else int(value)


def _text(row: dict[Any, Any], name: str) -> str | None:
    value = row.get(name)
    return None if value is None or pd.isna(value) else str(value)


def indicators(inv: Investigation) -> Indicators:
    """The indicators behind the findings in scope, and who to notify (see the module doc)."""
    urls = _urls(inv)
    behind: dict[tuple[str, str], list[str]] = {}
    scoped = inv.scoped_facts()
    for facts in scoped:
        for kind in facts.story.indicators:
            for value in _values(inv, facts, kind, urls):
                ids = behind.setdefault((TYPE_OF_KIND[kind], value), [])
                if facts.id not in ids:
                    ids.append(facts.id)
    found = []
    for kind in TYPES:
        values = [value for (type_, value) in behind if type_ == kind]
        if not values:
            continue
        stats = _stats(inv, kind, values, urls).to_dict("index")
        for value in values:
            row = stats.get(_match_key(kind, value))
            found.append(
                Indicator(
                    type=kind,
                    value=value,
                    first_ns=None if row is None else int(row["first_ns"]),
                    last_ns=None if row is None else int(row["last_ns"]),
                    messages=0 if row is None else int(row["messages"]),
                    findings=tuple(behind[(kind, value)]),
                )
            )
    order = {kind: n for n, kind in enumerate(TYPES)}
    found.sort(key=lambda i: (order[i.type], i.first_ns or 0, i.value))
    return Indicators(inv.min_severity, tuple(found), tuple(_notify(inv, scoped)))


def _stay(item: Notify, zone: DisplayZone) -> str:
    if item.removed_ns is None:
        return "still delivered at the end of the data"
    return (
        f"removed by {item.removed_by} at {zone.format(item.removed_ns)}, after "
        f"{duration_text(item.dwell_seconds)}"
    )


def indicators_text(found: Indicators, zone: DisplayZone = UTC) -> str:
    """Indicators and who to notify, for a terminal (export text made terminal-safe)."""
    out = [
        f"Indicators ({len(found.indicators)}) behind the findings of {found.min_severity} "
        f"severity or above. {zone.note()}"
    ]
    for kind in TYPES:
        items = [i for i in found.indicators if i.type == kind]
        if not items:
            continue
        out.append("")
        out.append(f"{kind} ({len(items)}):")
        for item in items:
            out.append(f"  {terminal_safe(item.value)}")
            out.append(
                f"    {zone.format(item.first_ns)} to {zone.format(item.last_ns)}; "
                f"{Count(item.messages):message}; {', '.join(item.findings)}"
            )
    if not found.indicators:
        out.append("  none")
    out.append("")
    out.append(
        f"Who to notify ({len(found.notify)}): recipients who had a malicious message delivered"
    )
    if not found.notify:
        out.append("  none")
    for notify in found.notify:
        out.append(f"  {terminal_safe(notify.recipient)}")
        about = notify.message_id or notify.network_message_id or notify.message_key
        out.append(
            f"    {terminal_safe(about)} from {terminal_safe(notify.sender or '?')}: "
            f"{terminal_safe(notify.subject or '(no subject)')}"
        )
        out.append(
            f"    delivered {zone.format(notify.delivered_ns)}, {_stay(notify, zone)}; "
            f"{', '.join(notify.findings)}"
        )
    return "\n".join(out) + "\n"


def indicators_csv(found: Indicators, *, terminal: bool = False) -> str:
    """Indicators, then the recipients to notify (type ``notify``), as formula-safe CSV
    (``CSV_COLUMNS``; times ISO 8601 UTC; findings separated by spaces)."""
    rows: list[list[object]] = [
        [
            i.type,
            i.value,
            iso_utc(i.first_ns),
            iso_utc(i.last_ns),
            i.messages,
            " ".join(i.findings),
            "",
            "",
            "",
        ]
        for i in found.indicators
    ]
    rows += [
        [
            "notify",
            n.recipient,
            iso_utc(n.delivered_ns),
            iso_utc(n.removed_ns),
            1,
            " ".join(n.findings),
            n.message_id or n.network_message_id or "",
            n.removed_by or "",
            "" if n.dwell_seconds is None else f"{n.dwell_seconds:.3f}",
        ]
        for n in found.notify
    ]
    return csv_text(CSV_COLUMNS, rows, terminal=terminal)


__all__ = [
    "CSV_COLUMNS",
    "TYPES",
    "Indicator",
    "Indicators",
    "Notify",
    "indicators",
    "indicators_csv",
    "indicators_text",
]
