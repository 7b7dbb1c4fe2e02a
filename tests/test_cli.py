"""One consistent command line (analyzer/cli.py): the same options mean the same on every
command, every JSON time is ISO 8601 UTC, --display-tz reaches every printed time, hostile
export text is harmless on a terminal and exact in CSV and JSON, and -o files are atomic."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from exports import EXTENDED_COLUMNS, REPO, SAMPLES

from analyzer.cli import cli

ISO_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")

#: A subject an attacker wrote: formulas behind ; (for a spreadsheet that splits on it), an
#: escape sequence that clears the screen, one that retitles the terminal, a line break that
#: fakes a line of output, and a right-to-left override.
SUBJECT = "Invoice;=1+1;@SUM(9*9)\x1b[2J\x1b]0;pwned\x07\n  [external-forwarding] fake\u202e"
SPOOFED = "invoice\u202efdp.exe@evil.example"
#: A file name that is itself hostile.
FILE_NAME = "trace\x1b[31m\u202e.csv"
HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\u200b-\u200f]")


def run(*args: object, **kwargs: Any):
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False, **kwargs)


def _row(time: str, event_id: str, sender: str, recipient: str, message: str, **values: str):
    row = {
        "date_time_utc": time,
        "source": "SMTP",
        "event_id": event_id,
        "sender_address": sender,
        "recipient_address": recipient,
        "network_message_id": message,
        "message_id": f"<{message}@mail.example>",
        "message_subject": "hello",
        "recipient_status": "To" if event_id == "RECEIVE" else "250 2.1.5 OK",
        **values,
    }
    return [row.get(column, "") for column in EXTENDED_COLUMNS]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> Path:
    """An extended report (named ``FILE_NAME``) with the hostile subject and address."""
    rows = []
    for n in range(3):  # ordinary internal mail: contoso.com is the tenant
        for event_id, second in (("RECEIVE", "00"), ("DELIVER", "01")):
            rows.append(
                _row(
                    f"2026-11-18T09:0{n}:{second}.0000000Z",
                    event_id,
                    "bob@contoso.com",
                    "alice@contoso.com",
                    f"b{n}",
                    directionality="Originating",
                )
            )
    for event_id, second in (("RECEIVE", "00"), ("DELIVER", "01")):
        rows.append(
            _row(
                f"2026-11-18T10:41:{second}.0000000Z",
                event_id,
                "it@fabrikam.example",
                "dan@contoso.com",
                "h1",
                message_subject=SUBJECT,
                directionality="Incoming",
            )
        )
    for event_id, second in (("RECEIVE", "00"), ("SEND", "01")):
        rows.append(
            _row(
                f"2026-11-18T10:50:{second}.0000000Z",
                event_id,
                "alice@contoso.com",
                SPOOFED,
                "h2",
                directionality="Originating",
            )
        )
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows([EXTENDED_COLUMNS, *rows])
    path = tmp_path_factory.mktemp("hostile") / FILE_NAME
    path.write_text(text.getvalue(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def sample_case(tmp_path_factory) -> Path:
    case = tmp_path_factory.mktemp("case") / "case"
    assert run("ingest", SAMPLES, "--case", case).exit_code == 0
    return case


# ----------------------------------------------------------------------------- the options


#: Every command that prints records, with the arguments it needs on the sample case.
RECORD_COMMANDS = {
    "inspect": lambda case: ["inspect", SAMPLES / "extended_utf16le_bom.csv"],
    "verify": lambda case: ["verify", case],
    "chain": lambda case: ["chain", "--message", "b006c93f-3057-5f95-8184-08de035e26fb", case],
    "search": lambda case: ["search", case, "--limit", "5"],
    "findings": lambda case: ["findings", case, "--min-severity", "high"],
    "formats": lambda case: ["formats"],
}
#: The commands that print times.
TIMED_COMMANDS = ("inspect", "chain", "search", "findings", "report")


def _help(command: str) -> str:
    result = run(command, "--help")
    assert result.exit_code == 0
    return result.stdout


@pytest.mark.parametrize("command", sorted(RECORD_COMMANDS))
def test_every_command_that_prints_records_has_json(command):
    assert "--json" in _help(command)


@pytest.mark.parametrize("command", ["inspect", "verify", "chain", "search", "findings"])
def test_every_command_that_prints_records_writes_them_with_o(command):
    assert "-o, --output FILE" in _help(command)


@pytest.mark.parametrize("command", TIMED_COMMANDS)
def test_every_command_that_prints_times_has_display_tz(command):
    assert "--display-tz TEXT" in _help(command)


@pytest.mark.parametrize("command", ["inspect", "ingest", "chain", "search", "findings", "report"])
def test_format_is_the_export_format_on_every_command(command):
    text = " ".join(_help(command).split())
    assert "--format TEXT Force the export format of every input" in text


def test_csv_is_offered_where_the_output_is_one_table():
    assert "--csv" in _help("search")


def _times(data: Any, key: str = "") -> list[tuple[str, Any]]:
    """Every (key, value) of the JSON whose key names a time."""
    found = []
    if isinstance(data, dict):
        for name, value in data.items():
            found += _times(value, name)
    elif isinstance(data, list):
        for value in data:
            found += _times(value, key)
    elif key.endswith(("time", "_at", "_event", "_seen")):
        found.append((key, data))
    return found


@pytest.mark.parametrize("command", sorted(RECORD_COMMANDS))
def test_every_json_time_is_iso_8601_utc_with_seven_digits(sample_case, command):
    args = [*RECORD_COMMANDS[command](sample_case), "--json"]
    if command in TIMED_COMMANDS:
        args += ["--display-tz", "Asia/Tokyo"]
    result = run(*args)
    assert result.exit_code == 0, result.output
    times = [(key, value) for key, value in _times(json.loads(result.stdout)) if value]
    if command != "formats":
        assert times, command
    for key, value in times:
        assert ISO_UTC.match(value), (command, key, value)


def test_display_tz_reaches_finding_texts_and_their_evidence_alike(sample_case):
    # the issue: a finding's text said 10:41 UTC while its evidence rows said 05:41 EST
    text = run("findings", sample_case, "--display-tz", "America/New_York").stdout
    assert "the first at 2026-11-18 05:41 EST" in text
    assert "2026-11-18 05:41:01 EST" in text
    assert " UTC" not in text
    data = json.loads(run("findings", sample_case, "--json", "--display-tz", "Etc/UTC").stdout)
    assert any("the first at 2026-11-18 10:41 UTC" in f["explanation"] for f in data)


@pytest.mark.parametrize("command", ["inspect", "chain", "search"])
def test_display_tz_reaches_the_times_of_every_command(sample_case, command):
    args = RECORD_COMMANDS[command](sample_case)
    result = run(*args, "--display-tz", "america/new_york")
    assert result.exit_code == 0
    assert re.search(r"\d{2}:\d{2}:\d{2}(\.\d{3})? ES?T\b", result.stdout)
    assert not re.search(r"\d{2}:\d{2}(:\d{2})?(\.\d{3})? UTC\b", result.stdout)


@pytest.mark.parametrize("zone", ["EST", "PST"])
@pytest.mark.parametrize("command", TIMED_COMMANDS)
def test_abbreviations_are_refused_alike_before_any_work(tmp_path, command, zone):
    args = {"inspect": [SAMPLES], "report": [tmp_path / "missing", "-o", tmp_path / "r.html"]}
    if command == "chain":
        args[command] = ["--message", "x", tmp_path / "missing"]
    result = run(command, *args.get(command, [tmp_path / "missing"]), "--display-tz", zone)
    assert result.exit_code == 1
    assert f"--display-tz: '{zone}' is an abbreviation, not a time zone" in result.stderr
    assert "America/" in result.stderr


# ----------------------------------------------------------------------------- hostile text


@pytest.mark.parametrize(
    "args",
    [
        ["inspect"],
        ["search"],
        ["search", "--limit", "1"],
        ["findings"],
        ["chain", "--message", "h1"],
        ["chain", "--message", "h2"],
    ],
    ids=lambda args: " ".join(args),
)
def test_text_output_shows_every_hidden_character_visibly(hostile, args):
    result = run(*args, hostile)
    assert result.exit_code == 0, result.output
    for stream in (result.stdout, result.stderr):
        assert not HIDDEN.search(stream), stream
    shown = result.stdout
    assert "trace\\x1b[31m<U+202E>.csv" in shown or "search" in args
    if args[0] != "inspect":
        assert "\\x1b[2J" in shown or "invoice<U+202E>fdp.exe" in shown
    # the subject's line break cannot fake a line of output
    assert not any(line.lstrip().startswith("[external-forwarding]") for line in shown.split("\n"))


def test_ingest_and_error_messages_show_file_names_visibly(hostile, tmp_path):
    result = run("ingest", hostile, "--case", tmp_path / "case")
    assert result.exit_code == 0
    assert "trace\\x1b[31m<U+202E>.csv: extended, utf-8: 10 rows read" in result.stdout
    missing = tmp_path / "gone\x1b[2J.csv"
    result = run("inspect", missing)
    assert not HIDDEN.search(result.output)
    assert "gone\\x1b[2J.csv" in result.output


def test_csv_and_json_in_a_pipe_keep_the_exact_text(hostile):
    data = json.loads(run("search", hostile, "--json").stdout)
    assert {r["subject"] for r in data} == {SUBJECT, "hello"}
    assert SPOOFED in {r["recipient"] for r in data}
    text = run("search", hostile, "--csv").stdout
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    [row] = [r for r in rows if r["network message id"] == "h1"]
    # the exact subject, behind the formula guard only
    assert row["subject"] == SUBJECT.replace(";=", ";'=").replace(";@", ";'@")
    assert SPOOFED in text and "\x1b[2J" in text
    assert "\u202e" in run("findings", hostile, "--json").stdout.encode().decode("unicode_escape")


@pytest.mark.parametrize("separator", [";", "\t"])
def test_search_csv_starts_no_formula_whatever_the_separator(hostile, separator):
    text = run("search", hostile, "--csv").stdout
    for row in csv.reader(io.StringIO(text, newline=""), delimiter=separator):
        for cell in row:
            assert not cell.lstrip(' "\t\r\n').startswith(("=", "+", "-", "@")), row


def _on_a_terminal(args: list[str]) -> tuple[bytes, bytes]:
    """Run msgtrace with its standard output on a pseudo-terminal: (stdout, stderr)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "analyzer", *args],
        stdout=follower,
        stderr=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "MSGTRACE_NO_PROGRESS": "1"},
    )
    os.close(follower)
    shown = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            break
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    _, errors = process.communicate(timeout=60)
    os.close(leader)
    return shown.replace(b"\r\n", b"\n"), errors


