"""Findings rules on small hand-built cases: each must fire where it should, with evidence
pointing at the right input rows, and stay quiet on a near miss."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow as pa
import pytest

from analyzer import schema
from analyzer.case import Case, InputRecord, RejectedRow
from analyzer.chains import build_chains
from analyzer.errors import OptionError
from analyzer.findings import (
    RULES,
    SEVERITIES,
    Finding,
    Thresholds,
    at_least,
    findings_json,
    findings_text,
    load_thresholds,
    rules_markdown,
    run_findings,
)
from analyzer.findings.domains import lookalike_kind, skeleton, within_one_edit
from analyzer.normalize import parse_custom_data

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


# --------------------------------------------------------------------------------------------
# external-forwarding


def test_inbox_rule_forward_outside_names_mailbox_target_and_trigger():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "trigger")
    trigger_line = trace.add(10.1, "DELIVER", "ceo@fabrikam.com", "alice@contoso.com", "trigger")
    rule_line = trace.add(
        11,
        "RECEIVE",
        "alice@contoso.com",
        "drop@evil.example",
        "copy",
        source="MAILBOXRULE",
        reference="<trigger@mail.example>",
    )
    send_line = trace.add(11.2, "SEND", "alice@contoso.com", "drop@evil.example", "copy")
    [finding] = of_rule(run(case_of(trace)), "external-forwarding")
    assert finding.severity == "high"
    assert "alice@contoso.com" in finding.title and "drop@evil.example" in finding.title
    assert finding.entities["mailbox"] == ["alice@contoso.com", "drop@evil.example"]
    assert finding.entities["domain"] == ["evil.example"]
    assert lines(finding) == {trigger_line, rule_line, send_line}
    trigger = next(e for e in finding.evidence if e.line == trigger_line)
    assert trigger.input == EXTENDED
    assert trigger.network_message_id == "trigger"
    assert trigger.time == "2024-03-01T09:10:06.0000000Z"
    assert "triggering message from ceo@fabrikam.com" in trigger.detail


def test_inbox_rule_forward_to_a_colleague_is_not_external_forwarding():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(10, "ceo@fabrikam.com", "alice@contoso.com", "trigger")
    trace.add(
        11,
        "RECEIVE",
        "alice@contoso.com",
        "carol@contoso.com",
        "copy",
        source="MAILBOXRULE",
        reference="<trigger@mail.example>",
    )
    trace.add(11.2, "DELIVER", "alice@contoso.com", "carol@contoso.com", "copy")
    assert of_rule(run(case_of(trace)), "external-forwarding") == []


def test_redirect_to_outside_address_is_external_forwarding():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(20, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "m1")
    redirect = trace.add(
        20.1,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice@contoso.com",
        "m1",
        related_recipient_address="alice.private@gmail.example",
    )
    trace.add(
        20.2,
        "SEND",
        "ceo@fabrikam.com",
        "alice.private@gmail.example",
        "m1",
        return_path="bounces+SRS=x1=fabrikam.com=ceo@contoso.com",
    )
    findings = run(case_of(trace))
    [finding] = of_rule(findings, "external-forwarding")
    assert finding.title.startswith("Mail to alice@contoso.com is redirected to outside")
    assert "alice.private@gmail.example" in finding.title
    assert lines(finding) == {redirect}
    assert finding.evidence[0].detail == "redirected to alice.private@gmail.example"
    # the relayed copy's rewritten sender is explained by the redirect: not a second finding
    assert of_rule(findings, "sender-rewritten-relay") == []


def test_redirect_rows_naming_the_new_address_first_are_read_the_same_way():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(20, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "m1")
    redirect = trace.add(
        20.1,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice.private@gmail.example",
        "m1",
        related_recipient_address="alice@contoso.com",
    )
    [finding] = of_rule(run(case_of(trace)), "external-forwarding")
    assert finding.entities["mailbox"] == ["alice.private@gmail.example", "alice@contoso.com"]
    assert finding.title.startswith("Mail to alice@contoso.com is redirected to outside")
    assert lines(finding) == {redirect}


def test_redirect_to_internal_address_is_not_forwarding():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(20, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "m1")
    trace.add(
        20.1,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice@contoso.com",
        "m1",
        related_recipient_address="shared@contoso.com",
    )
    trace.add(20.2, "DELIVER", "ceo@fabrikam.com", "shared@contoso.com", "m1")
    assert of_rule(run(case_of(trace)), "external-forwarding") == []


# --------------------------------------------------------------------------------------------
# sender-rewritten-relay


def test_outside_mail_relayed_outside_with_rewritten_sender():
    trace = Trace()
    tenant_baseline(trace)
    srs = "bounces+SRS=k3j4=fabrikam.com=ceo@contoso.com"
    trace.add(30, "RECEIVE", "ceo@fabrikam.com", "drop@gmail.example", "r1", return_path=srs)
    send = trace.add(31, "SEND", "ceo@fabrikam.com", "drop@gmail.example", "r1", return_path=srs)
    trace.mail(40, "hr@fabrikam.com", "drop@gmail.example", "r2", final="SEND", return_path=srs)
    [finding] = of_rule(run(case_of(trace)), "sender-rewritten-relay")
    assert finding.severity == "medium"
    assert "drop@gmail.example" in finding.title and "2 messages" in finding.title
    assert finding.evidence_total == 2  # one row per relayed message
    assert finding.evidence[0].network_message_id == "r1"
    assert send - 1 in lines(finding)  # the first row of r1: its RECEIVE


def test_rewritten_return_path_on_own_or_inbound_mail_is_no_relay():
    trace = Trace()
    tenant_baseline(trace)
    # a newsletter tool of our own with a bounce address, to outside recipients
    trace.mail(
        30,
        "news@contoso.com",
        "client@fabrikam.com",
        "n1",
        final="SEND",
        return_path="bounces@mailer.contoso.com",
    )
    # a mailing list from outside to us
    trace.mail(
        31, "list@lists.example", "alice@contoso.com", "l1", return_path="owner@lists.example"
    )
    assert of_rule(run(case_of(trace)), "sender-rewritten-relay") == []


# --------------------------------------------------------------------------------------------
# outbound-burst and mass-subject


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


def test_outbound_burst_from_one_mailbox_fires_with_count_and_window():
    trace = Trace()
    tenant_baseline(trace)
    outbound_run(trace, "alice@contoso.com", 60, 0.5, "Shared document")
    findings = run(case_of(trace))
    [finding] = of_rule(findings, "outbound-burst")
    assert finding.severity == "high"
    assert finding.title == "alice@contoso.com mailed 60 outside recipients within 60 min"
    assert finding.entities == {"domain": ["targets.example"], "mailbox": ["alice@contoso.com"]}
    assert finding.evidence_total == 60
    assert len(finding.evidence) == 25  # capped, in time order
    assert finding.evidence[0].recipient_address == "user0@targets.example"
    # one sender: the subject rule does not say the same thing again
    assert of_rule(findings, "mass-subject") == []


def test_newsletter_to_many_internal_recipients_is_not_a_burst():
    trace = Trace()
    tenant_baseline(trace)
    for i in range(200):
        trace.mail(
            100 + i * 0.1,
            "news@contoso.com",
            f"staff{i}@contoso.com",
            f"n{i}",
            message_subject="Weekly news",
        )
    findings = run(case_of(trace))
    assert of_rule(findings, "outbound-burst") == []
    assert of_rule(findings, "mass-subject") == []


def test_slow_outbound_mail_is_not_a_burst_and_threshold_override_decides():
    trace = Trace()
    tenant_baseline(trace)
    outbound_run(trace, "sales@contoso.com", 60, 90, "Quote")  # one every 90 minutes
    assert of_rule(run(case_of(trace)), "outbound-burst") == []

    fast = Trace()
    tenant_baseline(fast)
    outbound_run(fast, "alice@contoso.com", 60, 0.5, "Shared document")
    case = case_of(fast)
    raised = load_thresholds(overrides={"burst_min_recipients": "100"})
    assert of_rule(run(case, raised), "outbound-burst") == []
    widened = load_thresholds(overrides={"burst_min_recipients": "40"})
    assert len(of_rule(run(case, widened), "outbound-burst")) == 1


def test_same_subject_from_several_mailboxes_is_a_mass_subject():
    trace = Trace()
    tenant_baseline(trace)
    sent = []
    for n, sender in enumerate(("a@contoso.com", "b@contoso.com", "c@contoso.com")):
        sent += outbound_run(
            trace,
            sender,
            20,
            1,
            "RE: Invoice overdue",
            start=100 + n * 5,
            domain=f"d{n}.example",
            tag=f"s{n}-",
        )
    findings = run(case_of(trace))
    assert of_rule(findings, "outbound-burst") == []
    [finding] = of_rule(findings, "mass-subject")
    assert finding.severity == "medium"
    assert "'RE: Invoice overdue'" in finding.title and "60 outside recipients" in finding.title
    assert finding.entities["mailbox"] == ["a@contoso.com", "b@contoso.com", "c@contoso.com"]
    assert finding.evidence_total == 60
    assert lines(finding) <= set(sent) and len(finding.evidence) == 25  # the first 25 sends


def test_one_subject_to_colleagues_or_spread_over_days_is_no_mass_subject():
    trace = Trace()
    tenant_baseline(trace)
    # the subject of the outbound runs below, first to 80 colleagues within minutes (a few
    # of them at the second tenant domain)
    for i in range(80):
        domain = "contoso.com" if i % 4 else "contoso.co.uk"
        trace.mail(
            100 + i * 0.1,
            "hr@contoso.com",
            f"staff{i}@{domain}",
            f"hr{i}",
            message_subject="RE: Invoice overdue",
        )
    # the same subject to 60 outside recipients, 20 a day over three days
    for n, sender in enumerate(("a@contoso.com", "b@contoso.com", "c@contoso.com")):
        outbound_run(
            trace,
            sender,
            20,
            1,
            "RE: Invoice overdue",
            start=200 + n * 26 * 60,
            domain=f"d{n}.example",
            tag=f"s{n}-",
        )
    assert of_rule(run(case_of(trace)), "mass-subject") == []
    # a wider window sees all 60 (and only the outside ones)
    [finding] = of_rule(
        run(case_of(trace), load_thresholds(overrides={"mass_subject_window_hours": "72"})),
        "mass-subject",
    )
    assert "60 outside recipients" in finding.title


# --------------------------------------------------------------------------------------------
# failure-spike


def failure_case(spike: bool) -> tuple[Case, list[int]]:
    trace = Trace()
    tenant_baseline(trace)
    failed_lines = []
    for hour in range(10):
        for i in range(19):
            trace.mail(
                hour * 60 + i,
                "app@contoso.com",
                f"c{i}@fabrikam.com",
                f"ok{hour}-{i}",
                final="SEND",
            )
        trace.mail(
            hour * 60 + 30,
            "app@contoso.com",
            "gone@fabrikam.com",
            f"f{hour}",
            final="FAIL",
            recipient_status="550 5.1.1 RESOLVER.ADR.RecipNotFound",
            status_code="5.1.1",
            smtp_reply_code=550,
        )
    if spike:
        for i in range(20):
            failed_lines.append(
                trace.mail(
                    600 + i,
                    "alice@contoso.com",
                    f"x{i}@nowhere.example",
                    f"spike{i}",
                    final="FAIL",
                    recipient_status="550 5.1.1 RESOLVER.ADR.RecipNotFound",
                    status_code="5.1.1",
                    smtp_reply_code=550,
                )
            )
        for i in range(5):
            trace.mail(630 + i, "app@contoso.com", f"c{i}@fabrikam.com", f"late{i}", final="SEND")
    return case_of(trace), failed_lines


def test_failure_spike_names_rate_baseline_and_top_ndr_code():
    case, failed_lines = failure_case(spike=True)
    [finding] = of_rule(run(case), "failure-spike")
    assert finding.severity == "medium"
    assert finding.title.startswith("Delivery failures at 80% from 2024-03-01 19:00 UTC")
    assert "(baseline 13%)" in finding.title
    assert "5.1.1" in finding.explanation
    assert lines(finding) <= set(failed_lines)
    assert finding.evidence_total == 20
    assert all(e.event_id == "FAIL" for e in finding.evidence)
    assert "nowhere.example" in finding.entities["domain"]


def test_steady_failures_are_no_spike_and_threshold_decides():
    steady, _ = failure_case(spike=False)
    assert of_rule(run(steady), "failure-spike") == []
    spiky, _ = failure_case(spike=True)
    strict = load_thresholds(overrides={"failure_spike_min_failures": "25"})
    assert of_rule(run(spiky, strict), "failure-spike") == []


# --------------------------------------------------------------------------------------------
# threat verdicts


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


def test_threat_verdicts_each_fire_on_their_messages_only():
    trace, at = verdict_trace()
    findings = run(case_of(trace))
    by_rule = {f.rule: f for f in findings if f.rule in {r.id for r in RULES}}

    malware = by_rule["malware-detected"]
    assert malware.severity == "medium"  # quarantined, not delivered
    assert "EICAR" in malware.title
    assert lines(malware) == {at["malware"]}
    assert "malware=EICAR" in malware.evidence[0].detail

    phish = by_rule["phish-detected"]
    assert phish.severity == "high"  # delivered
    assert lines(phish) == {at["phish"]}

    spam = by_rule["spam-verdict"]
    assert lines(spam) == {at["junk"]}
    assert spam.severity == "low"

    outbound = by_rule["outbound-spam"]
    assert outbound.severity == "high"
    assert lines(outbound) == {at["outspam"]}

    assert lines(by_rule["bulk-mail"]) == {at["bulk"]}
    assert lines(by_rule["quarantined"]) == {at["malware"]}

    let_through = by_rule["delivered-despite-high-scl"]
    assert lines(let_through) == {at["allowed"]}  # not the junk-foldered one
    assert "SCL=7" in let_through.evidence[0].detail

    cited = {e.network_message_id for f in findings for e in f.evidence}
    assert "clean" not in cited


def test_malware_quarantined_on_arrival_is_not_called_delivered():
    # an enhanced summary row lists the events "Receive, Deliver, Quarantined": the message
    # went to quarantine, and one row of a summary becomes one event per word
    trace = Trace()
    tenant_baseline(trace)
    summary = Trace(path="exports/enhanced_summary.csv", input_id="c" * 16)
    words = ("RECEIVE", "DELIVER", "QUARANTINED")
    for n, word in enumerate(words):
        summary.add(10, word, "x@bad.example", "alice@contoso.com", "malware", event_seq=n)
        summary.line -= 1  # all three words are one row of the summary
    summary.line += 1
    trace.add(10, "RECEIVE", "x@bad.example", "alice@contoso.com", "malware")
    trace.add(
        10.1,
        "AGENTINFO",
        "x@bad.example",
        "alice@contoso.com",
        "malware",
        custom_data="S:AMA=SUM|v=1|action=b|name=EICAR;S:SFA=SUM|SFV=NSPM|SCL=1|DI=SQ",
    )
    for row in summary.rows:
        row.update(time_basis="message", report_type="enhanced_summary", source=None)
    [malware] = of_rule(run(case_of(trace, summary)), "malware-detected")
    assert malware.severity == "medium"
    assert "final status: Quarantined 1." in malware.explanation
    assert "delivered to the mailbox" not in malware.explanation


def test_high_scl_threshold_override_changes_what_was_let_through():
    trace, _ = verdict_trace()
    findings = run(case_of(trace), load_thresholds(overrides={"high_scl": "8"}))
    assert of_rule(findings, "delivered-despite-high-scl") == []


def test_clean_mail_gives_no_verdict_findings():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "friend@fabrikam.com", "alice@contoso.com", "clean")
    trace.add(
        10.1,
        "AGENTINFO",
        "friend@fabrikam.com",
        "alice@contoso.com",
        "clean",
        custom_data="S:SFA=SUM|SFV=NSPM|SCL=1|DI=SN",
    )
    trace.add(10.2, "DELIVER", "friend@fabrikam.com", "alice@contoso.com", "clean")
    assert run(case_of(trace)) == []


# --------------------------------------------------------------------------------------------
# lookalike-domain and first-seen-domain


def test_lookalike_helpers():
    assert within_one_edit("contoso.com", "contosso.com")
    assert within_one_edit("contoso.com", "cnotoso.com")  # neighbours swapped
    assert not within_one_edit("contoso.com", "fabrikam.com")
    assert skeleton("c0nt0so.com") == skeleton("contoso.com")
    assert skeleton("rnicrosoft.com") == skeleton("microsoft.com")
    assert lookalike_kind("c0ntoso.com", "contoso.com", 5) == "digit for a letter"
    idn = "cоntoso.com".encode("idna").decode()  # Cyrillic о
    assert idn.startswith("xn--")
    assert lookalike_kind(idn, "contoso.com", 5) == "homoglyph (internationalized domain name)"
    assert lookalike_kind("mail.contoso.com", "contoso.com", 5) is None
    assert lookalike_kind("abc.com", "abd.com", 5) is None  # too short to say


def test_lookalike_of_tenant_and_of_frequent_correspondent():
    trace = Trace()
    tenant_baseline(trace)
    for i in range(12):
        trace.mail(10 + i, "ap@fabrikam.com", "alice@contoso.com", f"fab{i}")
    # each look-alike's evidence is the RECEIVE row (mail() returns the DELIVER line after it)
    ceo = trace.mail(100, "ceo@c0ntoso.com", "alice@contoso.com", "bec1") - 1
    invoice = trace.mail(110, "ap@fabrlkam.com", "alice@contoso.com", "bec2") - 1
    idn = "cоntoso.com".encode("idna").decode()
    homoglyph = trace.mail(120, f"it@{idn}", "alice@contoso.com", "bec3") - 1
    found = {f.title.split()[2]: f for f in of_rule(run(case_of(trace)), "lookalike-domain")}
    assert sorted(found) == sorted(["c0ntoso.com", "fabrlkam.com", idn])
    assert found["c0ntoso.com"].title == "Look-alike domain c0ntoso.com imitates contoso.com"
    assert (
        "looks like contoso.com (one of the organization's domains: digit for a letter)"
        in found["c0ntoso.com"].explanation
    )
    assert lines(found["c0ntoso.com"]) == {ceo}
    assert "a frequent correspondent" in found["fabrlkam.com"].explanation
    assert lines(found["fabrlkam.com"]) == {invoice}
    assert "(shown as cоntoso.com)" in found[idn].title
    assert lines(found[idn]) == {homoglyph}
    assert all(f.severity == "high" for f in found.values())


POST_DELIVERY = "exports/email_post_delivery_events.csv"


def zapped_lookalike_case() -> tuple[Case, int]:
    """Days of ordinary mail, then a look-alike phish delivered to two mailboxes and moved to
    quarantine 40 minutes later by Defender (EmailPostDeliveryEvents rows, which name no
    sender); returns the case and the line of the phish's RECEIVE row."""
    trace = Trace()
    tenant_baseline(trace)
    day = 24 * 60
    for d in range(10):
        trace.mail(d * day, "partner@fabrikam.com", "alice@contoso.com", f"p{d}")
    arrived = trace.add(
        9 * day + 60, "RECEIVE", "it@c0ntoso.com", "alice@contoso.com;bob@contoso.com", "phish"
    )
    for recipient in ("alice@contoso.com", "bob@contoso.com"):
        trace.add(9 * day + 60.02, "DELIVER", "it@c0ntoso.com", recipient, "phish")
    zap = Trace(path=POST_DELIVERY, input_id="b" * 16)
    for n, recipient in enumerate(("alice@contoso.com", "bob@contoso.com")):
        zap.add(
            9 * day + 100 + n,
            "PHISHZAP",
            None,
            recipient,
            "phish",
            source=None,
            report_type="defender_email_post_delivery_events",
            event_detail="Moved to quarantine",
            delivery_location="Quarantine",
            threat_types="Phish",
        )
    rows = [row for t in (trace, zap) for row in t.rows]
    for row in rows:  # the extended report lists a row's recipients as a;b
        if ";" in row["recipient_address"]:
            first, second = row["recipient_address"].split(";")
            row["recipient_address"] = first
            rows.append({**row, "recipient_address": second})
            break
    case = Case(
        events=schema.events_table(rows),
        duplicates=schema.DUPLICATE_SCHEMA.empty_table(),
        inputs=[trace.record(), zap.record()],
    )
    return case, arrived


