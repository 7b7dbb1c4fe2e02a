"""The embedded data block: safe inside its script element, compact, complete."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from analyzer.chains import GAP_LEVELS, GAP_SHOWN_SECONDS, message_chain
from analyzer.report import json_for_script
from analyzer.report.embed import (
    EMBEDDED_EVENT_COLUMNS,
    EMBEDDED_LINK_COLUMNS,
    EMBEDDED_MESSAGE_COLUMNS,
    EMBEDDED_RECIPIENT_COLUMNS,
    Interner,
    IntRows,
    zone_offsets,
)
from analyzer.timestamps import DisplayZone
from report.page import embedded_data, render, story


def test_json_for_script_escapes_what_could_end_the_element():
    value = {"subject": "a </script><script>alert(1)</script> <!-- & \u2028\u2029 é 🙂"}
    text = json_for_script(value)
    for character in ("<", ">", "&", "\u2028", "\u2029"):
        assert character not in text
    assert json.loads(text) == value
    assert "é" in text and "🙂" in text  # other text stays readable


def test_integer_rows_are_written_as_arrays_and_no_text_can_pose_as_them():
    # rows of integers are written by pyarrow's CSV writer, not json: the same JSON
    columns = [np.array([0, -1, 123_456_789_012]), np.array([7, 8, -9])]
    hostile = ['"rows":"\x00rows0"', "\x00rows0", '","rows":"\u0000rows0"']
    value = {"s": hostile, "t": {"cols": ["a", "b"], "rows": IntRows(columns)}}
    text = json_for_script(value)
    assert json.loads(text) == {
        "s": hostile,
        "t": {"cols": ["a", "b"], "rows": [[0, 7], [-1, 8], [123_456_789_012, -9]]},
    }
    assert json_for_script({"rows": IntRows([np.array([], dtype=np.int64)])}) == '{"rows":[]}'


def test_subject_with_closing_script_tag_cannot_end_the_data_block(full_html):
    # exactly the two script elements of the template: the data block and the code
    assert full_html.count("</script>") == 2
    data = embedded_data(full_html)
    assert story.XSS_SCRIPT in data["s"]
    assert story.XSS_IMG in data["s"]


def test_messages_table_data_holds_every_message_and_recipient(story_case, full_html):
    _, chains, _ = story_case
    data = embedded_data(full_html)
    assert len(data["messages"]["rows"]) == chains.messages.num_rows == 130
    assert len(data["recipients"]["rows"]) == chains.recipients.num_rows == 133
    strings = data["s"]
    assert strings[0] == "" and len(set(strings)) == len(strings)
    columns = data["recipients"]["cols"]
    status = columns.index("s:final_status")
    failed = [row for row in data["recipients"]["rows"] if strings[row[status]] == "Failed"]
    assert len(failed) == 12
    # every event is embedded for a case this small, with its input file and line
    assert len(data["events"]["rows"]) == chains.events.num_rows
    assert data["caps"]["messages_with_events"] == 130


def test_each_table_lists_its_columns_as_specified(full_html):
    data = embedded_data(full_html)
    assert data["messages"]["cols"] == list(EMBEDDED_MESSAGE_COLUMNS)
    assert data["recipients"]["cols"] == list(EMBEDDED_RECIPIENT_COLUMNS)
    assert data["events"]["cols"] == list(EMBEDDED_EVENT_COLUMNS)
    assert data["links"]["cols"] == list(EMBEDDED_LINK_COLUMNS)
    for block in ("messages", "recipients", "events", "links"):
        width = len(data[block]["cols"])
        assert all(len(row) == width for row in data[block]["rows"]), block


def test_interned_strings_are_most_frequent_first_and_empty_is_zero():
    interner = Interner()
    statuses = interner.add(pa.array(["Failed", "Delivered", None, "Delivered", "delivered"]))
    subjects = interner.add(pa.chunked_array([["Hello", "Delivered"]]))
    strings = interner.freeze()
    # "" first, then by count (Delivered 3), ties in case-insensitive order
    assert strings == ["", "Delivered", "delivered", "Failed", "Hello"]
    assert [strings[i] for i in interner.index(statuses)] == [
        "Failed",
        "Delivered",
        "",
        "Delivered",
        "delivered",
    ]
    assert [strings[i] for i in interner.index(subjects)] == ["Hello", "Delivered"]


def test_zone_offsets_follow_daylight_saving_time():
    # Europe/Paris leaves summer time on 2024-10-27 at 01:00 UTC
    first = 1_729_900_800 * 10**9  # 2024-10-26 00:00 UTC
    last = first + 2 * 86_400 * 10**9
    base_ms = first // 10**6
    offsets = zone_offsets(DisplayZone("Europe/Paris"), first, last, base_ms)
    assert [entry[1:] for entry in offsets] == [[120, "CEST"], [60, "CET"]]
    assert offsets[1][0] == 25 * 3_600_000  # from 2024-10-27 01:00 UTC, after the base
    assert zone_offsets(DisplayZone("UTC"), first, last, base_ms) == [[0, 0, "UTC"]]


def _table(data: dict, block: str) -> list[dict]:
    """An embedded table as dicts by column name (strings looked up)."""
    names = data[block]["cols"]
    return [
        {
            name.split(":")[-1]: data["s"][value] if name.startswith("s:") else value
            for name, value in zip(names, row, strict=True)
        }
        for row in data[block]["rows"]
    ]


def test_the_data_carries_the_chain_model_for_the_script_to_format(edge_case):
    case, chains, _ = edge_case
    data = embedded_data(render(edge_case))
    messages = _table(data, "messages")
    m = next(i for i, row in enumerate(messages) if row["key"] == story.NESTED_ID)
    model = message_chain(chains, case, story.NESTED_ID)
    # per recipient: the model's lineage order and depth
    recipients = [row for row in _table(data, "recipients") if row["m"] == m]
    assert sorted((r["order"], r["depth"], r["recipient"]) for r in recipients) == sorted(
        (r["order"], r["depth"], r["address"]) for r in model["recipients"]
    )
    # per event: which recipient's timeline it is in, and the model's gap (from one second)
    events = [row for row in _table(data, "events") if row["m"] == m]
    by_order = {r["order"]: r for r in model["recipients"]}
    embedded = sorted(
        (by_order[e["recipient_order"]]["address"], e["line"], e["gap_ms"], e["gap_level"])
        for e in events
    )
    expected = sorted(
        (
            r["address"],
            e["line"],
            -1
            if e["gap_seconds"] is None or e["gap_seconds"] < GAP_SHOWN_SECONDS
            else round(e["gap_seconds"] * 1000),
            GAP_LEVELS.index(e["gap_level"]),
        )
        for r in model["recipients"]
        for e in r["events"]
    )
    assert embedded == expected
    assert (("dave@contoso.com", 7, 360_000, 1)) in embedded  # the DELIVER 6 min later
    # and the words, once
    assert data["words"]["gap_levels"] == list(GAP_LEVELS)
    assert data["words"]["relations"]["expanded_from"] == "expanded from"
    assert data["words"]["related_recipient"] == "related recipient"
