"""Ingest end to end: every sample and real export loads, every row is accounted for, bad
inputs say what is wrong and where, and a case on disk is faithful, idempotent and
deterministic. Property test: any generated export round-trips through ``load_sources``."""

from __future__ import annotations

import builtins
import datetime as dt
import hashlib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from unittest import mock

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from exports import REAL_SAMPLES, SAMPLES, csv_field, extended_csv, extended_row, write_export
from hypothesis import given, settings
from hypothesis import strategies as st

import analyzer.json_records as json_records_module
import analyzer.readers as readers_module
from analyzer import __version__, formats, schema
from analyzer.case import MAX_LISTED_REJECTIONS
from analyzer.errors import CaseError, InputError, OptionError
from analyzer.ingest import (
    ingest_into_case,
    inspect_files,
    load_sources,
    open_case,
)
from tools.samples import load_scenario

SAMPLE_FILES = sorted(p for p in SAMPLES.iterdir() if p.name != "README.md")
#: What the generator says each bundled sample is (format, encoding, BOM).
SAMPLE_BY_NAME = {spec.name: spec for spec in load_scenario().file}


def accounting_problems(case) -> list[str]:
    """Rows that the events and duplicates tables do not account for, per input."""
    problems = []
    for record in case.inputs:
        if record.rows_read != record.rows_ingested + record.rows_duplicate + record.rows_rejected:
            problems.append(f"{record.path}: rows do not add up")
        mine = pc.equal(case.events.column("input_id"), record.input_id)
        events = case.events.filter(mine)
        duplicates = case.duplicates.filter(
            pc.equal(case.duplicates.column("input_id"), record.input_id)
        )
        if formats.BY_NAME[record.format].row_shape == "status":  # one event per row
            ingested, duplicate = events.num_rows, duplicates.num_rows
        else:
            lines = set(events.column("line").to_pylist())
            ingested = len(lines)
            duplicate = len(set(duplicates.column("line").to_pylist()) - lines)
        if (ingested, duplicate) != (record.rows_ingested, record.rows_duplicate):
            problems.append(
                f"{record.path}: manifest says {record.rows_ingested} ingested and "
                f"{record.rows_duplicate} duplicate rows, the tables hold {ingested} and "
                f"{duplicate}"
            )
    return problems


# ---------------------------------------------------------------- every sample loads


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.name)
def test_every_bundled_sample_loads_whole(path):
    assert path.name in SAMPLE_BY_NAME, f"samples/{path.name} is not a [[file]] of scenario.toml"
    expected = SAMPLE_BY_NAME[path.name]

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.format, record.encoding, record.bom) == (
        expected.format,
        expected.encoding,
        expected.bom,
    )
    assert record.rows_rejected == 0, record.rejected[:3]
    assert record.rows_read > 0
    assert accounting_problems(case) == []
    assert case.events.schema == schema.EVENT_SCHEMA
    assert pc.all(pc.is_valid(case.events.column("event_time"))).as_py()


def real_sample_expectations() -> dict[str, tuple[str, str, bool]]:
    """relative path -> (format, encoding, bom), read from the table of SOURCES.md."""
    expected = {}
    for line in (REAL_SAMPLES / "SOURCES.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or len(cells) < 7 or "/" not in cells[0]:
            continue
        described, written = cells[-2].lower(), cells[-1].lower()
        if "tracking log" in described or "msgtrk" in described:
            format_name = "exchange_tracking_log"
        elif "messagetrace" in described and ("ndjson" in described or "odata" in described):
            format_name = "reporting_api_json"
        else:
            format_name = f"(SOURCES.md format not understood by this test: {cells[-2]!r})"
        bom = "with bom" in written
        codec = "utf-8" if written.startswith(("utf-8", "ascii")) else f"(unknown: {cells[-1]})"
        expected[cells[0]] = (format_name, codec, bom)
    return expected


def real_sample_files() -> list:
    if not REAL_SAMPLES.is_dir():
        return [pytest.param(None, id="real-samples-folder-missing")]
    return sorted(p for p in REAL_SAMPLES.rglob("*") if p.is_file() and p.name != "SOURCES.md")


@pytest.mark.parametrize(
    "path", real_sample_files(), ids=lambda p: str(p.relative_to(REAL_SAMPLES)) if p else ""
)
def test_every_real_public_sample_loads_whole(path):
    assert path is not None, (
        f"the real public samples are missing: {REAL_SAMPLES} (../shared/real-samples next to "
        "the repository) must exist; they are part of the test data (see STYLE.md)"
    )
    relative = path.relative_to(REAL_SAMPLES).as_posix()
    expectations = real_sample_expectations()
    assert relative in expectations, f"{relative} is not described in SOURCES.md"

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.format, record.encoding, record.bom) == expectations[relative]
    assert record.rows_rejected == 0, record.rejected[:3]
    assert record.rows_read > 0
    assert accounting_problems(case) == []


