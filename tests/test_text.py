"""Terminal text: what `msgtrace chain` prints, formatted from the chain model only."""

from __future__ import annotations

from chains.helpers import event, make_case

from analyzer.chains import build_chains, message_chain
from analyzer.text import CHAIN_TEXT_LEGEND, format_chain_text, terminal_safe


def chain_text(rows: list[dict], message_key: str = "n1") -> str:
    case = make_case(rows)
    return format_chain_text(message_chain(build_chains(case), case, message_key))


def timeline_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " UTC" in line and "[" in line]


def test_terminal_safe_shows_control_characters_and_flattens_line_breaks():
    assert terminal_safe("a\tb\r\nc") == "a b  c"
    assert terminal_safe("x\x1b[2Jy\x7f\x9b") == "x\\x1b[2Jy\\x7f\\x9b"
    assert terminal_safe("Überweisung – fällig") == "Überweisung – fällig"


def test_chain_text_prints_no_control_characters_from_an_export():
    rows = [
        event(
            "RECEIVE",
            "bob@contoso.com",
            0,
            message_subject="Invoice\x1b[2J\r\nDelivered: all fine",
            recipient_status="To",
        ),
        event("EXPAND", "dan@contoso.com", 1, related_recipient_address="bob@contoso.com"),
    ]
    text = chain_text(rows)
    assert "  Subject:             Invoice\\x1b[2J  Delivered: all fine\n" in text
    assert "\x1b" not in text and "\r" not in text
    assert "EXPAND" in text and "(related recipient bob@contoso.com)" in text
    assert "→" not in text and "->" not in text


def test_durations_are_in_words():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("DEFER", "bob@contoso.com", 10, recipient_status="451 4.4.0 DNS query failed"),
        event("DEFER", "bob@contoso.com", 610, recipient_status="451 4.4.0 DNS query failed"),
        event("DELIVER", "bob@contoso.com", 2776, recipient_status="250 2.1.5 OK"),
    ]
    text = chain_text(rows)
    assert (
        "  direction internal; 46 min 16 s from receipt to final event; "
        "2 deferral(s), 46 min 6 s in all\n"
    ) in text
    assert "2776" not in text


def test_a_recipient_with_no_final_event_says_so():
    rows = [
        event("RECEIVE", "orders@proseware.com", 0),
        event("DEFER", "orders@proseware.com", 5, recipient_status="451 4.4.0 timeout"),
    ]
    text = chain_text(rows)
    assert "Recipient orders@proseware.com: Pending" in text
    assert "; no final event in the data; 1 deferral(s), 0 s in all" in text
    assert "from receipt" not in text


def test_timeline_columns_line_up_across_recipients():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0, source="SMTP", recipient_status="To"),
        event("INITMESSAGECREATED", "bob@contoso.com", 0.1, source="STOREDRIVER"),
        event("DELIVER", "bob@contoso.com", 1, source="STOREDRIVER", recipient_status="250 OK"),
        event("RECEIVE", "mark@contoso.com", 0, source="SMTP", recipient_status="To"),
        event("FAIL", "mark@contoso.com", 1, source="ROUTING", recipient_status="550 5.1.1 x"),
    ]
    lines = timeline_lines(chain_text(rows))
    assert len(lines) == 5
    for column in ("[", "To", "STOREDRIVER"):
        found = {line.index(column) for line in lines if column in line}
        assert len(found) == 1, (column, lines)
    assert len({line.index("[") for line in lines}) == 1
    assert lines[0].strip().startswith("2024-03-01 10:00:00.000 UTC  RECEIVE")


def test_recipients_are_printed_in_lineage_order_with_relation_words():
    # the group sorts after its members by address; lineage order puts it first
    rows = [
        event("RECEIVE", "sales@contoso.com", 0, direction="inbound"),
        event("EXPAND", "dan@contoso.com", 0.5, related_recipient_address="sales@contoso.com"),
        event("EXPAND", "erin@contoso.com", 0.5, related_recipient_address="sales@contoso.com"),
        event("DELIVER", "dan@contoso.com", 2),
        event("DELIVER", "erin@contoso.com", 2),
    ]
    headers = [line for line in chain_text(rows).splitlines() if line.startswith("Recipient ")]
    assert [h.split(":")[0] for h in headers] == [
        "Recipient sales@contoso.com",
        "Recipient dan@contoso.com (expanded from sales@contoso.com)",
        "Recipient erin@contoso.com (expanded from sales@contoso.com)",
    ]


def test_notable_gaps_are_marked_in_the_timeline():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("DEFER", "bob@contoso.com", 30, recipient_status="451 4.4.0 timeout"),
        event("DEFER", "bob@contoso.com", 30 + 7_200, recipient_status="451 4.4.0 timeout"),
        event("DELIVER", "bob@contoso.com", 30 + 7_200 + 400),
    ]
    lines = chain_text(rows).splitlines()
    marks = [line.strip() for line in lines if line.strip().startswith("+")]
    assert marks == ["+2 h", "+6 min 40 s"]  # the 30 s gap is not notable
    second_defer = next(i for i, line in enumerate(lines) if "12:00:30.000" in line)
    assert lines[second_defer - 1].strip() == "+2 h"
    assert "+15 min" in CHAIN_TEXT_LEGEND


def test_related_messages_read_with_the_model_words():
    trigger = dict(nmid="T1", message_id="<trigger@fabrikam.example>")
    forward = dict(nmid="F1", message_id="<fw@contoso.com>", sender_address="victim@contoso.com")
    rows = [
        event("RECEIVE", "victim@contoso.com", 0, direction="inbound", **trigger),
        event("DELIVER", "victim@contoso.com", 1, **trigger),
        event(
            "RECEIVE",
            "collector@gmail.example",
            3,
            source="MAILBOXRULE",
            reference="<trigger@fabrikam.example>",
            **forward,
        ),
        event("SEND", "collector@gmail.example", 5, **forward),
    ]
    assert "  forwarded by an inbox rule from T1 " in chain_text(rows, "f1")
    assert '  forwarded by an inbox rule as F1 "Quarterly report"' in chain_text(rows, "t1")
