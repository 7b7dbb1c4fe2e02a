"""What every rule shares (analyzer/findings/base.py): the context, its shared computations,
and how evidence is built and capped."""

from __future__ import annotations

from analyzer.case import Case
from analyzer.findings import load_thresholds

from .builders import Trace, case_of, of_rule, outbound_run, run, tenant_baseline


def test_empty_case_has_no_findings():
    case = Case.empty()
    assert run(case) == []


def test_evidence_cap_is_a_threshold():
    trace = Trace()
    tenant_baseline(trace)
    outbound_run(trace, "alice@contoso.com", 60, 0.5, "Shared document")
    [finding] = of_rule(
        run(case_of(trace), load_thresholds(overrides={"max_evidence": "3"})), "outbound-burst"
    )
    assert len(finding.evidence) == 3 and finding.evidence_total == 60
