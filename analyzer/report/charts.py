"""Geometry of the report's inline SVG charts: the coverage chart and the volume chart.

Everything is computed here (positions in SVG user units, labels in the display zone), so
the templates only place it and every label goes through autoescaping.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.chains import FINAL_STATUSES
from analyzer.report.context import (
    Bar,
    CountRow,
    CoverageChart,
    CoverageLane,
    InputView,
    Tick,
    VolumeChart,
)
from analyzer.report.coverage import covered_intervals
from analyzer.report.evidence import Span
from analyzer.report.overview import share, status_class
from analyzer.timestamps import DisplayZone

#: Bucket sizes of the volume chart, smallest first: the first giving at most 72 bars wins.
BUCKETS = (
    (60, "minute"),
    (300, "5 minutes"),
    (900, "15 minutes"),
    (3_600, "hour"),
    (3 * 3_600, "3 hours"),
    (6 * 3_600, "6 hours"),
    (12 * 3_600, "12 hours"),
    (86_400, "day"),
    (7 * 86_400, "week"),
    (30 * 86_400, "30 days"),
)
# Buckets count from a Monday midnight of the display zone, so days and weeks start there.
_BUCKET_ORIGIN = pd.Timestamp("1970-01-05")


def nice_step(span: float, target: int) -> float:
    """A round step (1, 2 or 5 times a power of ten) that cuts ``span`` into about
    ``target`` parts."""
    raw = span / max(target, 1)
    magnitude: float = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def time_ticks(
    start: pd.Timestamp, end: pd.Timestamp, zone: DisplayZone, x0: float, width: float
) -> tuple[Tick, ...]:
    """Six labelled ticks from ``start`` to ``end`` (aware UTC timestamps), evenly spaced."""
    span = max((end - start).total_seconds(), 1.0)
    ticks = []
    for index in range(6):
        moment = start + pd.Timedelta(seconds=span * index / 5)
        day, time_of_day = zone.format(moment, seconds=False).split(" ", 1)
        ticks.append(Tick(round(x0 + width * index / 5, 1), day, time_of_day))
    return tuple(ticks)


def coverage_chart(
    inputs: tuple[InputView, ...], input_spans: list[Span], zone: DisplayZone
) -> CoverageChart | None:
    """One lane per input with the time it covers, and the gaps; None without dated inputs."""
    spans = {number: (first, last) for number, first, last in input_spans}
    if not spans:
        return None
    start = min(first for first, _ in spans.values())
    end = max(last for _, last in spans.values())
    total = max((end - start).total_seconds(), 1.0)
    width, left, right, lane = 960, 70, 50, 26
    plot_width = width - left - right

    def x_of(moment: pd.Timestamp) -> float:
        return round(left + plot_width * (moment - start).total_seconds() / total, 1)

    lanes = []
    for index, view in enumerate(inputs):
        y = 10 + index * lane
        bar = None
        if view.number in spans:
            first, last = spans[view.number]
            x = x_of(first)
            bar = Bar(
                x,
                y + 4,
                max(x_of(last) - x, 2.0),
                lane - 8,
                "cov-warn" if view.rows_rejected or view.warnings else "cov",
                f"Input {view.number}: {view.path}: {zone.format(first)} to {zone.format(last)}",
            )
        lanes.append(CoverageLane(y, f"#{view.number}", bar))
    height = 10 + len(inputs) * lane + 44
    gaps = []
    covered = covered_intervals(input_spans)
    for (_, gap_start), (gap_end, _) in itertools.pairwise(covered):
        x = x_of(gap_start)
        gaps.append(
            Bar(
                x,
                6,
                max(x_of(gap_end) - x, 2.0),
                height - 50,
                "gap",
                f"Gap: no input covers {zone.format(gap_start)} to {zone.format(gap_end)}",
            )
        )
    return CoverageChart(
        width=width,
        height=height,
        plot_left=left,
        plot_width=plot_width,
        lane_height=lane,
        lanes=tuple(lanes),
        gaps=tuple(gaps),
        x_ticks=time_ticks(start, end, zone, left, plot_width),
    )


def _bucket_size(span_s: float) -> tuple[int, str]:
    """The volume chart's bucket (seconds, name) for data spanning ``span_s`` seconds."""
    fitting = [(seconds, name) for seconds, name in BUCKETS if span_s / seconds < 72]
    if fitting:
        return fitting[0]
    # years of data (or a stray timestamp): whole days, at most 72 bars
    days = math.ceil(span_s / 72 / 86_400)
    return days * 86_400, f"{days} days"