def test_csv_on_a_terminal_shows_hidden_characters_and_says_so(hostile):
    shown, errors = _on_a_terminal(["search", str(hostile), "--csv"])
    text = shown.decode()
    assert "\x1b" not in text and "\u202e" not in text
    assert "\\x1b[2J" in text and "invoice<U+202E>fdp.exe@evil.example" in text
    assert "CSV shown on a terminal" in errors.decode()
    # JSON is the same on a terminal as in a pipe: its escapes are safe everywhere
    shown, errors = _on_a_terminal(["search", str(hostile), "--json"])
    piped = run("search", hostile, "--json").stdout
    assert shown.decode().replace("\n", "") == piped.replace("\n", "")
    assert not HIDDEN.search(shown.decode())


# ----------------------------------------------------------------------------- -o files


def test_o_writes_what_would_be_printed_and_prints_its_path_and_sha256(hostile, tmp_path):
    printed = run("findings", hostile, "--json").stdout
    target = tmp_path / "findings.json"
    result = run("findings", hostile, "--json", "-o", target)
    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") == printed
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    assert result.stdout.splitlines() == [str(target), f"sha256 {digest}"]
    # a CSV file starts with a byte order mark, so that Excel reads it as UTF-8
    csv_file = tmp_path / "results.csv"
    assert run("search", hostile, "--csv", "-o", csv_file).exit_code == 0
    assert csv_file.read_bytes().startswith(b"\xef\xbb\xbf")
    assert csv_file.read_text(encoding="utf-8-sig") == run("search", hostile, "--csv").stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["findings.json", "results.csv"]