def test_the_real_samples_folder_is_not_empty():
    assert REAL_SAMPLES.is_dir(), f"{REAL_SAMPLES} is missing (../shared/real-samples)"
    assert len(real_sample_files()) >= 5


def test_all_samples_together_account_for_every_row_and_merge_overlaps(tmp_path):
    result = ingest_into_case([SAMPLES], tmp_path / "case")

    case = open_case(tmp_path / "case")
    assert [r.status for r in result.added] == ["ingested"] * len(SAMPLE_FILES)
    assert accounting_problems(case) == []
    by_name = {Path(r.path).name: r for r in case.inputs}
    # the two extended reports overlap by six hours: the later one's shared rows are merged
    assert by_name["extended_utf16le_nobom.csv"].rows_duplicate > 0
    assert result.events == case.events.num_rows
    assert len(set(case.events.column("event_key").to_pylist())) == case.events.num_rows


# ---------------------------------------------------------------- bad rows and bad files


def test_rejected_rows_name_the_physical_line_after_multiline_subjects_and_blank_lines(
    tmp_path,
):
    text = extended_csv(
        extended_row(network_message_id="n1"),
        extended_row(network_message_id="n2", message_subject="one\ntwo\r\nthree"),
        "",
        extended_row(network_message_id="n3", date_time_utc="yesterday"),
        extended_row(network_message_id="n4"),
        '"2022-09-19T15:02:29Z","ragged","row"',
        extended_row(network_message_id="n5", message_subject="multi\nline"),
        extended_row(network_message_id="n6", date_time_utc="2022-99-99T00:00:00Z"),
    )
    path = write_export(tmp_path, "extended.csv", text)

    case = load_sources([path])

    record = case.inputs[0]
    assert [(r.line, r.reason) for r in record.rejected] == [
        (7, "unreadable date_time_utc value 'yesterday'"),
        (
            9,
            "has 3 fields where the header has 27 (a ragged row: a cut-off line, or a field "
            "with an unescaped quote or delimiter?)",
        ),
        (12, "unreadable date_time_utc value '2022-99-99T00:00:00Z'"),
    ]
    assert [(e["network_message_id"], e["line"]) for e in case.events.to_pylist()] == [
        ("n1", 2),
        ("n2", 3),
        ("n4", 8),
        ("n5", 10),
    ]
    assert (record.rows_read, record.rows_ingested, record.rows_rejected) == (7, 4, 3)
    assert record.warnings == ["1 blank line(s) skipped"]


@pytest.mark.parametrize("block_size", [4096, 9000, 8 * 1024 * 1024])
def test_line_numbers_stay_exact_across_batches(tmp_path, monkeypatch, block_size):
    rows, expected_lines, expected_rejections, line = [], [], [], 2
    for k in range(300):
        if k % 37 == 5:
            rows.append('"2022-09-19T15:02:29Z","ragged"')
            expected_rejections.append(line)
            line += 1
        elif k % 23 == 7:
            rows.append(extended_row(network_message_id=f"n{k}", message_subject="a\nb\nc"))
            expected_lines.append(line)
            line += 3
        elif k % 41 == 3:
            rows.append("")
            line += 1
        else:
            rows.append(extended_row(network_message_id=f"n{k}"))
            expected_lines.append(line)
            line += 1
    path = write_export(tmp_path, "extended.csv", extended_csv(*rows), "utf-16-le", bom=True)
    monkeypatch.setattr(readers_module, "BLOCK_SIZE", block_size)

    case = load_sources([path])

    assert case.events.column("line").to_pylist() == expected_lines
    assert [r.line for r in case.inputs[0].rejected] == expected_rejections


