"""Benchmark: the incident stage on 1,000,000 events, after chains and findings.

Generates the findings benchmark's events (``benchmarks/findings.py``: look-alike senders,
odd client IPs, inbox-rule forwards, on the chains benchmark's generator), builds the chains
and runs the rules once, then times, best of K, what comes after the findings: the summary
(affected mailboxes, timeline, next steps), the indicators with who to notify, the report's
links (message -> citing findings, and the views of every internal mailbox a finding names),
and one mailbox view. Prints seconds and what was found.

No assertions: it prints figures.

Usage: python benchmarks/incident.py [--events N] [--repeat K]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from chains import generate  # benchmarks/chains.py, the shared event generator
from findings import add_findings_material, case_of  # benchmarks/findings.py

from analyzer.chains import build_chains
from analyzer.findings import run_findings
from analyzer.incident import (
    Investigation,
    case_links,
    incident_summary,
    indicators,
    mailbox_view,
)


def best(repeat: int, work):
    """The best time of ``repeat`` runs of ``work`` on fresh investigations, and its result."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of K runs of each timing")
    args = parser.parse_args()

    started = time.perf_counter()
    case = case_of(add_findings_material(generate(args.events)))
    print(f"generated {case.events.num_rows:,} events in {time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    chains = build_chains(case)
    chained = time.perf_counter() - started
    started = time.perf_counter()
    findings = run_findings(case, chains)
    print(
        f"build_chains {chained:.2f} s, run_findings {time.perf_counter() - started:.2f} s: "
        f"{len(findings):,} findings"
    )

    def fresh() -> Investigation:  # nothing cached from an earlier run
        return Investigation(case, chains, findings, "low")

    seconds, summary = best(args.repeat, lambda: incident_summary(fresh()))
    print(
        f"summary:    {seconds:6.2f} s  {len(summary.mailboxes):,} mailboxes, "
        f"{len(summary.timeline):,} moments, {len(summary.next_steps):,} next steps"
    )
    seconds, found = best(args.repeat, lambda: indicators(fresh()))
    print(
        f"indicators: {seconds:6.2f} s  {len(found.indicators):,} indicators, "
        f"{len(found.notify):,} recipients to notify"
    )
    seconds, links = best(args.repeat, lambda: case_links(fresh()))
    print(
        f"links:      {seconds:6.2f} s  {len(links.findings_by_message):,} cited messages, "
        f"{len(links.mailboxes):,} mailbox views"
    )
    if summary.mailboxes:
        address = summary.mailboxes[0].address
        seconds, view = best(args.repeat, lambda: mailbox_view(fresh(), address))
        sent = view.to_json()["sent"]
        print(f"mailbox:    {seconds:6.2f} s  {address}: {sent['message_count']:,} sent")


if __name__ == "__main__":
    main()
