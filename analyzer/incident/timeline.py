"""The incident timeline: the key moments of every finding in scope, merged in time order.

Each rule declares its moments (``analyzer.findings.story.Moment``); each moment is made of
input rows, never of a time alone:

- ``first`` / ``last``: the finding's evidence rows (of the declared event ids) at its
  earliest (latest) time, the latest including the row the evidence cap left out;
- ``delivered``: the rows that delivered copies of the cited messages into internal mailboxes
  (``analyzer.incident.delivery``), one moment at the first delivery;
- ``removed``: the rows that took delivered copies out again, one moment per way of removal
  (Phish ZAP, manual remediation, ...), at the first removal, with how long the copies stayed.

A finding whose story needs a delivery (a phish, malware) tells no moment while no copy was
delivered; a moment whose rows are those of an earlier moment of the same finding (a single
forward is its first and its last) is told once. Moments are ordered by time, then by the
findings' order (most urgent first), then by their declaration order.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analyzer.findings import Evidence
from analyzer.findings.story import Moment
from analyzer.identifiers import address_text
from analyzer.incident.base import FindingFacts, Investigation, time_ns
from analyzer.incident.words import Count, Names, fill
from analyzer.timestamps import duration_text, iso_utc


@dataclass(frozen=True)
class Row:
    """One input row a moment rests on."""

    input: str | None
    input_id: str | None
    line: int | None
    time_ns: int | None
    event_id: str | None = None
    recipient_address: str | None = None
    message_key: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"input", "line", "time", "event_id", "recipient_address", "message_key"}``."""
        return {
            "input": self.input,
            "line": self.line,
            "time": iso_utc(self.time_ns),
            "event_id": self.event_id,
            "recipient_address": self.recipient_address,
            "message_key": self.message_key,
        }

    @property
    def place(self) -> tuple[str, int]:
        return (self.input or "", self.line if self.line is not None else -1)


@dataclass(frozen=True)
class Entry:
    """One moment of the incident.

    Attributes:
        time_ns: when (nanoseconds since the epoch, UTC).
        what: what happened, in words (export text as written).
        mailboxes: the mailboxes it is about, sorted (may be empty).
        rule: the rule id of its finding.
        finding: the finding's id.
        severity: the finding's severity.
        rows: the input rows it rests on, by input and line.
    """

    time_ns: int
    what: str
    mailboxes: tuple[str, ...]
    rule: str
    finding: str
    severity: str
    rows: tuple[Row, ...]

    @property
    def mailbox(self) -> str | None:
        """Its one mailbox, or None when it is about none or several."""
        return self.mailboxes[0] if len(self.mailboxes) == 1 else None

    def to_json(self) -> dict[str, Any]:
        """``{"time", "what", "mailbox", "mailboxes", "rule", "finding", "severity",
        "evidence": [{"input", "line", ...}]}``."""
        return {
            "time": iso_utc(self.time_ns),
            "what": self.what,
            "mailbox": self.mailbox,
            "mailboxes": list(self.mailboxes),
            "rule": self.rule,
            "finding": self.finding,
            "severity": self.severity,
            "evidence": [row.to_json() for row in self.rows],
        }


def _evidence_row(item: Evidence) -> Row:
    return Row(
        input=item.input,
        input_id=item.input_id,
        line=item.line,
        time_ns=time_ns(item),
        event_id=item.event_id,
        recipient_address=item.recipient_address,
        message_key=item.message_key,
    )


def _fact_rows(inv: Investigation, frame: pd.DataFrame, prefix: str, time: str) -> list[Row]:
    """The distinct input rows of delivery facts (``deliver`` or ``removal`` rows)."""
    rows: dict[tuple[str, int], Row] = {}
    for record in frame.to_dict("records"):
        input_id = record[prefix + "_input_id"]
        line = record[prefix + "_line"]
        row = Row(
            input=inv.input_paths.get(input_id, input_id),
            input_id=input_id,
            line=None if pd.isna(line) else int(line),
            time_ns=int(record[time]),
            recipient_address=record["recipient_key"],
            message_key=record["message_key"],
        )
        rows.setdefault(row.place, row)
    return sorted(rows.values(), key=lambda r: (r.time_ns or 0, r.place))