def test_every_rejected_row_is_counted_and_the_first_thousand_are_listed_in_order(tmp_path):
    rows = [
        extended_row(network_message_id=f"n{k}", **({"date_time_utc": "bad"} if k % 2 else {}))
        for k in range(2600)
    ]
    path = write_export(tmp_path, "extended.csv", extended_csv(*rows))

    ingest_into_case([path], tmp_path / "case")

    [record] = open_case(tmp_path / "case").inputs
    assert (record.rows_read, record.rows_ingested, record.rows_rejected) == (2600, 1300, 1300)
    assert len(record.rejected) == MAX_LISTED_REJECTIONS == 1000
    assert [r.line for r in record.rejected] == list(range(3, 2003, 2))
    assert {r.reason for r in record.rejected} == {"unreadable date_time_utc value 'bad'"}


def test_a_truncated_last_row_says_the_file_was_cut_off(tmp_path):
    full = extended_csv(
        extended_row(network_message_id="n1"),
        extended_row(network_message_id="n2", message_subject="cut here"),
    )
    path = write_export(tmp_path, "extended.csv", full[: full.index("cut here") + 3])

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.rows_read, record.rows_ingested, record.rows_rejected) == (2, 1, 1)
    assert record.rejected[0].line == 3
    assert "truncated" in record.rejected[0].reason
    assert "download the export again" in record.rejected[0].reason


def test_a_last_row_without_a_final_newline_is_complete(tmp_path):
    text = extended_csv(
        extended_row(network_message_id="n1"), extended_row(network_message_id="n2")
    )
    path = write_export(tmp_path, "extended.csv", text.rstrip("\r\n"))

    case = load_sources([path])

    assert (case.inputs[0].rows_read, case.inputs[0].rows_rejected) == (2, 0)


BAD_FILES = {
    "empty.csv": (b"", "is empty (0 bytes). Download the export again."),
    "blank.csv": (b"\r\n\r\n  \r\n", "holds no data (only blank lines). Nothing to read."),
    "binary.csv": (bytes(range(256)) * 8, "looks like a binary file"),
    "workbook.csv": (
        b"PK\x03\x04\x14\x00\x06\x00" + b"\x01\x02\x03 xl/workbook.xml" * 50,
        "is a damaged zip archive",
    ),
    "report.pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj", "is a PDF document"),
    "contacts.csv": (b"Name,Age\r\nBob,42\r\n", "is not a message trace export"),
    "notes.txt": (b"just some notes\r\n", "is not a CSV export"),
    "no_records.json": (b'{"value": []}', "is JSON with no message trace records in it."),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_a_bad_file_is_rejected_with_a_message_naming_it(tmp_path, name):
    data, message = BAD_FILES[name]
    path = write_export(tmp_path, name, data)

    with pytest.raises(InputError) as raised:
        load_sources([path])

    assert str(path) in str(raised.value)
    assert message in str(raised.value)
    record = inspect_files([path])[0]
    assert message in record.error
    assert record.format is None


def test_broken_json_lines_are_rejected_by_line_and_the_others_kept(tmp_path):
    good = json.dumps(
        {
            "Received": "2022-09-05T18:10:13.4907658",
            "SenderAddress": "a@contoso.com",
            "RecipientAddress": "b@fabrikam.com",
            "Status": "Delivered",
        }
    )
    other = good.replace("b@fabrikam.com", "c@fabrikam.com")
    path = write_export(tmp_path, "trace.ndjson", f'{good}\n{{"Received": "2022-\n\n{other}\n')

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.format, record.rows_read, record.rows_rejected) == ("reporting_api_json", 3, 1)
    assert record.rejected[0].line == 2
    assert record.rejected[0].reason.startswith("not valid JSON")
    assert case.events.column("line").to_pylist() == [1, 4]


@pytest.mark.parametrize("shape", ["odata page", "list"])
def test_records_of_a_pretty_printed_json_document_keep_their_own_lines(tmp_path, shape):
    records = [
        {
            "Received": f"2022-09-05T18:10:1{k}.4907658",
            "SenderAddress": "a@contoso.com",
            "RecipientAddress": f"user{k}@fabrikam.com",
            "Subject": 'tricky "value": [ text',
            "Status": "Delivered",
        }
        for k in range(3)
    ]
    document = {"odata.metadata": "x", "value": records} if shape == "odata page" else records
    text = json.dumps(document, indent=2)
    path = write_export(tmp_path, "trace.json", text)

    case = load_sources([path])

    lines = text.splitlines()
    # each record opens on a line of its own; the document's own "{" (if any) comes first
    record_lines = [k + 1 for k, line in enumerate(lines) if line.strip() == "{"][-3:]
    assert case.events.column("line").to_pylist() == record_lines
    for line, recipient in zip(
        case.events.column("line").to_pylist(),
        case.events.column("recipient_address").to_pylist(),
        strict=True,
    ):
        assert recipient in "\n".join(lines[line - 1 : line + 8])


