"""Fixtures of the browser tests: Debian's Chromium driven by Playwright, and story reports.

The tests never download a browser (no ``playwright install``): they launch the system's
``/usr/bin/chromium`` and fail, not skip, when it is missing.
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
GENERATED_AT = "2024-03-09T10:00:00Z"


def load_report_case():
    """The story module (loaded by path: independent of how the tests are packaged)."""
    path = Path(__file__).resolve().with_name("report_case.py")
    spec = importlib.util.spec_from_file_location("msgtrace_report_case", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


story = load_report_case()


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium (session-wide)."""
    if not (Path(CHROMIUM).exists() or shutil.which("chromium")):
        pytest.fail(
            f"Chromium is missing ({CHROMIUM}): the browser tests need Debian's chromium. "
            "Install it with `apt-get install -y chromium` (the README's test command does)."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def story_case(tmp_path_factory):
    """(case, chains, findings) of the story, through the real pipeline."""
    return story.build(tmp_path_factory.mktemp("story-exports"))


@pytest.fixture(scope="session")
def story_report(story_case, tmp_path_factory) -> Path:
    """The full report of the story, written to disk."""
    from analyzer.report import ReportOptions, write_report

    case, chains, findings = story_case
    path = tmp_path_factory.mktemp("report") / "story report.html"
    options = ReportOptions(
        title="Story", case_id="INC-7", analyst="A. Analyst", generated_at=GENERATED_AT
    )
    write_report(case, chains, findings, options, path)
    return path


@pytest.fixture(scope="session")
def edge_report(tmp_path_factory) -> Path:
    """The full report of the edge cases (nested expansion, hostile text), written to disk."""
    from analyzer.report import ReportOptions, write_report

    case, chains, findings = story.build_edge(tmp_path_factory.mktemp("edge-exports"))
    path = tmp_path_factory.mktemp("edge-report") / "edge.html"
    write_report(case, chains, findings, ReportOptions(generated_at=GENERATED_AT), path)
    return path


#: The bundled sample exports (every format and encoding) and their phish: three recipients,
#: 36 rows in seven exports.
SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"
SAMPLE_PHISH = "34349d2d-14c6-414b-9771-08de2a7c7180"


@pytest.fixture(scope="session")
def samples_report(tmp_path_factory) -> Path:
    """The full report of the bundled samples, through the real pipeline."""
    from analyzer.ingest import load_sources
    from analyzer.report import ReportOptions, report_case

    path = tmp_path_factory.mktemp("samples-report") / "samples.html"
    report_case(load_sources([SAMPLES]), ReportOptions(generated_at=GENERATED_AT), path)
    return path


class OpenedReport:
    """A report opened in a fresh browser context that records everything it tries."""

    def __init__(self, browser, path: Path, fragment: str = "", viewport=None):
        self.context = browser.new_context(
            accept_downloads=True, viewport=viewport or {"width": 1366, "height": 768}
        )
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.routed: list[str] = []
        self.console_errors: list[str] = []
        self.context.on("request", lambda request: self.requests.append(request.url))
        # Every request of any scheme passes through here; only the page itself may go on.
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on(
            "console",
            lambda message: (
                self.console_errors.append(message.text) if message.type == "error" else None
            ),
        )
        self.page.on("pageerror", lambda error: self.console_errors.append(str(error)))
        self.page.goto(self.url + fragment)
        self.page.wait_for_selector("#messages-table tbody tr")

    def _route(self, route) -> None:
        self.routed.append(route.request.url)
        if route.request.url.split("#")[0] == self.url:
            route.continue_()
        else:
            route.abort()

    def network_requests(self) -> list[str]:
        """Requests other than the page's own file."""
        return [url for url in self.requests + self.routed if url.split("#")[0] != self.url]

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def open_report(chromium):
    """Open a report: ``open_report(path, fragment="", viewport=None) -> OpenedReport``."""
    opened: list[OpenedReport] = []

    def opener(path: Path, fragment: str = "", viewport=None) -> OpenedReport:
        report = OpenedReport(chromium, path, fragment, viewport)
        opened.append(report)
        return report

    yield opener
    for report in opened:
        report.close()
