"""The case store: the manifest lists every part with its rows and sha256, only listed parts are
read, leftovers of an interrupted ingest are named and moved aside (never adopted by a later
input), and a case of format 1 still opens."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from exports import SAMPLES, extended_csv, extended_row, write_export

import analyzer.case as case_module
from analyzer import schema
from analyzer.case import CASE_FORMAT_VERSION, open_case
from analyzer.errors import CaseError
from analyzer.ingest import ingest_into_case, load_sources
from analyzer.store import LOCK_FILE

EXTENDED = SAMPLES / "extended_utf16le_bom.csv"
SUMMARY = SAMPLES / "summary_utf8_bom.csv"
TRACKING = SAMPLES / "MSGTRK2026111608-1.LOG"


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def files_in(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_the_manifest_lists_every_part_with_its_rows_and_sha256(tmp_path):
    result = ingest_into_case([EXTENDED, SUMMARY], tmp_path / "case")

    manifest = manifest_of(tmp_path / "case")
    assert manifest["case_format"] == CASE_FORMAT_VERSION == 2
    listed = {part["path"] for part in manifest["parts"]}
    on_disk = {p for p in files_in(tmp_path / "case") if p.endswith(".parquet")}
    assert listed == on_disk
    for part in manifest["parts"]:
        path = tmp_path / "case" / part["path"]
        assert part["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert part["rows"] == pq.read_metadata(path).num_rows
        assert part["kind"] == part["path"].split("/")[0]
        assert part["input_id"] == Path(part["path"]).stem
    assert result.events == sum(p["rows"] for p in manifest["parts"] if p["kind"] == "events")
    assert manifest["warnings"] == []
    assert (tmp_path / "case" / LOCK_FILE).read_bytes() == b""  # no writer now


def test_a_part_the_manifest_does_not_list_is_never_read(tmp_path):
    ingest_into_case([EXTENDED], tmp_path / "case")
    other = tmp_path / "other"
    ingest_into_case([TRACKING], other)
    # an orphan of an interrupted ingest: a complete part the manifest never listed
    shutil.copy(
        other / "events" / "in-001.parquet", tmp_path / "case" / "events" / "in-002.parquet"
    )
    before = files_in(tmp_path / "case")

    case = open_case(tmp_path / "case")

    assert set(case.events.column("input_id").to_pylist()) == {"in-001"}
    [warning] = case.warnings
    assert "interrupted ingest are not part of the case and were not read" in warning
    assert "events/in-002.parquet" in warning
    assert files_in(tmp_path / "case") == before  # a reader moves nothing


def test_an_input_of_duplicates_only_never_adopts_an_orphaned_part(tmp_path):
    # The bug: input in-002's part was written, then the ingest was killed before the
    # manifest. The next input, every row a duplicate, wrote no part of its own and was
    # credited with the orphan's events.
    ingest_into_case([EXTENDED], tmp_path / "case")
    other = tmp_path / "other"
    ingest_into_case([TRACKING], other)
    orphan = tmp_path / "case" / "events" / "in-002.parquet"
    shutil.copy(other / "events" / "in-001.parquet", orphan)
    same_rows = write_export(tmp_path, "again.csv", EXTENDED.read_bytes()[2:], "utf-16-le")

    result = ingest_into_case([same_rows], tmp_path / "case")

    [record] = result.added
    assert (record.input_id, record.rows_ingested) == ("in-002", 0)
    assert record.rows_duplicate == record.rows_read
    case = open_case(tmp_path / "case")
    assert case.warnings == result.warnings
    assert set(case.events.column("input_id").to_pylist()) == {"in-001"}
    assert not orphan.exists()
    [moved] = (tmp_path / "case" / "interrupted").iterdir()
    assert (moved / "events" / "in-002.parquet").read_bytes() == (
        other / "events" / "in-001.parquet"
    ).read_bytes()
    [warning] = result.warnings
    assert f"moved to interrupted/{moved.name}/ for inspection: events/in-002.parquet" in warning
    assert manifest_of(tmp_path / "case")["warnings"] == [warning]


def test_unfinished_files_of_a_first_ingest_are_moved_and_the_inputs_ingest_cleanly(tmp_path):
    folder = tmp_path / "case"
    write_export(folder / "events", "in-001.parquet.partial", b"PAR1 half a row group")
    write_export(folder, "manifest.json.1a2b3c4d.partial", '{"case_format": 2, "inp')
    write_export(folder, LOCK_FILE, "999999\n")  # the killed writer's pid

    result = ingest_into_case([SUMMARY], folder)

    assert [r.status for r in result.added] == ["ingested"]
    [warning] = result.warnings
    assert "events/in-001.parquet.partial, manifest.json.1a2b3c4d.partial" in warning
    clean = tmp_path / "clean"
    ingest_into_case([SUMMARY], clean)
    assert open_case(folder).events.equals(open_case(clean).events)
    assert [p.split("/", 2)[2] for p in files_in(folder) if p.startswith("interrupted/")] == [
        "events/in-001.parquet.partial",
        "manifest.json.1a2b3c4d.partial",
    ]


def test_a_full_disk_while_writing_a_part_keeps_the_inputs_committed_before(tmp_path, monkeypatch):
    first = write_export(tmp_path, "a.csv", extended_csv(extended_row()))
    second = write_export(tmp_path, "b.csv", extended_csv(extended_row(network_message_id="n2")))
    real = case_module._write_row_group

    def disk_full(writer, tables):
        if tables[0].column("input_id")[0].as_py() == "in-002":
            raise OSError(28, "No space left on device")
        real(writer, tables)

    monkeypatch.setattr(case_module, "_write_row_group", disk_full)

    with pytest.raises(CaseError, match=r"in-002\.parquet: cannot write the case \(No space"):
        ingest_into_case([first, second], tmp_path / "case")

    case = open_case(tmp_path / "case")
    assert [r.path for r in case.inputs] == [str(first)]
    assert case.warnings == []  # nothing left over: the unfinished part was removed
    assert not [p for p in files_in(tmp_path / "case") if p.endswith(".partial")]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("rows", r"holds \d+ rows, the manifest records 1,000,000"),
        ("schema", r"does not have the schema of duplicates"),
    ],
)
def test_a_part_that_disagrees_with_the_manifest_is_a_clear_error(tmp_path, damage, message):
    export = write_export(tmp_path, "a.csv", extended_csv(extended_row()))
    again = write_export(tmp_path, "b.csv", export.read_text(encoding="utf-8"), "utf-16-le")
    ingest_into_case([export, again], tmp_path / "case")  # the second: duplicates only
    manifest = manifest_of(tmp_path / "case")
    if damage == "rows":
        manifest["parts"][0]["rows"] = 1_000_000
    else:
        duplicates = next(p for p in manifest["parts"] if p["kind"] == "duplicates")
        path = tmp_path / "case" / duplicates["path"]
        pq.write_table(pq.read_table(path).drop_columns(["extras"]), path)
    (tmp_path / "case" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    with pytest.raises(CaseError, match=message):
        open_case(tmp_path / "case")


def make_format_1(folder: Path) -> None:
    """Turn a case into one as msgtrace wrote it before case format 2: no parts in the manifest,
    64-bit (16 hex digit) event keys, duplicates without extras."""
    manifest = manifest_of(folder)
    for part in manifest.pop("parts"):
        path = folder / part["path"]
        table = pq.read_table(path)
        short = pc.utf8_slice_codeunits(table.column("event_key"), 0, 16)
        table = table.set_column(table.schema.get_field_index("event_key"), "event_key", short)
        if part["kind"] == "duplicates":
            table = table.drop_columns(["extras"])
        pq.write_table(table, path)
    manifest.pop("warnings")
    manifest["case_format"] = 1
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def test_a_case_of_format_1_opens_with_a_warning_and_is_never_added_to(tmp_path):
    first = write_export(
        tmp_path, "a.csv", extended_csv(*[extended_row(network_message_id=f"n{k}") for k in (1, 2)])
    )
    second = write_export(
        tmp_path, "b.csv", extended_csv(*[extended_row(network_message_id=f"n{k}") for k in (2, 3)])
    )
    ingest_into_case([first, second], tmp_path / "case")
    expected = open_case(tmp_path / "case")
    make_format_1(tmp_path / "case")
    before = files_in(tmp_path / "case")

    case = open_case(tmp_path / "case")

    assert "case format 1" in case.warnings[0] and "new case" in case.warnings[0]
    assert case.events.equals(expected.events)  # today's keys, computed again
    assert case.duplicates.column("event_key").equals(expected.duplicates.column("event_key"))
    assert case.duplicates.column("extras").null_count == case.duplicates.num_rows
    with pytest.raises(CaseError, match=r"manifest\.json: case format 1 .* new case"):
        ingest_into_case([SUMMARY], tmp_path / "case")
    assert files_in(tmp_path / "case") == before
    # raw files read with it merge with its events
    recoded = write_export(tmp_path, "c.csv", first.read_text(encoding="utf-8"), "utf-16-le")
    merged = load_sources([tmp_path / "case", recoded])
    assert merged.events.num_rows == expected.events.num_rows


def test_a_format_1_events_part_of_an_input_that_ingested_nothing_is_an_orphan(tmp_path):
    ingest_into_case([EXTENDED], tmp_path / "case")
    other = tmp_path / "other"
    ingest_into_case([TRACKING], other)
    same_rows = write_export(tmp_path, "again.csv", EXTENDED.read_bytes()[2:], "utf-16-le")
    ingest_into_case([same_rows], tmp_path / "case")
    make_format_1(tmp_path / "case")
    # format 1 wrote the part before the manifest: here is the orphan the bug adopted
    shutil.copy(
        other / "events" / "in-001.parquet", tmp_path / "case" / "events" / "in-002.parquet"
    )

    case = open_case(tmp_path / "case")

    assert set(case.events.column("input_id").to_pylist()) == {"in-001"}
    assert any("events/in-002.parquet" in w for w in case.warnings)


def test_an_empty_case_folder_is_left_as_it_was_when_nothing_loads(tmp_path):
    (tmp_path / "case").mkdir()
    empty = write_export(tmp_path, "empty.csv", b"")

    result = ingest_into_case([empty], tmp_path / "case")

    assert [r.status for r in result.added] == ["rejected"]
    assert list((tmp_path / "case").iterdir()) == []
    ingest_into_case([empty], tmp_path / "new")
    assert not (tmp_path / "new").exists()


def test_duplicates_parts_have_the_duplicate_schema(tmp_path):
    ingest_into_case([EXTENDED, SAMPLES / "extended_utf16le_nobom.csv"], tmp_path / "case")

    manifest = manifest_of(tmp_path / "case")
    [duplicates] = [p for p in manifest["parts"] if p["kind"] == "duplicates"]
    table = pq.read_table(tmp_path / "case" / duplicates["path"])
    assert table.schema.equals(schema.DUPLICATE_SCHEMA)
    assert table.num_rows == duplicates["rows"] > 0
    assert pa.types.is_map(table.schema.field("extras").type)
