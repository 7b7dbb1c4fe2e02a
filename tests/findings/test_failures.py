"""failure-spike (analyzer/findings/failures.py)."""

from __future__ import annotations

from analyzer.case import Case
from analyzer.findings import load_thresholds

from .builders import Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline


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


@near_miss("failure-spike")
def test_steady_failures_are_no_spike_and_threshold_decides():
    steady, _ = failure_case(spike=False)
    assert of_rule(run(steady), "failure-spike") == []
    spiky, _ = failure_case(spike=True)
    strict = load_thresholds(overrides={"failure_spike_min_failures": "25"})
    assert of_rule(run(spiky, strict), "failure-spike") == []