def _values(facts: FindingFacts, mailboxes: Iterable[str], rows: list[Row]) -> dict[str, Any]:
    found = {address_text(r.recipient_address) for r in rows} - {None}
    return {
        "mailboxes": Names(sorted(set(mailboxes))),
        "count": Count(len(set(mailboxes))),
        "targets": Names([t for t in facts.targets if t in found] or facts.targets),
        "domains": Names(facts.domains),
        "ips": Names(facts.ips),
        "rules": Names(facts.rules),
        "title": facts.finding.title,
        "total": Count(max(facts.finding.evidence_total, len(facts.finding.evidence))),
        "removed_by": "",
        "dwell": "",
    }


def _picked(facts: FindingFacts, moment: Moment) -> list[Row]:
    wanted = {e.upper() for e in moment.events}
    rows = [
        _evidence_row(item)
        for item in facts.rows
        if item.time and (not wanted or (item.event_id or "").upper() in wanted)
    ]
    if not rows:
        return []
    edge = (min if moment.rows == "first" else max)(r.time_ns or 0 for r in rows)
    chosen = {(*r.place, r.recipient_address or ""): r for r in rows if r.time_ns == edge}
    return sorted(chosen.values(), key=lambda r: r.place)


def _mailboxes(inv: Investigation, facts: FindingFacts, moment: Moment, rows: list[Row]):
    if moment.about == "actor":
        return facts.actor
    if moment.about == "none":
        return []
    found = {address_text(r.recipient_address) for r in rows}
    return sorted(a for a in found if a and inv.is_internal(a))


def _entry(
    facts: FindingFacts,
    moment: Moment,
    values: dict[str, Any],
    rows: list[Row],
    mailboxes: Iterable[str],
) -> Entry:
    return Entry(
        time_ns=min(r.time_ns for r in rows if r.time_ns is not None),
        what=fill(moment.what, values),
        mailboxes=tuple(sorted(set(mailboxes))),
        rule=facts.finding.rule,
        finding=facts.id,
        severity=facts.finding.severity,
        rows=tuple(rows),
    )


def _delivery_entries(inv: Investigation, facts: FindingFacts, moment: Moment) -> list[Entry]:
    delivered = facts.delivered
    if delivered.empty:
        return []
    if moment.rows == "delivered":
        rows = _fact_rows(inv, delivered, "deliver", "delivered_ns")
        mailboxes = sorted(set(delivered["recipient_key"]))
        return [_entry(facts, moment, _values(facts, mailboxes, rows), rows, mailboxes)]
    entries = []
    removed = delivered[delivered["removed_ns"].notna()]
    for removed_by, group in removed.groupby("removed_by", sort=True):
        rows = _fact_rows(inv, group, "removal", "removed_ns")
        mailboxes = sorted(set(group["recipient_key"]))
        values = _values(facts, mailboxes, rows)
        shortest, longest = group["dwell_seconds"].min(), group["dwell_seconds"].max()
        dwell = duration_text(shortest)
        values["dwell"] = (
            dwell if duration_text(longest) == dwell else (f"{dwell} to {duration_text(longest)}")
        )
        values["removed_by"] = str(removed_by)
        entries.append(_entry(facts, moment, values, rows, mailboxes))
    return entries


def finding_moments(inv: Investigation, facts: FindingFacts) -> list[Entry]:
    """The key moments of one finding, in declaration order (see the module doc)."""
    if not facts.active:
        return []
    entries: list[Entry] = []
    told: set[tuple[tuple[str, int], ...]] = set()
    for moment in facts.story.moments:
        if moment.rows in ("delivered", "removed"):
            made = _delivery_entries(inv, facts, moment)
        else:
            rows = _picked(facts, moment)
            if not rows:
                continue
            mailboxes = _mailboxes(inv, facts, moment, rows)
            made = [_entry(facts, moment, _values(facts, mailboxes, rows), rows, mailboxes)]
        for entry in made:
            places = tuple(sorted(r.place for r in entry.rows))
            if places not in told:
                told.add(places)
                entries.append(entry)
    return entries


def incident_timeline(inv: Investigation) -> list[Entry]:
    """Every finding in scope's key moments, in time order (then finding order, then the
    order its rule declares them)."""
    numbered = [
        (entry.time_ns, facts.index, order, entry)
        for facts in inv.scoped_facts()
        for order, entry in enumerate(finding_moments(inv, facts))
    ]
    return [entry for *_, entry in sorted(numbered, key=lambda item: item[:3])]


__all__ = ["Entry", "Row", "finding_moments", "incident_timeline"]
