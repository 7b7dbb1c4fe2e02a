"""What the benchmark scripts share: child processes measured for wall time and peak RSS (with a
time limit), the realistic case, the Parquet read every later stage is compared with, and
ranges over repeated runs.

Every measurement runs in a fresh child process, so that its peak RSS is its own and one slow
stage can be stopped. ``python benchmarks/harness.py read-parquet CASE`` and
``python benchmarks/harness.py ingest FILE CASE`` are the children; each prints one JSON line.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.append(str(HERE))  # after tests/ and the repo: never shadow their modules
sys.path.insert(1, str(ROOT))

import realistic  # noqa: E402

WORK = realistic.WORK


@dataclass
class Run:
    """One measured child process."""

    seconds: float  # wall time from start to exit (or to the time limit)
    peak_rss: int  # bytes
    returncode: int | None
    stdout: str
    stderr: str
    timed_out: bool

    def result(self) -> dict:
        """The JSON object the child printed last."""
        if self.timed_out or self.returncode != 0:
            raise RuntimeError(f"child failed ({self.returncode}): {self.stderr[-2000:]}")
        return json.loads(self.stdout.strip().splitlines()[-1])


def run_measured(command: Sequence[str], timeout: float | None = None) -> Run:
    """Run ``command``; its wall time, peak RSS (from the kernel's accounting of the child)
    and output. Past ``timeout`` seconds the child (and its children) are killed."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - started > timeout:
                os.killpg(child.pid, signal.SIGKILL)
                _, status, usage = os.wait4(child.pid, 0)
                timed_out = True
                break
            time.sleep(0.01)
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        return Run(
            seconds=timeout if timed_out and timeout else seconds,
            peak_rss=usage.ru_maxrss * 1024,
            returncode=child.returncode,
            stdout=out.read().decode("utf-8", "replace"),
            stderr=err.read().decode("utf-8", "replace"),
            timed_out=timed_out,
        )


def python(*args: str) -> list[str]:
    return [sys.executable, *args]


def gib(size: float) -> str:
    return f"{size / 2**30:.2f} GiB"


def spread(values: Sequence[float], unit: str = " s", digits: int = 2) -> str:
    """``1.23 s`` or ``1.23-1.45 s`` (the range over runs)."""
    low, high = min(values), max(values)
    if f"{low:,.{digits}f}" == f"{high:,.{digits}f}":
        return f"{low:,.{digits}f}{unit}"
    return f"{low:,.{digits}f}-{high:,.{digits}f}{unit}"


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> str:
    """Ratios of runs measured in pairs: ``4.6x`` or ``4.4x-4.9x``."""
    values = [n / d for n, d in zip(numerators, denominators, strict=True)]
    low, high = f"{min(values):.1f}x", f"{max(values):.1f}x"
    return low if low == high else f"{low}-{high}"


def machine() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load} (a shared machine: figures vary by run)"


# ---------------------------------------------------------------------------------------------
# The realistic case
# ---------------------------------------------------------------------------------------------


@dataclass
class RealisticCase:
    path: Path
    export: Path
    cardinality: realistic.Cardinality
    ingest_seconds: float
    events: int


def realistic_case(
    rows: int, seed: int = realistic.DEFAULT_SEED, encoding: str = "utf-8-sig"
) -> RealisticCase:
    """A case freshly ingested (by the current code) from the cached realistic report."""
    export = realistic.export_path(rows, seed, encoding)
    case = WORK / f"case-realistic-{rows}-s{seed}-{encoding}"
    shutil.rmtree(case, ignore_errors=True)
    run = run_measured(python(__file__, "ingest", str(export), str(case)))
    result = run.result()
    return RealisticCase(
        case, export, realistic.read_cardinality(export), result["seconds"], result["rows"]
    )


def read_parquet(case: Path) -> dict:
    """Time ``pyarrow.parquet.read_table`` of a case's events (or of one Parquet file), in a
    fresh child."""
    return run_measured(python(__file__, "read-parquet", str(case))).result()


def parquet_reads(case: Path, repeat: int) -> list[dict]:
    return [read_parquet(case) for _ in range(repeat)]


def _peak() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _child(argv: list[str]) -> None:
    command = argv[0]
    if command == "read-parquet":
        import pyarrow.parquet as pq

        source = Path(argv[1])
        started = time.perf_counter()
        table = pq.read_table(source / "events" if source.is_dir() else source)
        result = {"seconds": time.perf_counter() - started, "rows": table.num_rows}
    elif command == "ingest":
        from analyzer.ingest import ingest_into_case

        started = time.perf_counter()
        ingested = ingest_into_case([argv[1]], argv[2])
        result = {"seconds": time.perf_counter() - started, "rows": ingested.events}
    else:
        raise SystemExit(f"unknown child {command!r}")
    print(json.dumps({**result, "peak_rss": _peak()}))


if __name__ == "__main__":
    _child(sys.argv[1:])
