"""What a report holds: the focused message and its relatives, the capped event rows."""

from __future__ import annotations

import pytest

from analyzer.errors import NotFoundError
from analyzer.report.selection import recipient_connectors, select_rows
from report.page import embedded_data, parse, render, story


def test_detail_events_are_capped_with_cited_messages_first(story_case):
    html = render(story_case, max_detail_events=20)
    data = embedded_data(html)
    columns = data["messages"]["cols"]
    detail = columns.index("detail")
    link = columns.index("s:link")
    embedded = {data["s"][row[link]] for row in data["messages"]["rows"] if row[detail]}
    assert story.FORWARD_ID in embedded and story.PHISH_ID in embedded  # cited by findings
    assert len(data["events"]["rows"]) <= 20
    visible = " ".join(parse(html).text)
    assert "What this report leaves out" in visible
    assert "are not embedded (at most 20 event rows in all" in visible


def test_events_of_one_message_are_cut_at_the_per_message_cap(story_case):
    html = render(story_case, max_events_per_message=2)
    data = embedded_data(html)
    per_message: dict[int, int] = {}
    for row in data["events"]["rows"]:
        per_message[row[0]] = per_message.get(row[0], 0) + 1
    assert max(per_message.values()) == 2
    detail = data["messages"]["cols"].index("detail")
    cut = [row for row in data["messages"]["rows"] if row[detail] == 2]
    assert cut  # the story's messages have more than two rows each
    visible = " ".join(parse(html).text)
    assert f"{len(cut):,} message(s) have more than 2 event rows" in visible


def test_focus_selects_the_message_and_the_messages_linked_to_it(story_case):
    _, chains, findings = story_case
    rows = select_rows(chains, findings, "<q-3@contoso.com>")
    assert rows.focus_key == story.OUTBOUND_ID
    assert sorted(rows.messages.column("message_key").to_pylist()) == sorted(
        [story.OUTBOUND_ID, story.DSN_ID]
    )
    assert rows.link_ids == rows.messages.column("network_message_id").to_pylist()
    assert all(
        any(e.message_key in (story.OUTBOUND_ID, story.DSN_ID) for e in f.evidence)
        for f in rows.findings
    )
    whole = select_rows(chains, findings, None)
    assert whole.focus_key is None and whole.messages.num_rows == chains.messages.num_rows
    assert whole.event_count == chains.events.num_rows


def test_focused_report_on_unknown_message_is_a_clear_error(story_case):
    with pytest.raises(NotFoundError, match="no-such-id"):
        render(story_case, message="<no-such-id@example.com>")


def test_a_recipients_connectors_are_those_its_rows_name_in_chain_order(edge_case):
    _, chains, _ = edge_case
    recipients = chains.recipients
    found = dict(
        zip(
            recipients.column("recipient_address").to_pylist(),
            recipient_connectors(chains.events, recipients).to_pylist(),
            strict=True,
        )
    )
    assert found["all@contoso.com"] == "Default EX01"
    assert found["frank.home@fabrikam.com"] == "Outbound to fabrikam"
    assert found["team@contoso.com"] is None  # its rows name none: nothing is attributed
