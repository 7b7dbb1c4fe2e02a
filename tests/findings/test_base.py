"""What every rule shares (analyzer/findings/base.py): the context, its shared computations,
and how evidence is built and capped."""

from __future__ import annotations

from analyzer.case import Case
from analyzer.chains import build_chains
from analyzer.findings import Thresholds, load_thresholds
from analyzer.findings.base import Context
from analyzer.findings.bursts import Outbound

from .builders import Trace, busy_case, case_of, of_rule, outbound_run, run, tenant_baseline


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


def test_a_capped_finding_keeps_its_latest_row_to_cite():
    trace = Trace()
    tenant_baseline(trace)
    sent = outbound_run(trace, "alice@contoso.com", 60, 0.5, "Shared document")
    [capped] = of_rule(
        run(case_of(trace), load_thresholds(overrides={"max_evidence": "3"})), "outbound-burst"
    )
    assert [e.line for e in capped.evidence] == sent[:3]
    assert capped.evidence_last is not None
    assert capped.evidence_last.line == sent[-1]  # where the burst ends
    assert capped.evidence_last.time > capped.evidence[-1].time
    assert "evidence_last" not in capped.to_json()  # not part of the findings --json contract
    # evidence that holds every row already cites the last one
    [uncut] = of_rule(
        run(case_of(trace), load_thresholds(overrides={"max_evidence": "60"})), "outbound-burst"
    )
    assert uncut.evidence_last is None and uncut.evidence[-1].line == sent[-1]


def test_shared_computations_are_made_once_per_run_and_never_cross_runs():
    case = busy_case()
    chains = build_chains(case)
    context = Context(case=case, chains=chains, thresholds=Thresholds())
    outbound = context.topic(Outbound)
    assert context.topic(Outbound) is outbound
    assert outbound.rows is outbound.rows
    assert outbound.burst_senders == {"alice@contoso.com"}
    # another run with other thresholds computes its own
    strict = Context(case=case, chains=chains, thresholds=Thresholds(burst_min_recipients=100))
    assert strict.topic(Outbound) is not outbound
    assert strict.topic(Outbound).burst_senders == set()
    assert outbound.burst_senders == {"alice@contoso.com"}
