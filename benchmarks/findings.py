"""Findings benchmark: ``msgtrace findings`` on the realistic case, and each rule on its own.

Ingests a realistic extended report (``realistic.py``, default 300,000 rows) into a case with
the current code, then, in the same run and each in a fresh child process:

- ``pyarrow.parquet.read_table`` of the case's events (the baseline);
- the whole ``msgtrace findings CASE --json`` process (load, chains, every rule, JSON out),
  stopped after ``--timeout`` seconds; its findings counted by rule id;
- with ``--per-rule``: a worker that opens the case, builds the chains and runs each function
  of the registered rules (``analyzer.findings.RULES``) in order on one shared ``Context`` (as
  ``run_findings`` does: a rule's time includes the shared columns it is the first to need),
  printing its time and findings by rule id. A rule still running after
  ``--timeout-per-rule`` seconds is recorded as "over N s"; the worker is stopped and a new
  one carries on with the next rule, so one quadratic rule cannot hold the benchmark.

Targets (issue 12): the whole process within 6x of the read, at most 50 findings on this
benign traffic. A "best case" section runs the rules on the old clean generator's events
(``best_case.add_findings_material``). It prints figures and asserts nothing.

    python benchmarks/findings.py --per-rule
    python benchmarks/findings.py --per-rule --timeout 1200 --timeout-per-rule 300
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import selectors
import signal
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import realistic
from harness import gib, machine, python, ratios, read_parquet, realistic_case, run_measured
from harness import spread as spread_text

CHAINS_TIMEOUT = 1800  # seconds the worker may take to load the case and build its chains


def _load(source: str):
    """The case of ``source``: a case folder, or ``best-case:N`` (the old clean events)."""
    if source.startswith("best-case:"):
        from best_case import add_findings_material, case_of, generate

        return case_of(add_findings_material(generate(int(source.split(":", 1)[1]))))
    from analyzer.case import open_case

    return open_case(source)


def worker(source: str, start: int, save: str | None) -> None:
    """Run the rules from ``start`` on, printing one JSON line per stage and rule."""
    from analyzer.chains import build_chains
    from analyzer.findings import RULES, Context, Thresholds

    def say(**fields: object) -> None:
        print(json.dumps(fields), flush=True)

    started = time.perf_counter()
    case = _load(source)
    opened = time.perf_counter() - started
    started = time.perf_counter()
    chains = build_chains(case)
    say(stage="chains", open_seconds=opened, seconds=time.perf_counter() - started)
    context = Context(case=case, chains=chains, thresholds=Thresholds())
    for index in range(start, len(RULES)):
        rule = RULES[index]
        started = time.perf_counter()
        found = rule.function(context)
        seconds = time.perf_counter() - started
        if save:
            Path(save, f"{index:02d}.pickle").write_bytes(pickle.dumps(found))
        counts = Counter(f.rule for f in found)
        name = rule.id
        say(index=index, name=name, seconds=seconds, counts=counts)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    say(stage="done", peak_rss=peak)


@dataclass
class RuleRun:
    index: int
    name: str
    seconds: float | None  # None: over the time limit
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class PerRule:
    rules: list[RuleRun]
    chains_seconds: list[float]  # one per worker (a new worker after each rule over time)
    open_seconds: list[float]
    peak_rss: int
    timeout: float

    @property
    def over(self) -> list[RuleRun]:
        return [r for r in self.rules if r.seconds is None]


def _rule_names() -> list[str]:
    from analyzer.findings import RULES

    return [rule.id for rule in RULES]


def per_rule(source: str, timeout: float, save: str | None = None) -> PerRule:
    """Every rule's time and findings, each rule allowed ``timeout`` seconds."""
    names = _rule_names()
    result = PerRule([], [], [], 0, timeout)
    start = 0
    while start < len(names):
        command = python(__file__, "--rule-worker", source, "--start", str(start))
        if save:
            command += ["--save", save]
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - closed once the worker is reaped
        process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=errors, start_new_session=True
        )
        assert process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        pending = b""
        deadline = time.monotonic() + CHAINS_TIMEOUT
        next_index, finished, chains_built = start, False, False
        while not finished:
            if not selector.select(max(0.0, deadline - time.monotonic())):  # over time
                os.killpg(process.pid, signal.SIGKILL)
                if not chains_built:
                    raise RuntimeError(f"{source}: chains took over {CHAINS_TIMEOUT} s")
                result.rules.append(RuleRun(next_index, names[next_index], None))
                next_index += 1
                break
            chunk = os.read(process.stdout.fileno(), 65536)
            if not chunk:
                errors.seek(0)
                raise RuntimeError(f"rule worker failed: {errors.read().decode()[-2000:]}")
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                message = json.loads(line)
                if message.get("stage") == "chains":
                    result.chains_seconds.append(message["seconds"])
                    result.open_seconds.append(message["open_seconds"])
                    chains_built = True
                elif message.get("stage") == "done":
                    result.peak_rss = max(result.peak_rss, message["peak_rss"])
                    finished = True
                else:
                    run = RuleRun(message["index"], message["name"], message["seconds"])
                    run.counts = message["counts"]
                    result.rules.append(run)
                    next_index = message["index"] + 1
                deadline = time.monotonic() + timeout
        _, _, usage = os.wait4(process.pid, 0)
        process.returncode = 0  # reaped by wait4
        errors.close()
        result.peak_rss = max(result.peak_rss, usage.ru_maxrss * 1024)
        start = len(names) if finished else next_index
    return result


