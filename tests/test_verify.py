"""msgtrace verify: a clean case holds; each kind of damage is one line naming the file; the
original files are hashed again; the result is recorded for the report."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from exports import extended_csv, extended_row, write_export

from analyzer.cli import cli
from analyzer.errors import CaseError
from analyzer.ingest import ingest_into_case
from analyzer.verify import last_verification, verify_case


def exports(folder: Path) -> list[Path]:
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
    return [first, second]


@pytest.fixture
def case(tmp_path) -> Path:
    ingest_into_case(exports(tmp_path / "exports"), tmp_path / "case")
    return tmp_path / "case"


def manifest_of(case: Path) -> dict:
    return json.loads((case / "manifest.json").read_text(encoding="utf-8"))


def save(case: Path, manifest: dict) -> None:
    (case / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")


def part(case: Path, kind: str, input_id: str) -> dict:
    return next(
        p for p in manifest_of(case)["parts"] if (p["kind"], p["input_id"]) == (kind, input_id)
    )


def run(*args: object):
    return CliRunner().invoke(cli, ["verify", *map(str, args)])


def test_a_clean_case_holds_and_the_result_is_recorded(case, tmp_path):
    assert last_verification(case) is None

    result = run(case, "--inputs", tmp_path / "exports")

    assert result.exit_code == 0, result.output
    assert result.output == (
        f"case {case}: OK (2 input(s), 3 part(s), 8 events and 2 duplicate rows; "
        "2 original file(s) hashed again)\n"
    )
    last = last_verification(case)
    assert last is not None and last.ok and last.current and last.originals_checked
    assert last.summary == f"last verified {last.verified_at}: OK (original files hashed again)"
    assert last.verified_at.endswith("Z") and len(last.verified_at) == 28


def damage_lines(case: Path, *inputs: Path) -> list[str]:
    result = run(case, *(["--inputs", *inputs] if inputs else []))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert lines[-1] == f"case {case}: {len(lines) - 1} problem(s)"
    return lines[:-1]


def test_edited_row_counts_are_found(case):
    manifest = manifest_of(case)
    manifest["inputs"][1]["rows_ingested"] = 4
    save(case, manifest)

    lines = damage_lines(case)

    where = case / "manifest.json"
    path = manifest["inputs"][1]["path"]
    assert lines == [
        f"{where}: inputs[1] ({path}): rows_read 5 is not rows_ingested + rows_duplicate + "
        "rows_rejected (4 + 2 + 0 = 6)",
        f"{where}: inputs[1] ({path}): counts 4 ingested and 2 duplicate rows, its parts hold "
        "3 and 2",
    ]
    last = last_verification(case)
    assert last is not None and not last.ok and last.problems == 2
    assert last.summary.endswith(": 2 problems")


def test_a_duplicated_input_id_is_found(case):
    manifest = manifest_of(case)
    manifest["inputs"][1]["input_id"] = "in-001"
    save(case, manifest)

    lines = damage_lines(case)

    paths = ", ".join(r["path"] for r in manifest["inputs"])
    assert f"{case / 'manifest.json'}: input id in-001 is given to 2 inputs ({paths})" in lines
    assert any(
        "belongs to input in-002, which the manifest does not list" in line for line in lines
    )


def test_a_part_with_the_wrong_schema_is_found_even_with_a_matching_sha256(case):
    events = part(case, "events", "in-002")
    path = case / events["path"]
    forged = pa.table({"event_key": ["x"] * 3, "input_id": ["in-002"] * 3, "line": [2, 3, 4]})
    pq.write_table(forged, path)
    manifest = manifest_of(case)
    for item in manifest["parts"]:
        if item["path"] == events["path"]:
            item["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    save(case, manifest)

    lines = damage_lines(case)

    assert lines[0].startswith(
        f"{path}: does not have the schema of events parts (missing event_time"
    )


def test_a_changed_part_is_found_by_its_sha256(case):
    events = part(case, "events", "in-001")
    path = case / events["path"]
    table = pq.read_table(path)
    pq.write_table(table.slice(0, 4), path)  # one event taken out

    lines = damage_lines(case)

    assert lines[0].startswith(f"{path}: sha256 is ")
    assert f"the manifest records {events['sha256']}: the file was changed" in lines[0]
    assert f"{path}: holds 4 rows, the manifest records 5" in lines
    assert any("duplicate row(s) point to events that are not in the case" in x for x in lines)


def test_a_deleted_duplicates_part_is_found(case):
    duplicates = part(case, "duplicates", "in-002")
    (case / duplicates["path"]).unlink()

    lines = damage_lines(case)

    assert lines[0] == (
        f"{case / duplicates['path']}: is missing: the 2 duplicate rows of input in-002 are "
        "gone. Ingest the original exports into a new case."
    )


def test_a_part_not_listed_is_a_leftover_and_interrupted_ingests_are_noted(case):
    shutil.copy(case / "events" / "in-001.parquet", case / "events" / "in-003.parquet")
    (case / "interrupted" / "20260101T000000Z" / "events").mkdir(parents=True)
    (case / "interrupted" / "20260101T000000Z" / "events" / "in-009.parquet").write_bytes(b"x")

    result = run(case)

    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{case / 'events' / 'in-003.parquet'}: is not listed in the manifest: a leftover of an "
        "interrupted ingest, never part of the case. The next msgtrace ingest into this case "
        "moves it to interrupted/; give that ingest's inputs again to ingest them."
    )
    assert "msgtrace: note: " in result.stderr and "20260101T000000Z/: 1 file(s)" in result.stderr


def test_the_original_files_are_hashed_again(case, tmp_path):
    first, second = exports(tmp_path / "exports")
    changed = write_export(tmp_path / "later", second.name, second.read_bytes() + b"\x00\x00")
    extra = write_export(tmp_path / "later", "tuesday.csv", extended_csv(extended_row()))

    lines = damage_lines(case, first, changed, extra)

    recorded = manifest_of(case)["inputs"][1]["sha256"]
    assert len(lines) == 2
    assert lines[0].startswith(
        f"{changed}: changed since it was ingested as in-002: its sha256 is "
    )
    assert lines[0].endswith(f", the case records {recorded}")
    assert lines[1] == f"{extra}: is not in the case (no input has its sha256)"
    missing = damage_lines(case, first)
    assert missing == [
        f"{second}: input in-002 (sha256 {recorded}) is missing: no given file has its content"
    ]


def test_a_forged_input_sha256_is_found_against_the_original(case, tmp_path):
    manifest = manifest_of(case)
    manifest["inputs"][0]["sha256"] = "0" * 64
    save(case, manifest)

    lines = damage_lines(case, tmp_path / "exports")

    first = manifest["inputs"][0]["path"]
    assert lines == [
        f"{first}: changed since it was ingested as in-001: its sha256 is "
        f"{hashlib.sha256(Path(first).read_bytes()).hexdigest()}, the case "
        f"records {'0' * 64}"
    ]


def test_verify_as_json(case):
    (case / "events" / "in-002.parquet").unlink()

    result = run(case, "--json")

    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["case"] == str(case)
    assert data["problems"][0] == {
        "file": str(case / "events" / "in-002.parquet"),
        "problem": "is missing: the 3 events of input in-002 are gone. Ingest the original "
        "exports into a new case.",
    }
    assert data["checked"] == {"inputs": 2, "parts": 3, "events": 8, "duplicates": 2}


def test_a_damaged_manifest_is_a_problem_line_not_a_traceback(case):
    (case / "manifest.json").write_text("[]", encoding="utf-8")

    lines = damage_lines(case)

    assert lines == [f"{case / 'manifest.json'}: holds a JSON array, not the object of a manifest"]


def test_the_report_can_tell_the_case_changed_since_it_was_verified(case, tmp_path):
    verify_case(case)
    ingest_into_case([write_export(tmp_path, "tuesday.csv", extended_csv(extended_row()))], case)

    last = last_verification(case)

    assert last is not None and last.ok and not last.current
    assert last.summary.endswith("; the case changed since: run msgtrace verify again")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{case}", "{case}/../exports"], "give --inputs before the original exports"),
        (["{case}", "--inputs"], "--inputs needs the original export files or folders"),
    ],
)
def test_inputs_are_given_after_the_inputs_flag(case, args, message):
    result = run(*[a.format(case=case) for a in args])

    assert result.exit_code == 2
    assert message in result.output


def test_a_folder_that_is_not_a_case_is_an_error(tmp_path):
    with pytest.raises(CaseError, match="is not a msgtrace case folder"):
        verify_case(tmp_path)
    result = run(tmp_path)
    assert result.exit_code == 1 and "is not a msgtrace case folder" in result.output


def test_inputs_read_from_an_archive_are_checked_by_their_members(tmp_path):
    import zipfile

    files = exports(tmp_path / "exports")
    archive = tmp_path / "download.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in files:
            bundle.write(path, path.name)
    ingest_into_case([archive], tmp_path / "case")

    held = run(tmp_path / "case", "--inputs", archive)
    assert held.exit_code == 0, held.output

    with zipfile.ZipFile(tmp_path / "other.zip", "w") as bundle:
        bundle.write(files[0], files[0].name)
    missing = run(tmp_path / "case", "--inputs", tmp_path / "other.zip")
    assert missing.exit_code == 1
    assert "is missing: no given file has its content" in missing.output


def test_a_file_mixing_defender_streaming_tables_verifies(tmp_path):
    # the manifest records each table's format, comma-separated
    samples = Path(__file__).resolve().parent.parent / "samples"
    mixed = tmp_path / "eventhub.ndjson"
    mixed.write_bytes(
        (samples / "defender_streaming_url_info_utf8.ndjson").read_bytes().rstrip(b"\n")
        + b"\n"
        + (samples / "defender_streaming_url_clicks_utf8.ndjson").read_bytes()
    )
    ingest_into_case([mixed], tmp_path / "case")
    [record] = json.loads((tmp_path / "case" / "manifest.json").read_text())["inputs"]
    assert "," in record["format"]
    held = run(tmp_path / "case")
    assert held.exit_code == 0, held.output

    manifest = manifest_of(tmp_path / "case")
    manifest["inputs"][0]["format"] = record["format"] + ", no_such_format"
    save(tmp_path / "case", manifest)
    assert "has an unknown format" in run(tmp_path / "case").output
