"""The threat-verdict rules (analyzer/findings/verdicts.py): malware, phish, spam,
bulk, quarantine, spam let through."""

from __future__ import annotations

from analyzer.findings import RULES, load_thresholds

from .builders import Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline, verdict_trace

VERDICT_RULES = (
    "malware-detected",
    "phish-detected",
    "outbound-spam",
    "spam-verdict",
    "bulk-mail",
    "quarantined",
    "delivered-despite-high-scl",
)


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


@near_miss("delivered-despite-high-scl")
def test_high_scl_threshold_override_changes_what_was_let_through():
    trace, _ = verdict_trace()
    findings = run(case_of(trace), load_thresholds(overrides={"high_scl": "8"}))
    assert of_rule(findings, "delivered-despite-high-scl") == []


@near_miss(*VERDICT_RULES)
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


@near_miss(*VERDICT_RULES)
def test_verdicts_just_short_of_each_kind_give_no_finding():
    trace = Trace()
    tenant_baseline(trace)

    def agentinfo(minutes, sender, recipient, message, data, final):
        trace.add(minutes, "RECEIVE", sender, recipient, message)
        trace.add(minutes + 0.1, "AGENTINFO", sender, recipient, message, custom_data=data)
        trace.add(minutes + 0.2, final, sender, recipient, message)

    inbox = "alice@contoso.com"
    # one below the spam line, delivered to the inbox: no spam, nothing let through
    agentinfo(10, "promo@shop.example", inbox, "scl4", "S:SFA=SUM|SFV=NSPM|SCL=4|DI=SN", "DELIVER")
    # the same from inside to outside: no outbound spam
    agentinfo(20, inbox, "buyer@fabrikam.com", "out4", "S:SFA=SUM|SFV=NSPM|SCL=4", "SEND")
    # a spam filter category and a service that are not phish or bulk
    agentinfo(
        30, "x@bad.example", inbox, "cat", "S:SFA=SUM|SFV=NSPM|SCL=1|CAT=NONE|SRV=NONE", "DELIVER"
    )
    # a malware scan that found nothing
    agentinfo(50, "x@bad.example", inbox, "scanned", "S:AMA=SUM|v=1|action=p", "DELIVER")
    findings = run(case_of(trace))
    assert [f for f in findings if f.rule in VERDICT_RULES] == []
    # and one step over the line is enough: SCL 5 delivered to the inbox is let through
    trace.rows.clear()
    tenant_baseline(trace)
    agentinfo(10, "promo@shop.example", inbox, "scl5", "S:SFA=SUM|SFV=NSPM|SCL=5|DI=SN", "DELIVER")
    [finding] = of_rule(run(case_of(trace)), "delivered-despite-high-scl")
    assert "SCL=5" in finding.evidence[0].detail
