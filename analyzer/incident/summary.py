"""The incident summary: affected mailboxes, one timeline, one checklist of next steps.

Scope: the findings of ``Investigation.min_severity`` or above (medium by default).

Affected mailboxes are the internal mailboxes a finding in scope gives a role (its rule's
``Story.roles``: actor roles such as "sent the burst" go to the finding's internal mailboxes,
recipient roles to the internal recipients of its evidence rows, "received a delivered
phish" to those who had a copy delivered; a phish or malware finding with no delivered copy
gives none). For each: its roles, the findings in scope that name it (as actor, evidence
recipient, delivered recipient or entity), the first and last time of the rows that gave it a
role, and how many such rows and messages there are.

Ranking, exactly: mailboxes that act (any role that is something it did: sending a burst,
forwarding or redirecting mail out, sending from an unusual IP, sending spam out) come before
mailboxes that only received; then the higher the most urgent severity among the findings
that gave it a role, the earlier; then more acting roles first, then more roles, then more
findings naming it; then the earlier first time; then the address. The same data always
gives the same order.

The timeline is ``analyzer.incident.timeline``; the next steps ``analyzer.incident.steps``.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from typing import Any

from analyzer.findings.model import SEVERITY_RANK
from analyzer.identifiers import address_text
from analyzer.incident.base import FindingFacts, Investigation, time_ns
from analyzer.incident.steps import NextStep, next_steps
from analyzer.incident.timeline import Entry, incident_timeline
from analyzer.incident.words import Count
from analyzer.text import terminal_safe
from analyzer.timestamps import UTC, DisplayZone, iso_utc


@dataclass(frozen=True)
class MailboxRole:
    """One role of a mailbox: what the evidence says it did or received.

    Attributes:
        text: the role in words.
        acts: whether it is something the mailbox did.
        findings: the ids of the findings that give it.
    """

    text: str
    acts: bool
    findings: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {"role": self.text, "acts": self.acts, "findings": list(self.findings)}


@dataclass(frozen=True)
class AffectedMailbox:
    """One affected mailbox of the summary.

    Attributes:
        address: the mailbox (lower case).
        roles: its roles, acting ones first, in the order findings gave them.
        findings: ``{"id", "rule", "severity", "title"}`` of each finding in scope naming it.
        first_ns, last_ns: the first and last time of the rows that gave it a role.
        rows: how many such rows (input row x recipient); messages: how many messages.
    """

    address: str
    roles: tuple[MailboxRole, ...]
    findings: tuple[dict[str, str], ...]
    first_ns: int | None
    last_ns: int | None
    rows: int
    messages: int

    @property
    def acts(self) -> bool:
        return any(role.acts for role in self.roles)

    @property
    def role(self) -> str:
        """Its roles in one line: ``sent the burst; forwards mail out ...``."""
        return "; ".join(role.text for role in self.roles)

    def to_json(self) -> dict[str, Any]:
        """``{"address", "role", "roles", "acts", "findings", "first_seen", "last_seen",
        "counts": {"findings", "rows", "messages"}}``."""
        return {
            "address": self.address,
            "role": self.role,
            "roles": [role.to_json() for role in self.roles],
            "acts": self.acts,
            "findings": [dict(ref) for ref in self.findings],
            "first_seen": iso_utc(self.first_ns),
            "last_seen": iso_utc(self.last_ns),
            "counts": {
                "findings": len(self.findings),
                "rows": self.rows,
                "messages": self.messages,
            },
        }


@dataclass
class _Tally:
    """What the findings say about one mailbox, as it is gathered."""

    roles: dict[str, list[Any]] = field(default_factory=dict)  # text -> [acts, ids, rank]
    rows: set[tuple[str, int, str]] = field(default_factory=set)
    messages: set[str] = field(default_factory=set)
    times: list[int] = field(default_factory=list)
    named_by: list[int] = field(default_factory=list)


def _role_rows(
    inv: Investigation, facts: FindingFacts, of: str, mailbox: str
) -> list[tuple[Any, ...]]:
    """(input, line, recipient, message key, time) of the rows that give ``mailbox`` a role."""
    own = [r for r in facts.rows if of == "actor" or address_text(r.recipient_address) == mailbox]
    rows = [
        (r.input or "", r.line or -1, r.recipient_address or "", r.message_key, time_ns(r))
        for r in own
    ]
    if of == "delivered":
        mine = facts.delivered[facts.delivered["recipient_key"] == mailbox]
        for prefix, time in (("deliver", "delivered_ns"), ("removal", "removed_ns")):
            for record in mine.dropna(subset=[time]).to_dict("records"):
                path = inv.input_paths.get(record[prefix + "_input_id"], "")
                line = record[prefix + "_line"]
                rows.append((path, int(line), mailbox, record["message_key"], int(record[time])))
    return rows


def _whose(facts: FindingFacts, of: str) -> list[str]:
    return {
        "actor": facts.actor,
        "recipients": facts.recipients,
        "delivered": facts.delivered_mailboxes,
    }[of]


def _named(facts: FindingFacts) -> set[str]:
    """The internal mailboxes a finding names: its actors, its rows' recipients, and those who
    had a copy of its messages delivered."""
    return set(facts.actor) | set(facts.recipients) | set(facts.delivered_mailboxes)


def affected_mailboxes(inv: Investigation) -> list[AffectedMailbox]:
    """The affected mailboxes, most telling first (see the module doc for the ranking)."""
    tallies: dict[str, _Tally] = {}
    scoped = inv.scoped_facts()
    for facts in scoped:
        if not facts.active:
            continue
        events = {(r.event_id or "").upper() for r in facts.rows}
        for role in facts.story.roles:
            if role.events and not events & {e.upper() for e in role.events}:
                continue
            for mailbox in _whose(facts, role.of):
                tally = tallies.setdefault(mailbox, _Tally())
                held = tally.roles.setdefault(
                    role.text, [role.acts, [], SEVERITY_RANK[facts.finding.severity]]
                )
                if facts.id not in held[1]:
                    held[1].append(facts.id)
                held[2] = max(held[2], SEVERITY_RANK[facts.finding.severity])
                for *place, key, time in _role_rows(inv, facts, role.of, mailbox):
                    tally.rows.add((place[0], place[1], place[2]))
                    if key:
                        tally.messages.add(key)
                    if time is not None:
                        tally.times.append(time)
    for facts in scoped:
        for mailbox in sorted(_named(facts) & set(tallies)):
            tallies[mailbox].named_by.append(facts.index)
    ranked = []
    for mailbox, tally in tallies.items():
        roles = sorted(tally.roles.items(), key=lambda item: not item[1][0])  # stable
        acting = sum(1 for _, (acts, *_rest) in roles if acts)
        top = max((rank for _, (acts, ids, rank) in roles), default=0)
        key = (
            0 if acting else 1,
            -top,
            -acting,
            -len(roles),
            -len(tally.named_by),
            min(tally.times) if tally.times else 0,
            mailbox,
        )
        entry = AffectedMailbox(
            address=mailbox,
            roles=tuple(MailboxRole(text, acts, tuple(ids)) for text, (acts, ids, _) in roles),
            findings=tuple(inv.finding_ref(n) for n in tally.named_by),
            first_ns=min(tally.times) if tally.times else None,
            last_ns=max(tally.times) if tally.times else None,
            rows=len(tally.rows),
            messages=len(tally.messages),
        )
        ranked.append((key, entry))
    return [entry for _, entry in sorted(ranked, key=lambda item: item[0])]


@dataclass(frozen=True)
class Summary:
    """The incident summary (``incident_summary``).

    Attributes:
        min_severity: the scope: findings of this severity or above.
        in_scope: how many findings are in scope; total: how many there are in all.
        headline: one sentence on what the evidence says.
        mailboxes: the affected mailboxes, ranked.
        timeline: the key moments, in time order.
        next_steps: the checklist.
    """

    min_severity: str
    in_scope: int
    total: int
    headline: str
    mailboxes: tuple[AffectedMailbox, ...]
    timeline: tuple[Entry, ...]
    next_steps: tuple[NextStep, ...]

    def to_json(self) -> dict[str, Any]:
        """``{"scope", "headline", "mailboxes": [...], "timeline": [...],
        "next_steps": [...]}`` (every time ISO 8601 UTC, 7 fractional digits, ``Z``)."""
        return {
            "scope": {
                "min_severity": self.min_severity,
                "findings_in_scope": self.in_scope,
                "findings": self.total,
            },
            "headline": self.headline,
            "mailboxes": [mailbox.to_json() for mailbox in self.mailboxes],
            "timeline": [entry.to_json() for entry in self.timeline],
            "next_steps": [step.to_json() for step in self.next_steps],
        }


def _headline(inv: Investigation, mailboxes: list[AffectedMailbox]) -> str:
    scope = f"of {inv.min_severity} severity or above"
    if not inv.in_scope:
        below = len(inv.findings)
        rest = f"; {Count(below):finding} below it (msgtrace findings lists them)" if below else ""
        return f"No finding {scope}: nothing in this data points to an incident{rest}."
    counts = f"{Count(len(inv.in_scope)):finding} {scope}"
    if not mailboxes:
        return f"No mailbox is affected by what the evidence shows ({counts})."
    lead = mailboxes[0]
    did = [role.text for role in lead.roles if role.acts] or [role.text for role in lead.roles]
    roles = ", ".join(did[:-1]) + (" and " if len(did) > 1 else "") + did[-1]
    others = len(mailboxes) - 1
    tail = f"; {Count(others):other mailbox/other mailboxes} affected" if others else ""
    return f"{lead.address} {roles}{tail} ({counts})."


def incident_summary(inv: Investigation) -> Summary:
    """The summary of an investigation's findings in scope (see the module doc).

    Args:
        inv: the investigation (``analyzer.incident.investigate``).

    Returns:
        The summary; empty lists, and a headline saying so, when nothing is in scope.
    """
    mailboxes = affected_mailboxes(inv)
    timeline = incident_timeline(inv)
    return Summary(
        min_severity=inv.min_severity,
        in_scope=len(inv.in_scope),
        total=len(inv.findings),
        headline=_headline(inv, mailboxes),
        mailboxes=tuple(mailboxes),
        timeline=tuple(timeline),
        next_steps=tuple(next_steps(inv)),
    )


def _wrap(text: str, indent: str, width: int, hanging: str | None = None) -> list[str]:
    return textwrap.wrap(
        terminal_safe(text),
        width,
        initial_indent=indent,
        subsequent_indent=indent if hanging is None else hanging,
        break_on_hyphens=False,
        break_long_words=False,
    ) or [indent]


def _places(entry: Entry) -> str:
    seen: dict[str, list[str]] = {}
    for row in entry.rows:
        lines = seen.setdefault(row.input or "?", [])
        line = "?" if row.line is None else str(row.line)
        if line not in lines:
            lines.append(line)
    return "; ".join(f"{path}:{','.join(lines)}" for path, lines in seen.items())


def summary_text(summary: Summary, zone: DisplayZone = UTC, width: int = 100) -> str:
    """The summary for a terminal: headline, mailboxes, timeline, checklist.

    Times are in ``zone`` with its label; export text is made terminal-safe; commands are
    printed whole on their own line, ready to copy.
    """
    out = _wrap(summary.headline, "", width)
    scope = (
        f"Scope: {Count(summary.in_scope):finding} of {summary.min_severity} severity or "
        f"above, of {summary.total:,}"
    )
    if summary.timeline:
        first, last = summary.timeline[0].time_ns, summary.timeline[-1].time_ns
        scope += f"; key moments from {zone.format(first)} to {zone.format(last)}"
    out += _wrap(f"{scope}. {zone.note()}", "", width)
    out.append("")
    out.append(f"Affected mailboxes ({len(summary.mailboxes)}), most telling first:")
    if not summary.mailboxes:
        out.append("  none")
    for number, mailbox in enumerate(summary.mailboxes, start=1):
        out += _wrap(f"{number}. {mailbox.address}", "  ", width)
        out += _wrap(mailbox.role, "     ", width)
        out.append(
            f"     {zone.format(mailbox.first_ns)} to {zone.format(mailbox.last_ns)}; "
            f"{Count(mailbox.rows):row}, {Count(mailbox.messages):message}"
        )
        for ref in mailbox.findings:
            line = f"{ref['id']} [{ref['rule']}, {ref['severity']}] {ref['title']}"
            out += _wrap(line, "     ", width, " " * 7)
    out.append("")
    out.append(f"Timeline ({len(summary.timeline)} moments):")
    if not summary.timeline:
        out.append("  none")
    for entry in summary.timeline:
        out += _wrap(
            f"{zone.format(entry.time_ns)}  [{entry.rule}] {entry.what}", "  ", width, " " * 6
        )
        out += _wrap(f"rows: {_places(entry)}", "      ", width)
    out.append("")
    out.append(f"Next steps ({len(summary.next_steps)}); commands are read-only, their dates UTC:")
    if not summary.next_steps:
        out.append("  none")
    for number, step in enumerate(summary.next_steps, start=1):
        out += _wrap(f"{number}. [ ] {step.text}", "  ", width, " " * 7)
        asks = f"asked by {', '.join(step.findings)}"
        if step.start_ns is not None:
            asks += f"; range {zone.format(step.start_ns)} to {zone.format(step.end_ns)}"
        out += _wrap(asks, "       ", width)
        if step.command:
            out.append(
                f"       {'$' if step.shell == 'sh' else 'PS>'} {terminal_safe(step.command)}"
            )
    return "\n".join(out) + "\n"


__all__ = [
    "AffectedMailbox",
    "MailboxRole",
    "Summary",
    "affected_mailboxes",
    "incident_summary",
    "summary_text",
]
