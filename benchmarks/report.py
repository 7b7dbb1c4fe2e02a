"""Report benchmark: building and writing the HTML report of the realistic case.

Ingests a realistic extended report (``realistic.py``, default 300,000 rows) into a case with
the current code, computes its findings rule by rule (as ``benchmarks/findings.py --per-rule``
does: a rule still running after ``--timeout-per-rule`` seconds is left out, and the output
says so), then, in the same run and each in a fresh child process:

- ``pyarrow.parquet.read_table`` of the case's events (the baseline), and
- ``open_case``, ``build_chains``, then ``build_report_context`` on its own and the whole
  ``write_report`` (context, render, write).

Prints seconds (the range over ``--repeat`` runs), the ratio of ``write_report`` to the read
measured in pairs (target, issue 12: within 8x), the file's size and what it holds, peak RSS.
With ``--browser`` it also opens the file from disk in Debian's Chromium and prints how long
the messages table takes to show, and one search and one sort. A "best case" section does the
same for the old clean generator's events. It prints figures and asserts nothing.

    python benchmarks/report.py
    python benchmarks/report.py --rows 1000000 --browser
"""

from __future__ import annotations

import argparse
import json
import pickle
import resource
import shutil
import time
from pathlib import Path

import realistic
from findings import _load, per_rule
from harness import WORK, gib, machine, python, ratios, read_parquet, realistic_case, run_measured
from harness import spread as spread_text

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


def child(source: str, findings_dir: str, output: str) -> None:
    """Chains, then the report of ``source`` with the saved findings, as one JSON line."""
    from analyzer.chains import build_chains
    from analyzer.findings import Finding
    from analyzer.report import ReportOptions, build_report_context, write_report

    case = _load(source)
    started = time.perf_counter()
    chains = build_chains(case)
    chains_seconds = time.perf_counter() - started
    findings: list[Finding] = []
    for path in sorted(Path(findings_dir).glob("*.pickle")):
        findings.extend(pickle.loads(path.read_bytes()))
    findings.sort(key=Finding.sort_key)  # as run_findings orders them
    options = ReportOptions(title="Benchmark", generated_at="2026-09-14T00:00:00Z")
    started = time.perf_counter()
    context = build_report_context(case, chains, findings, options)
    context_seconds = time.perf_counter() - started
    started = time.perf_counter()
    write_report(case, chains, findings, options, output)
    report_seconds = time.perf_counter() - started
    print(
        json.dumps(
            {
                "chains_seconds": chains_seconds,
                "context_seconds": context_seconds,
                "seconds": report_seconds,
                "findings": len(findings),
                "bytes": Path(output).stat().st_size,
                "data_bytes": len(context.data_json.encode("utf-8")),
                "table_rows": context.table_rows,
                "messages": chains.messages.num_rows,
                "caps": list(context.caps),
                "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def open_in_browser(path: Path) -> None:
    """Print how long Chromium takes to show the table, to run a search and a sort."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        started = time.perf_counter()
        page.goto(path.resolve().as_uri(), timeout=300_000)
        page.wait_for_selector("#messages-table tbody tr", timeout=300_000)
        print(f"  browser: table shown {time.perf_counter() - started:6.2f} s after navigation")
        for query in ("anna", "invoice", "5.1.10"):
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
            print(f"  browser: search {query!r:12} {elapsed:7.0f} ms  ({status})")
        elapsed = page.evaluate(
            """() => {
                const started = performance.now();
                document.querySelector("#messages-table th[data-sort=recipient] button").click();
                return performance.now() - started;
            }"""
        )
        print(f"  browser: sort by recipient {elapsed:7.0f} ms")
        browser.close()


def measure(source: str, reads_from: Path, repeat: int, timeout: float, browser: bool) -> None:
    name = Path(source).name if "/" in source else source.replace(":", "-")
    findings_dir = WORK / f"findings-{name}"
    shutil.rmtree(findings_dir, ignore_errors=True)
    findings_dir.mkdir(parents=True)
    rules = per_rule(source, timeout, str(findings_dir))
    if rules.over:
        left_out = ", ".join(r.name for r in rules.over)
        print(f"  findings of the rules over {timeout:g} s left out of the report: {left_out}")
    output = WORK / f"report-{name}.html"
    reads, reports = [], []
    for _ in range(repeat):
        reads.append(read_parquet(reads_from))
        command = python(__file__, "--child", source, str(findings_dir), str(output))
        reports.append(run_measured(command).result())
    read_seconds = [r["seconds"] for r in reads]
    report_seconds = [r["seconds"] for r in reports]
    last = reports[-1]
    print(
        f"  pyarrow.parquet.read_table {spread_text(read_seconds)} | build_chains "
        f"{spread_text([r['chains_seconds'] for r in reports])} | build_report_context "
        f"{spread_text([r['context_seconds'] for r in reports])} | write_report (context, "
        f"render, write) {spread_text(report_seconds)}\n"
        f"  ratio write_report / read {ratios(report_seconds, read_seconds)} (target 8x); peak "
        f"RSS {gib(max(r['peak_rss'] for r in reports))}\n"
        f"  file {last['bytes'] / 1e6:,.1f} MB ({last['data_bytes'] / 1e6:,.1f} MB embedded "
        f"data): {last['findings']:,} findings, {last['table_rows']:,} table rows, "
        f"{last['messages']:,} messages"
    )
    for note in last["caps"]:
        print(f"  capped: {note}")
    if browser:
        open_in_browser(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=realistic.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement")
    parser.add_argument("--timeout-per-rule", type=float, default=120, metavar="SECONDS")
    parser.add_argument("--browser", action="store_true", help="also open it in Chromium")
    parser.add_argument(
        "--best-case-events",
        type=int,
        default=-1,
        help="events of the old clean generator (default: as many as the realistic case; 0: none)",
    )
    parser.add_argument("--child", nargs=3, metavar=("SOURCE", "FINDINGS", "OUTPUT"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"report benchmark: {machine()}; {args.repeat} runs of each, ranges over runs")
    case = realistic_case(args.rows, args.seed)
    print(case.cardinality.summary())
    print(
        f"  ingested into {case.path.name} in {case.ingest_seconds:.1f} s: {case.events:,} events"
    )
    measure(str(case.path), case.path, args.repeat, args.timeout_per_rule, args.browser)
    events = case.events if args.best_case_events < 0 else args.best_case_events
    if events:
        import pyarrow.parquet as pq
        from best_case import add_findings_material, generate

        parquet = WORK / f"clean-findings-events-{events}.parquet"
        pq.write_table(add_findings_material(generate(events)), parquet)
        print(f"best case: the old clean generator's {events:,} events")
        measure(f"best-case:{events}", parquet, args.repeat, args.timeout_per_rule, args.browser)


if __name__ == "__main__":
    main()
