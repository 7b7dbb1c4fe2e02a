"""Builders for the findings tests: small hand-built cases, rows numbered like an export.

Each rule test builds a ``Trace`` (an extended-report-like input, row by row: every row gets
the next line), turns it into a case (``case_of``) and runs every rule (``run``). Rule tests
must fire where they should, with evidence pointing at the right input rows, and stay quiet
on a near miss: a test of a near miss says which rules it covers with ``@near_miss(...)``
(``test_registry`` checks every rule has one).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TypeVar

import pyarrow as pa

from analyzer import schema
from analyzer.case import Case, InputRecord
from analyzer.chains import build_chains
from analyzer.findings import Finding, Thresholds, run_findings
from analyzer.normalize import parse_custom_data

Test = TypeVar("Test", bound=Callable[..., object])


def near_miss(*rule_ids: str) -> Callable[[Test], Test]:
    """Mark a test as one that checks ``rule_ids`` stay quiet on data that almost matches."""

    def mark(test: Test) -> Test:
        test.near_miss = rule_ids  # type: ignore[attr-defined]  # read by test_registry
        return test

    return mark


T0 = dt.datetime(2024, 3, 1, 9, 0, 0)


EXTENDED = "exports/extended.csv"


INPUT_ID = "a" * 16


def custom(text: str) -> list[tuple[str, str]]:
    """custom_data parsed by the real ingest parser, as the events table holds it."""
    return parse_custom_data(pa.array([text]))[0].as_py()


class Trace:
    """Builds an extended-report-like input row by row; every row gets the next line."""

    def __init__(self, path: str = EXTENDED, input_id: str = INPUT_ID, decided_line: int = 2):
        self.path = path
        self.input_id = input_id
        self.rows: list[dict] = []
        self.line = decided_line

    def add(
        self,
        minutes: float,
        event_id: str | None,
        sender: str,
        recipient: str,
        message: str,
        **columns,
    ) -> int:
        """Add one event row; returns its line."""
        line = self.line
        row = {
            "event_time": T0 + dt.timedelta(minutes=minutes),
            "time_basis": "event",
            "event_id": event_id,
            "source": "SMTP",
            "sender_address": sender,
            "recipient_address": recipient,
            "network_message_id": message,
            "message_id": f"<{message}@mail.example>",
            "input_id": self.input_id,
            "line": line,
            "report_type": "extended",
        }
        if "custom_data" in columns:
            columns.setdefault("custom_data_fields", custom(columns["custom_data"]))
        row.update(columns)
        self.rows.append(row)
        self.line += 1
        return line

    def mail(self, minutes, sender, recipient, message, final="DELIVER", **columns) -> int:
        """A RECEIVE then a final event; returns the final event's line."""
        self.add(minutes, "RECEIVE", sender, recipient, message, **columns)
        return self.add(minutes + 0.01, final, sender, recipient, message, **columns)

    def record(self, **changes) -> InputRecord:
        rows = len(self.rows)
        record = InputRecord(
            path=self.path,
            size=1000,
            sha256=self.input_id * 4,
            input_id=self.input_id,
            format="extended",
            encoding="utf-8",
            rows_read=rows,
            rows_ingested=rows,
        )
        if self.rows:
            times = sorted(r["event_time"] for r in self.rows)
            record.first_event = times[0].isoformat() + "Z"
            record.last_event = times[-1].isoformat() + "Z"
        for name, value in changes.items():
            setattr(record, name, value)
        return record


def tenant_baseline(trace: Trace, minutes: float = 0) -> None:
    """Ordinary internal mail, so that contoso.com is the tenant's domain."""
    for i in range(3):
        trace.mail(minutes + i, "bob@contoso.com", "alice@contoso.com", f"base{i}-{minutes}")


def case_of(*traces: Trace, records: list[InputRecord] | None = None) -> Case:
    rows = [row for trace in traces for row in trace.rows]
    return Case(
        events=schema.events_table(rows),
        duplicates=schema.DUPLICATE_SCHEMA.empty_table(),
        inputs=records if records is not None else [t.record() for t in traces],
    )


def run(case: Case, thresholds: Thresholds | None = None) -> list[Finding]:
    return run_findings(case, build_chains(case), thresholds)


def of_rule(findings: list[Finding], rule: str) -> list[Finding]:
    return [f for f in findings if f.rule == rule]


def lines(finding: Finding) -> set[int]:
    return {e.line for e in finding.evidence}


def outbound_run(
    trace: Trace,
    sender: str,
    count: int,
    spacing_minutes: float,
    subject: str,
    start: float = 100,
    domain: str = "targets.example",
    tag: str = "b",
) -> list[int]:
    sent = []
    for i in range(count):
        sent.append(
            trace.mail(
                start + i * spacing_minutes,
                sender,
                f"user{i}@{domain}",
                f"{tag}{i}",
                final="SEND",
                message_subject=subject,
            )
        )
    return sent


def verdict_trace() -> tuple[Trace, dict[str, int]]:
    trace = Trace()
    tenant_baseline(trace)
    at = {}

    def inbound(minutes, message, data, final="DELIVER", sender="x@bad.example"):
        trace.add(minutes, "RECEIVE", sender, "alice@contoso.com", message)
        at[message] = trace.add(
            minutes + 0.1, "AGENTINFO", sender, "alice@contoso.com", message, custom_data=data
        )
        if final:
            trace.add(minutes + 0.2, final, sender, "alice@contoso.com", message)

    inbound(
        10, "malware", "S:AMA=SUM|v=1|action=b|name=EICAR;S:SFA=SUM|SFV=SPM|SCL=9|DI=SQ", final=None
    )
    inbound(20, "phish", "S:SFA=SUM|SFV=SPM|SCL=5|DI=SN|CAT=PHSH", sender="it@c0ntoso.example")
    inbound(30, "junk", "S:SFA=SUM|SFV=SPM|SCL=6|DI=SJ")
    inbound(40, "allowed", "S:SFA=SUM|SFV=SKA|SCL=7|DI=SN", sender="promo@shop.example")
    inbound(50, "bulk", "S:SFA=SUM|SFV=NSPM|SRV=BULK|SCL=1|DI=SN", sender="news@shop.example")
    inbound(60, "clean", "S:SFA=SUM|SFV=NSPM|SCL=1|DI=SN", sender="friend@fabrikam.com")
    trace.add(70, "RECEIVE", "alice@contoso.com", "buyer@fabrikam.com", "outspam")
    at["outspam"] = trace.add(
        70.1,
        "AGENTINFO",
        "alice@contoso.com",
        "buyer@fabrikam.com",
        "outspam",
        custom_data="S:SFA=SUM|SFV=SPM|SCL=9",
    )
    trace.add(70.2, "SEND", "alice@contoso.com", "buyer@fabrikam.com", "outspam")
    return trace, at


def busy_case() -> Case:
    trace, _ = verdict_trace()
    outbound_run(trace, "alice@contoso.com", 60, 0.5, "Shared document", start=200)
    trace.add(20, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "m1")
    trace.add(
        20.1,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice@contoso.com",
        "m1",
        related_recipient_address="alice.private@gmail.example",
    )
    return case_of(trace)