def test_ndjson_is_streamed_in_batches_whose_keys_may_differ(tmp_path, monkeypatch):
    monkeypatch.setattr(json_records_module, "JSON_BATCH", 2)
    records = [
        {
            "Received": f"2022-09-05T18:10:1{k}Z",
            "SenderAddress": "a@contoso.com",
            "RecipientAddress": f"user{k}@fabrikam.com",
            "Status": "Delivered",
            # keys come and go between records (and so between batches)
            **({"Subject": f"subject {k}"} if k >= 3 else {"Size": k}),
        }
        for k in range(5)
    ]
    text = "\n".join(json.dumps(r) for r in records) + "\n\n"
    path = write_export(tmp_path, "trace.ndjson", text)

    case = load_sources([path])

    assert case.inputs[0].rows_read == 5
    rows = case.events.select(["line", "message_subject", "total_bytes"]).to_pylist()
    assert rows == [
        {
            "line": k + 1,
            "message_subject": f"subject {k}" if k >= 3 else None,
            "total_bytes": None if k >= 3 else k,
        }
        for k in range(5)
    ]


@pytest.mark.parametrize("line_end", ["\r\n", ""])
def test_a_header_only_file_loads_with_a_warning(tmp_path, line_end):
    path = write_export(tmp_path, "extended.csv", extended_csv().rstrip("\r\n") + line_end)

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.format, record.rows_read, case.events.num_rows) == ("extended", 0, 0)
    assert record.warnings == ["no data rows (only a header)"]


def test_a_folder_mixing_good_and_bad_files_loads_the_good_ones(tmp_path):
    exports = tmp_path / "exports"
    write_export(exports, "a_good.csv", extended_csv(extended_row()))
    write_export(exports / "sub", "b_good.csv", extended_csv(extended_row(event_id="DELIVER")))
    write_export(exports, "c_empty.csv", b"")
    write_export(exports, "d_contacts.csv", "Name,Age\r\nBob,42\r\n")
    write_export(exports, "ignored.md", "# not an export\r\n")

    case = load_sources([exports])

    assert [Path(r.path).name for r in case.inputs] == ["a_good.csv", "b_good.csv"]
    assert [Path(r.path).name for r in case.rejected_inputs] == ["c_empty.csv", "d_contacts.csv"]
    assert case.events.num_rows == 2


def test_nothing_loadable_is_one_clear_error_listing_each_file(tmp_path):
    empty = write_export(tmp_path, "empty.csv", b"")
    contacts = write_export(tmp_path, "contacts.csv", "Name,Age\r\nBob,42\r\n")

    with pytest.raises(InputError) as raised:
        load_sources([empty, contacts])

    message = str(raised.value)
    assert "nothing could be loaded" in message
    assert f"{empty}: is empty" in message
    assert f"{contacts}: is not a message trace export" in message


def test_a_folder_without_exports_is_named_not_silently_empty(tmp_path):
    (tmp_path / "exports").mkdir()
    write_export(tmp_path / "exports", "readme.md", "# notes\r\n")

    with pytest.raises(InputError, match="exports: is a folder with no export files in it"):
        load_sources([tmp_path / "exports"])
    [record] = inspect_files([tmp_path / "exports"])
    assert record.error == "is a folder with no export files in it."