def test_lookalike_and_first_seen_cite_the_arrival_not_the_later_zap():
    case, arrived = zapped_lookalike_case()
    findings = run(case)
    [lookalike] = of_rule(findings, "lookalike-domain")
    [first_seen] = of_rule(findings, "first-seen-domain")
    assert "received 1 message from it" in lookalike.explanation
    # the ZAP rows decide the final status, but only the RECEIVE shows the message arriving
    assert [(e.input, e.line, e.recipient_address) for e in lookalike.evidence] == [
        (EXTENDED, arrived, "alice@contoso.com"),
        (EXTENDED, arrived, "bob@contoso.com"),
    ]
    assert {e.time for e in lookalike.evidence} == {"2024-03-10T10:00:00.0000000Z"}
    assert lookalike.evidence[0].detail == (
        "from it@c0ntoso.com to alice@contoso.com; final status Quarantined"
    )
    assert [(e.input, e.line, e.time) for e in first_seen.evidence] == [
        (EXTENDED, arrived, "2024-03-10T10:00:00.0000000Z")
    ]


def test_lookalike_cites_a_summary_row_and_a_zap_only_when_nothing_else_is_there():
    case, _ = zapped_lookalike_case()
    rows = case.events.to_pylist()
    # the RECEIVE and DELIVER rows of the phish are not in the data, only the ZAP rows and,
    # for alice, a summary row (timed by the message) that names the sender
    kept = [r for r in rows if r["network_message_id"] != "phish" or r["input_id"] == "b" * 16]
    kept.append(
        {
            **{k: v for k, v in rows[0].items() if k in ("input_id", "report_type")},
            "event_time": T0 + dt.timedelta(days=9, minutes=60),
            "time_basis": "message",
            "reported_status": "Delivered",
            "sender_address": "it@c0ntoso.com",
            "recipient_address": "alice@contoso.com",
            "network_message_id": "phish",
            "line": 999,
        }
    )
    case = Case(
        events=schema.events_table(kept),
        duplicates=schema.DUPLICATE_SCHEMA.empty_table(),
        inputs=case.inputs,
    )
    [lookalike] = of_rule(run(case), "lookalike-domain")
    assert [(e.input, e.line, e.recipient_address) for e in lookalike.evidence] == [
        (EXTENDED, 999, "alice@contoso.com"),  # the summary row, not alice's ZAP row
        (POST_DELIVERY, 3, "bob@contoso.com"),  # bob's ZAP row is all the data says of him
    ]


