"""The focused message, rendered on the server: chains, related messages, raw rows."""

from __future__ import annotations

import re
from dataclasses import replace

import pyarrow.compute as pc

from analyzer.report import ReportOptions, build_report_context
from analyzer.report.detail import verdict_text
from report.page import GENERATED_AT, SAMPLE_PHISH, embedded_data, parse, raw_rows, render, story


def test_focused_report_holds_the_message_its_relatives_and_the_findings_citing_them(story_case):
    html = render(story_case, message="<q-3@contoso.com>")
    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert "Focused on <q-3@contoso.com>" in visible
    # the chains, rendered on the server (readable and printable without script)
    assert "nobody@fabrikam.com Failed" in visible
    assert "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found" in visible
    assert "unknown recipient" in visible
    assert "x@fabrikam.com Delivered" in visible
    assert "Has a delivery status notification (DSN) Undeliverable: Quarterly numbers" in visible
    assert "input1_extended.csv:9" in visible  # the FAIL row's input file and line
    # only this message and its DSN are in the table
    data = embedded_data(html)
    links = {
        data["s"][row[data["messages"]["cols"].index("s:link")]] for row in data["messages"]["rows"]
    }
    assert links == {story.OUTBOUND_ID, story.DSN_ID}
    assert "Overview" not in visible


def test_raw_rows_of_a_message_list_every_export_row_with_its_input_file_and_line(samples_case):
    # the phish of the samples: 54 rows in 15 exports, most of them repeats the timeline skips
    # (the summary's rows join by their message trace id, which is the network message id)
    case, chains, _ = samples_case
    html = render(samples_case, message=SAMPLE_PHISH)
    rows = raw_rows(html)
    assert len(rows) == 54
    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert "Raw event rows (54)" in visible
    # every row of the message in the case, each with the input file and line it came from
    paths = case.input_paths()
    events = chains.events.filter(pc.equal(chains.events.column("message_key"), SAMPLE_PHISH))
    expected = sorted(
        # rows about no recipient (Graph details, a message's links) show an empty Recipient
        (
            f"{paths[e['input_id']]}:{e['line']}",
            e["recipient_address"] or "",
            e["event_id"] or "status",
        )
        for e in events.to_pylist()
    )
    shown = sorted(
        (row["Input file, line"].split(" ")[0], row["Recipient"], row["Event"]) for row in rows
    )
    assert shown == expected
    assert all(re.fullmatch(r".*/samples/\w+\.\w+:\d+", place) for place, _, _ in shown)
    exports = {row["Input file, line"].split(" ")[1] for row in rows}
    assert {"extended", "get_messagetrace", "reporting_api_json", "enhanced_summary"} <= exports
    assert {"defender_email_events", "defender_email_post_delivery_events"} <= exports
    # rows from other exports that the timeline leaves out are there, saying what they report
    skipped = [row for row in rows if row["In timeline"] == "no"]
    assert len(skipped) == 38
    grace_api = [
        row
        for row in rows
        if row["Recipient"] == "grace.kim@contoso.com"
        and "/samples/reporting_api_utf8.ndjson:" in row["Input file, line"]
    ]
    assert [(r["Event"], r["Detail"], r["In timeline"]) for r in grace_api] == [
        ("status", "Delivered", "no")
    ]
    assert grace_api[0]["Time (UTC)"] == "2026-11-18T09:12:04.0118913Z message time"
    quarantine = [r for r in rows if (r["Event"], r["Detail"]) == ("status", "Moved to quarantine")]
    assert len(quarantine) == 3  # Defender's EmailEvents, one per recipient


def test_raw_rows_keep_rows_of_an_address_without_a_recipient_row(samples_case):
    # the timelines are per recipient row; the raw rows must not depend on them
    case, chains, findings = samples_case
    recipients = chains.recipients
    keep = pc.invert(
        pc.and_(
            pc.equal(recipients.column("message_key"), SAMPLE_PHISH),
            pc.equal(recipients.column("recipient_address"), "grace.kim@contoso.com"),
        )
    )
    trimmed = replace(chains, recipients=recipients.filter(keep))
    html = render((case, trimmed, findings), message=SAMPLE_PHISH)
    rows = raw_rows(html)
    assert len(rows) == 54
    assert sum(row["Recipient"] == "grace.kim@contoso.com" for row in rows) == 16


def test_focused_report_shows_findings_citing_the_message(story_case):
    _, _, findings = story_case
    html = render(story_case, message=story.FORWARD_ID)
    visible = " ".join(parse(html).text)
    citing = [f for f in findings if any(e.message_key == story.FORWARD_ID for e in f.evidence)]
    assert citing
    for finding in citing:
        assert finding.title in visible
    unrelated = [f for f in findings if f.rule == "coverage-gap"]
    for finding in unrelated:
        assert finding.title not in visible


def test_group_members_follow_the_group_and_gaps_are_marked(story_case):
    case, chains, findings = story_case
    options = ReportOptions(generated_at=GENERATED_AT, message=story.GROUP_ID)
    focus = build_report_context(case, chains, findings, options).focus
    assert focus is not None
    depths = [(r.address, r.depth, r.parent) for r in focus.recipients]
    group = [address for address, depth, _ in depths if depth == 0]
    members = [(address, parent) for address, depth, parent in depths if depth == 1]
    assert len(group) == 1 and len(members) == 2
    assert {parent.lower() for _, parent in members} == {group[0].lower()}
    assert depths[0][1] == 0  # the group comes before its members
    # the member deferred for two hours: a long gap in its timeline
    levels = {r.address: {e.gap_level for e in r.events} for r in focus.recipients}
    assert any("long-gap" in found for found in levels.values())
    for recipient in focus.recipients:
        timed = [e for e in recipient.events if e.in_timeline and not e.message_time_only]
        assert all(e.gap == "" for e in timed[:1])  # nothing before the first event


def test_verdicts_read_with_their_meaning():
    assert verdict_text("sfv", "SPM") == "SPM (spam)"
    assert verdict_text("di", "sj") == "sj (delivered to the Junk Email folder)"
    assert verdict_text("scl", 5) == "5"
    assert verdict_text("transport_rules", ["Block EXE", "Tag external"]) == (
        "Block EXE, Tag external"
    )
