"""The evidence section: every input, its fingerprint and row counts, cut exports."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

from analyzer.chains import build_chains
from analyzer.report import ReportOptions, build_report_context, render_report
from analyzer.report.evidence import size_text
from report.page import GENERATED_AT, SAMPLES, parse, story


def test_evidence_lists_every_input_with_fingerprint_and_counts(story_case, full_html):
    case, _, _ = story_case
    visible = re.sub(r"\s+", " ", " ".join(parse(full_html).text))
    for record in case.inputs:
        assert record.path in visible
        assert record.sha256 in visible
    assert "the last row is incomplete" in visible  # input 3's rejected row, with its reason


def test_probably_truncated_input_is_flagged(story_case):
    case, chains, findings = story_case
    cut = replace(case.inputs[1], rows_read=1_000, export_limit="1,000 messages")
    case = replace(case, inputs=[case.inputs[0], cut, case.inputs[2]])
    html = render_report(
        build_report_context(case, chains, findings, ReportOptions(generated_at=GENERATED_AT))
    )
    visible = " ".join(parse(html).text)
    assert "Probably truncated exports" in visible
    assert f"Input 2 ({cut.path}) holds exactly 1,000 messages" in visible


def test_files_that_could_not_be_read_are_listed_with_why(tmp_path):
    folder = tmp_path / "exports"
    folder.mkdir()
    (folder / "summary.csv").write_bytes((Path(SAMPLES) / "summary_utf8_bom.csv").read_bytes())
    (folder / "contacts.csv").write_text("Name,Age\r\nBob,42\r\n", encoding="utf-8")
    from analyzer.findings import run_findings
    from analyzer.ingest import load_sources

    case = load_sources([folder])
    chains = build_chains(case)
    findings = run_findings(case, chains)
    html = render_report(
        build_report_context(case, chains, findings, ReportOptions(generated_at=GENERATED_AT))
    )

    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert f"{folder / 'contacts.csv'}" in visible
    assert "Not loaded: is not a message trace export" in visible
    assert f"{folder / 'contacts.csv'} could not be read" in [f.title for f in findings]


def test_sizes_read_in_the_largest_unit_that_fits():
    assert size_text(812) == "812 bytes"
    assert size_text(1_500) == "1.5 KB"
    assert size_text(3 * (1 << 20)) == "3.0 MB"
    assert size_text(5 * (1 << 30) // 2) == "2.5 GB"


def _evidence_text(case) -> str:
    from analyzer.findings import run_findings

    chains = build_chains(case)
    context = build_report_context(
        case, chains, run_findings(case, chains), ReportOptions(generated_at=GENERATED_AT)
    )
    html = render_report(context)
    section = html[html.index('<section id="evidence"') : html.index('<section id="quality"')]
    return re.sub(r"\s+", " ", " ".join(parse(section).text))


def test_evidence_says_when_the_case_was_last_verified(tmp_path):
    from analyzer.case import open_case
    from analyzer.ingest import ingest_into_case, load_sources
    from analyzer.verify import verify_case

    exports = story.write_exports(tmp_path / "exports")
    # exports read directly: nothing stored to verify
    assert "Case check: read from the export files directly" in _evidence_text(
        load_sources([str(p) for p in exports])
    )
    folder = tmp_path / "my case"
    ingest_into_case(exports, folder)
    visible = _evidence_text(open_case(folder))
    assert f"Case check: not verified: run msgtrace verify '{folder}'" in visible
    result = verify_case(folder)
    assert result.ok
    visible = _evidence_text(open_case(folder))
    assert f"Case check: last verified {result.verified_at}: OK" in visible
    # an edited row count: the case changed since it was verified, then verify finds it
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["inputs"][0]["rows_read"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    assert "the case changed since: run msgtrace verify again" in _evidence_text(open_case(folder))
    found = verify_case(folder)
    assert not found.ok
    problems = len(found.problems)
    label = f"{problems} problem{'s' if problems != 1 else ''}"
    assert f"last verified {found.verified_at}: {label}" in _evidence_text(open_case(folder))