def test_own_domains_are_not_lookalikes_of_each_other():
    trace = Trace()
    for i in range(3):
        trace.mail(i, "bob@contoso.com", "alice@contoso.com", f"a{i}")
        trace.mail(i, "bob@contoso.com", "anne@contoso.co.uk", f"b{i}")
        trace.mail(i, "bob@contoso.com", "amy@contosso.com", f"c{i}")  # a third own domain
    trace.mail(50, "partner@northwind.example", "alice@contoso.com", "n1")
    chains = build_chains(case_of(trace))
    assert {"contoso.com", "contoso.co.uk", "contosso.com"} <= set(chains.tenant_domains)
    assert of_rule(run(case_of(trace)), "lookalike-domain") == []


def test_first_seen_domain_late_in_the_range():
    trace = Trace()
    tenant_baseline(trace)
    day = 24 * 60
    for d in range(10):
        trace.mail(d * day, "partner@fabrikam.com", "alice@contoso.com", f"p{d}")
    delivered = trace.mail(9 * day + 60, "billing@newco.example", "alice@contoso.com", "new1")
    trace.mail(9 * day + 90, "billing@newco.example", "bob@contoso.com", "new2")
    [finding] = of_rule(run(case_of(trace)), "first-seen-domain")
    assert finding.severity == "info"
    assert finding.entities == {"domain": ["newco.example"]}
    assert lines(finding) == {delivered - 1}  # the RECEIVE of its first message
    # the last third of 2024-03-01 09:00 .. 2024-03-10 10:30
    assert "first seen after 2024-03-07 10:43 UTC" in finding.title


