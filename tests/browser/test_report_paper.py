"""The report on a 390 px screen and on paper (Chromium's print media and its PDF).

Narrow screens show the evidence tables as labelled blocks; addresses, ids and paths wrap
after their separators, never in the middle of a word; a message detail open on screen
prints alone; the full report prints in a handful of pages.
"""

from __future__ import annotations

import re
from pathlib import Path

from report.page import story

SCREENSHOTS = Path(__file__).resolve().parent.parent / "output" / "screenshots"
PHONE = {"width": 390, "height": 844}
#: The phish of the bundled samples (conftest.SAMPLE_PHISH): 3 recipients, 39 raw rows.
SAMPLE_PHISH = "34349d2d-14c6-414b-9771-08de2a7c7180"
#: What paper takes, as achieved: the samples' phish with its detail open, the whole report
#: of the samples (19 pages before the print stylesheet was made for paper).
DETAIL_PAGES = 5  # the phish: 54 raw rows from 17 exports
SAMPLES_REPORT_PAGES = 13  # 23 inputs, every finding whole (19 pages before)
EVIDENCE_TABLES = "table.evidence, table.inputs, table.rejected, table.conflicts"

#: Per address, id or path shown in ``selector``: where its lines break, and the breaks that
#: fall inside a word (not after a space or one of the separators the page breaks after).
LINE_BREAKS = """(selector) => {
    const after = new Set(Array.from("@./\\\\_-:;, "));
    const found = [];
    for (const element of document.querySelectorAll(selector)) {
        if (!element.offsetParent || !element.textContent.trim()) continue;
        let lines = 1, top = null, previous = null;
        const bad = [];
        const walker = document.createTreeWalker(element, NodeFilter.SHOW_TEXT);
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            const marker = node.parentElement.closest(".hidden-char");
            for (let i = 0; i < node.length; i++) {
                const range = document.createRange();
                range.setStart(node, i);
                range.setEnd(node, i + 1);
                const rect = range.getClientRects()[0];
                const character = node.textContent[i];
                if (!rect || !rect.width) {  // a space at the end of a line takes no room
                    previous = character;
                    continue;
                }
                if (top !== null && rect.top > top + 2) {
                    lines += 1;
                    if (!after.has(previous) && character !== " " && !marker) {
                        bad.push(node.textContent.slice(Math.max(0, i - 8), i) + "|" +
                                 node.textContent.slice(i, i + 8));
                    }
                }
                top = rect.top;
                previous = character;
            }
        }
        found.push({text: element.textContent, lines, bad});
    }
    return found;
}"""


