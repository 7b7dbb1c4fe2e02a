"""A real ingest killed with SIGKILL at each moment of the commit protocol, and ingests run at
the same time into one case: afterwards nothing is invented, nothing is lost, and giving the
same inputs again gives the case a clean run gives.

The moments are chosen with ``MSGTRACE_TEST_CRASH_AT`` (``analyzer.store.crash_point``), which
makes the ingest kill itself there; every killed ingest runs at the same time, in subprocesses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from exports import SAMPLES, write_export

from analyzer.case import open_case
from analyzer.cli import cli
from analyzer.ingest import ingest_into_case
from analyzer.store import CRASH_ENVIRONMENT, CaseLock
from analyzer.verify import verify_case

EXTENDED = SAMPLES / "extended_utf16le_bom.csv"
INPUTS = [EXTENDED, SAMPLES / "MSGTRK2026111608-1.LOG", SAMPLES / "summary_utf8_bom.csv"]
MOMENTS = [
    "manifest-written:in-001",  # the first manifest written, not yet renamed into place
    "part-written:in-002",  # a part complete under its temporary name
    "part-committed:in-002",  # the part renamed into place, the manifest not yet written
    "manifest-written:in-002",
]


def ingest_command(case: Path, *inputs: Path, wait: bool = False) -> list[str]:
    extra = ["--wait"] if wait else []
    return [
        sys.executable,
        "-m",
        "analyzer",
        "ingest",
        *map(str, inputs),
        "--case",
        str(case),
        *extra,
    ]


def start(command: list[str], **environment: str) -> subprocess.Popen:
    return subprocess.Popen(
        command,
        env={**os.environ, **environment},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def committed(case: Path) -> dict:
    """The case as a clean run would leave it: inputs, parts, and the events themselves."""
    manifest = json.loads((case / "manifest.json").read_text(encoding="utf-8"))
    return {
        "inputs": manifest["inputs"],
        "parts": manifest["parts"],
        "events": open_case(case).events.to_pylist(),
    }


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("clean") / "case"
    ingest_into_case(INPUTS, folder)
    return committed(folder)


def test_an_ingest_killed_at_any_moment_invents_nothing_and_loses_nothing(tmp_path, clean):
    cases = {moment: tmp_path / moment.replace(":", "-") for moment in MOMENTS}
    runs = {
        moment: start(ingest_command(case, *INPUTS), **{CRASH_ENVIRONMENT: moment})
        for moment, case in cases.items()
    }
    for moment, run in runs.items():
        run.wait(timeout=120)
        assert run.returncode == -9, f"{moment}: {run.stderr.read()}"  # type: ignore[union-attr]

    for moment, case in cases.items():
        # what was committed before the kill is exactly what a clean run has for those inputs
        if (case / "manifest.json").exists():
            before = verify_case(case, record=False)
            assert all("a leftover of an interrupted ingest" in p.text for p in before.problems)
            assert before.problems, f"{moment}: the unfinished files must be reported"
            kept = committed(case)
            count = len(kept["inputs"])
            assert kept["inputs"] == clean["inputs"][:count], moment
            assert kept["events"] == clean["events"][: len(kept["events"])], moment
        else:  # killed before its first commit: nothing is in the case yet
            assert moment.endswith("in-001"), moment

        result = ingest_into_case(INPUTS, case)

        [warning] = result.warnings
        assert "was interrupted" in warning and "interrupted/" in warning
        assert committed(case) == clean, moment
        assert verify_case(case).ok, moment


def test_a_killed_ingest_is_never_credited_to_an_input_of_duplicates_only(tmp_path, clean):
    run = start(
        ingest_command(tmp_path / "case", *INPUTS), **{CRASH_ENVIRONMENT: "part-committed:in-002"}
    )
    run.wait(timeout=120)
    assert run.returncode == -9
    # the first export again, re-encoded: other bytes, every row a duplicate
    again = write_export(tmp_path, "again.csv", EXTENDED.read_bytes()[2:], "utf-16-le")

    result = ingest_into_case([again], tmp_path / "case")

    [record] = result.added
    assert (record.input_id, record.rows_ingested) == ("in-002", 0)
    case = open_case(tmp_path / "case")
    assert case.events.num_rows == sum(
        p["rows"] for p in clean["parts"] if p["input_id"] == "in-001" and p["kind"] == "events"
    )
    assert verify_case(tmp_path / "case").ok


def test_a_second_writer_is_refused_with_the_pid_of_the_first(tmp_path):
    ingest_into_case([INPUTS[0]], tmp_path / "case")
    before = (tmp_path / "case" / "manifest.json").read_bytes()

    with CaseLock(tmp_path / "case"):
        result = CliRunner().invoke(
            cli, ["ingest", str(INPUTS[1]), "--case", str(tmp_path / "case")]
        )

    assert result.exit_code == 1
    assert (
        f"case {tmp_path / 'case'} is being written by another msgtrace (pid {os.getpid()})"
        in result.output
    )
    assert (tmp_path / "case" / "manifest.json").read_bytes() == before


def test_a_writer_asked_to_wait_waits_then_adds_its_input(tmp_path):
    ingest_into_case([INPUTS[0]], tmp_path / "case")
    lock = CaseLock(tmp_path / "case")
    lock.acquire()
    try:
        waiting = start(ingest_command(tmp_path / "case", INPUTS[1], wait=True))
        assert waiting.stderr is not None
        line = waiting.stderr.readline()
        assert f"(pid {os.getpid()}); waiting for it to finish" in line
    finally:
        lock.release()
    waiting.wait(timeout=120)

    assert waiting.returncode == 0
    assert [r.path for r in open_case(tmp_path / "case").inputs] == list(map(str, INPUTS[:2]))


def test_ingests_run_at_the_same_time_never_lose_an_input(tmp_path):
    inputs = INPUTS[:2]
    waiting = [start(ingest_command(tmp_path / "waits", path, wait=True)) for path in inputs]
    hurried = [start(ingest_command(tmp_path / "hurries", path)) for path in inputs]
    for run in waiting + hurried:
        run.wait(timeout=120)

    # with --wait every one gets in
    assert [run.returncode for run in waiting] == [0, 0]
    assert sorted(r.path for r in open_case(tmp_path / "waits").inputs) == sorted(map(str, inputs))
    assert verify_case(tmp_path / "waits").ok
    # without, an ingest is in the case exactly when it said so (exit 0); one refused says why
    succeeded = set()
    for path, run in zip(inputs, hurried, strict=True):
        if run.returncode == 0:
            succeeded.add(str(path))
        else:
            assert run.returncode == 1
            assert "is being written by another msgtrace (pid " in run.stderr.read()  # type: ignore[union-attr]
    assert succeeded
    assert {r.path for r in open_case(tmp_path / "hurries").inputs} == succeeded
    assert verify_case(tmp_path / "hurries").ok
