"""Timelines, times, deferrals and gaps (analyzer.chains.timeline)."""

from __future__ import annotations

import math

import pytest

from analyzer.chains import GAP_LEVELS, build_chains, gap_level, timeline_gaps
from chains.helpers import event, make_case, recipients_of


def test_deferral_then_delivery_counts_the_deferrals_and_their_length():
    reply = "451 4.4.0 DNS query failed"
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("DEFER", "bob@contoso.com", 10, recipient_status=reply, status_code="4.4.0"),
        event("DEFER", "bob@contoso.com", 610, recipient_status=reply, status_code="4.4.0"),
        event("DELIVER", "bob@contoso.com", 1210, recipient_status="250 2.1.5 OK"),
    ]
    got = recipients_of(build_chains(make_case(rows)))["bob@contoso.com"]
    assert got["final_status"] == "Delivered"
    assert got["deferral_count"] == 2
    assert got["deferral_seconds"] == pytest.approx(1200)
    assert got["duration_seconds"] == pytest.approx(1210)


def _gaps(chains) -> list[tuple[str, str, float | None, str]]:
    seconds, levels = timeline_gaps(chains.events)
    return [
        (e["recipient_key"], e["event_id"] or "STATUS", None if math.isnan(s) else s, GAP_LEVELS[g])
        for e, s, g in zip(chains.events.to_pylist(), seconds, levels, strict=True)
    ]


def test_gaps_are_measured_between_own_time_timeline_events_of_each_recipient():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("DEFER", "bob@contoso.com", 299.5, recipient_status="451 4.4.0 timeout"),
        event("DEFER", "bob@contoso.com", 599.5, recipient_status="451 4.4.0 timeout"),
        event("DELIVER", "bob@contoso.com", 4199.5),
        # another recipient starts its own count
        event("RECEIVE", "dan@contoso.com", 4200),
        # rows timed by the message have no gap and do not restart the count
        event("DELIVER", "dan@contoso.com", 0, time_basis="message", report_type="summary"),
        event("DELIVER", "dan@contoso.com", 4201),
    ]
    assert _gaps(build_chains(make_case(rows))) == [
        ("bob@contoso.com", "RECEIVE", None, ""),
        ("bob@contoso.com", "DEFER", 299.5, ""),
        ("bob@contoso.com", "DEFER", 300.0, "gap"),
        ("bob@contoso.com", "DELIVER", 3600.0, "long-gap"),
        ("dan@contoso.com", "DELIVER", None, ""),
        ("dan@contoso.com", "RECEIVE", None, ""),
        ("dan@contoso.com", "DELIVER", 1.0, ""),
    ]


def test_rows_off_the_timeline_have_no_gap():
    # Get-MessageTraceDetail repeats the tracking events: evidence, not timeline
    detail = dict(report_type="get_messagetrace_detail", input_id="det")
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("RECEIVE", "bob@contoso.com", 0, **detail),
        event("DELIVER", "bob@contoso.com", 400, **detail),
        event("DELIVER", "bob@contoso.com", 400.5),
    ]
    chains = build_chains(make_case(rows))
    got = [(e, s, g) for _, e, s, g in _gaps(chains)]
    assert got == [
        ("RECEIVE", None, ""),
        ("RECEIVE", None, ""),
        ("DELIVER", None, ""),
        ("DELIVER", 400.5, "gap"),
    ]
    assert [gap_level(s) for s in (None, float("nan"), 299.9, 300, 3599, 3600)] == [
        "",
        "",
        "",
        "gap",
        "gap",
        "long-gap",
    ]
    empty_seconds, empty_levels = timeline_gaps(chains.events.slice(0, 0))
    assert len(empty_seconds) == len(empty_levels) == 0
