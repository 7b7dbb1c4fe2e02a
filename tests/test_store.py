"""Durable files: an atomic write leaves the old file or the new one, never a mix (even when the
disk is full or a file size limit stops it), and one writer at a time holds a case."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from analyzer.store import (
    LOCK_FILE,
    CaseBusyError,
    CaseLock,
    atomic_output,
    atomic_write_bytes,
    atomic_write_text,
    lock_holder,
)


def test_an_atomic_write_replaces_the_file_and_leaves_nothing_else(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("old report", encoding="utf-8")

    atomic_write_text(target, "new report ✓")

    assert target.read_text(encoding="utf-8") == "new report ✓"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_new_file_gets_the_permissions_of_an_ordinary_open(tmp_path):
    atomic_write_bytes(tmp_path / "new.bin", b"x")
    with open(tmp_path / "plain.bin", "wb") as handle:
        handle.write(b"x")

    assert (tmp_path / "new.bin").stat().st_mode == (tmp_path / "plain.bin").stat().st_mode


def test_a_failure_while_writing_leaves_the_previous_file_untouched(tmp_path):
    target = tmp_path / "out.json"
    target.write_bytes(b'{"good": true}')

    with pytest.raises(RuntimeError), atomic_output(target) as handle:
        handle.write(b'{"half')
        raise RuntimeError("the content could not be built")

    assert target.read_bytes() == b'{"good": true}'
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


WRITE_UNDER_A_SIZE_LIMIT = textwrap.dedent(
    """
    import resource, sys
    from analyzer.store import atomic_write_bytes
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))
    try:
        atomic_write_bytes(sys.argv[1], b"<html>" + b"x" * 1_000_000)
    except OSError as error:
        print(f"refused: {error.strerror}")
        sys.exit(3)
    """
)


def test_a_write_stopped_by_a_file_size_limit_keeps_the_previous_report(tmp_path):
    # like `ulimit -f` or a full disk: the write fails part way through
    target = tmp_path / "report.html"
    target.write_bytes(b"<html>the previous, complete report</html>")

    run = subprocess.run(
        [sys.executable, "-c", WRITE_UNDER_A_SIZE_LIMIT, str(target)],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert run.returncode == 3, run.stderr
    assert run.stdout.startswith("refused: File too large")
    assert target.read_bytes() == b"<html>the previous, complete report</html>"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_a_second_writer_is_told_who_holds_the_case(tmp_path):
    with CaseLock(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text() == f"{os.getpid()}\n"
        assert lock_holder(tmp_path) == os.getpid()
        with pytest.raises(CaseBusyError) as refused, CaseLock(tmp_path):
            pass

    message = str(refused.value)
    assert f"case {tmp_path} is being written by another msgtrace (pid {os.getpid()})" in message
    assert "--wait" in message
    # released: the file is emptied (a finished case is the same whoever wrote it)
    assert (tmp_path / LOCK_FILE).read_bytes() == b""
    assert lock_holder(tmp_path) is None
    with CaseLock(tmp_path):
        pass


def test_the_lock_of_a_killed_writer_is_free(tmp_path):
    script = (
        "import os, signal, sys\n"
        "from pathlib import Path\n"
        "from analyzer.store import CaseLock\n"
        "CaseLock(Path(sys.argv[1])).acquire()\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    run = subprocess.run([sys.executable, "-c", script, str(tmp_path)], timeout=60)
    assert run.returncode == -9

    # its pid is still written, but the kernel released its lock with it
    assert (tmp_path / LOCK_FILE).read_text().strip().isdigit()
    assert lock_holder(tmp_path) is None
    with CaseLock(tmp_path):
        assert lock_holder(tmp_path) == os.getpid()


def test_a_waiting_writer_is_told_the_pid_it_waits_for(tmp_path):
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from analyzer.store import CaseLock\n"
            "lock = CaseLock(Path(sys.argv[1])); lock.acquire(); print('held', flush=True)\n"
            "sys.stdin.readline(); lock.release()\n",
            str(tmp_path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        told: list[int | None] = []

        def on_wait(pid: int | None) -> None:
            told.append(pid)
            assert holder.stdin is not None
            holder.stdin.write("release\n")
            holder.stdin.flush()

        with CaseLock(Path(tmp_path), wait=True, on_wait=on_wait):
            assert told == [holder.pid]
    finally:
        holder.wait(timeout=60)