def test_first_seen_needs_a_long_enough_range_and_a_new_domain():
    short = Trace()
    tenant_baseline(short)
    short.mail(60, "billing@newco.example", "alice@contoso.com", "new1")
    assert of_rule(run(case_of(short)), "first-seen-domain") == []

    known = Trace()
    tenant_baseline(known)
    day = 24 * 60
    known.mail(0, "billing@newco.example", "alice@contoso.com", "old")
    known.mail(9 * day, "billing@newco.example", "alice@contoso.com", "again")
    assert of_rule(run(case_of(known)), "first-seen-domain") == []


# --------------------------------------------------------------------------------------------
# transport-rule-hit


RULE_ID = "5f3a2b1c-0d9e-4f8a-b7c6-112233445566"


def transport_trace(action: str) -> tuple[Trace, int]:
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "alice@contoso.com", "buyer@fabrikam.com", "t1")
    hit = trace.add(
        10.1,
        "AGENTINFO",
        "alice@contoso.com",
        "buyer@fabrikam.com",
        "t1",
        custom_data=f"S:TRA=ETR|ruleId={RULE_ID}|st=7/17/2017 12:31:25 AM|action={action}"
        "|sev=1|mode=Enforce",
    )
    trace.add(10.2, "SEND", "alice@contoso.com", "buyer@fabrikam.com", "t1")
    return trace, hit


