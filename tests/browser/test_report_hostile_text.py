"""Hostile text in a real browser: hidden characters shown as markers everywhere the page shows
export text, and the CSV export safe in a spreadsheet that splits on ``,``, ``;`` or tab."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from report.page import story

#: The formula guard of the CSV button, undone: one ' before = + - @ tab CR or ' at the start
#: of a value and after ; tab CR LF or " in it (what report.js adds).
GUARD = re.compile(r"(?:^|(?<=[;\t\r\n\"]))'(?=[=+\-@\t\r'])")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
BIDI_SHOWN = "invoice⟨U+202E⟩fdp.exe@evil.example"


def _download(page, button: str) -> bytes:
    with page.expect_download() as download:
        page.click(button)
    return Path(download.value.path()).read_bytes()


def test_hidden_characters_are_marked_in_the_table_the_detail_and_the_inputs(
    edge_report, open_report
):
    report = open_report(edge_report)
    page = report.page
    page.fill("#q", "evil.example")
    cell = page.locator("#messages-table tbody tr td:nth-child(3)")
    assert cell.inner_text() == BIDI_SHOWN  # not "invoiceexe.pdf@evil.example"
    assert cell.locator(".hidden-char").inner_text() == "⟨U+202E⟩"
    assert "\u202e" not in cell.text_content()
    # the marker has its own look: it cannot pass for text of the export
    style = cell.locator(".hidden-char").evaluate(
        "(node) => [getComputedStyle(node).backgroundColor, getComputedStyle(node).borderStyle]"
    )
    assert style == ["rgb(253, 231, 233)", "solid"]
    subject = page.locator("#messages-table tbody tr td:nth-child(4)").inner_text()
    assert subject == "Invoice;=1+1;@SUM(9*9)⟨U+0009⟩-2+3 ⟨U+001B⟩[2J⟨U+2060⟩done"
    assert page.locator("#messages-table tbody tr td:nth-child(2)").inner_text() == (
        "pay⟨U+200B⟩roll@contoso.com"
    )
    # the detail: heading, sender, recipient, timeline, raw rows
    page.goto(report.url + "#message=" + story.HOSTILE_ID)
    detail = page.locator("#message-detail")
    detail.wait_for(state="visible")
    text = detail.inner_text()
    assert text.count(BIDI_SHOWN) == 3  # the recipient's heading and its two raw rows
    assert "pay⟨U+200B⟩roll@contoso.com" in text
    hidden = "\u202e\u200b\u2060\x1b"
    assert not any(character in detail.text_content() for character in hidden)
    # the evidence section names the input file with its bidi characters marked
    inputs = page.locator("#evidence table.inputs td.file .path").inner_text()
    assert inputs.endswith("edge_⟨U+202E⟩txt.csv⟨U+2066⟩.csv")
    assert report.console_errors == []
    assert report.network_requests() == []


def test_the_exports_keep_the_exact_text(edge_report, open_report):
    page = open_report(edge_report).page
    page.fill("#q", "evil.example")
    records = json.loads(_download(page, "#export-json").decode("utf-8"))
    assert [(r["recipient"], r["sender"], r["subject"]) for r in records] == [
        (story.BIDI_RECIPIENT, story.ZERO_WIDTH_SENDER, story.SPLIT_FORMULA)
    ]
    text = _download(page, "#export-csv").decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert rows[0]["recipient"] == story.BIDI_RECIPIENT  # no marker, no guard needed
    assert GUARD.sub("", rows[0]["subject"]) == story.SPLIT_FORMULA


def test_csv_cells_never_start_a_formula_whatever_a_spreadsheet_splits_on(
    edge_report, story_report, open_report
):
    for path in (edge_report, story_report):
        page = open_report(path).page
        records = json.loads(_download(page, "#export-json").decode("utf-8"))
        raw = _download(page, "#export-csv")
        assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheets read it as UTF-8
        text = raw.decode("utf-8-sig")
        lines = text.split("\r\n")
        # every field quoted: each line starts and ends with a quote
        assert all(line.startswith('"') and line.endswith('"') for line in lines[:-1] if line)
        for separator in (",", ";", "\t"):
            cells = [
                cell
                for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator)
                for cell in row
            ]
            starting = [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
            assert starting == [], (path.name, repr(separator), starting[:3])
        # read as CSV is meant to be read, the values come back whole, minus the guard
        rows = list(csv.DictReader(io.StringIO(text, newline="")))
        assert len(rows) == len(records)
        for row, record in zip(rows, records, strict=True):
            for name, value in record.items():
                expected = "" if value is None else str(value)
                assert GUARD.sub("", row[name]) == expected, (name, row[name])
    # the story's formula subject: one guard, at its start
    page.fill("#q", "HYPERLINK")
    rows = list(csv.DictReader(io.StringIO(_download(page, "#export-csv").decode("utf-8-sig"))))
    assert [row["subject"] for row in rows] == ["'" + story.FORMULA]
