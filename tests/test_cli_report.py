"""The report command: the file, its sha256, clean errors."""

from __future__ import annotations

import hashlib

from click.testing import CliRunner
from report.page import parse, story

from analyzer.cli import cli


def test_report_command_writes_the_file_and_prints_its_sha256(tmp_path, monkeypatch):
    exports = story.write_exports(tmp_path / "exports")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1710000000")
    output = tmp_path / "out.html"
    args = ["report", *map(str, exports), "-o", str(output), "--case-id", "INC-9"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    digest = hashlib.sha256(output.read_bytes()).hexdigest()
    assert result.stdout.splitlines() == [str(output), f"sha256 {digest}"]
    assert "input3_extended.csv: 1 row(s) rejected" in result.stderr
    # reproducible: the same command gives the same bytes
    again = CliRunner().invoke(cli, args)
    assert again.stdout == result.stdout
    visible = " ".join(parse(output.read_text(encoding="utf-8")).text)
    assert "INC-9" in visible and "2024-03-09 16:00:00 UTC" in visible


def test_report_command_on_unknown_message_says_so_without_traceback(tmp_path):
    exports = story.write_exports(tmp_path / "exports")
    args = ["report", str(exports[0]), "-o", str(tmp_path / "x.html"), "--message", "nope"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1
    assert "no message with id 'nope'" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.html").exists()


def test_a_report_that_cannot_be_written_whole_leaves_the_previous_one(tmp_path):
    # like a full disk or `ulimit -f`: the samples' report is far larger than the limit
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "report.html"
    target.write_bytes(b"<html>the previous, complete report</html>")
    script = textwrap.dedent(
        """
        import resource, sys
        from analyzer.cli import main
        resource.setrlimit(resource.RLIMIT_FSIZE, (50_000, 50_000))
        sys.argv = ["msgtrace", "report", "samples/", "-o", sys.argv[1]]
        main()
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script, str(target)], capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 1
    assert "cannot write the report" in run.stderr
    assert "Traceback" not in run.stderr
    assert target.read_bytes() == b"<html>the previous, complete report</html>"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
