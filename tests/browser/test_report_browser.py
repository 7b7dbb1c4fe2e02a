"""The report in a real browser (Debian's Chromium through Playwright), opened from file://.

Each test opens the story's report in a fresh context that records every request and every
console error; screenshots go to tests/output/screenshots/ for a reviewer to look at.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

SCREENSHOTS = Path(__file__).resolve().parent.parent / "output" / "screenshots"
ALL_ROWS = 133


def _load_story():
    path = Path(__file__).resolve().with_name("report_case.py")
    spec = importlib.util.spec_from_file_location("msgtrace_report_case", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


story = _load_story()


def visible_column(page, index: int) -> list[str]:
    """The text of one column (0-based) of the rows on the current page of the table."""
    return page.locator(f"#messages-table tbody tr td:nth-child({index + 1})").all_inner_texts()


def status_line(page) -> str:
    return page.locator("#table-status").inner_text()


def test_opens_with_no_console_errors_and_no_network_request(story_report, open_report):
    report = open_report(story_report)
    page = report.page
    assert status_line(page) == f"{ALL_ROWS} rows"
    assert len(visible_column(page, 0)) == 50  # one page, not every row at once
    # use the page: search, filter, sort, page, open a message, export
    page.fill("#q", "report")
    page.select_option("#status", "Failed")
    page.click("#messages-table th[data-sort=recipient] button")
    page.click("#messages-table tbody a >> nth=0")
    page.wait_for_selector("#message-detail:not([hidden])")
    with page.expect_download():
        page.click("#export-json")
    assert report.console_errors == []
    assert report.network_requests() == []
    assert report.requests == [report.url]  # the file itself, once


def test_an_empty_report_opens_cleanly(open_report, tmp_path):
    from analyzer.case import Case
    from analyzer.chains import build_chains
    from analyzer.report import ReportOptions, write_report

    case = Case.empty()
    path = tmp_path / "empty.html"
    write_report(case, build_chains(case), [], ReportOptions(generated_at="2024-01-01"), path)
    report = open_report(path)
    assert report.page.locator("#messages-table tbody").inner_text() == (
        "No message matches these filters."
    )
    assert report.console_errors == []
    assert report.network_requests() == []


def test_search_box_narrows_the_table(story_report, open_report):
    page = open_report(story_report).page
    page.fill("#q", "weekly report 12")
    # every word must match: 12, 112 and 120..125
    assert status_line(page) == f"8 of {ALL_ROWS} rows match"
    subjects = visible_column(page, 3)
    expected = (12, 112, 120, 121, 122, 123, 124, 125)
    assert sorted(subjects) == sorted(f"Weekly report {n}" for n in expected)
    # any text: an IP, a status code, a recipient
    page.fill("#q", "203.0.113.9")
    assert visible_column(page, 3) == [story.XSS_IMG]
    page.fill("#q", "5.1.1")
    assert visible_column(page, 2) == ["nobody@fabrikam.com"]
    page.fill("#q", "no such thing anywhere")
    assert status_line(page) == f"0 of {ALL_ROWS} rows match"
    page.click("#reset")
    assert status_line(page) == f"{ALL_ROWS} rows"


def test_status_and_direction_filters(story_report, open_report):
    page = open_report(story_report).page
    page.select_option("#status", "Failed")
    assert status_line(page) == f"12 of {ALL_ROWS} rows match"
    assert set(visible_column(page, 4)) == {"Failed"}
    page.select_option("#status", "!Delivered")
    assert status_line(page) == f"13 of {ALL_ROWS} rows match"  # 12 failed, 1 expanded group
    page.select_option("#status", "")
    page.select_option("#direction", "outbound")
    assert sorted(visible_column(page, 2)) == [
        "drop@mail.example",
        "nobody@fabrikam.com",
        "x@fabrikam.com",
    ]


def test_time_filter_sorting_and_paging(story_report, open_report):
    page = open_report(story_report).page
    page.fill("#from", "2024-03-04T08:00")
    page.fill("#to", "2024-03-04T08:30")
    assert status_line(page) == f"8 of {ALL_ROWS} rows match"  # the story's first half hour
    assert all(t.startswith("2024-03-04 08:") for t in visible_column(page, 0))
    page.click("#reset")
    # newest first by default; the sort buttons work with the keyboard too
    times = visible_column(page, 0)
    assert times == sorted(times, reverse=True)
    page.focus("#messages-table th[data-sort=recipient] button")
    page.keyboard.press("Enter")
    assert page.get_attribute("#messages-table th[data-sort=recipient]", "aria-sort") == (
        "ascending"
    )
    recipients = visible_column(page, 2)
    assert recipients == sorted(recipients, key=str.lower)
    page.click("#next-page")
    assert page.locator("#page-info").inner_text() == "Rows 51–100, page 2 of 3"


@pytest.mark.parametrize(
    "message_id",
    ["<q-3@contoso.com>", "q-3@contoso.com", story.OUTBOUND_ID, story.OUTBOUND_ID.upper()],
)
def test_deep_link_opens_the_message_detail(story_report, open_report, message_id):
    report = open_report(story_report, "#message=" + quote(message_id, safe=""))
    page = report.page
    detail = page.locator("#message-detail")
    detail.wait_for(state="visible")
    text = detail.inner_text()
    assert story.XSS_SCRIPT in text
    # each recipient with its outcome, the deciding reply and its meaning, and the timeline
    nobody = detail.get_by_role("article", name="Recipient nobody@fabrikam.com")
    assert "Failed" in nobody.inner_text()
    assert "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found" in nobody.inner_text()
    assert "unknown recipient" in nobody.inner_text()
    assert nobody.locator(".timeline .ev-id").all_inner_texts() == ["RECEIVE", "FAIL"]
    # related message and raw rows with input file and line
    assert "Delivery status notification (DSN): Undeliverable: Quarterly numbers" in text
    raw = detail.locator("table.raw tbody tr", has_text="FAIL").inner_text()
    assert "2024-03-04T08:10:06.0000000Z" in raw
    assert "input1_extended.csv:9" in raw
    assert report.console_errors == []


def test_detail_shows_lineage_gaps_and_verdicts(story_report, open_report):
    page = open_report(story_report, "#message=" + story.GROUP_ID).page
    detail = page.locator("#message-detail")
    detail.wait_for(state="visible")
    erin = detail.get_by_role("article", name="Recipient erin@contoso.com")
    assert "Expanded from team@contoso.com" in erin.inner_text()
    assert "2 h" in erin.locator(".gap-mark.long-gap").inner_text()
    assert "1 deferral(s), 2 h" in erin.inner_text()
    # a verdict, in words; the related inbox-rule forward
    page.goto(page.url.split("#")[0] + "#message=" + quote(story.PHISH_MESSAGE_ID, safe=""))
    alice = detail.get_by_role("article", name="Recipient alice@contoso.com")
    assert "SPM (spam)" in alice.inner_text()
    assert "Forwarded by an inbox rule as" in detail.inner_text()
    page.click("#message-detail .related a")
    expect(detail).to_contain_text(story.FORWARD_ID)  # waits for the page to follow the link
    page.click("#detail-close")
    detail.wait_for(state="hidden")  # the hash changes, then the page hides the view


def test_detail_formats_the_chain_model_of_a_nested_expansion(edge_report, open_report):
    from analyzer.chains import message_chain
    from analyzer.timestamps import duration_text

    case, chains, _ = story.build_edge(edge_report.parent / "again")
    model = message_chain(chains, case, story.NESTED_ID)
    in_order = sorted(model["recipients"], key=lambda r: r["order"])
    report = open_report(edge_report, "#message=" + story.NESTED_ID)
    detail = report.page.locator("#message-detail")
    detail.wait_for(state="visible")
    articles = detail.locator("article.recipient")
    shown = articles.evaluate_all(
        """(nodes) => nodes.map((node) => [
            node.getAttribute("aria-label").replace("Recipient ", ""),
            node.className.match(/depth-(\\d)/)[1],
            Array.from(node.querySelectorAll(".timeline li"), (li) =>
                li.classList.contains("gap-mark") ? li.className + " " + li.textContent
                    : li.querySelector(".ev-id").textContent),
        ])"""
    )
    # the model's lineage order and depth, each timeline event after the model's gap mark
    expected = []
    for recipient in in_order:
        items = []
        for event in recipient["events"]:
            if not event["in_timeline"]:
                continue
            if event["gap_seconds"] is not None and event["gap_seconds"] >= 1:
                level = (" " + event["gap_level"]) if event["gap_level"] else " "
                items.append(f"gap-mark{level} +{duration_text(event['gap_seconds'])}")
            items.append(event["event_id"])
        expected.append([recipient["address"], str(min(recipient["depth"], 4)), items])
    assert shown == expected
    assert [row[:2] for row in shown] == [
        ["all@contoso.com", "0"],
        ["frank@contoso.com", "1"],
        ["frank.home@fabrikam.com", "2"],
        ["team@contoso.com", "1"],
        ["dave@contoso.com", "2"],
        ["erin@contoso.com", "2"],
    ]
    dave = detail.get_by_role("article", name="Recipient dave@contoso.com")
    assert dave.locator(".gap-mark.gap").inner_text() == "+6 min"
    assert "Expanded from team@contoso.com" in dave.inner_text()
    assert "Related recipient team@contoso.com" in dave.inner_text()  # no arrow
    assert "→" not in detail.inner_text()
    erin = detail.get_by_role("article", name="Recipient erin@contoso.com")
    assert erin.locator(".gap-mark.long-gap").inner_text() == "+2 h"
    # the route facts: once for the message, per recipient where they differ
    facts = detail.locator(".message-facts").inner_text()
    assert "From IP\n10.0.0.8" in facts and "To IP\nper recipient (below)" in facts
    assert "Size\n5,000 bytes" in facts
    home = detail.get_by_role("article", name="Recipient frank.home@fabrikam.com").inner_text()
    assert "To IP\n198.51.100.44" in home and "Connector\nOutbound to fabrikam" in home
    # the page's script formats the same model as the focused report's server-rendered view
    from analyzer.report import ReportOptions, build_report_context

    options = ReportOptions(generated_at="2024-03-09T10:00:00Z", message=story.NESTED_ID)
    focus = build_report_context(case, chains, [], options).focus
    assert [(r.address, str(min(r.depth, 4))) for r in focus.recipients] == [
        tuple(row[:2]) for row in shown
    ]
    gaps = detail.locator(".gap-mark").all_inner_texts()
    assert gaps == [e.gap for r in focus.recipients for e in r.events if e.in_timeline and e.gap]
    assert report.console_errors == []


def test_hostile_subjects_are_shown_as_text_and_run_nothing(story_report, open_report):
    report = open_report(story_report)
    page = report.page
    page.fill("#q", "xss")
    subjects = visible_column(page, 3)
    # the outbound message has two recipients: two rows
    assert sorted(subjects) == sorted([story.XSS_IMG, story.XSS_SCRIPT, story.XSS_SCRIPT])
    for message in (story.PHISH_ID, story.OUTBOUND_ID):
        page.goto(report.url + "#message=" + message)
        page.locator("#message-detail").wait_for(state="visible")
    assert page.evaluate("() => typeof window.__xss") == "undefined"
    assert page.locator("img").count() == 0
    assert page.locator("script").count() == 2
    assert report.console_errors == []


@pytest.mark.parametrize(
    ("name", "viewport"),
    [("laptop", {"width": 1366, "height": 768}), ("narrow", {"width": 390, "height": 844})],
)
def test_layout_at_laptop_and_narrow_widths(story_report, open_report, name, viewport):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page = open_report(story_report, viewport=viewport).page

    def no_horizontal_scroll() -> bool:
        # wide tables scroll inside their own box; the page itself never scrolls sideways
        return page.evaluate(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )

    assert no_horizontal_scroll()
    page.screenshot(path=SCREENSHOTS / f"{name}-top.png")
    page.locator("#messages").evaluate("section => section.scrollIntoView()")
    page.screenshot(path=SCREENSHOTS / f"{name}-messages.png")
    page.locator("#overview").evaluate("section => section.scrollIntoView()")
    page.screenshot(path=SCREENSHOTS / f"{name}-overview.png")
    page.locator("#evidence").evaluate("section => section.scrollIntoView()")
    page.screenshot(path=SCREENSHOTS / f"{name}-evidence.png")
    page.goto(page.url.split("#")[0] + "#message=" + story.GROUP_ID)
    page.locator("#message-detail").wait_for(state="visible")
    assert no_horizontal_scroll()
    page.screenshot(path=SCREENSHOTS / f"{name}-detail.png")
    page.screenshot(path=SCREENSHOTS / f"{name}-full.png", full_page=True)


SAMPLE_PHISH = "34349d2d-14c6-414b-9771-08de2a7c7180"  # as in conftest.py


def raw_table_rows(page) -> list[dict[str, str]]:
    """The message detail's raw event rows as {column heading: cell text}."""
    return page.evaluate(
        """() => {
            const table = document.querySelector('#message-detail table.raw');
            const headings = Array.from(table.tHead.rows[0].cells, (th) => th.textContent);
            return Array.from(table.tBodies[0].rows, (row) => Object.fromEntries(
                Array.from(row.cells, (cell, i) => [headings[i], cell.innerText.trim()])));
        }"""
    )


