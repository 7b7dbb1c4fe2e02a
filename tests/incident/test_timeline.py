"""The incident timeline (analyzer/incident/timeline.py): the findings' key moments in time
order, each resting on input rows."""

from __future__ import annotations

import re
from pathlib import Path

from findings.builders import Trace, tenant_baseline

from analyzer.incident import incident_timeline
from analyzer.incident.timeline import finding_moments
from analyzer.timestamps import UTC

from .cases import investigation_of, takeover


def _story(timeline) -> list[tuple[str, str]]:
    return [(UTC.format(e.time_ns, seconds=False)[11:16], e.rule) for e in timeline]


def test_the_samples_timeline_tells_the_takeover_in_order(samples_summary):
    timeline = samples_summary.timeline
    assert _story(timeline) == [
        ("09:12", "phish-detected"),  # phish from c0ntoso.com received
        ("09:12", "lookalike-domain"),
        ("09:12", "phish-detected"),  # delivered to three mailboxes
        ("09:58", "phish-detected"),  # removed by Phish ZAP 46 minutes later
        ("10:41", "external-forwarding"),  # inbox rule forwards out
        ("10:41", "outbound-burst"),  # the burst begins with the forwarded copy
        ("10:55", "external-forwarding"),  # redirect
        ("11:02", "rare-client-ip"),
        ("11:10", "rare-client-ip"),
        ("11:10", "outbound-burst"),  # the burst ends
    ]
    whats = [e.what for e in timeline]
    assert whats[0] == "Phish from c0ntoso.com received (3 copies in all)"
    assert whats[2] == (
        "Phish delivered to 3 mailboxes: grace.kim@contoso.com, henry.patel@contoso.com, "
        "victim@contoso.com"
    )
    assert (
        whats[3] == "Phish ZAP removed the phish from 3 mailboxes after 46 min 12 s to 46 min 15 s"
    )
    assert whats[4] == (
        "Inbox rule of victim@contoso.com forwards a message outside to x.collector.4471@gmail.com"
    )
    assert (
        whats[6] == "Mail to victim@contoso.com is redirected outside to x.collector.4471@gmail.com"
    )
    assert "203.0.113.66" in whats[7]
    assert timeline[4].mailbox == "victim@contoso.com"
    assert timeline[2].mailbox is None and len(timeline[2].mailboxes) == 3


def test_every_moment_rests_on_input_rows_that_exist(samples_summary, samples):
    lines = {}
    for entry in samples_summary.timeline:
        assert entry.rows, entry.what
        for row in entry.rows:
            assert row.input in samples.input_paths.values() and row.line, entry.what
            lines.setdefault(Path(row.input).name, set()).add(row.line)
    assert lines["defender_email_post_delivery_events_utf8.csv"] == {2, 3, 4}  # the ZAPs
    assert {31, 35} <= lines["extended_utf16le_nobom.csv"]  # the forward and the redirect


def test_the_burst_ends_on_the_row_the_evidence_cap_left_out(samples_summary, samples):
    [burst] = [f for f in samples.findings if f.rule == "outbound-burst"]
    assert len(burst.evidence) < burst.evidence_total and burst.evidence_last is not None
    end = samples_summary.timeline[-1]
    assert end.rule == "outbound-burst" and end.what.startswith("Outbound burst from victim")
    assert [(r.input, r.line) for r in end.rows] == [
        (burst.evidence_last.input, burst.evidence_last.line)
    ]


def test_json_times_are_iso_utc_with_seven_digits(samples_summary):
    pattern = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
    for entry in samples_summary.timeline:
        data = entry.to_json()
        assert pattern.match(data["time"])
        assert set(data) == {
            "time",
            "what",
            "mailbox",
            "mailboxes",
            "rule",
            "finding",
            "severity",
            "evidence",
        }
        assert all({"input", "line"} <= set(row) for row in data["evidence"])
        assert all(pattern.match(row["time"]) for row in data["evidence"])


def test_a_quarantined_threat_tells_no_moment(samples):
    """Near miss: the malware of the samples was held before delivery, so it reached no
    mailbox and is not part of the story, though its finding is in scope."""
    [index] = [n for n, f in enumerate(samples.findings) if f.rule == "malware-detected"]
    assert index in samples.in_scope
    assert finding_moments(samples, samples.facts(index)) == []


def test_a_single_redirect_is_told_once():
    inv = investigation_of(takeover())
    redirects = [e for e in incident_timeline(inv) if e.rule == "external-forwarding"]
    assert len(redirects) == 1  # its first and its last redirect are the same row
    assert (
        redirects[0].what == "Mail to alice@contoso.com is redirected outside to drop@evil.example"
    )


def test_moments_of_findings_below_the_scope_are_left_out():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(
        30,
        "x@bad.example",
        "alice@contoso.com",
        "spam1",
        custom_data="S:SFA=SUM|SFV=SPM|SCL=9|DI=SQ",
    )
    assert incident_timeline(investigation_of(trace)) == []  # spam held: low severity
    low = incident_timeline(investigation_of(trace, min_severity="low"))
    assert {e.rule for e in low} == {"quarantined", "spam-verdict"}
