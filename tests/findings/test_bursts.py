"""outbound-burst and mass-subject (analyzer/findings/bursts.py)."""

from __future__ import annotations

from analyzer.findings import load_thresholds

from .builders import Trace, case_of, lines, near_miss, of_rule, outbound_run, run, tenant_baseline


@near_miss("mass-subject")
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


@near_miss("outbound-burst", "mass-subject")
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


@near_miss("outbound-burst")
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


@near_miss("mass-subject")
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
