"""Reading a rendered report as a browser would, without one: text, scripts, raw rows.

Also the story of ``tests/browser/report_case.py`` (three extended reports through the real
pipeline) and the constants the report tests share.
"""

from __future__ import annotations

import importlib.util
import json
import re
from html.parser import HTMLParser
from pathlib import Path

from analyzer.report import ReportOptions, build_report_context, render_report

GENERATED_AT = "2024-03-09T10:00:00Z"
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
#: The phish of the bundled samples: three recipients, rows in fifteen exports.
SAMPLE_PHISH = "34349d2d-14c6-414b-9771-08de2a7c7180"


def _load_story():
    path = Path(__file__).resolve().parents[1] / "browser" / "report_case.py"
    spec = importlib.util.spec_from_file_location("msgtrace_report_case", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


story = _load_story()


def render(story_case, **options) -> str:
    """The report page of ``(case, chains, findings)`` with these ``ReportOptions``."""
    case, chains, findings = story_case
    options.setdefault("generated_at", GENERATED_AT)
    return render_report(build_report_context(case, chains, findings, ReportOptions(**options)))


class Page(HTMLParser):
    """What a browser would see: meta tags, script elements, attributes, visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.metas: list[dict[str, str]] = []
        self.scripts: list[tuple[dict[str, str], str]] = []
        self.styles: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self._raw: tuple[str, dict[str, str]] | None = None
        self._glued = False  # the text after a <wbr> continues the text before it

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        self.tags.append(tag)
        self._glued = tag == "wbr"
        self.attributes += [(tag, name, value) for name, value in attributes.items()]
        if tag == "meta":
            self.metas.append(attributes)
        if tag in ("script", "style"):
            self._raw = (tag, attributes)

    def handle_endtag(self, tag):
        if self._raw and tag == self._raw[0]:
            self._raw = None

    def handle_data(self, data):
        if self._raw:
            tag, attributes = self._raw
            if tag == "script":
                self.scripts.append((attributes, data))
            else:
                self.styles.append(data)
        elif self._glued and self.text:
            self.text[-1] += data
        else:
            self.text.append(data)
        self._glued = False


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def visible_text(html: str) -> str:
    """The page's text as one line, runs of white space as one space."""
    return re.sub(r"\s+", " ", " ".join(parse(html).text))


def embedded_data(html: str) -> dict:
    """The page's one JSON data block, parsed."""
    page = parse(html)
    blocks = [text for attrs, text in page.scripts if attrs.get("id") == "report-data"]
    assert len(blocks) == 1
    return json.loads(blocks[0])


class _RawRows(HTMLParser):
    """The rows of the raw event table (``table.raw``) as {column heading: cell text}."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[dict[str, str]] = []
        self.headings: list[str] = []
        self._in_raw = False
        self._cell: list[str] | None = None
        self._row: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "table" and "raw" in (dict(attrs).get("class") or "").split():
            self._in_raw = True
        elif self._in_raw and tag in ("td", "th"):
            self._cell = []
        elif self._in_raw and tag == "span" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag):
        if not self._in_raw:
            return
        if tag in ("td", "th") and self._cell is not None:
            self._row.append(re.sub(r"\s+", " ", "".join(self._cell)).strip())
            self._cell = None
        elif tag == "tr":
            if self.headings:
                self.rows.append(dict(zip(self.headings, self._row, strict=True)))
            else:
                self.headings = self._row
            self._row = []
        elif tag == "table":
            self._in_raw = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def raw_rows(html: str) -> list[dict[str, str]]:
    """The raw event rows of a focused report."""
    parser = _RawRows()
    parser.feed(html)
    return parser.rows
