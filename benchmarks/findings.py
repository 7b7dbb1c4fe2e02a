"""Benchmark: running every findings rule on 1,000,000 events.

Generates canonical events with the chains benchmark's vectorized generator
(``benchmarks/chains.py``: RECEIVE, AGENTINFO with spam and transport-rule verdicts, DEFER or
TRANSFER, DELIVER / SEND / FAIL, one to four recipients per message), then gives the rules
something to chew on, still vectorized: inbound senders from about 3,000 distinct domains
(a few of them look-alikes of contoso.com), a client IP per internal sender (a few sending
once from an odd one), and inbox-rule forwards (source MAILBOXRULE) on a few outbound
messages. Then times, in the same run, ``build_chains`` and ``run_findings``, and prints
seconds, events per second, and the findings per rule. Target: findings in seconds.

``--per-rule`` also times each registered rule (``analyzer.findings.RULES``) twice: in run
order on one context, where the first rule of a topic pays for what its topic shares (these
add up to about ``run_findings``), and alone on a fresh context, where it pays for everything
it reads (what running only that rule would cost).

No assertions: it prints figures.

Usage: python benchmarks/findings.py [--events N] [--repeat K] [--per-rule]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from chains import generate  # benchmarks/chains.py, the shared event generator

from analyzer import schema
from analyzer.case import Case, InputRecord
from analyzer.chains import build_chains
from analyzer.findings import RULES, run_findings
from analyzer.findings.base import Context
from analyzer.findings.thresholds import Thresholds

INPUT_ID = "0123456789abcdef"


def _numbers(values: pa.Array, pattern: str) -> np.ndarray:
    """The number a regular expression's group ``n`` captures per value (-1 where none)."""
    found = pc.struct_field(pc.extract_regex(values, pattern), "n").cast(pa.int64())
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False)


def add_findings_material(table: pa.Table) -> pa.Table:
    """Vary sender domains and client IPs, and add a few forwards, without a Python loop."""
    n = table.num_rows
    sender = table["sender_address"].combine_chunks()
    nmid = table["network_message_id"].combine_chunks()
    message_number = _numbers(nmid, r"(?P<n>\d+)$")
    inbound_number = _numbers(sender, r"^sender(?P<n>\d+)@example\.net$")
    user_number = _numbers(sender, r"^user(?P<n>\d+)@contoso\.com$")
    inbound = inbound_number >= 0

    # inbound senders: sender<k>@example.net -> sender<k>@d<k mod 3000>.example, and one
    # sender in 997 from a look-alike of contoso.com
    domains = np.char.add(np.char.add("d", (inbound_number % 3000).astype(str)), ".example")
    domains = domains.astype(object)
    lookalikes = np.array(["c0ntoso.com", "contosso.com", "xn--cntoso-wqf.com"], dtype=object)
    odd = inbound & (inbound_number % 997 == 0)
    domains[odd] = lookalikes[inbound_number[odd] % 3]
    local = pc.replace_substring_regex(sender, r"@.*$", "@")
    varied = pc.binary_join_element_wise(local, pa.array(domains, pa.string()), "")
    table = table.set_column(
        table.schema.get_field_index("sender_address"),
        "sender_address",
        pc.if_else(pa.array(inbound), varied, sender),
    )

    # internal senders send from an IP of their own; one message in 500 from an odd one
    own_ip = np.char.add("10.20.", (user_number // 250).astype(str))
    own_ip = np.char.add(np.char.add(own_ip, "."), (user_number % 250).astype(str)).astype(object)
    odd_ip = message_number % 500 == 7
    own_ip[odd_ip] = np.char.add("198.51.100.", (user_number[odd_ip] % 200).astype(str))
    own_ip[inbound] = "203.0.113.9"
    table = table.set_column(
        table.schema.get_field_index("original_client_ip"),
        "original_client_ip",
        pa.array(own_ip, pa.string()),
    )

    # inbox-rule forwards: the RECEIVE of one outbound message in 1,000 comes from MAILBOXRULE
    event_id = table["event_id"].to_numpy(zero_copy_only=False)
    forwarded = (message_number % 1000 == 3) & (event_id == "RECEIVE") & ~inbound
    source = table["source"].to_numpy(zero_copy_only=False).astype(object)
    source[forwarded] = "MAILBOXRULE"
    assert len(source) == n
    return table.set_column(
        table.schema.get_field_index("source"), "source", pa.array(source, pa.string())
    )


def case_of(events: pa.Table) -> Case:
    times = pc.min_max(events["event_time"]).as_py()
    record = InputRecord(
        path="benchmarks/work/synthetic-extended.csv",
        size=0,
        sha256=INPUT_ID * 4,
        input_id=INPUT_ID,
        format="extended",
        rows_read=events.num_rows,
        rows_ingested=events.num_rows,
        first_event=times["min"].isoformat().replace("+00:00", "Z"),
        last_event=times["max"].isoformat().replace("+00:00", "Z"),
    )
    return Case(events=events, duplicates=schema.DUPLICATE_SCHEMA.empty_table(), inputs=[record])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of K runs of each timing")
    parser.add_argument("--per-rule", action="store_true", help="also time each rule function")
    args = parser.parse_args()

    started = time.perf_counter()
    events = add_findings_material(generate(args.events))
    case = case_of(events)
    print(f"generated {events.num_rows:,} events in {time.perf_counter() - started:.1f} s")

    chain_times, finding_times = [], []
    findings = []
    chains = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        chains = build_chains(case)
        chain_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        findings = run_findings(case, chains)
        finding_times.append(time.perf_counter() - started)
    rows = events.num_rows
    build, run = min(chain_times), min(finding_times)
    print(f"build_chains: {build:6.2f} s  {rows / build:12,.0f} events/s")
    print(f"run_findings: {run:6.2f} s  {rows / run:12,.0f} events/s  (target: seconds)")
    by_rule = Counter(f.rule for f in findings)
    print(
        f"{len(findings):,} findings: " + ", ".join(f"{r} {c}" for r, c in sorted(by_rule.items()))
    )
    if args.per_rule and chains is not None:
        shared = Context(case=case, chains=chains, thresholds=Thresholds())
        print("per rule: in run order (shared context), alone (fresh context), findings")
        for rule in RULES:
            started = time.perf_counter()
            found = rule.function(shared)
            in_order = time.perf_counter() - started
            started = time.perf_counter()
            rule.function(Context(case=case, chains=chains, thresholds=Thresholds()))
            alone = time.perf_counter() - started
            print(f"  {rule.id:28} {in_order:6.2f} s {alone:6.2f} s {len(found):6,}  {rule.name}")


if __name__ == "__main__":
    main()
