"""Chart geometry: the volume chart's buckets and bars, the coverage chart's lanes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pyarrow as pa

from analyzer.report import ReportOptions, build_report_context
from analyzer.report.charts import nice_step, volume_chart
from analyzer.timestamps import DisplayZone
from report.page import GENERATED_AT, parse


def test_volume_chart_is_drawn(full_html):
    visible = re.sub(r"\s+", " ", " ".join(parse(full_html).text))
    assert 'class="chart volume"' in full_html
    assert "Message × recipient rows per 3 hours by final status (UTC)" in visible


def test_volume_chart_figures_add_up_to_the_rows_and_stay_in_the_plot(story_case):
    case, chains, findings = story_case
    context = build_report_context(case, chains, findings, ReportOptions(generated_at=GENERATED_AT))
    volume = context.volume
    assert volume is not None
    assert sum(sum(counts) for _, counts in volume.table) == chains.recipients.num_rows
    by_status = {row.label: row.count for row in context.status_counts}
    assert {row.label: row.count for row in volume.legend} == by_status
    bottom = volume.plot_top + volume.plot_height
    for bar in volume.bars:
        assert volume.plot_top - 0.01 <= bar.y and bar.y + bar.height <= bottom + 0.01, bar
        assert (
            volume.plot_left <= bar.x and bar.x + bar.width <= volume.plot_left + volume.plot_width
        )
    assert len(volume.x_ticks) == 6


def _recipients(times: list[datetime], status: str = "Delivered") -> pa.Table:
    return pa.table(
        {
            "first_time": pa.array(times, pa.timestamp("ns", tz="UTC")),
            "final_status": pa.array([status] * len(times), pa.string()),
        }
    )


def test_volume_buckets_grow_with_the_time_range():
    start = datetime(2024, 1, 1)
    hours = _recipients([start + timedelta(hours=h) for h in range(48)])
    assert volume_chart(hours, DisplayZone()).bucket == "hour"
    years = _recipients([start, start + timedelta(days=3_650)])
    assert volume_chart(years, DisplayZone()).bucket == "51 days"  # at most 72 bars
    assert volume_chart(_recipients([]), DisplayZone()) is None


def test_volume_buckets_start_at_the_display_zone_midnight():
    # 23:30 UTC on 1 January is 00:30 on 2 January in Paris: the day bucket says so
    times = [datetime(2024, 1, 1, 23, 30) + timedelta(days=d) for d in range(41)]
    chart = volume_chart(_recipients(times), DisplayZone("Europe/Paris"))
    assert chart.bucket == "day"
    assert chart.table[0] == ("2024-01-02 00:00 Europe/Paris", (1,))


def test_nice_steps_are_one_two_or_five_times_a_power_of_ten():
    assert nice_step(37, 4) == 10
    assert nice_step(120, 4) == 50
    assert nice_step(0.3, 4) == 0.1
    assert nice_step(0, 4) == 1


def test_coverage_chart_has_a_lane_per_input_and_marks_the_gap(story_case):
    case, chains, findings = story_case
    context = build_report_context(case, chains, findings, ReportOptions(generated_at=GENERATED_AT))
    chart = context.coverage
    assert chart is not None
    assert [lane.label for lane in chart.lanes] == ["#1", "#2", "#3"]
    assert len(chart.gaps) == 1 and chart.gaps[0].label.startswith("Gap: no input covers")
    # input 3 has a rejected row: its bar is drawn as a warning
    assert [lane.bar.css_class for lane in chart.lanes] == ["cov", "cov", "cov-warn"]
    for lane in chart.lanes:
        assert chart.plot_left <= lane.bar.x <= chart.plot_left + chart.plot_width
