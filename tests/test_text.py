"""analyzer/text.py: hidden characters made visible on terminals, the one CSV writer (exact
text behind a formula guard, whatever separator a spreadsheet splits on), the one JSON writer,
and what `msgtrace chain` prints, formatted from the chain model only."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from chains.helpers import event, make_case
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.chains import build_chains, message_chain
from analyzer.text import (
    CHAIN_TEXT_LEGEND,
    HIDDEN_RANGES,
    csv_text,
    excel_safe,
    format_chain_text,
    hidden_characters,
    json_text,
    terminal_safe,
)
from analyzer.timestamps import UTC, DisplayZone


def chain_text(rows: list[dict], message_key: str = "n1", zone: DisplayZone = UTC) -> str:
    case = make_case(rows)
    return format_chain_text(message_chain(build_chains(case), case, message_key), zone)


def timeline_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " UTC" in line and "[" in line]


# ----------------------------------------------------------------------------- terminals


def test_terminal_safe_shows_every_hidden_character_visibly():
    assert terminal_safe("a\tb\r\nc") == "a\\tb\\r\\nc"
    assert terminal_safe("x\x1b[2Jy\x7f\x9b\x00") == "x\\x1b[2Jy\\x7f\\x9b\\x00"
    assert terminal_safe("invoice\u202efdp.exe@evil.example") == (
        "invoice<U+202E>fdp.exe@evil.example"
    )
    assert terminal_safe("pay\u200bpal\ufeff\U000e0041") == "pay<U+200B>pal<U+FEFF><U+E0041>"
    # other text is left alone: accents, other scripts, emoji with their variation selector
    assert terminal_safe("Überweisung – fällig 請求書 ✔️") == "Überweisung – fällig 請求書 ✔️"


def test_terminal_safe_keeps_line_breaks_only_when_asked_and_is_idempotent():
    assert terminal_safe("one\ntwo\x1b", line_breaks=True) == "one\ntwo\\x1b"
    text = "x\x1b\u202e\n"
    assert terminal_safe(terminal_safe(text)) == terminal_safe(text)


@given(st.text())
def test_nothing_hidden_survives_terminal_safe(text):
    shown = terminal_safe(text)
    for character in shown:
        code = ord(character)
        assert not any(first <= code <= last for first, last in HIDDEN_RANGES), repr(shown)


def test_hidden_characters_are_named():
    assert hidden_characters("invoice\u202efdp\u202e.exe\u200b") == [
        "U+202E RIGHT-TO-LEFT OVERRIDE",
        "U+200B ZERO WIDTH SPACE",
    ]
    assert hidden_characters("a\x1bb") == ["U+001B control character"]
    assert hidden_characters("Überweisung ✔️") == []


def test_chain_text_shows_hidden_characters_from_an_export_visibly():
    rows = [
        event(
            "RECEIVE",
            "bob@contoso.com",
            0,
            message_subject="Invoice\x1b[2J\r\nDelivered: all fine\u202e",
            recipient_status="To",
        ),
        event("EXPAND", "dan@contoso.com", 1, related_recipient_address="bob@contoso.com"),
    ]
    text = chain_text(rows)
    assert "  Subject:             Invoice\\x1b[2J\\r\\nDelivered: all fine<U+202E>\n" in text
    assert "\x1b" not in text and "\r" not in text and "\u202e" not in text
    assert "EXPAND" in text and "(related recipient bob@contoso.com)" in text
    assert "→" not in text and "->" not in text


def test_chain_text_shows_times_in_the_display_zone_aligned():
    # Europe/Paris changes its abbreviation (CET, CEST) and with it the width of a time
    rows = [
        event("RECEIVE", "bob@contoso.com", 0, recipient_status="To"),
        event("DELIVER", "bob@contoso.com", 1, recipient_status="250 2.1.5 OK"),
    ]
    rows[0]["event_time"] = "2024-03-31T00:59:00Z"  # 01:59 CET
    rows[1]["event_time"] = "2024-03-31T01:01:00Z"  # 03:01 CEST, the clocks went forward
    text = chain_text(rows, zone=DisplayZone("Europe/Paris"))
    assert "  Timeline (Europe/Paris):" in text
    lines = [line for line in text.splitlines() if "[" in line and " CE" in line]
    assert lines[0].startswith("     2024-03-31 01:59:00.000 CET   RECEIVE")
    assert lines[1].startswith("     2024-03-31 03:01:00.000 CEST  DELIVER")
    assert lines[0].index("RECEIVE") == lines[1].index("DELIVER")
    assert "First seen:          2024-03-31 01:59:00.000 CET\n" in text


# ----------------------------------------------------------------------------- CSV


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ('"=1', "'\"=1"),
        (" =1", "' =1"),
        ("'quoted'", "''quoted'"),
        ("Invoice;=1+1;@SUM(9*9)", "Invoice;'=1+1;'@SUM(9*9)"),
        ("a\t-1\n+2\r@3", "a\t'-1\n'+2\r'@3"),
        ("Invoice = 3; total", "Invoice = 3; total"),
        ("", ""),
    ],
)
def test_excel_safe(value, safe):
    assert excel_safe(value) == safe


#: The documented inverse of the guard: one ' off at the start and after each ; tab CR LF.
_GUARD = re.compile(r"(?:^|(?<=[;\t\r\n]))'")


def without_guard(cell: str) -> str:
    return _GUARD.sub("", cell)


HOSTILE = [
    "Invoice;=1+1;@SUM(9*9)",
    '=HYPERLINK("http://evil.example","x")',
    'a","=1+1',
    "x\t=cmd|' /C calc'!A0",
    'q;"=1"',
    "multi\nline\r\n-5",
    "'already",
    "invoice\u202efdp.exe@evil.example",
]


def starts_a_formula(cell: str) -> bool:
    """What a spreadsheet may run: = + - @ after any white space and quotes it drops."""
    return cell.lstrip(' "\t\r\n').startswith(("=", "+", "-", "@"))


def read_back(text: str, separator: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=separator))


@pytest.mark.parametrize("separator", [",", ";", "\t"])
def test_csv_read_with_any_separator_starts_no_formula(separator):
    text = csv_text(["subject", "=heading"], [[value, value] for value in HOSTILE])
    for row in read_back(text, separator):
        for cell in row:
            assert not starts_a_formula(cell), (separator, row)


def test_csv_keeps_the_exact_text_behind_the_guard():
    text = csv_text(["subject", "count"], [[value, n] for n, value in enumerate(HOSTILE)])
    rows = read_back(text, ",")
    assert rows[0] == ["subject", "count"]
    assert [without_guard(row[0]) for row in rows[1:]] == HOSTILE
    assert [row[1] for row in rows[1:]] == [str(n) for n in range(len(HOSTILE))]
    # every field quoted, CRLF line ends, the hidden characters kept as they are
    assert text.startswith('"subject","count"\r\n')
    assert "\u202e" in text


def test_csv_numbers_are_written_as_they_are_and_none_is_empty():
    text = csv_text(["a", "b", "c"], [[-5, 2.5, None]])
    assert read_back(text, ",")[1] == ["-5", "2.5", ""]


def test_csv_for_a_terminal_makes_hidden_characters_visible():
    text = csv_text(["subject"], [["x\x1b[2J\u202e;=1"]], terminal=True)
    assert read_back(text, ",")[1] == ["x\\x1b[2J<U+202E>;'=1"]
    assert "\x1b" not in text and "\u202e" not in text


_CELL = st.text(alphabet=st.sampled_from(list(";,\t\r\n\"' =+-@ab\u202e")), max_size=12)


@settings(max_examples=300)
@given(st.lists(st.lists(_CELL, min_size=1, max_size=4), min_size=1, max_size=4))
def test_csv_of_any_cells_is_safe_with_every_separator_and_exact_with_commas(rows):
    width = max(len(row) for row in rows)
    rows = [row + [""] * (width - len(row)) for row in rows]
    text = csv_text([f"c{n}" for n in range(width)], rows)
    for separator in (",", ";", "\t"):
        for row in read_back(text, separator):
            for cell in row:
                assert not starts_a_formula(cell), (separator, row)
    assert [[without_guard(c) for c in row] for row in read_back(text, ",")[1:]] == rows


# ----------------------------------------------------------------------------- JSON


def test_json_keeps_the_exact_text_and_escapes_what_a_terminal_would_obey():
    data = {"subject": "Re:\x1b[2J \x9b\u202e\u200b\U000e0041 Überweisung ✔️", "n": 1}
    text = json_text(data)
    assert json.loads(text) == data
    assert text.endswith("}\n")
    assert "Überweisung ✔️" in text  # readable text stays readable
    for escaped in ("\\u001b", "\\u009b", "\\u202e", "\\u200b", "\\udb40\\udc41"):
        assert escaped in text
    assert terminal_safe(text, line_breaks=True) == text  # nothing hidden is left


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
