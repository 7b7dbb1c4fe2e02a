"""Building the report: the header, options, time zones, empty cases, determinism."""

from __future__ import annotations

import hashlib

import pytest

from analyzer.case import Case
from analyzer.chains import build_chains
from analyzer.errors import OptionError
from analyzer.report import (
    ReportOptions,
    build_report_context,
    render_report,
    resolve_generated_at,
    write_report,
)
from report.page import GENERATED_AT, embedded_data, parse, render, story


def test_header_says_who_when_and_in_which_time_zone(full_html):
    visible = " ".join(parse(full_html).text)
    assert "Story" in visible and "INC-7" in visible and "A. Analyst" in visible
    assert "2024-03-09 10:00:00 UTC" in visible
    assert "All times are UTC." in visible
    assert "msgtrace " in visible


def test_display_time_zone_is_labelled(story_case):
    html = render(story_case, display_tz="Europe/Berlin")
    visible = " ".join(parse(html).text)
    assert "Times are shown in Europe/Berlin" in visible
    assert "2024-03-09 11:00:00 CET (2024-03-09 10:00:00 UTC)" in visible
    assert "2024-03-04 09:00:00 CET" in visible  # the first event, 08:00 UTC
    offsets = embedded_data(html)["zone"]["offsets"]
    assert [entry[1:] for entry in offsets] == [[60, "CET"]]


def test_an_empty_case_still_gives_a_report():
    case = Case.empty()
    options = ReportOptions(generated_at=GENERATED_AT)
    html = render_report(build_report_context(case, build_chains(case), [], options))
    visible = " ".join(parse(html).text)
    assert "no dated events" in visible
    assert "No input files." in visible
    assert "No rule found anything to report." in visible
    assert embedded_data(html)["recipients"]["rows"] == []


def test_unknown_time_zone_is_a_clear_error(story_case):
    with pytest.raises(OptionError, match="Mars/Olympus"):
        render(story_case, display_tz="Mars/Olympus")


def test_same_inputs_and_options_give_identical_bytes(story_case, tmp_path):
    case, chains, findings = story_case
    options = ReportOptions(generated_at=GENERATED_AT, display_tz="America/New_York")
    first = write_report(case, chains, findings, options, tmp_path / "a.html")
    second = write_report(case, chains, findings, options, tmp_path / "b.html")
    assert first == second
    assert (tmp_path / "a.html").read_bytes() == (tmp_path / "b.html").read_bytes()
    assert first == hashlib.sha256((tmp_path / "a.html").read_bytes()).hexdigest()
    # the whole pipeline, run again on the same exports, gives the same file too
    folder = tmp_path / "exports"
    runs = [write_report(*story.build(folder), options, tmp_path / f"{n}.html") for n in (1, 2)]
    assert runs[0] == runs[1]


def test_generated_time_comes_from_option_then_source_date_epoch():
    assert (
        resolve_generated_at("2024-05-01T12:00:00+02:00").isoformat() == "2024-05-01T10:00:00+00:00"
    )
    assert resolve_generated_at(None, {"SOURCE_DATE_EPOCH": "1700000000"}).isoformat() == (
        "2023-11-14T22:13:20+00:00"
    )
    assert resolve_generated_at("2024-05-01", {"SOURCE_DATE_EPOCH": "1"}).isoformat() == (
        "2024-05-01T00:00:00+00:00"
    )
    with pytest.raises(OptionError, match="SOURCE_DATE_EPOCH"):
        resolve_generated_at(None, {"SOURCE_DATE_EPOCH": "yesterday"})
    with pytest.raises(OptionError, match="--generated-at"):
        resolve_generated_at("not a time", {})


def test_an_unwritable_path_is_a_clear_error(story_case, tmp_path):
    from analyzer.errors import AnalyzerError

    case, chains, findings = story_case
    target = tmp_path / "missing-folder" / "report.html"
    with pytest.raises(AnalyzerError, match="cannot write the report"):
        write_report(case, chains, findings, ReportOptions(generated_at=GENERATED_AT), target)
