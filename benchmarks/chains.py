"""Chains benchmark: ``build_chains`` on the realistic case, against reading its Parquet.

Ingests a realistic extended report (``realistic.py``, default 300,000 rows) into a case with
the current code, then, in the same run and each in a fresh child process:

- ``pyarrow.parquet.read_table`` of the case's events (the baseline), and
- ``analyzer.case.open_case`` followed by ``analyzer.chains.build_chains``.

Prints the case's cardinalities, seconds (the range over ``--repeat`` runs), the ratio of
``build_chains`` to the read measured in pairs (target, issue 12: within 3x), peak RSS of the
chains child and bytes of it per event. A "best case" line does the same for the old clean
generator's events (``best_case.generate``). It prints figures and asserts nothing.

    python benchmarks/chains.py
    python benchmarks/chains.py --rows 1000000 --best-case-events 0
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import realistic
from harness import WORK, gib, machine, python, ratios, read_parquet, realistic_case, run_measured
from harness import spread as spread_text


def child(source: str) -> None:
    """open_case (or the Parquet file of the best case) and build_chains, as one JSON line."""
    from analyzer.chains import build_chains

    started = time.perf_counter()
    if Path(source).is_dir():
        from analyzer.case import open_case

        case = open_case(source)
    else:
        import pyarrow.parquet as pq

        from analyzer import schema
        from analyzer.case import Case

        events = pq.read_table(source)
        case = Case(events=events, duplicates=schema.DUPLICATE_SCHEMA.empty_table(), inputs=[])
    opened = time.perf_counter() - started
    started = time.perf_counter()
    chains = build_chains(case)
    seconds = time.perf_counter() - started
    statuses = chains.recipients["final_status"].value_counts().to_pylist()
    print(
        json.dumps(
            {
                "open_seconds": opened,
                "seconds": seconds,
                "events": case.events.num_rows,
                "messages": chains.messages.num_rows,
                "recipients": chains.recipients.num_rows,
                "statuses": {s["values"]: s["counts"] for s in statuses},
                "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def measure(source: Path, repeat: int) -> None:
    reads, builds = [], []
    for _ in range(repeat):
        reads.append(read_parquet(source))
        builds.append(run_measured(python(__file__, "--child", str(source))).result())
    read_seconds = [r["seconds"] for r in reads]
    build_seconds = [b["seconds"] for b in builds]
    last = builds[-1]
    peak = max(b["peak_rss"] for b in builds)
    statuses = ", ".join(f"{k} {v:,}" for k, v in last["statuses"].items())
    print(
        f"  pyarrow.parquet.read_table {spread_text(read_seconds)} (peak "
        f"{gib(max(r['peak_rss'] for r in reads))}) | build_chains {spread_text(build_seconds)}"
        f", {last['events'] / min(build_seconds):,.0f} events/s (open_case "
        f"{spread_text([b['open_seconds'] for b in builds])} before it)\n"
        f"  ratio build_chains / read {ratios(build_seconds, read_seconds)} (target 3x); peak "
        f"RSS {gib(peak)} for {last['events']:,} events = {peak / last['events'] / 1024:.1f} KB "
        f"per event\n"
        f"  {last['messages']:,} messages, {last['recipients']:,} recipients ({statuses})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=realistic.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement")
    parser.add_argument(
        "--best-case-events",
        type=int,
        default=-1,
        help="events of the old clean generator (default: as many as the realistic case; 0: none)",
    )
    parser.add_argument("--child", metavar="CASE_OR_PARQUET")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print(f"chains benchmark: {machine()}; {args.repeat} runs of each, ranges over runs")
    case = realistic_case(args.rows, args.seed)
    print(case.cardinality.summary())
    print(
        f"  ingested into {case.path.name} in {case.ingest_seconds:.1f} s: {case.events:,} events"
    )
    measure(case.path, args.repeat)
    events = case.events if args.best_case_events < 0 else args.best_case_events
    if events:
        import pyarrow.parquet as pq
        from best_case import generate

        path = WORK / f"clean-events-{events}.parquet"
        pq.write_table(generate(events), path)
        print(f"best case: the old clean generator's {events:,} canonical events")
        measure(path, args.repeat)


if __name__ == "__main__":
    main()