def _pdf_pages(page, path: Path) -> int:
    pdf = page.pdf(path=path, format="A4")
    return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def test_evidence_tables_read_as_labelled_blocks_on_a_390_px_screen(samples_report, open_report):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = open_report(samples_report, viewport=PHONE).page
    # nothing is clipped: neither the page nor any evidence table scrolls sideways
    widths = page.evaluate(
        """(selector) => [document.documentElement.scrollWidth,
            ...Array.from(document.querySelectorAll(selector),
                (table) => table.closest(".table-wrap").scrollWidth -
                           table.closest(".table-wrap").clientWidth)]""",
        EVIDENCE_TABLES,
    )
    assert widths[0] <= PHONE["width"]
    assert len(widths) > 12 and set(widths[1:]) == {0}
    # each row a block, each field on its own line under its label
    rows = page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector)).flatMap((table) =>
            Array.from(table.tBodies[0].rows, (row) => [
                table.className, getComputedStyle(row).display,
                Array.from(row.cells).filter((cell) => cell.offsetParent).every((cell) =>
                    getComputedStyle(cell, "::before").content === `"${cell.dataset.label}: "`),
            ]))""",
        EVIDENCE_TABLES,
    )
    assert {display for _, display, _ in rows} == {"block"}
    assert all(labelled for _, _, labelled in rows)
    assert {name for name, _, _ in rows} == {"evidence", "inputs", "conflicts"}
    # ids and addresses wrap after their separators, on at most two lines
    shown = page.evaluate(LINE_BREAKS, ":is(table.evidence, table.conflicts) .id")
    assert len(shown) > 40
    assert [item for item in shown if item["bad"]] == []
    assert max(item["lines"] for item in shown) <= 2, max(shown, key=lambda i: i["lines"])
    page.locator("#evidence").evaluate("section => section.scrollIntoView()")
    page.screenshot(path=SCREENSHOTS / "phone-evidence.png")


def test_addresses_break_only_after_their_separators_in_every_table(samples_report, open_report):
    for viewport in (PHONE, {"width": 1366, "height": 768}):
        report = open_report(samples_report, "#message=" + SAMPLE_PHISH, viewport=viewport)
        page = report.page
        page.locator("#message-detail").wait_for(state="visible")
        shown = page.evaluate(LINE_BREAKS, "table .id, table .path, .recipient .id")
        assert len(shown) > 100
        assert [item for item in shown if item["bad"]] == [], viewport
        assert any(item["lines"] > 1 for item in shown)  # some do wrap: at their separators


def test_a_message_detail_open_on_screen_prints_alone(samples_report, open_report):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    report = open_report(samples_report, "#message=" + SAMPLE_PHISH)
    page = report.page
    page.locator("#message-detail").wait_for(state="visible")
    page.emulate_media(media="print")
    # the detail and the report's header (title, case, generation time, time zone) only
    assert page.locator("#message-detail .timeline").first.is_visible()
    assert page.locator(".page-header h1").is_visible()
    assert page.locator(".page-header .meta").is_visible()
    for hidden in ("#findings", "#messages", "#overview", "#evidence", "#quality", ".footer"):
        assert page.locator(hidden).is_hidden(), hidden
    assert _pdf_pages(page, SCREENSHOTS / "print-detail-alone.pdf") <= DETAIL_PAGES
    # closed again, the whole report prints
    page.emulate_media(media="screen")
    page.click("#detail-close")
    page.locator("#message-detail").wait_for(state="hidden")
    page.emulate_media(media="print")
    assert page.locator("#findings").is_visible() and page.locator("#evidence").is_visible()
    assert report.console_errors == []


def test_the_full_report_prints_in_few_pages(samples_report, open_report):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = open_report(samples_report).page
    findings = page.locator("#findings article.finding").count()
    inputs = page.locator("#evidence table.inputs tbody tr").count()
    assert findings > 5 and inputs > 10
    page.emulate_media(media="print")
    # no screen controls, no paging, no minor columns on paper
    for hidden in ("#q", ".toc", ".pager", "#export-csv", "#table-status"):
        assert page.locator(hidden).is_hidden(), hidden
    headings = page.locator("#messages-table thead th").evaluate_all(
        "(cells) => cells.filter((cell) => cell.offsetParent).map((cell) => cell.innerText)"
    )
    assert headings == ["Received", "Sender", "Recipient", "Subject", "Status"]
    # the findings and the evidence are whole
    assert page.locator("#findings article.finding").count() == findings
    assert page.locator("#evidence table.inputs tbody tr").count() == inputs
    assert all(page.locator(f"#findings article.finding >> nth={n}").is_visible() for n in (0, -1))
    assert _pdf_pages(page, SCREENSHOTS / "print-full-report.pdf") <= SAMPLES_REPORT_PAGES


def test_a_small_focused_report_prints_on_one_page(story_report, open_report):
    # the story's outbound message open: recipients, timelines and raw rows on one sheet
    page = open_report(story_report, "#message=" + story.OUTBOUND_ID).page
    page.locator("#message-detail").wait_for(state="visible")
    page.emulate_media(media="print")
    assert _pdf_pages(page, SCREENSHOTS / "print-small-detail.pdf") == 1
