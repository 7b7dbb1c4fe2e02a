"""The findings section: by severity, most urgent first, evidence capped and linked."""

from __future__ import annotations

import pyarrow as pa

from analyzer.case import Case
from analyzer.findings.model import SEVERITIES, Evidence, Finding
from analyzer.report.findings_view import SEVERITIES_MOST_URGENT_FIRST, severity_groups
from analyzer.timestamps import DisplayZone
from report.page import parse, story


def test_findings_are_grouped_by_severity_and_link_to_their_messages(story_case, full_html):
    _, _, findings = story_case
    assert findings, "the story must give findings"
    visible = " ".join(parse(full_html).text)
    for finding in findings:
        assert finding.title in visible
    order = [
        full_html.index(f'id="severity-{s}"')
        for s in ("high", "medium", "low")
        if f'id="severity-{s}"' in full_html
    ]
    assert order == sorted(order)
    assert f'href="#message={story.FORWARD_ID}"' in full_html


def _finding(severity: str, title: str, evidence: int = 0) -> Finding:
    rows = [
        Evidence(message_key="k1", network_message_id="n1", line=n, input="a.csv")
        for n in range(evidence)
    ]
    return Finding("rule", severity, title, "why", evidence=rows, evidence_total=evidence)


def test_severities_most_urgent_first_then_the_rules_order():
    assert tuple(reversed(SEVERITIES)) == SEVERITIES_MOST_URGENT_FIRST
    assert SEVERITIES_MOST_URGENT_FIRST[0] == "high"
    findings = [
        _finding("low", "l1"),
        _finding("high", "h1"),
        _finding("info", "i1"),
        _finding("high", "h2"),
    ]
    messages = pa.table({"message_key": ["k1"]})
    groups = severity_groups(findings, messages, ["n1"], Case.empty(), DisplayZone(), 25)
    assert [(g.severity, [f.title for f in g.findings]) for g in groups] == [
        ("high", ["h1", "h2"]),
        ("low", ["l1"]),
        ("info", ["i1"]),
    ]
    # anchors number the findings in the order shown
    assert [f.anchor for g in groups for f in g.findings] == [
        "finding-1",
        "finding-2",
        "finding-3",
        "finding-4",
    ]


def test_evidence_rows_are_capped_and_link_to_messages_in_the_report():
    messages = pa.table({"message_key": ["k1"]})
    (group,) = severity_groups(
        [_finding("medium", "m", evidence=5)], messages, ["n1"], Case.empty(), DisplayZone(), 2
    )
    (view,) = group.findings
    assert [row.line for row in view.evidence] == ["0", "1"]
    assert view.evidence_total == 5
    assert {row.message_link for row in view.evidence} == {"n1"}
    assert {row.time for row in view.evidence} == {"-"}  # evidence without a time