def test_raw_rows_show_every_export_row_with_its_input_file_and_line(samples_report, open_report):
    report = open_report(samples_report, "#message=" + SAMPLE_PHISH)
    page = report.page
    page.locator("#message-detail").wait_for(state="visible")
    rows = raw_table_rows(page)
    # every row of the message in every export, also the 38 the timelines leave out (the
    # summary's rows join it by their message trace id, which is the network message id)
    assert len(rows) == 54
    assert sum(row["In timeline"] == "no" for row in rows) == 38
    assert all(":" in row["Input file, line"] for row in rows)
    api = [
        row
        for row in rows
        if "reporting_api_utf8.ndjson:" in row["Input file, line"]
        and row["Recipient"] == "grace.kim@contoso.com"
    ]
    assert len(api) == 1 and api[0]["Detail"] == "Delivered" and api[0]["Event"] == "status"
    assert "message time" in api[0]["Time (UTC)"]
    # at laptop width the input file and line are on screen without scrolling the table
    right = page.evaluate(
        """() => Math.max(...Array.from(
            document.querySelectorAll('#message-detail table.raw td:nth-child(2)'),
            (cell) => cell.getBoundingClientRect().right))"""
    )
    assert right <= 1366
    assert report.console_errors == []


def test_printed_message_detail_fits_the_paper(samples_report, open_report):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    # an A4 page is about 720 CSS pixels wide inside its margins
    page = open_report(
        samples_report, "#message=" + SAMPLE_PHISH, viewport={"width": 720, "height": 1000}
    ).page
    page.locator("#message-detail").wait_for(state="visible")
    page.emulate_media(media="print")
    assert page.locator("#q").is_hidden() and page.locator("#detail-close").is_hidden()
    assert page.locator("#message-detail .timeline").first.is_visible()
    # paper cannot scroll sideways: no cell of any table may end beyond the page
    overflow = page.evaluate(
        """() => Array.from(document.querySelectorAll('td, th'))
            .filter((cell) => cell.offsetParent !== null)
            .filter((cell) => cell.closest('thead')?.getBoundingClientRect().width !== 1)
            .filter((cell) => cell.getBoundingClientRect().right > innerWidth + 1)
            .map((cell) => cell.closest('table').className + ': ' + cell.textContent)"""
    )
    assert overflow == [], sorted({item.split(":")[0] for item in overflow})
    # the raw rows read as blocks of labelled fields on paper
    row = page.locator("#message-detail table.raw tbody tr").first
    assert row.evaluate("(row) => getComputedStyle(row).display") == "block"
    labels = row.evaluate("(row) => Array.from(row.cells, (cell) => cell.dataset.label)")
    assert labels[:5] == ["Time (UTC)", "Input file, line", "Recipient", "Event", "In timeline"]
    pdf = page.pdf(path=SCREENSHOTS / "print-message.pdf", format="A4")
    assert pdf.startswith(b"%PDF")