def test_an_o_file_that_cannot_be_written_whole_leaves_the_previous_one(tmp_path):
    # like a full disk or `ulimit -f`: the samples' findings are larger than the limit
    target = tmp_path / "findings.json"
    target.write_bytes(b"[] the previous findings")
    script = textwrap.dedent(
        """
        import resource, sys
        from analyzer.cli import main
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))
        sys.argv = ["msgtrace", "findings", "samples/", "--json", "-o", sys.argv[1]]
        main()
        """
    )
    process = subprocess.run(
        [sys.executable, "-c", script, str(target)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert process.returncode == 1
    assert f"{target}: cannot write the output" in process.stderr
    assert "Traceback" not in process.stderr
    assert target.read_bytes() == b"[] the previous findings"
    assert [p.name for p in tmp_path.iterdir()] == ["findings.json"]


def test_an_o_path_in_a_missing_folder_is_a_clean_error(hostile, tmp_path):
    result = run("search", hostile, "--json", "-o", tmp_path / "no" / "such" / "x.json")
    assert result.exit_code == 1
    assert "x.json: cannot write the output" in result.stderr


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("report.pdf", "msgtrace writes HTML: write report.html, open it and print it to PDF"),
        ("REPORT.PDF", "write REPORT.html"),
        ("report.txt", "give a name ending in .html"),
        ("report", "give a name ending in .html"),
    ],
)
def test_report_refuses_a_file_it_would_not_be(tmp_path, name, message):
    result = run("report", SAMPLES, "-o", tmp_path / name)
    assert result.exit_code == 2
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- case folders


