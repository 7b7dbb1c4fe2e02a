"""Which times the inputs cover together: the gaps no input covers and the overlaps."""

from __future__ import annotations

import itertools

import pandas as pd

from analyzer.report.evidence import Span
from analyzer.timestamps import DisplayZone, duration_text


def covered_intervals(spans: list[Span]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """The spans (in time order) merged where they touch or overlap."""
    merged: list[list[pd.Timestamp]] = []
    for _, first, last in spans:
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(a, b) for a, b in merged]


def coverage_gaps(spans: list[Span], zone: DisplayZone) -> tuple[str, ...]:
    """Each time between inputs that no input covers, in words with its length."""
    covered = covered_intervals(spans)
    return tuple(
        f"No input covers {zone.format(end)} to {zone.format(start)} "
        f"({duration_text((start - end).total_seconds())})."
        for (_, end), (start, _) in itertools.pairwise(covered)
    )


def coverage_overlaps(spans: list[Span]) -> tuple[str, ...]:
    """Per input, the other inputs whose time range overlaps its own (one line per input)."""
    overlapping: dict[int, list[int]] = {}
    for index, (number, first, last) in enumerate(spans):
        for other, other_first, other_last in spans[index + 1 :]:
            if max(first, other_first) <= min(last, other_last):
                overlapping.setdefault(number, []).append(other)
                overlapping.setdefault(other, []).append(number)
    lines = []
    for number in sorted(overlapping):
        others = [str(n) for n in sorted(overlapping[number])]
        listed = others[0] if len(others) == 1 else ", ".join(others[:-1]) + " and " + others[-1]
        lines.append(f"Input {number} overlaps input{'s' if len(others) > 1 else ''} {listed}.")
    return tuple(lines)
