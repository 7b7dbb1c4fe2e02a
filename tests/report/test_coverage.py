"""Time coverage: the gaps no input covers and the inputs that overlap."""

from __future__ import annotations

import re

import pandas as pd

from analyzer.report.coverage import coverage_gaps, coverage_overlaps, covered_intervals
from analyzer.timestamps import DisplayZone
from report.page import parse


def _at(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_story_coverage_shows_the_overlap_and_the_gap(full_html):
    visible = re.sub(r"\s+", " ", " ".join(parse(full_html).text))
    # input 2 repeats the rows of messages 55..60 that input 1 has: 12 duplicates, and the
    # coverage shows the overlap although the duplicates are not its own events
    assert "Input 1 overlaps input 2." in visible and "Input 2 overlaps input 1." in visible
    assert "2024-03-05 18:55:00 UTC 2024-03-06 22:40:02 UTC" in visible  # input 2's range
    assert (
        "No input covers 2024-03-06 22:40:02 UTC to 2024-03-07 23:17:00 UTC (1 d 1 h)." in visible
    )
    assert 'class="chart coverage"' in full_html


def test_gaps_and_overlaps_of_three_inputs():
    spans = [
        (1, _at("2024-01-01 00:00"), _at("2024-01-02 00:00")),
        (3, _at("2024-01-01 12:00"), _at("2024-01-01 18:00")),
        (2, _at("2024-01-03 06:00"), _at("2024-01-04 00:00")),
    ]
    assert covered_intervals(spans) == [
        (_at("2024-01-01 00:00"), _at("2024-01-02 00:00")),
        (_at("2024-01-03 06:00"), _at("2024-01-04 00:00")),
    ]
    assert coverage_gaps(spans, DisplayZone("Europe/Paris")) == (
        "No input covers 2024-01-02 01:00:00 CET to 2024-01-03 07:00:00 CET (1 d 6 h).",
    )
    assert coverage_overlaps(spans) == ("Input 1 overlaps input 3.", "Input 3 overlaps input 1.")


def test_inputs_that_touch_leave_no_gap_and_one_overlaps_several():
    spans = [
        (1, _at("2024-01-01"), _at("2024-01-03")),
        (2, _at("2024-01-02"), _at("2024-01-04")),
        (3, _at("2024-01-03"), _at("2024-01-05")),
    ]
    assert coverage_gaps(spans, DisplayZone()) == ()
    assert coverage_overlaps(spans) == (
        "Input 1 overlaps inputs 2 and 3.",
        "Input 2 overlaps inputs 1 and 3.",
        "Input 3 overlaps inputs 1 and 2.",
    )