def test_transport_rule_that_copies_mail_is_medium_with_its_rule_row():
    trace, hit = transport_trace("BlindCopyTo")
    [finding] = of_rule(run(case_of(trace)), "transport-rule-hit")
    assert finding.severity == "medium"
    assert finding.title == f"Transport rule {RULE_ID} acted on 1 message (BlindCopyTo)"
    assert finding.entities["rule"] == [RULE_ID]
    assert lines(finding) == {hit}
    assert finding.evidence[0].detail == f"rule {RULE_ID}, action BlindCopyTo"


def test_disclaimer_rule_is_info_and_sensitive_actions_are_configurable():
    trace, _ = transport_trace("ApplyHtmlDisclaimer")
    case = case_of(trace)
    [finding] = of_rule(run(case), "transport-rule-hit")
    assert finding.severity == "info"
    strict = load_thresholds(overrides={"sensitive_transport_actions": "ApplyHtmlDisclaimer"})
    [finding] = of_rule(run(case, strict), "transport-rule-hit")
    assert finding.severity == "medium"


def test_no_transport_rule_no_finding():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(10, "alice@contoso.com", "buyer@fabrikam.com", "t1", final="SEND")
    assert of_rule(run(case_of(trace)), "transport-rule-hit") == []


# --------------------------------------------------------------------------------------------
# rare-client-ip and shared-unusual-ip


