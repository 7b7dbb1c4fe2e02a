"""Data quality (rejected rows, warnings, conflicts) and what the report leaves out."""

from __future__ import annotations

import re

from analyzer.findings.model import Evidence, Finding
from analyzer.report import ReportOptions, build_report_context
from analyzer.report.quality import caps_text
from report.page import GENERATED_AT, parse, render


def test_rejected_rows_are_listed_with_their_input_line_and_reason(story_case):
    case, chains, findings = story_case
    context = build_report_context(case, chains, findings, ReportOptions(generated_at=GENERATED_AT))
    rejected = [(r.input, r.reason) for r in context.quality.rejected]
    assert len(rejected) == context.quality.rejected_total == 1
    assert rejected[0][0].endswith("input3_extended.csv")
    assert "the last row is incomplete" in rejected[0][1]
    assert context.quality.rejected[0].line.isdigit()


def test_listed_rejections_are_capped_but_all_counted(story_case):
    html = render(story_case, max_listed_rejections=0)
    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert "Rejected rows (1)" in visible
    assert "The first 0 are listed" in visible


def test_caps_say_what_the_report_leaves_out():
    cut = Finding("rule", "high", "t", "e", evidence=[Evidence()] * 3, evidence_total=30)
    whole = Finding("rule", "low", "t", "e", evidence=[Evidence()], evidence_total=1)
    notes = caps_text("event rows of 4 message(s) are not embedded", 25, [cut, whole], True)
    assert notes[0].startswith("Message detail: event rows of 4 message(s) are not embedded.")
    assert notes[1].startswith("1 finding(s) cite more than 25 evidence rows")
    assert notes[2].startswith("This is a focused report")
    assert caps_text("", 25, [whole], False) == ()