def volume_chart(recipients: pa.Table, zone: DisplayZone) -> VolumeChart | None:
    """Message x recipient rows per bucket of the display zone's wall time, stacked by final
    status; None without dated rows."""
    times = recipients.column("first_time")
    valid = pc.is_valid(times)
    if not pc.any(valid).as_py():
        return None
    table = recipients.filter(valid)
    utc = pd.DatetimeIndex(table.column("first_time").to_pandas())
    local_ns = np.asarray(utc.tz_convert(zone.zone).tz_localize(None).asi8, dtype=np.int64)
    origin = _BUCKET_ORIGIN.value
    step, bucket_name = _bucket_size((local_ns.max() - local_ns.min()) / 1e9)
    step_ns = step * 10**9
    bucket = (local_ns - origin) // step_ns
    first_bucket, last_bucket = int(bucket.min()), int(bucket.max())
    buckets = last_bucket - first_bucket + 1
    statuses = pc.fill_null(table.column("final_status"), "Unknown")
    seen = set(pc.unique(statuses).to_pylist())
    present = [s for s in FINAL_STATUSES if s in seen] + sorted(seen - set(FINAL_STATUSES))
    codes = np.asarray(
        pc.index_in(statuses, value_set=pa.array(present, pa.string())).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.int64,
    )
    grid = np.zeros((buckets, len(present)), dtype=np.int64)
    np.add.at(grid, (bucket - first_bucket, codes), 1)

    width, height, left, top, right, bottom = 960, 300, 64, 16, 48, 64
    plot_width, plot_height = width - left - right, height - top - bottom
    peak = int(grid.sum(axis=1).max())
    step_y = nice_step(peak, 4)
    y_max = max(step_y * math.ceil(peak / step_y), 1)
    slot = plot_width / buckets
    bar_width = max(slot * 0.8, 1.0)

    def bucket_label(index: int) -> tuple[str, str]:
        """The bucket's start in the display zone's wall time: (day, time of day)."""
        start = pd.Timestamp(origin + (first_bucket + index) * step_ns)
        return start.strftime("%Y-%m-%d"), start.strftime("%H:%M")

    bars = []
    table_rows = []
    for index in range(buckets):
        label = " ".join(bucket_label(index)) + f" {zone.name}"
        table_rows.append((label, tuple(int(v) for v in grid[index])))
        y: float = top + plot_height
        for code, status in enumerate(present):
            count = int(grid[index, code])
            if not count:
                continue
            bar_height = plot_height * count / y_max
            y -= bar_height
            bars.append(
                Bar(
                    round(left + index * slot + (slot - bar_width) / 2, 2),
                    round(y, 2),
                    round(bar_width, 2),
                    round(bar_height, 2),
                    status_class(status),
                    f"{label} ({bucket_name}): {count:,} {status}",
                )
            )
    y_ticks = tuple(
        Tick(round(top + plot_height - plot_height * value / y_max, 1), f"{int(value):,}")
        for value in np.arange(0, y_max + step_y / 2, step_y)
    )
    tick_count = min(buckets, 6)
    tick_buckets = [i * (buckets - 1) // max(tick_count - 1, 1) for i in range(tick_count)]
    x_ticks = tuple(
        Tick(round(left + slot * index + slot / 2, 1), *bucket_label(index))
        for index in tick_buckets
    )
    totals = grid.sum(axis=0)
    legend = tuple(
        CountRow(status, int(totals[i]), share(int(totals[i]), len(codes)), status_class(status))
        for i, status in enumerate(present)
    )
    return VolumeChart(
        width=width,
        height=height,
        plot_left=left,
        plot_top=top,
        plot_width=plot_width,
        plot_height=plot_height,
        bucket=bucket_name,
        bars=tuple(bars),
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        legend=legend,
        statuses=tuple(present),
        table=tuple(table_rows),
    )