def test_a_missing_path_is_named(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        load_sources([tmp_path / "nope.csv"])


# ---------------------------------------------------------------- the case on disk


def snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_ingest_writes_parquet_events_and_a_manifest_of_every_input(tmp_path):
    good = write_export(
        tmp_path / "in",
        "extended.csv",
        extended_csv(
            extended_row(), extended_row(network_message_id="bad", date_time_utc="not a time")
        ),
        "utf-16-le",
        bom=True,
    )
    contacts = write_export(tmp_path / "in", "contacts.csv", "Name,Age\r\nBob,42\r\n")

    result = ingest_into_case([good, contacts], tmp_path / "case")

    manifest = json.loads((tmp_path / "case" / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["tool"], manifest["tool_version"]) == ("msgtrace", __version__)
    [entry] = manifest["inputs"]
    assert entry["path"] == str(good)
    assert entry["size"] == good.stat().st_size
    assert entry["sha256"] == hashlib.sha256(good.read_bytes()).hexdigest()
    assert (entry["format"], entry["encoding"], entry["bom"]) == ("extended", "utf-16-le", True)
    assert (entry["rows_read"], entry["rows_ingested"], entry["rows_duplicate"]) == (2, 1, 0)
    assert entry["rows_rejected"] == 1
    assert entry["rejected"] == [
        {"line": 3, "reason": "unreadable date_time_utc value 'not a time'"}
    ]
    assert entry["first_event"] == "2022-09-19T15:02:29.3390123Z"
    [refused] = manifest["rejected_inputs"]
    assert (refused["path"], refused["status"]) == (str(contacts), "rejected")
    assert refused["error"].startswith("is not a message trace export")
    events = pq.read_table(tmp_path / "case" / "events" / f"{entry['input_id']}.parquet")
    assert events.schema == schema.EVENT_SCHEMA
    assert events.column("line").to_pylist() == [2]
    assert result.events == 1
    assert not list((tmp_path / "case").rglob("*.partial"))


def test_ingesting_the_same_file_twice_changes_nothing(tmp_path):
    sources = [SAMPLES / "extended_utf16le_bom.csv", SAMPLES / "summary_utf8_bom.csv"]
    ingest_into_case(sources, tmp_path / "case")
    before = snapshot(tmp_path / "case")

    again = ingest_into_case(sources, tmp_path / "case")
    copied = write_export(tmp_path / "copy", "renamed.csv", sources[0].read_bytes())
    third = ingest_into_case([copied], tmp_path / "case")

    assert [r.status for r in again.added + third.added] == ["already_in_case"] * 3
    assert snapshot(tmp_path / "case") == before


def overlapping_exports(folder: Path) -> tuple[Path, Path]:
    first = write_export(
        folder,
        "monday.csv",
        extended_csv(*[extended_row(network_message_id=f"n{k}") for k in range(5)]),
    )
    second = write_export(
        folder,
        "monday_afternoon.csv",
        extended_csv(*[extended_row(network_message_id=f"n{k}") for k in range(3, 8)]),
        "utf-16-le",
    )
    return first, second


@pytest.mark.parametrize("runs", ["one run", "two runs"])
def test_an_overlapping_export_is_merged_once_keeping_both_provenances(tmp_path, runs):
    first, second = overlapping_exports(tmp_path / "in")

    if runs == "one run":
        ingest_into_case([first, second], tmp_path / "case")
    else:
        ingest_into_case([first], tmp_path / "case")
        ingest_into_case([second], tmp_path / "case")

    case = open_case(tmp_path / "case")
    ids = case.events.column("network_message_id").to_pylist()
    assert ids == [f"n{k}" for k in range(8)]
    shared = case.events.filter(pc.is_in(case.events["network_message_id"], pa.array(["n3", "n4"])))
    assert shared.column("input_id").to_pylist() == ["in-001", "in-001"]
    assert case.duplicates.to_pylist() == [
        {"event_key": key, "input_id": "in-002", "line": line, "extras": []}
        for key, line in zip(shared.column("event_key").to_pylist(), [2, 3], strict=True)
    ]
    assert [(r.rows_ingested, r.rows_duplicate) for r in case.inputs] == [(5, 0), (3, 2)]


def test_a_file_read_again_carefully_merges_exactly_as_a_clean_one(tmp_path, monkeypatch):
    # the ragged last row ends the fast read after the overlapping rows were merged; the
    # careful read must start from the keys as they were (no row counted twice, none lost)
    monkeypatch.setattr(readers_module, "BLOCK_SIZE", 1024)
    rows = [extended_row(network_message_id=f"n{k}") for k in range(3, 30)]
    first = write_export(
        tmp_path,
        "a.csv",
        extended_csv(*[extended_row(network_message_id=f"n{k}") for k in range(5)]),
    )
    second = write_export(tmp_path, "b.csv", extended_csv(*rows, '"2022-09-19T15:02:29Z","x"'))

    result = ingest_into_case([first, second], tmp_path / "case")

    assert [
        (r.rows_read, r.rows_ingested, r.rows_duplicate, r.rows_rejected) for r in result.inputs
    ] == [(5, 5, 0, 0), (28, 25, 2, 1)]
    case = open_case(tmp_path / "case")
    assert case.events.column("network_message_id").to_pylist() == [f"n{k}" for k in range(30)]
    assert [row["line"] for row in case.duplicates.to_pylist()] == [2, 3]
    assert result.inputs[1].rejected[0].line == 29


def test_inputs_are_never_modified_and_only_opened_for_reading(tmp_path, monkeypatch):
    inputs = tmp_path / "in"
    for path in SAMPLE_FILES:
        write_export(inputs, path.name, path.read_bytes())
    before = {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in inputs.iterdir()
    }
    modes: list[str] = []
    real_open, real_os_open = builtins.open, os.open
    writing = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

    def ours(file) -> bool:
        return isinstance(file, str | Path) and Path(file).resolve().is_relative_to(
            inputs.resolve()
        )

    def spying_open(file, mode="r", *args, **kwargs):
        if ours(file):
            modes.append(mode)
        return real_open(file, mode, *args, **kwargs)

    def spying_os_open(file, flags, *args, **kwargs):
        if ours(file):
            modes.append("rb" if not flags & writing else f"flags {flags:o}")
        return real_os_open(file, flags, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", spying_open)
    monkeypatch.setattr(io, "open", spying_open)
    monkeypatch.setattr(os, "open", spying_os_open)

    ingest_into_case([inputs], tmp_path / "case")
    inspect_files([inputs])
    load_sources([inputs])

    assert modes and set(modes) == {"rb"}
    after = {
        p.name: (p.read_bytes(), p.stat().st_mtime_ns, p.stat().st_mode) for p in inputs.iterdir()
    }
    assert after == before


def test_the_same_inputs_give_byte_identical_cases(tmp_path):
    first, second = overlapping_exports(tmp_path / "in")
    sources = [first, second, SAMPLES]

    ingest_into_case(sources, tmp_path / "case1")
    ingest_into_case(sources, tmp_path / "case2")

    one, two = snapshot(tmp_path / "case1"), snapshot(tmp_path / "case2")
    assert one == two
    assert "manifest.json" in one
    assert any(name.startswith("events/") and name.endswith(".parquet") for name in one)
    assert any(name.startswith("duplicates/") for name in one)


def test_a_folder_that_is_not_a_case_is_never_written_into(tmp_path):
    folder = tmp_path / "documents"
    write_export(folder, "report.docx", b"precious")

    with pytest.raises(CaseError, match="exists and is not a msgtrace case folder"):
        ingest_into_case([SAMPLES / "summary_utf8_bom.csv"], folder)

    assert [p.name for p in folder.iterdir()] == ["report.docx"]
    (tmp_path / "empty").mkdir()
    ingest_into_case([SAMPLES / "summary_utf8_bom.csv"], tmp_path / "empty")
    assert (tmp_path / "empty" / "manifest.json").is_file()


def test_a_damaged_or_incomplete_case_is_a_clear_error_never_silently_smaller(tmp_path):
    source = SAMPLES / "summary_utf8_bom.csv"
    ingest_into_case([source], tmp_path / "case")
    part = tmp_path / "case" / "events" / "in-001.parquet"

    part.write_bytes(b"not parquet")
    with pytest.raises(CaseError, match=r"case files of .*summary_utf8_bom.csv are damaged"):
        load_sources([tmp_path / "case"])
    part.unlink()
    with pytest.raises(CaseError, match=r"events/in-001\.parquet is missing: the [0-9,]+ rows"):
        open_case(tmp_path / "case")
    with pytest.raises(CaseError, match=r"events/in-001\.parquet is missing"):
        ingest_into_case([SAMPLES / "MSGTRK2026111608-1.LOG"], tmp_path / "case")


def test_a_case_folder_and_raw_files_load_together(tmp_path):
    first, second = overlapping_exports(tmp_path / "in")
    ingest_into_case([first], tmp_path / "case")

    case = load_sources([tmp_path / "case", second])

    assert [r.input_id for r in case.inputs] == ["in-001", "in-002"]
    assert case.events.num_rows == 8
    assert case.duplicates.column("input_id").to_pylist() == ["in-002", "in-002"]
    with pytest.raises(OptionError, match="at most one case folder"):
        load_sources([tmp_path / "case", tmp_path / "case"])


# ---------------------------------------------------------------- inspect


def test_inspect_reports_format_encoding_rows_and_times_without_writing(tmp_path):
    path = write_export(
        tmp_path,
        "extended.csv",
        extended_csv(
            extended_row(date_time_utc="2022-09-19T15:02:29.3390123Z"),
            extended_row(date_time_utc="2022-09-18T01:00:00Z", network_message_id="n2"),
        ),
        "utf-16-le",
    )

    [record] = inspect_files([path])

    assert (record.format, record.encoding, record.bom, record.rows_read) == (
        "extended",
        "utf-16-le",
        False,
        2,
    )
    assert (record.first_event, record.last_event) == (
        "2022-09-18T01:00:00.0000000Z",
        "2022-09-19T15:02:29.3390123Z",
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["extended.csv"]


@pytest.mark.parametrize(
    ("messages", "rows_per_message", "warned"),
    [(999, 1, None), (1000, 1, "1,000 messages"), (1001, 1, None), (500, 2, None)],
)
def test_an_extended_report_of_exactly_1000_messages_warns_of_truncation(
    tmp_path, messages, rows_per_message, warned
):
    # the extended report stops at 1,000 messages, however many rows they take
    rows = [
        extended_row(network_message_id=f"n{k}", event_id=event)
        for k in range(messages)
        for event in ["RECEIVE", "DELIVER"][:rows_per_message]
    ]
    path = write_export(tmp_path, "extended.csv", extended_csv(*rows))

    [record] = inspect_files([path])

    limit_warnings = [w for w in record.warnings if "export limit" in w]
    assert record.export_limit == warned
    if warned:
        assert limit_warnings == [
            f"exactly {warned}, a known export limit of extended reports: the export was "
            "probably cut off. Export smaller time ranges and ingest them all."
        ]
    else:
        assert limit_warnings == []


@pytest.mark.parametrize(("rows", "warned"), [(4999, False), (5000, True)])
def test_a_powershell_export_of_exactly_5000_rows_warns_of_truncation(tmp_path, rows, warned):
    header = "Received,SenderAddress,RecipientAddress,Subject,Status,MessageTraceId"
    lines = [header] + [
        f"2026-11-16T08:00:00Z,a@fabrikam.com,u{k}@contoso.com,s,Delivered,t{k}"
        for k in range(rows)
    ]
    path = write_export(tmp_path, "trace.csv", "\r\n".join(lines) + "\r\n")

    [record] = inspect_files([path])

    assert record.format == "get_messagetrace"
    assert record.export_limit == ("5,000 rows" if warned else None)


# ---------------------------------------------------------------- round trip (hypothesis)

SUBJECT = st.lists(
    st.characters(blacklist_categories=("Cs", "Cc"))
    | st.sampled_from([",", '"', '""', ";", "\n", "\r\n", "é", "😀", "会", "\ufffd", " "]),
    max_size=30,
).map("".join)
ADDRESS = st.builds(
    "{}@{}.com".format,
    st.text(st.sampled_from("abcxyz.-_019"), min_size=1, max_size=8),
    st.sampled_from(["contoso", "fabrikam", "xn--mnchen-3ya"]),
)
TICKS = st.integers(
    min_value=int(dt.datetime(2000, 1, 1, tzinfo=dt.UTC).timestamp()) * 10**7,
    max_value=int(dt.datetime(2035, 12, 31, tzinfo=dt.UTC).timestamp()) * 10**7,
)
ENCODINGS = st.sampled_from(
    [("utf-8", False), ("utf-8", True), ("utf-16-le", True), ("utf-16-le", False)]
)
STATUS_BY_EVENT = {
    "RECEIVE": st.sampled_from(["To", "Cc", "Bcc"]),
    "DELIVER": st.just("250 2.1.5 Recipient OK"),
    "FAIL": st.just("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"),
    "DEFER": st.just("451 4.4.0 Primary target IP address responded with: 421 4.4.2 dropped"),
}


@st.composite
def export_rows(draw):
    """Rows of one message trace: (ticks, subject, sender, [(recipient, status)], event)."""
    rows = []
    for _ in range(draw(st.integers(1, 12))):
        event = draw(st.sampled_from(sorted(STATUS_BY_EVENT)))
        recipients = draw(st.lists(ADDRESS, min_size=1, max_size=3, unique=True))
        statuses = [draw(STATUS_BY_EVENT[event]) for _ in recipients]
        rows.append(
            (
                draw(TICKS),
                draw(SUBJECT),
                draw(ADDRESS),
                list(zip(recipients, statuses, strict=True)),
                event,
            )
        )
    return rows


def iso(ticks: int, zone: str) -> str:
    seconds, fraction = divmod(ticks, 10**7)
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{fraction:07d}{zone}"


def write_and_load(text: str, codec: str, bom: bool, block_size: int):
    with tempfile.TemporaryDirectory() as folder:
        path = write_export(Path(folder), "export.csv", text, codec, bom)
        with mock.patch.object(readers_module, "BLOCK_SIZE", block_size):
            case = load_sources([path])
        return case


def loaded(case, columns: list[str]) -> list[tuple]:
    table = case.events.select(columns)
    if "event_time" in columns:
        table = table.set_column(
            columns.index("event_time"), "event_time", pc.cast(table["event_time"], pa.int64())
        )
    return [tuple(row.values()) for row in table.to_pylist()]


@settings(max_examples=40, deadline=None)
@given(
    rows=export_rows(),
    encoding=ENCODINGS,
    newline=st.sampled_from(["\r\n", "\n"]),
    blank_after=st.sets(st.integers(0, 11), max_size=2),
    zone=st.sampled_from(["Z", ""]),
    block_size=st.sampled_from([4096, 8 * 1024 * 1024]),
)
def test_any_extended_export_round_trips(rows, encoding, newline, blank_after, zone, block_size):
    lines, expected, line = [], [], 2
    for k, (ticks, subject, sender, recipients, event) in enumerate(rows):
        lines.append(
            extended_row(
                date_time_utc=iso(ticks, zone),
                event_id=event,
                network_message_id=f"message-{k}",
                message_subject=subject,
                sender_address=sender,
                recipient_address=";".join(r for r, _ in recipients),
                recipient_status=";".join(s for _, s in recipients),
                recipient_count=len(recipients),
            )
        )
        for recipient, status in recipients:
            expected.append((line, ticks * 100, event, subject or None, sender, recipient, status))
        line += 1 + subject.count("\n")
        if k in blank_after:
            lines.append("")
            line += 1
    text = extended_csv(*lines, newline=newline)

    case = write_and_load(text, *encoding, block_size)

    record = case.inputs[0]
    assert (record.format, record.encoding, record.bom) == ("extended", *encoding)
    assert (record.rows_read, record.rows_rejected, record.rows_duplicate) == (len(rows), 0, 0)
    columns = [
        "line",
        "event_time",
        "event_id",
        "message_subject",
        "sender_address",
        "recipient_address",
        "recipient_status",
    ]
    assert loaded(case, columns) == expected


@settings(max_examples=40, deadline=None)
@given(rows=export_rows(), encoding=ENCODINGS, newline=st.sampled_from(["\r\n", "\n"]))
def test_any_summary_export_round_trips(rows, encoding, newline):
    header = ["Date (UTC)", "Sender", "Recipient", "Subject", "Status", "Message ID", "Size"]
    lines, expected, line = [newline.join([",".join(header)])], [], 2
    for k, (ticks, subject, sender, recipients, _) in enumerate(rows):
        moment = dt.datetime.fromtimestamp(ticks // 10**7, dt.UTC)
        date = (
            f"{moment.month}/{moment.day}/{moment.year} "
            f"{(moment.hour + 11) % 12 + 1}:{moment.minute:02d}:{moment.second:02d} "
            + ("AM" if moment.hour < 12 else "PM")
        )
        for recipient, _ in recipients:
            status = "Delivered" if k % 2 else "Failed"
            values = [date, sender, recipient, subject, status, f"<m{k}@contoso.com>", k]
            lines.append(",".join(csv_field(v) for v in values))
            expected.append(
                (line, ticks // 10**7 * 10**9, subject or None, sender, recipient, status)
            )
            line += 1 + subject.count("\n")
    text = newline.join(lines) + newline

    case = write_and_load(text, *encoding, 8 * 1024 * 1024)

    record = case.inputs[0]
    assert (record.format, record.encoding, record.bom) == ("summary", *encoding)
    assert (record.rows_read, record.rows_rejected) == (len(expected), 0)
    assert not [w for w in record.warnings if not re.match(r"dates such as .* are ambiguous", w)]
    columns = [
        "line",
        "event_time",
        "message_subject",
        "sender_address",
        "recipient_address",
        "reported_status",
    ]
    assert loaded(case, columns) == expected