def print_per_rule(result: PerRule) -> None:
    total = Counter[str]()
    print(
        f"  per rule ({len(result.chains_seconds)} worker(s): open_case "
        f"{spread_text(result.open_seconds)}, build_chains "
        f"{spread_text(result.chains_seconds)}; peak RSS {gib(result.peak_rss)}):"
    )
    for run in result.rules:
        seconds = f"over {result.timeout:g} s" if run.seconds is None else f"{run.seconds:.2f} s"
        counts = ", ".join(f"{rule} {n:,}" for rule, n in sorted(run.counts.items())) or "-"
        print(f"    {run.name:40} {seconds:>12}  {counts}")
        total.update(run.counts)
    timed = [r.seconds for r in result.rules if r.seconds is not None]
    over = f" + {len(result.over)} over {result.timeout:g} s" if result.over else ""
    print(
        f"    all rules: {sum(timed):.2f} s{over}; {sum(total.values()):,} findings"
        + (" (without the rules over time)" if result.over else "")
    )


def by_rule(counts: Counter[str]) -> str:
    return ", ".join(f"{rule} {n:,}" for rule, n in sorted(counts.items(), key=lambda x: -x[1]))


def whole_process(case: Path, repeat: int, timeout: float, reads: list[dict]) -> None:
    runs = []
    for _ in range(repeat):
        reads.append(read_parquet(case))
        runs.append(
            run_measured(python("-m", "analyzer", "findings", str(case), "--json"), timeout)
        )
    read_seconds = [r["seconds"] for r in reads]
    print(
        f"  pyarrow.parquet.read_table of the case's events: {spread_text(read_seconds)} "
        f"(peak {gib(max(r['peak_rss'] for r in reads))})"
    )
    done = [r for r in runs if not r.timed_out]
    over = len(runs) - len(done)
    if done:
        seconds = [r.seconds for r in done]
        pairs = [(r.seconds, read["seconds"]) for r, read in zip(runs, reads, strict=True)]
        paired = [p for p, r in zip(pairs, runs, strict=True) if not r.timed_out]
        ratio = ratios([p[0] for p in paired], [p[1] for p in paired])
        counts = Counter(f["rule"] for f in json.loads(done[-1].stdout))
        print(
            f"  msgtrace findings CASE --json (whole process): {spread_text(seconds)}"
            + (f", and {over} run(s) over {timeout:g} s" if over else "")
            + f"; peak RSS {gib(max(r.peak_rss for r in done))}\n"
            f"  ratio findings process / read {ratio} (target 6x)\n"
            f"  {sum(counts.values()):,} findings (target: at most 50): {by_rule(counts)}"
        )
    else:
        print(
            f"  msgtrace findings CASE --json (whole process): over {timeout:g} s in all "
            f"{len(runs)} run(s) (stopped); peak RSS by then "
            f"{gib(max(r.peak_rss for r in runs))}; ratio to the read over "
            f"{timeout / max(read_seconds):,.0f}x (target 6x)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=realistic.DEFAULT_SEED)
    parser.add_argument("--repeat", type=int, default=2, help="runs of the whole process")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per whole process")
    parser.add_argument("--per-rule", action="store_true", help="also time each rule function")
    parser.add_argument("--timeout-per-rule", type=float, default=120, metavar="SECONDS")
    parser.add_argument(
        "--best-case-events",
        type=int,
        default=-1,
        help="events of the old clean generator (default: as many as the realistic case; 0: none)",
    )
    parser.add_argument("--rule-worker", metavar="SOURCE", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--save", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rule_worker:
        worker(args.rule_worker, args.start, args.save)
        return
    print(f"findings benchmark: {machine()}; {args.repeat} runs of the whole process")
    case = realistic_case(args.rows, args.seed)
    print(case.cardinality.summary())
    print(
        f"  ingested into {case.path.name} in {case.ingest_seconds:.1f} s: {case.events:,} events"
    )
    whole_process(case.path, args.repeat, args.timeout, [])
    if args.per_rule:
        print_per_rule(per_rule(str(case.path), args.timeout_per_rule))
    events = case.events if args.best_case_events < 0 else args.best_case_events
    if events:
        print(
            f"best case: the old clean generator's {events:,} events (with look-alike domains, "
            "odd IPs and inbox-rule forwards)"
        )
        print_per_rule(per_rule(f"best-case:{events}", args.timeout_per_rule))


if __name__ == "__main__":
    main()
