"""Findings as a user gets them (analyzer/findings/model.py and the package's output
functions): most urgent first, the JSON shape, the text layout, the severity filter."""

from __future__ import annotations

import json

import pytest

from analyzer.errors import OptionError
from analyzer.findings import RULES, SEVERITIES, at_least, findings_json, findings_text

from .builders import EXTENDED, busy_case, run


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