def test_every_control_is_labelled_and_works_from_the_keyboard(story_report, open_report):
    page = open_report(story_report).page
    # every form control has a label a screen reader announces
    for label in ("Search", "Final status", "Direction", "Received from (UTC)", "to (UTC)"):
        assert page.get_by_label(label, exact=True).count() == 1, label
    assert page.get_by_label("Rows per page").count() == 1
    unnamed = page.evaluate(
        """() => Array.from(document.querySelectorAll('button, a[href], input, select'))
            .filter((node) => !(node.innerText || '').trim() && !node.labels?.length
                && !node.getAttribute('aria-label'))
            .map((node) => node.outerHTML.slice(0, 80))"""
    )
    assert unnamed == []
    # open a message and close it again with the keyboard alone
    page.focus("#messages-table tbody a >> nth=0")
    page.keyboard.press("Enter")
    page.locator("#message-detail").wait_for(state="visible")
    assert page.evaluate("() => document.activeElement.id") == "message-detail"
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "detail-close"
    page.keyboard.press("Enter")
    page.locator("#message-detail").wait_for(state="hidden")
    # the pager and the chart's figures too
    page.focus("#next-page")
    page.keyboard.press("Enter")
    assert page.locator("#page-info").inner_text().startswith("Rows 51–100")
    page.focus("#overview details.chart-data summary")
    page.keyboard.press("Enter")
    assert page.locator("#overview details.chart-data table").is_visible()


