"""export-limit, coverage-gap and rejected-rows (analyzer/findings/evidence_quality.py)."""

from __future__ import annotations

from analyzer.case import InputRecord, RejectedRow
from analyzer.findings import load_thresholds

from .builders import EXTENDED, Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline


@near_miss("export-limit")
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


@near_miss("coverage-gap")
def test_inputs_close_in_time_leave_no_gap():
    first = Trace("exports/a.csv", "1" * 16)
    tenant_baseline(first)
    second = Trace("exports/b.csv", "2" * 16)
    second.mail(120, "bob@contoso.com", "alice@contoso.com", "w2")
    assert of_rule(run(case_of(first, second)), "coverage-gap") == []
    tight = load_thresholds(overrides={"coverage_gap_hours": "1"})
    assert len(of_rule(run(case_of(first, second), tight), "coverage-gap")) == 1


@near_miss("rejected-rows")
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