HOURS = 60


def sends_from(
    trace: Trace, sender: str, ip: str, count: int, start: float, tag: str, every: float = 6 * HOURS
) -> list[int]:
    """``count`` messages from ``ip``, one every ``every`` minutes from ``start``."""
    return [
        trace.mail(
            start + i * every,
            sender,
            f"c{i}@fabrikam.com",
            f"{tag}{i}",
            final="SEND",
            original_client_ip=ip,
        )
        for i in range(count)
    ]


def test_sender_from_an_ip_nobody_uses_is_rare():
    trace = Trace()
    tenant_baseline(trace)
    sends_from(trace, "alice@contoso.com", "10.1.1.1", 12, 0, "a")
    sends_from(trace, "bob@contoso.com", "10.1.1.2", 12, 0, "b")
    odd = sends_from(trace, "alice@contoso.com", "203.0.113.9", 3, 30 * HOURS, "odd", every=5)
    findings = run(case_of(trace))
    [finding] = of_rule(findings, "rare-client-ip")
    assert finding.title == "alice@contoso.com sent from unusual IP 203.0.113.9 (3 of 15 messages)"
    assert finding.entities == {"ip": ["203.0.113.9"], "mailbox": ["alice@contoso.com"]}
    assert lines(finding) == {line - 1 for line in odd}  # each message's first row
    assert of_rule(findings, "shared-unusual-ip") == []


def test_an_ip_colleagues_use_is_not_rare():
    trace = Trace()
    tenant_baseline(trace)
    sends_from(trace, "alice@contoso.com", "10.1.1.1", 12, 0, "a")
    sends_from(trace, "bob@contoso.com", "10.1.1.2", 12, 0, "b")
    sends_from(trace, "alice@contoso.com", "10.1.1.2", 1, 100, "visit")  # at bob's office
    assert of_rule(run(case_of(trace)), "rare-client-ip") == []


def test_a_second_place_someone_works_from_is_not_rare():
    trace = Trace()
    tenant_baseline(trace)
    sends_from(trace, "alice@contoso.com", "10.1.1.1", 12, 0, "a")
    sends_from(trace, "alice@contoso.com", "192.0.2.44", 3, 5, "home", every=30 * HOURS)
    assert of_rule(run(case_of(trace)), "rare-client-ip") == []
    # home: 60 h of use; office: 66 h. An episode of up to 65 h makes home the odd one out.
    wide = load_thresholds(overrides={"rare_ip_max_span_hours": "65"})
    assert len(of_rule(run(case_of(trace), wide), "rare-client-ip")) == 1


def shared_ip_case(accounts: int) -> Case:
    trace = Trace()
    tenant_baseline(trace)
    for n in range(accounts):
        sends_from(trace, f"user{n}@contoso.com", f"10.2.0.{n}", 12, n * 20, f"u{n}-")
        sends_from(trace, f"user{n}@contoso.com", "198.51.100.7", 1, 30 * HOURS + n, f"x{n}-")
    return case_of(trace)


def test_one_unusual_ip_for_several_accounts_is_shared():
    findings = run(shared_ip_case(5))
    [finding] = of_rule(findings, "shared-unusual-ip")
    assert finding.severity == "high"
    assert finding.title == "5 internal senders used the unusual IP 198.51.100.7"
    assert finding.entities["ip"] == ["198.51.100.7"]
    assert len(finding.entities["mailbox"]) == 5
    assert finding.evidence_total == 5
    assert of_rule(findings, "rare-client-ip") == []


def test_shared_ip_needs_enough_accounts_unless_configured():
    case = shared_ip_case(4)
    assert of_rule(run(case), "shared-unusual-ip") == []
    loose = load_thresholds(overrides={"shared_ip_min_senders": "4"})
    assert len(of_rule(run(case, loose), "shared-unusual-ip")) == 1


# --------------------------------------------------------------------------------------------
# long-deferral, pending-at-end, mail-loop


def test_long_deferral_by_recipient_domain():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "alice@contoso.com", "bob@slow.example", "d1")
    trace.add(
        11,
        "DEFER",
        "alice@contoso.com",
        "bob@slow.example",
        "d1",
        recipient_status="451 4.4.0 DNS query failed",
        status_code="4.4.0",
    )
    last_defer = trace.add(
        71,
        "DEFER",
        "alice@contoso.com",
        "bob@slow.example",
        "d1",
        recipient_status="451 4.4.0 DNS query failed",
        status_code="4.4.0",
    )
    trace.add(140, "SEND", "alice@contoso.com", "bob@slow.example", "d1")
    # a short deferral elsewhere: not reported
    trace.add(10, "RECEIVE", "alice@contoso.com", "eve@quick.example", "d2")
    trace.add(11, "DEFER", "alice@contoso.com", "eve@quick.example", "d2")
    trace.add(16, "SEND", "alice@contoso.com", "eve@quick.example", "d2")
    [finding] = of_rule(run(case_of(trace)), "long-deferral")
    assert finding.title == "Delivery to slow.example deferred for up to 2 h 9 min (1 recipient)"
    assert lines(finding) == {last_defer}
    assert "final status Delivered" in finding.evidence[0].detail