def test_text_and_focus_ring_have_enough_contrast(story_report, open_report):
    page = open_report(story_report).page
    page.goto(page.url.split("#")[0] + "#message=" + story.GROUP_ID)
    page.locator("#message-detail").wait_for(state="visible")
    page.focus("#q")
    low = page.evaluate(
        """() => {
            const rgb = (text) => (text.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
            const luminance = ([r, g, b]) => {
                const c = [r, g, b].map((v) => v / 255)
                    .map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
                return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
            };
            const ratio = (a, b) => {
                const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
                return (x + 0.05) / (y + 0.05);
            };
            const background = (node) => {
                for (; node; node = node.parentElement) {
                    const color = rgb(getComputedStyle(node).backgroundColor);
                    if (color.length === 3 || color[3] > 0) return color;
                }
                return [255, 255, 255];
            };
            const low = [];
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            for (let text = walker.nextNode(); text; text = walker.nextNode()) {
                const node = text.parentElement;
                if (!text.textContent.trim() || !node.offsetParent || node.closest('svg')) continue;
                if (node.closest('button:disabled')) continue;  // inactive controls are exempt
                const value = ratio(rgb(getComputedStyle(node).color), background(node));
                if (value < 4.5) low.push(node.className + ' ' + value.toFixed(2));
            }
            const focused = document.activeElement;
            const ring = ratio(rgb(getComputedStyle(focused).outlineColor), background(focused));
            if (ring < 3) low.push('focus outline ' + ring.toFixed(2));
            return Array.from(new Set(low));
        }"""
    )
    assert low == []
