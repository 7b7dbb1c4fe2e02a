"""The focused message, rendered on the server: the chain model formatted, its route,
related messages, raw rows."""

from __future__ import annotations

import re
from dataclasses import replace

import pyarrow.compute as pc

from analyzer.chains import GAP_SHOWN_SECONDS, RELATED_RECIPIENT_WORDS, message_chain
from analyzer.report import ReportOptions, build_report_context
from analyzer.report.detail import PER_RECIPIENT, verdict_text
from analyzer.timestamps import duration_text
from report.page import GENERATED_AT, SAMPLE_PHISH, embedded_data, parse, raw_rows, render, story


def _focus(story_case, message: str):
    case, chains, findings = story_case
    options = ReportOptions(generated_at=GENERATED_AT, message=message)
    focus = build_report_context(case, chains, findings, options).focus
    assert focus is not None
    return focus


def test_focused_report_holds_the_message_its_relatives_and_the_findings_citing_them(story_case):
    html = render(story_case, message="<q-3@contoso.com>")
    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert "Focused on <q-3@contoso.com>" in visible
    # the chains, rendered on the server (readable and printable without script)
    assert "nobody@fabrikam.com Failed" in visible
    assert "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found" in visible
    assert "unknown recipient" in visible
    assert "x@fabrikam.com Delivered" in visible
    assert "Delivery status notification (DSN): Undeliverable: Quarterly numbers" in visible
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


def test_focused_detail_formats_the_chain_model_of_a_nested_expansion(edge_case):
    case, chains, _ = edge_case
    focus = _focus(edge_case, story.NESTED_ID)
    model = message_chain(chains, case, story.NESTED_ID)
    in_order = sorted(model["recipients"], key=lambda r: r["order"])
    # the recipients in the model's lineage order, with its depth and relation words
    assert [(r.address, r.depth, r.relation if r.parent else "") for r in focus.recipients] == [
        (r["address"], r["depth"], r["relation_words"] or "") for r in in_order
    ]
    assert [(r.address, r.depth) for r in focus.recipients] == [
        ("all@contoso.com", 0),
        ("frank@contoso.com", 1),
        ("frank.home@fabrikam.com", 2),
        ("team@contoso.com", 1),
        ("dave@contoso.com", 2),
        ("erin@contoso.com", 2),
    ]
    # each timeline event with the model's gap and level, as shown from one second
    for view, modelled in zip(focus.recipients, in_order, strict=True):
        events = [e for e in modelled["events"] if e["in_timeline"]]
        expected = [
            ("+" + duration_text(e["gap_seconds"]), e["gap_level"])
            if e["gap_seconds"] is not None and e["gap_seconds"] >= GAP_SHOWN_SECONDS
            else ("", "")
            for e in events
        ]
        shown = [(e.gap, e.gap_level) for e in view.events if e.in_timeline]
        assert shown == expected, view.address
    gaps = {r.address: [e.gap for e in r.events if e.gap] for r in focus.recipients}
    assert gaps["dave@contoso.com"] == ["+6 min"]
    assert gaps["erin@contoso.com"] == ["+1 s", "+2 h"]
    levels = {r.address: [e.gap_level for e in r.events if e.gap] for r in focus.recipients}
    assert levels["dave@contoso.com"] == ["gap"] and levels["erin@contoso.com"][-1] == "long-gap"


def test_focused_detail_draws_no_arrow_for_a_related_recipient(edge_case):
    html = render(edge_case, message=story.NESTED_ID)
    assert "→" not in html
    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    words = RELATED_RECIPIENT_WORDS[:1].upper() + RELATED_RECIPIENT_WORDS[1:]
    assert f"{words} team@contoso.com" in visible  # dave's EXPAND row names its group
    assert "Redirected from frank@contoso.com" in visible
    assert "Expanded from team@contoso.com" in visible


def test_route_facts_show_once_or_per_recipient_where_they_differ(edge_case, story_case):
    focus = _focus(edge_case, story.NESTED_ID)
    shared = dict(focus.route)
    assert shared["From IP"] == "10.0.0.8"  # every recipient came from there
    assert shared["Size"] == "5,000 bytes"
    assert shared["To IP"] == PER_RECIPIENT  # only the outside copy was sent on
    assert shared["Connector"] == PER_RECIPIENT
    own = {r.address: dict(r.route) for r in focus.recipients}
    assert own["frank.home@fabrikam.com"] == {
        "To IP": "198.51.100.44",
        "Connector": "Outbound to fabrikam",
    }
    assert own["dave@contoso.com"] == {"Connector": "Default EX01"}
    assert own["team@contoso.com"] == {}  # nothing is attributed to a recipient without it
    # the phish: its one recipient's country of origin (CTRY) and size, for the message
    phish = dict(_focus(story_case, story.PHISH_ID).route)
    assert phish == {"From IP": "203.0.113.9", "Country (CTRY)": "RU", "Size": "48,213 bytes"}
    html = render(story_case, message=story.PHISH_ID)
    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert "From IP 203.0.113.9" in visible and "Country (CTRY) RU" in visible


def test_hidden_characters_are_marked_in_the_focused_detail(edge_case):
    html = render(edge_case, message=story.HOSTILE_ID)
    visible = re.sub(r"\s+", " ", " ".join(parse(html).text))
    assert "invoice ⟨U+202E⟩ fdp.exe@evil.example" in visible  # the marker is its own element
    assert "pay ⟨U+200B⟩ roll@contoso.com" in visible
    assert "Invoice;=1+1;@SUM(9*9) ⟨U+0009⟩ -2+3 ⟨U+001B⟩ [2J ⟨U+2060⟩ done" in visible
    assert '<span class="hidden-char"' in html
    # the raw rows show the marks too (their parser puts a space before each element)
    recipients = {row["Recipient"] for row in raw_rows(html)}
    assert recipients == {"invoice ⟨U+202E⟩fdp.exe@evil.example"}
