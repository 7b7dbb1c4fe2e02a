"""Benchmark: the HTML report of a 1,000,000-event case, and how fast it opens in Chromium.

Generates the synthetic case of ``benchmarks/chains.py`` (same generator), builds its chains
and findings, then times in the same run:

- ``build_report_context`` (the data the page embeds, charts, findings),
- ``render_report`` and the write,

and prints the file size and what it holds (rows of the messages table, event rows embedded
for the detail view). With ``--browser`` it also opens the file from disk in Debian's
Chromium and prints the time until the messages table shows, and the time one search takes
in the page. No assertions: it prints figures.

Usage: python benchmarks/report.py [--events N] [--browser]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyzer.case import Case, InputRecord
from analyzer.chains import build_chains
from analyzer.findings import run_findings
from analyzer.report import ReportOptions, build_report_context, render_report
from analyzer.schema import DUPLICATE_SCHEMA

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
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


def _chains_benchmark():
    spec = importlib.util.spec_from_file_location("chains_benchmark", HERE / "chains.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def synthetic_case(events: int) -> Case:
    """The chains benchmark's synthetic events as a case with one (imaginary) input."""
    table = _chains_benchmark().generate(events)
    input_id = table.column("input_id")[0].as_py()
    record = InputRecord(
        path="synthetic/extended_report.csv",
        size=690 * events,  # about 690 bytes per event as UTF-8 (benchmarks/ingest.py)
        sha256="0" * 64,
        input_id=input_id,
        format="extended",
        encoding="utf-8",
        rows_read=table.num_rows,
        rows_ingested=table.num_rows,
        first_event="2024-03-01T00:00:00.0000000Z",
        last_event="2024-03-11T00:00:00.0000000Z",
    )
    return Case(events=table, duplicates=DUPLICATE_SCHEMA.empty_table(), inputs=[record])


def open_in_browser(path: Path) -> None:
    """Print how long Chromium takes to show the table and to run one search."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        started = time.perf_counter()
        page.goto(path.resolve().as_uri(), timeout=120_000)
        page.wait_for_selector("#messages-table tbody tr", timeout=120_000)
        shown = time.perf_counter() - started
        print(
            f"browser: table shown {shown:6.2f} s after navigation (file:// load + parse + render)"
        )
        for query in ("user1", "quarterly report 42", "5.1.1"):
            elapsed = page.evaluate(
                """(query) => {
                    const box = document.getElementById("q");
                    const started = performance.now();
                    box.value = query;
                    box.dispatchEvent(new Event("input"));
                    return performance.now() - started;
                }""",
                query,
            )
            status = page.locator("#table-status").inner_text()
            print(f"browser: search {query!r:24} {elapsed:7.0f} ms  ({status})")
        elapsed = page.evaluate(
            """() => {
                const started = performance.now();
                document.querySelector("#messages-table th[data-sort=recipient] button").click();
                return performance.now() - started;
            }"""
        )
        print(f"browser: sort by recipient      {elapsed:7.0f} ms")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--browser", action="store_true", help="also open it in Chromium")
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    output = WORK / "report.html"

    started = time.perf_counter()
    case = synthetic_case(args.events)
    print(f"generated {case.events.num_rows:,} events in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    chains = build_chains(case)
    print(f"build_chains:          {time.perf_counter() - started:6.2f} s")
    started = time.perf_counter()
    findings = run_findings(case, chains)
    print(
        f"run_findings:          {time.perf_counter() - started:6.2f} s  ({len(findings)} findings)"
    )

    options = ReportOptions(title="Benchmark", generated_at="2024-03-12T00:00:00Z")
    started = time.perf_counter()
    context = build_report_context(case, chains, findings, options)
    built = time.perf_counter() - started
    started = time.perf_counter()
    html = render_report(context)
    payload = html.encode("utf-8")
    output.write_bytes(payload)
    rendered = time.perf_counter() - started
    print(f"build_report_context:  {built:6.2f} s")
    print(f"render + write:        {rendered:6.2f} s")
    print(f"report total:          {built + rendered:6.2f} s")
    data_bytes = len(context.data_json.encode("utf-8"))
    print(
        f"file: {len(payload) / 1e6:.1f} MB ({data_bytes / 1e6:.1f} MB embedded data), "
        f"{context.table_rows:,} table rows, {chains.messages.num_rows:,} messages"
    )
    for note in context.caps:
        print(f"capped: {note}")
    if args.browser:
        open_in_browser(output)


if __name__ == "__main__":
    main()
