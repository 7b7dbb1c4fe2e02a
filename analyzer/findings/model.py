"""What a finding is: a rule's verdict on the data, with the input rows that support it.

These classes are the contract between the rules and whatever shows findings (the
``findings`` command, the HTML report). They hold plain values only, so a finding can be
printed, rendered or written as JSON without looking back at the case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: Severities from least to most urgent; findings are sorted most urgent first.
SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high")
SEVERITY_RANK: dict[str, int] = {name: rank for rank, name in enumerate(SEVERITIES)}


@dataclass(frozen=True)
class Evidence:
    """One input row (or message) that supports a finding. Never invented.

    Attributes:
        network_message_id: Exchange Online network message id of the row, if any.
        message_id: Internet message id of the row, if any.
        message_key: the chain the row belongs to (``analyzer.chains``), if any.
        recipient_address: the recipient the row is about, if any.
        event_id: the transport event of the row (RECEIVE, FAIL, ...), if any.
        time: the row's time as ISO 8601 UTC with ``Z`` (e.g. ``2024-03-01T10:15:30Z``).
        input: the input file's path as the user gave it.
        input_id: the input file's id (first 16 hex digits of its sha256).
        line: the line of the input file where the row starts (1 = first line), if known.
        detail: a short note on what this row shows (e.g. ``redirected to x@example.net``).
    """

    network_message_id: str | None = None
    message_id: str | None = None
    message_key: str | None = None
    recipient_address: str | None = None
    event_id: str | None = None
    time: str | None = None
    input: str | None = None
    input_id: str | None = None
    line: int | None = None
    detail: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The evidence as a JSON-ready dict (every attribute, nulls included)."""
        return {
            "network_message_id": self.network_message_id,
            "message_id": self.message_id,
            "message_key": self.message_key,
            "recipient_address": self.recipient_address,
            "event_id": self.event_id,
            "time": self.time,
            "input": self.input,
            "input_id": self.input_id,
            "line": self.line,
            "detail": self.detail,
        }

    def sort_key(self) -> tuple[str, str, int, str, str]:
        """Order of evidence within a finding: time, then input, line, recipient, event."""
        return (
            self.time or "",
            self.input or "",
            self.line if self.line is not None else -1,
            self.recipient_address or "",
            self.event_id or "",
        )


@dataclass(frozen=True)
class Finding:
    """One explainable detection.

    Attributes:
        rule: stable rule id (see ``analyzer.findings.RULES``), e.g. ``external-forwarding``.
        severity: one of ``SEVERITIES``.
        title: one line that names the entity concerned.
        explanation: one plain paragraph: why it matters and what to check next.
        entities: the mailboxes, domains and IPs involved, by kind (``mailbox``, ``domain``,
            ``ip``, ``rule``), each list sorted and capped (``Thresholds.max_entities``).
        evidence: the supporting input rows, in time order, capped
            (``Thresholds.max_evidence``); ``evidence_total`` says how many there were.
        evidence_total: how many evidence rows the rule found in all.
        evidence_last: the latest supporting row when the cap left it out of ``evidence``
            (None when ``evidence`` already holds it), so a finding's time span is always
            cited by a row: where a burst or an IP's use ends. Not part of the
            ``findings --json`` contract; ``analyzer.incident`` cites it.
    """

    rule: str
    severity: str
    title: str
    explanation: str
    entities: dict[str, list[str]] = field(default_factory=dict)
    evidence: list[Evidence] = field(default_factory=list)
    evidence_total: int = 0
    evidence_last: Evidence | None = None

    def to_json(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict (the ``findings --json`` contract)."""
        return {
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "explanation": self.explanation,
            "entities": {kind: list(values) for kind, values in self.entities.items()},
            "evidence": [item.to_json() for item in self.evidence],
            "evidence_total": self.evidence_total,
        }

    def sort_key(self) -> tuple[int, str, str, str]:
        """Most urgent first, then by rule id and title; entities break remaining ties."""
        entities = "|".join(f"{k}={','.join(v)}" for k, v in sorted(self.entities.items()))
        return (-SEVERITY_RANK[self.severity], self.rule, self.title, entities)