def test_a_case_folders_warnings_are_printed_by_every_command_that_reads_it(sample_case, tmp_path):
    case = tmp_path / "case"
    subprocess.run(["cp", "-r", str(sample_case), str(case)], check=True)
    (case / "events" / "in-099.parquet").write_bytes(b"PAR1 left by a killed ingest")
    for args in (["search", case, "--limit", "1"], ["findings", case, "--json"]):
        result = run(*args)
        assert result.exit_code == 0
        assert f"msgtrace: case {case}: warning: {case}: files of an interrupted ingest" in (
            result.stderr
        )
        assert "in-099.parquet" in result.stderr


# ----------------------------------------------------------------------------- the README


def _transcript() -> list[tuple[str, list[str]]]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("```console\n", 1)[1].split("\n```", 1)[0]
    sessions: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            sessions.append((line[2:], []))
        else:
            sessions[-1][1].append(line)
    return sessions


def test_the_readme_transcript_is_what_msgtrace_prints(tmp_path):
    (tmp_path / "samples").symlink_to(SAMPLES)
    bin_folder = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_folder}{os.pathsep}{os.environ['PATH']}"}
    for command, expected in _transcript():
        assert command.startswith("msgtrace ")
        process = subprocess.run(
            command, shell=True, capture_output=True, text=True, cwd=tmp_path, env=env
        )
        lines = process.stdout.rstrip("\n").splitlines()
        if command.startswith("msgtrace report"):  # the sha256 records when it was made
            assert lines[0] == expected[0] and lines[1].startswith("sha256 ")
            continue
        assert lines == expected, command