def test_pending_at_end_only_when_old_enough():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "alice@contoso.com", "bob@down.example", "p1")
    stuck = trace.add(11, "DEFER", "alice@contoso.com", "bob@down.example", "p1")
    trace.add(290, "RECEIVE", "alice@contoso.com", "eve@later.example", "p2")
    trace.add(291, "DEFER", "alice@contoso.com", "eve@later.example", "p2")  # 9 min before end
    trace.mail(300, "bob@contoso.com", "alice@contoso.com", "end")
    [finding] = of_rule(run(case_of(trace)), "pending-at-end")
    assert finding.title == "1 recipient at down.example still pending at the end of the data"
    assert lines(finding) == {stuck}
    assert finding.entities["domain"] == ["down.example"]


def test_mail_loop_by_repeated_receives_and_by_ndr():
    trace = Trace()
    tenant_baseline(trace)
    loop_lines = []
    for i in range(12):
        loop_lines.append(
            trace.add(
                10 + i,
                "RECEIVE",
                "alice@contoso.com",
                "alias@partner.example",
                f"hop{i}",
                message_id="<loop-1@contoso.com>",
            )
        )
        trace.add(
            10.5 + i,
            "SEND",
            "alice@contoso.com",
            "alias@partner.example",
            f"hop{i}",
            message_id="<loop-1@contoso.com>",
        )
    ndr = trace.add(
        50,
        "FAIL",
        "bob@contoso.com",
        "x@partner.example",
        "n1",
        status_code="5.4.14",
        recipient_status="554 5.4.14 Hop count exceeded",
    )
    findings = of_rule(run(case_of(trace)), "mail-loop")
    assert len(findings) == 2
    repeated = next(f for f in findings if "<loop-1@contoso.com>" in f.title)
    assert "received 12 times for alias@partner.example" in repeated.title
    assert lines(repeated) == set(loop_lines)
    by_ndr = next(f for f in findings if "5.4.14" in f.title)
    assert lines(by_ndr) == {ndr}


def test_a_few_receives_are_no_loop():
    trace = Trace()
    tenant_baseline(trace)
    for i in range(3):
        trace.mail(
            10 + i,
            "alice@contoso.com",
            "alias@partner.example",
            f"hop{i}",
            final="SEND",
            message_id="<again@contoso.com>",
        )
    assert of_rule(run(case_of(trace)), "mail-loop") == []


# --------------------------------------------------------------------------------------------
# evidence quality


def test_input_at_an_export_limit_is_probably_truncated():
    trace = Trace()
    tenant_baseline(trace)
    last = trace.mail(10, "bob@contoso.com", "alice@contoso.com", "last")
    # ingest decides whether a file stops at its format's limit (tests/test_ingest.py)
    case = case_of(trace, records=[trace.record(rows_read=1000, export_limit="1,000 rows")])
    [finding] = of_rule(run(case), "export-limit")
    assert finding.title == f"{EXTENDED} stops at an export limit (1,000 rows)"
    assert lines(finding) == {last}
    assert finding.evidence[0].input == EXTENDED

    near = case_of(trace, records=[trace.record(rows_read=999)])
    assert of_rule(run(near), "export-limit") == []


def test_gap_between_inputs_is_reported_with_both_edges():
    first = Trace("exports/week1.csv", "1" * 16)
    tenant_baseline(first)
    before = first.mail(60, "bob@contoso.com", "alice@contoso.com", "w1")
    second = Trace("exports/week2.csv", "2" * 16)
    after = second.mail(4 * 24 * 60, "bob@contoso.com", "alice@contoso.com", "w2")
    second.mail(4 * 24 * 60 + 5, "bob@contoso.com", "alice@contoso.com", "w3")
    [finding] = of_rule(run(case_of(first, second)), "coverage-gap")
    assert (
        finding.title == "No input covers 2024-03-01 10:00 UTC to 2024-03-05 09:00 UTC (3 d 23 h)"
    )
    assert {(e.input, e.line) for e in finding.evidence} == {
        ("exports/week1.csv", before),
        ("exports/week2.csv", after - 1),  # its first row (RECEIVE)
    }


def test_inputs_close_in_time_leave_no_gap():
    first = Trace("exports/a.csv", "1" * 16)
    tenant_baseline(first)
    second = Trace("exports/b.csv", "2" * 16)
    second.mail(120, "bob@contoso.com", "alice@contoso.com", "w2")
    assert of_rule(run(case_of(first, second)), "coverage-gap") == []
    tight = load_thresholds(overrides={"coverage_gap_hours": "1"})
    assert len(of_rule(run(case_of(first, second), tight), "coverage-gap")) == 1


def test_rejected_rows_list_their_lines_and_reasons():
    trace = Trace()
    tenant_baseline(trace)
    record = trace.record(
        rows_read=100,
        rows_rejected=2,
        rejected=[RejectedRow(40, "bad timestamp 'yesterday'"), RejectedRow(41, "ragged row")],
    )
    [finding] = of_rule(run(case_of(trace, records=[record])), "rejected-rows")
    assert finding.severity == "medium"  # 2% of the rows
    assert finding.title == f"{EXTENDED}: 2 rows rejected at ingest"
    assert [(e.line, e.detail) for e in finding.evidence] == [
        (40, "bad timestamp 'yesterday'"),
        (41, "ragged row"),
    ]
    clean = trace.record()
    assert of_rule(run(case_of(trace, records=[clean])), "rejected-rows") == []


