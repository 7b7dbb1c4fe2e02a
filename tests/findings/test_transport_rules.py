"""transport-rule-hit (analyzer/findings/transport_rules.py)."""

from __future__ import annotations

from analyzer.findings import load_thresholds

from .builders import Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline

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


@near_miss("transport-rule-hit")
def test_no_transport_rule_no_finding():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(10, "alice@contoso.com", "buyer@fabrikam.com", "t1", final="SEND")
    assert of_rule(run(case_of(trace)), "transport-rule-hit") == []
