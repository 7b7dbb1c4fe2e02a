"""Ingest benchmark: realistic extended reports ingested into a case, against pyarrow's read.

For each size (default 300,000 and 1,000,000 rows) and encoding (UTF-8 with BOM, and the same
text as UTF-16 LE without BOM), in the same run and each in a fresh child process:

- ``pyarrow.csv.read_csv`` of the file with default options (the baseline; it reads this file
  right only because no block boundary falls inside a multi-line subject), and with
  ``newlines_in_values=True`` (what reading quoted line breaks safely takes, and what
  msgtrace uses);
- ``analyzer.ingest.ingest_into_case`` of the same file into a new case.

Prints the file's cardinalities, seconds (the range over ``--repeat`` runs), events per second,
peak RSS of each child, and the ratio of ingest to each baseline, measured in pairs. Target
(issue 12): at most 2.0x the baseline, peak RSS under 1.5 GB. A "best case" line does the same
for the old clean generator (2 to 8 distinct values per column). It prints figures and asserts
nothing.

    python benchmarks/ingest.py
    python benchmarks/ingest.py --rows 5000000 --encodings utf-8-sig --best-case-rows 0
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import realistic
from best_case import write_export as write_clean_export
from harness import WORK, gib, machine, python, ratios, run_measured, spread

LABELS = {"utf-8-sig": "UTF-8+BOM", "utf-16-le": "UTF-16 LE", "utf-8": "UTF-8"}


def child(mode: str, path: str, case: str, encoding: str) -> None:
    """One measurement, printed as a JSON line (run in a fresh process)."""
    import resource

    started = time.perf_counter()
    if mode.startswith("pyarrow"):
        import pyarrow.csv as pa_csv

        # "utf-8-sig": pyarrow skips a UTF-8 BOM itself
        read = pa_csv.ReadOptions(encoding="utf-16-le" if encoding == "utf-16-le" else "utf8")
        parse = pa_csv.ParseOptions(newlines_in_values=mode == "pyarrow-newlines")
        rows = pa_csv.read_csv(path, read_options=read, parse_options=parse).num_rows
    else:
        from analyzer.ingest import ingest_into_case

        rows = ingest_into_case([path], case).events
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss": peak}))


def measure(path: Path, encoding: str, repeat: int) -> dict[str, list[dict]]:
    """``repeat`` rounds of the three measurements, one after the other in each round."""
    runs: dict[str, list[dict]] = {"pyarrow": [], "pyarrow-newlines": [], "ingest": []}
    case = WORK / f"case-ingest-{path.stem}"
    for _ in range(repeat):
        for mode in runs:
            shutil.rmtree(case, ignore_errors=True)
            command = python(__file__, "--child", mode, str(path), str(case), encoding)
            runs[mode].append(run_measured(command).result())
    shutil.rmtree(case, ignore_errors=True)
    return runs


def report(label: str, size: int, runs: dict[str, list[dict]]) -> None:
    def seconds(mode: str) -> list[float]:
        return [r["seconds"] for r in runs[mode]]

    def peak(mode: str) -> str:
        return gib(max(r["peak_rss"] for r in runs[mode]))

    ingest = runs["ingest"]
    rate = spread([r["rows"] / r["seconds"] for r in ingest], " events/s", 0)
    print(
        f"  {label:10} {size / 1e6:6,.0f} MB | read_csv {spread(seconds('pyarrow'))} "
        f"(newlines_in_values {spread(seconds('pyarrow-newlines'))}), peak {peak('pyarrow')}"
        f" | ingest {spread(seconds('ingest'))}, {ingest[0]['rows']:,} events, {rate}, "
        f"peak {peak('ingest')}\n"
        f"  {'':10}            ratio ingest / read_csv "
        f"{ratios(seconds('ingest'), seconds('pyarrow'))} (target 2.0x); / read_csv with "
        f"newlines_in_values {ratios(seconds('ingest'), seconds('pyarrow-newlines'))}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="300000,1000000", help="comma-separated sizes")
    parser.add_argument("--encodings", default="utf-8-sig,utf-16-le")
    parser.add_argument("--seed", type=int, default=realistic.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement")
    parser.add_argument(
        "--best-case-rows", type=int, default=1_000_000, help="old clean file's rows (0: none)"
    )
    parser.add_argument("--child", nargs=4, metavar=("MODE", "PATH", "CASE", "ENCODING"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    print(f"ingest benchmark: {machine()}; {args.repeat} runs of each, ranges over runs")
    for rows in (int(r) for r in args.rows.split(",")):
        for encoding in args.encodings.split(","):
            path = realistic.export_path(rows, args.seed, encoding)
            if encoding == args.encodings.split(",")[0]:
                print(realistic.read_cardinality(path).summary())
            report(LABELS[encoding], path.stat().st_size, measure(path, encoding, args.repeat))
    if args.best_case_rows:
        WORK.mkdir(parents=True, exist_ok=True)
        path = WORK / f"clean-{args.best_case_rows}-utf-8.csv"
        if not path.exists():
            write_clean_export(path, args.best_case_rows, "utf-8")
        print(
            f"best case: the old clean generator, {args.best_case_rows:,} rows (16 events per "
            "message, 2 to 8 distinct values in most columns)"
        )
        report(LABELS["utf-8"], path.stat().st_size, measure(path, "utf-8", args.repeat))


if __name__ == "__main__":
    main()