def test_unreadable_input_is_a_finding():
    trace = Trace()
    tenant_baseline(trace)
    broken = InputRecord(
        path="exports/binary.csv",
        size=10,
        sha256="f" * 64,
        input_id="f" * 16,
        error="not a message trace export",
        status="rejected",
    )
    [finding] = of_rule(run(case_of(trace, records=[trace.record(), broken])), "rejected-rows")
    assert finding.title == "exports/binary.csv could not be read"
    assert finding.evidence[0].input == "exports/binary.csv"


# --------------------------------------------------------------------------------------------
# the whole run: order, shape, determinism


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


def test_findings_are_sorted_most_urgent_first_and_all_have_evidence():
    findings = run(busy_case())
    ranks = [SEVERITIES.index(f.severity) for f in findings]
    assert ranks == sorted(ranks, reverse=True)
    assert findings[0].severity == "high"
    for finding in findings:
        assert finding.evidence, finding.rule
        assert finding.evidence_total >= len(finding.evidence)
        assert all(e.input == EXTENDED and e.line for e in finding.evidence)
        assert finding.rule in {r.id for r in RULES}


def test_json_shape_and_deterministic_output():
    case = busy_case()
    first = json.dumps(findings_json(run(case)))
    second = json.dumps(findings_json(run(case)))
    assert first == second
    data = json.loads(first)
    assert set(data[0]) == {
        "rule",
        "severity",
        "title",
        "explanation",
        "entities",
        "evidence",
        "evidence_total",
    }
    assert {"network_message_id", "input", "line", "time", "detail"} <= set(data[0]["evidence"][0])


def test_text_output_groups_by_severity_and_shows_evidence_lines():
    findings = run(busy_case())
    text = findings_text(findings)
    assert text.index("HIGH (") < text.index("MEDIUM (") < text.index("LOW (")
    assert f"{EXTENDED}:" in text
    assert " UTC  <" in text  # input:line  time UTC  message id


def test_at_least_filters_by_severity():
    findings = run(busy_case())
    high = at_least(findings, "high")
    assert high and all(f.severity == "high" for f in high)
    assert at_least(findings, "info") == findings
    with pytest.raises(OptionError, match="unknown severity 'urgent'"):
        at_least(findings, "urgent")


def test_empty_case_has_no_findings():
    case = Case.empty()
    assert run(case) == []


# --------------------------------------------------------------------------------------------
# thresholds


def test_thresholds_from_toml_and_json_files_and_overrides(tmp_path):
    toml = tmp_path / "findings.toml"
    toml.write_text(
        'burst_min_recipients = 200\nsensitive_transport_actions = ["RedirectMessage"]\n'
        "coverage_gap_hours = 6\n",
        encoding="utf-8",
    )
    loaded = load_thresholds(toml, {"burst_window_minutes": "15"})
    assert loaded.burst_min_recipients == 200
    assert loaded.sensitive_transport_actions == ("RedirectMessage",)
    assert loaded.coverage_gap_hours == 6.0
    assert loaded.burst_window_minutes == 15
    assert loaded.max_evidence == Thresholds().max_evidence

    as_json = tmp_path / "findings.json"
    as_json.write_text('{"thresholds": {"max_evidence": 5}}', encoding="utf-8")
    assert load_thresholds(as_json).max_evidence == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"burst_min_recipent": "5"},
            "unknown threshold 'burst_min_recipent' \\(did you mean burst_min_recipients\\?\\)",
        ),
        ({"burst_min_recipients": "many"}, "expected a whole number, got 'many'"),
        ({"failure_spike_min_rate": "2"}, "above its maximum 1"),
        ({"max_evidence": "0"}, "below its minimum 1"),
    ],
)
def test_bad_thresholds_are_option_errors(overrides, message):
    with pytest.raises(OptionError, match=message):
        load_thresholds(overrides=overrides)


def test_bad_config_file_is_an_option_error(tmp_path):
    broken = tmp_path / "x.toml"
    broken.write_text("burst_min_recipients = = 3", encoding="utf-8")
    with pytest.raises(OptionError, match="not valid TOML"):
        load_thresholds(broken)
    with pytest.raises(OptionError, match="cannot read the findings config"):
        load_thresholds(tmp_path / "missing.toml")


def test_evidence_cap_is_a_threshold():
    trace = Trace()
    tenant_baseline(trace)
    outbound_run(trace, "alice@contoso.com", 60, 0.5, "Shared document")
    [finding] = of_rule(
        run(case_of(trace), load_thresholds(overrides={"max_evidence": "3"})), "outbound-burst"
    )
    assert len(finding.evidence) == 3 and finding.evidence_total == 60


def test_rules_markdown_documents_every_rule_and_threshold():
    text = rules_markdown()
    for rule in RULES:
        assert f"| `{rule.id}` |" in text
    for name in Thresholds.__dataclass_fields__:
        assert f"| `{name}` |" in text


def test_a_busy_lookalike_of_our_domain_is_still_a_lookalike():
    trace = Trace()
    tenant_baseline(trace)
    for i in range(15):  # enough mail to count as a frequent correspondent
        trace.mail(10 + i, "billing@contosso.com", "alice@contoso.com", f"bec{i}")
    [finding] = of_rule(run(case_of(trace)), "lookalike-domain")
    assert finding.title == "Look-alike domain contosso.com imitates contoso.com"
    assert finding.evidence_total == 15
