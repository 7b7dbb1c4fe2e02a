"""Inputs on disk: what a user sees when a path is not a plain readable export (a named pipe,
a dangling link, no permission, a link loop), and archives read in place, member by member."""

from __future__ import annotations

import gzip
import os
import threading
import zipfile
from pathlib import Path

import pyarrow.compute as pc
from exports import SAMPLES, extended_csv, extended_row, write_export

import analyzer.files as files_module
from analyzer.case import open_case
from analyzer.files import Source, digest_of, walk
from analyzer.ingest import ingest_into_case, inspect_files, load_sources

EXTENDED = extended_csv(
    extended_row(network_message_id="n1"), extended_row(network_message_id="n2")
)


def sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def finishes(function, seconds: float = 20.0):
    """Run ``function`` in a thread; fail (instead of hanging) when it blocks."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(function()), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "blocked"
    return result[0]


# ---------------------------------------------------------------- paths that are no exports


def test_a_named_pipe_is_reported_never_waited_on(tmp_path):
    pipe = tmp_path / "export.csv"
    os.mkfifo(pipe)
    good = write_export(tmp_path / "in", "good.csv", EXTENDED)

    named = finishes(lambda: inspect_files([pipe, good]))
    in_folder = finishes(lambda: inspect_files([tmp_path]))

    assert named[0].error == "is a named pipe (FIFO), not a file: msgtrace reads export files."
    assert named[1].error is None and named[1].rows_read == 2
    assert [r.error for r in in_folder if r.path == str(pipe)] == [named[0].error]


def test_a_dangling_link_names_where_it_points_and_the_run_goes_on(tmp_path):
    link = tmp_path / "export.csv"
    link.symlink_to(tmp_path / "gone.csv")
    good = write_export(tmp_path, "good.csv", EXTENDED)

    case = load_sources([link, good])

    [rejected] = case.rejected_inputs
    assert rejected.error == f"is a symbolic link to {tmp_path / 'gone.csv'}, which does not exist."
    assert case.events.num_rows == 2


def test_a_file_that_cannot_be_opened_is_reported_like_any_bad_input(tmp_path, monkeypatch):
    locked = write_export(tmp_path, "locked.csv", EXTENDED)
    good = write_export(tmp_path, "good.csv", EXTENDED.replace("n1", "n3"))
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)

    result = ingest_into_case([locked, good], tmp_path / "case")

    assert [(r.path, r.status, r.error) for r in result.added] == [
        (str(locked), "rejected", "cannot be opened: Permission denied."),
        (str(good), "ingested", None),
    ]


def test_a_link_to_a_folder_is_followed_once_and_a_loop_is_skipped_with_a_message(tmp_path):
    exports = tmp_path / "exports"
    write_export(exports / "january", "a.csv", EXTENDED)
    (exports / "january" / "back").symlink_to(exports, target_is_directory=True)
    elsewhere = write_export(tmp_path / "elsewhere", "b.csv", EXTENDED.replace("n1", "n9"))
    (exports / "more").symlink_to(elsewhere.parent, target_is_directory=True)

    found = walk([exports])
    records = inspect_files([exports])

    assert [s.path for s in found.sources] == [
        str(exports / "january" / "a.csv"),
        str(exports / "more" / "b.csv"),
    ]
    assert found.skipped == [
        (
            str(exports / "january" / "back"),
            "skipped: a link to a folder already searched (a loop, or the same folder twice)",
        )
    ]
    assert [(r.path, r.status) for r in records] == [
        (str(exports / "january" / "a.csv"), "ingested"),
        (str(exports / "more" / "b.csv"), "ingested"),
        (str(exports / "january" / "back"), "skipped"),
    ]


def test_an_excel_workbook_says_save_it_as_csv(tmp_path):
    path = tmp_path / "MessageTrace.xlsx"
    with zipfile.ZipFile(path, "w") as workbook:
        workbook.writestr("[Content_Types].xml", "<Types/>")
        workbook.writestr("xl/workbook.xml", "<workbook/>")
        workbook.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")

    [record] = inspect_files([tmp_path])  # found in a folder too

    assert record.error == (
        "is an Excel workbook (.xlsx), not an export: open it in Excel and save it as CSV "
        "(UTF-8), then read the CSV."
    )


# ---------------------------------------------------------------- archives


def zip_of(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_a_zip_is_read_member_by_member_and_the_manifest_records_each(tmp_path):
    extended = (SAMPLES / "extended_utf16le_bom.csv").read_bytes()
    summary = (SAMPLES / "summary_utf8_bom.csv").read_bytes()
    archive = zip_of(
        tmp_path / "in" / "download.zip",
        {
            "reports/extended.csv": extended,
            "summary.csv": summary,
            "notes.docx": b"PK\x03\x04 not an export",
            "__MACOSX/._summary.csv": b"\x00\x05\x16\x07",
            ".hidden.csv": b"x",
        },
    )

    result = ingest_into_case([archive], tmp_path / "case")
    case = open_case(tmp_path / "case")

    added = {r.member: r for r in result.added}
    assert sorted(added) == ["notes.docx", "reports/extended.csv", "summary.csv"]
    plain = ingest_into_case([SAMPLES / "extended_utf16le_bom.csv"], tmp_path / "plain_case").added[
        0
    ]
    member = added["reports/extended.csv"]
    assert member.path == f"{archive}!reports/extended.csv"
    assert (member.archive, member.archive_sha256) == (str(archive), sha256(archive.read_bytes()))
    assert (member.size, member.sha256) == (len(extended), sha256(extended))
    assert (member.format, member.encoding, member.bom) == ("extended", "utf-16-le", True)
    assert (member.rows_read, member.rows_ingested) == (plain.rows_read, plain.rows_ingested)
    assert added["summary.csv"].format == "summary"
    assert added["notes.docx"].error == (
        "is a zip archive inside an archive: extract the outer archive first."
    )
    # the manifest keeps every member's record, the damaged one with the rejected inputs
    assert {r.member for r in case.inputs} == {"reports/extended.csv", "summary.csv"}
    assert [r.member for r in case.rejected_inputs] == ["notes.docx"]
    assert pc.sum(pc.equal(case.events.column("input_id"), member.input_id)).as_py() > 0


def test_a_gzip_download_is_read_in_place_and_an_unzipped_copy_is_already_in_the_case(tmp_path):
    data = (SAMPLES / "reporting_api_utf8.ndjson").read_bytes()
    archive = tmp_path / "trace.ndjson.gz"
    archive.write_bytes(gzip.compress(data))
    plain = write_export(tmp_path, "trace.ndjson", data)

    result = ingest_into_case([archive, plain], tmp_path / "case")

    member, copy = result.added
    assert (member.path, member.member, member.format) == (
        f"{archive}!trace.ndjson",
        "trace.ndjson",
        "reporting_api_json",
    )
    assert (member.size, member.sha256) == (len(data), sha256(data))
    assert copy.status == "already_in_case"


def test_a_cut_off_gzip_keeps_the_rows_before_the_cut_and_says_so(tmp_path):
    rows = [extended_row(network_message_id=f"n{k}", message_subject="x" * 200) for k in range(400)]
    data = extended_csv(*rows).encode()
    compressed = gzip.compress(data)
    archive = write_export(tmp_path, "extended.csv.gz", compressed[: len(compressed) // 2])

    [record] = inspect_files([archive])

    assert record.error is None
    assert 0 < record.rows_read - record.rows_rejected < 400
    assert any("the compressed data ends early" in w for w in record.warnings)


def test_gzip_members_appended_to_one_file_read_as_one_export(tmp_path):
    first = extended_csv(extended_row(network_message_id="n1"))
    second = extended_row(network_message_id="n2") + "\r\n"
    archive = tmp_path / "extended.csv.gz"
    archive.write_bytes(gzip.compress(first.encode()) + gzip.compress(second.encode()))

    [record] = inspect_files([archive])

    assert (record.error, record.rows_read, record.rows_rejected) == (None, 2, 0)
    assert record.warnings == []


def test_a_gzip_whose_data_was_altered_says_it_is_damaged(tmp_path):
    data = bytearray(gzip.compress(EXTENDED.encode()))
    data[-8] ^= 0xFF  # the CRC-32 of the trailer
    archive = write_export(tmp_path, "extended.csv.gz", bytes(data))

    [record] = inspect_files([archive])

    assert record.rows_read == 2
    assert any("the compressed data is damaged" in w for w in record.warnings)


def test_a_member_is_never_extracted_to_disk(tmp_path, monkeypatch):
    archive = zip_of(tmp_path / "a.zip", {"extended.csv": EXTENDED.encode()})
    before = set(Path(tmp_path).rglob("*"))
    real_open = os.open
    written: list[str] = []

    def spying_open(path, flags, *args, **kwargs):
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            written.append(str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", spying_open)

    case = load_sources([archive])

    assert case.events.num_rows == 2
    assert written == [] and set(Path(tmp_path).rglob("*")) == before


def test_a_member_is_read_as_a_stream_and_its_encoding_detected_on_its_head(tmp_path):
    text = extended_csv(extended_row(message_subject="Réunion"))
    archive = zip_of(tmp_path / "a.zip", {"x.csv": text.encode("cp1252")})
    [source] = walk([archive]).sources

    assert not source.seekable
    head = files_module.MAGIC_SIZE
    with source.open() as stream:
        assert stream.read(head) == text.encode("cp1252")[:head]
    assert digest_of(source) == (sha256(text.encode("cp1252")), len(text.encode("cp1252")))
    case = load_sources([archive])
    assert case.inputs[0].encoding == "cp1252"
    assert case.events.column("message_subject").to_pylist() == ["Réunion"]


def test_an_encrypted_member_says_to_extract_it_with_its_password(tmp_path):
    archive = zip_of(tmp_path / "a.zip", {"x.csv": EXTENDED.encode()})
    data = bytearray(archive.read_bytes())
    # set the "encrypted" flag of the member in its local and central headers
    for signature, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.index(signature)
        data[at + flag_offset] |= 0x01
    archive.write_bytes(bytes(data))

    [record] = inspect_files([archive])

    assert record.error == "is encrypted: extract it with its password first."


def test_a_source_says_what_it_is():
    source = Source("a.zip!x.csv", Path("a.zip"), "x.csv", "zip", 10)
    assert source.in_archive and not source.seekable and source.size() == 10
    plain = Source("x.csv", Path("x.csv"))
    assert not plain.in_archive and plain.seekable
