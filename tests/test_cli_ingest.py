"""The `inspect`, `ingest` and `formats` commands as a user runs them: what they print, where,
and with which exit status. No bad input ever shows a traceback."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from exports import REPO, SAMPLES, extended_csv, extended_row, write_export

from analyzer import formats
from analyzer.cli import cli
from analyzer.timestamps import DisplayZone
from tools.samples import load_scenario

#: What the generator says each bundled sample is (format, encoding, BOM).
SAMPLE_BY_NAME = {spec.name: spec for spec in load_scenario().file}
INSPECT_FIELDS = {
    "path",
    "status",
    "archive",
    "archive_sha256",
    "member",
    "rejected",
    "format",
    "encoding",
    "bom",
    "encoding_detected_by",
    "rows",
    "rows_rejected",
    "first_event",
    "last_event",
    "sha256",
    "size",
    "warnings",
    "error",
}


def run(*args: object):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    # an exception other than the exit click makes would be a traceback for a real user
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result


def good_and_bad_folder(root: Path) -> Path:
    folder = root / "exports"
    write_export(folder, "a_extended.csv", extended_csv(extended_row()), "utf-16-le")
    write_export(folder, "b_empty.csv", b"")
    write_export(folder, "c_contacts.csv", "Name,Age\r\nBob,42\r\n")
    rows = [extended_row(network_message_id="n2"), extended_row(date_time_utc="soon")]
    write_export(folder / "sub", "d_one_bad_row.csv", extended_csv(*rows))
    return folder


# ---------------------------------------------------------------- inspect


def test_inspect_prints_what_each_file_is_with_utc_times():
    result = run("inspect", SAMPLES / "extended_utf16le_bom.csv")

    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == str(SAMPLES / "extended_utf16le_bom.csv")
    assert lines[1].split() == ["format:", "extended"]
    assert lines[2].split() == [
        "encoding:",
        "utf-16-le",
        "(with",
        "BOM),",
        "by",
        "byte",
        "order",
        "mark",
    ]
    assert lines[3].split()[0] == "rows:"
    [record] = json.loads(run("inspect", SAMPLES / "extended_utf16le_bom.csv", "--json").stdout)
    first, last = (DisplayZone().format(record[k]) for k in ("first_event", "last_event"))
    assert lines[4] == f"  events:   {first} .. {last}"
    assert first.endswith(" UTC")


def test_inspect_shows_times_in_the_display_zone_and_json_in_utc():
    path = SAMPLES / "extended_utf16le_bom.csv"
    [record] = json.loads(run("inspect", path, "--json", "--display-tz", "Asia/Tokyo").stdout)
    assert record["first_event"].endswith("Z")  # JSON times stay ISO 8601 UTC
    text = run("inspect", path, "--display-tz", "Asia/Tokyo").stdout
    tokyo = DisplayZone("Asia/Tokyo")
    assert f"  events:   {tokyo.format(record['first_event'])} .. " in text
    assert tokyo.format(record["first_event"]).endswith(" JST")


def test_inspect_json_has_the_documented_fields_for_every_sample():
    result = run("inspect", SAMPLES, "--json")

    assert result.exit_code == 0
    records = json.loads(result.stdout)

    def sample_of(record) -> str:  # an archive's member is shown as archive!member
        return Path(record["path"]).name.split("!")[0]

    assert [sample_of(r) for r in records] == sorted(SAMPLE_BY_NAME)
    for record in records:
        expected = SAMPLE_BY_NAME[sample_of(record)]
        assert set(record) == INSPECT_FIELDS
        assert (record["format"], record["encoding"], record["bom"]) == (
            expected.format,
            expected.encoding,
            expected.bom,
        )
        assert record["rows"] > 0 and record["rows_rejected"] == 0
        assert record["error"] is None
        assert record["first_event"] <= record["last_event"]
        assert record["first_event"].endswith("Z") and len(record["sha256"]) == 64
        if record["archive"] is None:
            assert record["size"] == Path(record["path"]).stat().st_size
        else:  # a member: the size and sha256 of its decompressed bytes, and the archive's
            data = Path(record["archive"]).read_bytes()
            assert record["archive_sha256"] == hashlib.sha256(data).hexdigest()
            if record["archive"].endswith(".gz"):
                member = gzip.decompress(data)
            else:
                member = zipfile.ZipFile(io.BytesIO(data)).read(record["member"])
            assert record["size"] == len(member)
            assert record["sha256"] == hashlib.sha256(member).hexdigest()


def test_inspect_json_of_a_bad_file_says_why_and_exits_1(tmp_path):
    path = write_export(tmp_path, "contacts.csv", "Name,Age\r\nBob,42\r\n")

    result = run("inspect", path, "--json")

    assert result.exit_code == 1
    [record] = json.loads(result.stdout)
    assert record["format"] is None
    assert record["error"].startswith("is not a message trace export")


def test_inspect_warns_when_rows_stop_at_an_export_limit(tmp_path):
    text = extended_csv(*[extended_row(network_message_id=f"n{k}") for k in range(1000)])
    path = write_export(tmp_path, "extended.csv", text)

    result = run("inspect", path)

    assert result.exit_code == 0
    assert "rows:     1,000" in result.stdout
    assert "warning:  exactly 1,000 messages, a known export limit" in result.stdout


def test_inspect_of_a_mixed_folder_lists_every_file_with_its_rejections_and_exits_1(tmp_path):
    folder = good_and_bad_folder(tmp_path)

    result = run("inspect", folder)

    assert result.exit_code == 1  # two files could not be read
    assert "error: is empty (0 bytes)" in result.stdout
    assert "error: is not a message trace export" in result.stdout
    assert "rows:     2 (1 rejected)" in result.stdout
    assert "rejected: line 3: unreadable date_time_utc value 'soon'" in result.stdout
    assert result.stderr.splitlines()[-1] == (
        "msgtrace: 4 input(s): 2 could not be read or had every row rejected; 1 row(s) rejected"
    )


def test_inspect_of_a_file_whose_every_row_was_rejected_says_why_and_exits_1(tmp_path):
    path = write_export(tmp_path, "x.csv", extended_csv(extended_row(date_time_utc="soon")))

    result = run("inspect", path)

    assert result.exit_code == 1
    assert "rejected: line 2: unreadable date_time_utc value 'soon'" in result.stdout
    assert "warning:  every row was rejected: nothing of this input was loaded" in result.stdout


def test_inspect_of_clean_files_exits_0():
    result = run("inspect", SAMPLES / "summary_utf8_bom.csv")

    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == (
        "msgtrace: 1 input(s): 0 could not be read or had every row rejected; 0 row(s) rejected"
    )


# ---------------------------------------------------------------- ingest


def test_ingest_of_a_mixed_folder_loads_the_good_files_and_reports_the_rest(tmp_path):
    folder = good_and_bad_folder(tmp_path)
    case = tmp_path / "case"

    result = run("ingest", folder, "--case", case)

    assert result.exit_code == 3  # written, but two of the four inputs could not be read
    out = result.stdout.splitlines()
    assert out == [
        f"{folder / 'a_extended.csv'}: extended, utf-16-le: 1 rows read, 1 ingested, "
        "0 duplicate, 0 rejected",
        f"{folder / 'sub' / 'd_one_bad_row.csv'}: extended, utf-8: 2 rows read, 1 ingested, "
        "0 duplicate, 1 rejected",
        f"case {case}: 2 events from 2 input(s); this run: 4 input(s): 2 could not be read or "
        "had every row rejected; 1 row(s) rejected",
    ]
    err = result.stderr
    assert f"msgtrace: {folder / 'b_empty.csv'}: is empty (0 bytes)" in err
    assert f"msgtrace: {folder / 'c_contacts.csv'}: is not a message trace export" in err
    assert f"msgtrace: {folder / 'sub' / 'd_one_bad_row.csv'}: 1 row(s) rejected" in err
    assert "  line 3: unreadable date_time_utc value 'soon'" in err
    assert (case / "manifest.json").is_file()


def test_strict_ingest_exits_1_when_anything_was_rejected(tmp_path):
    folder = good_and_bad_folder(tmp_path)

    result = run("ingest", folder, "--case", tmp_path / "case", "--strict")

    assert result.exit_code == 1
    assert "case " in result.stdout  # the good files were still ingested


def test_strict_ingest_of_clean_files_exits_0(tmp_path):
    result = run("ingest", SAMPLES / "summary_utf8_bom.csv", "--case", tmp_path / "c", "--strict")

    assert result.exit_code == 0


def test_ingest_with_nothing_loadable_fails_with_a_clear_message(tmp_path):
    empty = write_export(tmp_path, "empty.csv", b"")
    contacts = write_export(tmp_path, "contacts.csv", "Name,Age\r\nBob,42\r\n")

    result = run("ingest", empty, contacts, "--case", tmp_path / "case")

    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: nothing could be loaded (2 input(s): 2 could not be read or had every row "
        "rejected; 0 row(s) rejected; see the messages above)"
    )
    assert f"msgtrace: {empty}: is empty (0 bytes). Download the export again." in result.stderr


def test_ingest_or_inspect_of_a_folder_without_exports_says_so_and_fails(tmp_path):
    (tmp_path / "exports").mkdir()

    ingested = run("ingest", tmp_path / "exports", "--case", tmp_path / "case")
    inspected = run("inspect", tmp_path / "exports")

    assert ingested.exit_code == 1
    assert f"{tmp_path / 'exports'}: is a folder with no export files in it." in ingested.stderr
    assert "nothing could be loaded" in ingested.stderr
    assert inspected.exit_code == 1
    assert "error: is a folder with no export files in it." in inspected.stdout


def test_ingesting_again_skips_the_files_already_in_the_case(tmp_path):
    source = SAMPLES / "summary_utf8_bom.csv"
    run("ingest", source, "--case", tmp_path / "case")

    result = run("ingest", source, "--case", tmp_path / "case")

    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"{source}: already in the case, skipped"


def test_ingest_options_reach_the_reader(tmp_path):
    text = "Date,Sender,Recipient,Subject,Status\r\n03/04/2022 10:00:00,a@x.com,b@y.com,Hi,Sent\r\n"
    path = write_export(tmp_path, "summary.csv", text)

    day_first = run("inspect", path, "--json", "--dayfirst", "--input-tz", "Europe/Paris")
    guessed = run("inspect", path, "--json")

    record = json.loads(day_first.stdout)[0]
    assert (record["first_event"], record["warnings"]) == ("2022-04-03T08:00:00.0000000Z", [])
    record = json.loads(guessed.stdout)[0]
    assert record["first_event"] == "2022-03-04T10:00:00.0000000Z"
    assert "ambiguous" in record["warnings"][0]


def test_formats_lists_every_format_by_name():
    result = run("formats")

    assert result.exit_code == 0
    names = [line for line in result.stdout.splitlines() if line and not line.startswith(" ")]
    assert names == [spec.name for spec in formats.REGISTRY]
    assert "  identified by: date_time_utc, event_id, recipient_address, sender_address" in (
        result.stdout.splitlines()
    )


# ---------------------------------------------------------------- no traceback, ever


def bad_invocations(root: Path) -> dict[str, list]:
    bad = root / "bad"
    full = extended_csv(extended_row(), extended_row(message_subject="cut here"))
    damaged = root / "damaged_case"
    write_export(damaged, "manifest.json", "{not json")
    broken = root / "broken_case"
    write_export(broken, "manifest.json", (SAMPLES.parent / "pyproject.toml").read_text())
    run("ingest", SAMPLES / "summary_utf8_bom.csv", "--case", root / "parquet_case")
    parquet = root / "parquet_case"
    write_export(parquet / "events", "in-001.parquet", b"PAR1 damaged")
    old = root / "old_case"
    write_export(old, "manifest.json", '{"case_format": 99, "inputs": []}')
    return {
        "empty": ["inspect", write_export(bad, "empty.csv", b"")],
        "binary": ["inspect", write_export(bad, "binary.csv", bytes(range(256)) * 8)],
        "unrelated": ["inspect", write_export(bad, "contacts.csv", "Name,Age\r\nBob,42\r\n")],
        "truncated": [
            "inspect",
            write_export(bad, "cut.csv", full[: full.index("cut here") + 3]),
        ],
        "ragged": [
            "inspect",
            write_export(bad, "ragged.csv", extended_csv(extended_row(), '"2022","x"')),
        ],
        "header only": ["inspect", write_export(bad, "header.csv", extended_csv())],
        "missing": ["inspect", root / "nope.csv"],
        "bad encoding": ["inspect", SAMPLES / "summary_utf8_bom.csv", "--encoding", "klingon"],
        "wrong encoding": ["inspect", SAMPLES / "summary_utf8_bom.csv", "--encoding", "utf-32"],
        "bad format": ["inspect", SAMPLES / "summary_utf8_bom.csv", "--format", "xlsx"],
        "wrong format": ["inspect", SAMPLES / "summary_utf8_bom.csv", "--format", "extended"],
        "bad zone": ["inspect", SAMPLES / "summary_utf8_bom.csv", "--input-tz", "Mars/Base"],
        "not a case": ["ingest", SAMPLES / "summary_utf8_bom.csv", "--case", bad],
        "case is a file": ["ingest", SAMPLES, "--case", SAMPLES / "summary_utf8_bom.csv"],
        "damaged case": ["ingest", SAMPLES / "summary_utf8_bom.csv", "--case", damaged],
        "old case": ["ingest", SAMPLES / "summary_utf8_bom.csv", "--case", old],
        "not a manifest": ["ingest", SAMPLES / "summary_utf8_bom.csv", "--case", broken],
        "damaged parquet": ["ingest", SAMPLES / "MSGTRK2026111608-1.LOG", "--case", parquet],
        "nothing loadable": ["ingest", bad / "empty.csv", "--case", root / "new_case"],
    }


BAD_INVOCATIONS = [
    "empty",
    "binary",
    "unrelated",
    "truncated",
    "ragged",
    "header only",
    "missing",
    "bad encoding",
    "wrong encoding",
    "bad format",
    "wrong format",
    "bad zone",
    "not a case",
    "case is a file",
    "damaged case",
    "old case",
    "not a manifest",
    "damaged parquet",
    "nothing loadable",
]


def test_every_bad_invocation_is_tested(tmp_path):
    assert sorted(bad_invocations(tmp_path)) == sorted(BAD_INVOCATIONS)


@pytest.mark.parametrize("name", BAD_INVOCATIONS)
def test_no_bad_input_shows_a_traceback(tmp_path, name):
    args = bad_invocations(tmp_path)[name]

    result = run(*args)

    if args[0] == "ingest" or name in {"bad encoding", "bad format", "bad zone", "missing"}:
        assert result.exit_code != 0
    message = result.output.strip()
    assert message, "a bad input must say something"
    assert (
        "Error" in message or "error" in message or "warning" in message or "rejected" in (message)
    )


def test_no_traceback_from_the_real_command_line(tmp_path):
    folder = tmp_path / "bad"
    write_export(folder, "binary.csv", bytes(range(256)) * 8)
    write_export(folder, "empty.csv", b"")
    write_export(folder, "contacts.csv", "Name,Age\r\nBob,42\r\n")

    process = subprocess.run(
        [sys.executable, "-m", "analyzer", "ingest", str(folder), "--case", str(tmp_path / "c")],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )

    assert process.returncode == 1
    assert "Traceback" not in process.stdout + process.stderr
    assert "Error: nothing could be loaded" in process.stderr
    assert "binary.csv: looks like a binary file" in process.stderr


def test_nothing_loadable_leaves_no_empty_case_behind(tmp_path):
    empty = write_export(tmp_path, "empty.csv", b"")
    case = tmp_path / "case"

    result = run("ingest", empty, "--case", case)

    assert result.exit_code == 1
    assert "nothing could be loaded" in result.output
    assert not case.exists()


def test_a_case_folder_given_to_ingest_is_named_for_what_it_is(tmp_path):
    first = tmp_path / "first"
    assert run("ingest", SAMPLES / "summary_utf8_bom.csv", "--case", first).exit_code == 0

    result = run("ingest", first, "--case", tmp_path / "second")

    assert result.exit_code == 1
    assert f"{first}: is a msgtrace case folder, not an export" in result.output


# ---------------------------------------------------------------- message trace ids


def test_a_message_trace_id_finds_the_message_in_chain_and_search(tmp_path):
    trace_id = "8d5dfa7c-0000-4000-a000-08de7f3ddff2"
    path = write_export(
        tmp_path,
        "trace.csv",
        '"Received","SenderAddress","RecipientAddress","Subject","Status","MessageTraceId"\r\n'
        f'"2026-01-27T09:15:02Z","bob@fabrikam.com","alice@contoso.com","Hi","Delivered",'
        f'"{trace_id}"\r\n',
    )

    chained = run("chain", "--message", trace_id.upper(), path, "--json")
    searched = run("search", path, "--network-message-id", trace_id, "--json")

    assert chained.exit_code == 0, chained.output
    assert json.loads(chained.stdout)["network_message_id"] == trace_id
    assert searched.exit_code == 0, searched.output
    assert [(r["recipient"], r["network_message_id"]) for r in json.loads(searched.stdout)] == [
        ("alice@contoso.com", trace_id)
    ]


def test_ingest_of_a_file_whose_only_row_was_rejected_fails_and_says_why(tmp_path):
    record = {"Received": "yesterday", "SenderAddress": "a@x.com", "RecipientAddress": "b@y.com"}
    path = write_export(tmp_path, "trace.json", json.dumps({"d": {"results": [record]}}))

    result = run("ingest", path, "--case", tmp_path / "case")

    assert result.exit_code == 1
    assert f"msgtrace: {path}: 1 row(s) rejected" in result.stderr
    assert "  line 1: unreadable Received value 'yesterday'" in result.stderr
    assert "warning: every row was rejected: nothing of this input was loaded" in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "Error: nothing could be loaded (1 input(s): 1 could not be read or had every row "
        "rejected; 1 row(s) rejected; see the messages above)"
    )
