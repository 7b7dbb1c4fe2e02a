"""Every command that opens a case validates its manifest: a damaged one is reported as
``CASE/manifest.json: ...`` with the fix, never as a traceback."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from exports import SAMPLES

from analyzer.case import open_case
from analyzer.cli import cli
from analyzer.errors import CaseError
from analyzer.ingest import ingest_into_case
from analyzer.manifest import load_manifest

SUMMARY = SAMPLES / "summary_utf8_bom.csv"


def good_manifest(tmp_path) -> dict:
    ingest_into_case([SUMMARY], tmp_path / "case")
    return json.loads((tmp_path / "case" / "manifest.json").read_text(encoding="utf-8"))


def edited(manifest: dict, change) -> dict:
    manifest = json.loads(json.dumps(manifest))
    change(manifest)
    return manifest


DAMAGE = {
    "a JSON array": (b"[]", r"holds a JSON array, not the object of a manifest"),
    "inputs a number": (
        '{"case_format": 2, "inputs": 5, "parts": []}',
        r"inputs is 5, expected a list",
    ),
    "no case format": ('{"inputs": 5}', r"has no case_format: it is not the manifest of a case"),
    "not UTF-8": (
        b'{"case_format": 2, "inputs": [], "note": "\xff"}',
        r"is not UTF-8 text \(byte 0xff at offset 42\)",
    ),
    "not JSON": ("{not json", r"is not valid JSON \(line 1, column 2"),
    "unknown version": (
        '{"case_format": 99, "inputs": []}',
        r"case format 99 is not supported by msgtrace .* reads case formats 1, 2",
    ),
    "version as text": ('{"case_format": "2", "inputs": []}', r"case format '2' is not supported"),
    "no parts": (lambda m: m.pop("parts"), r"has no parts"),
    "no sha256": (lambda m: m["inputs"][0].pop("sha256"), r"inputs\[0\] has no sha256"),
    "count as text": (
        lambda m: m["inputs"][0].update(rows_read="106"),
        r'inputs\[0\]\.rows_read is "106", expected a whole number',
    ),
    "count as bool": (
        lambda m: m["parts"][0].update(rows=True),
        r"parts\[0\]\.rows is true, expected a whole number",
    ),
    "negative count": (
        lambda m: m["parts"][0].update(rows=-1),
        r"parts\[0\]\.rows is negative",
    ),
    "rejected row": (
        lambda m: m["inputs"][0]["rejected"].append({"line": 3}),
        r"inputs\[0\]\.rejected\[0\] has no reason",
    ),
    "unknown key": (
        lambda m: m["inputs"][0].update(owner="eve"),
        r"inputs\[0\] has an unknown key 'owner'",
    ),
    "part outside": (
        lambda m: m["parts"][0].update(path="../../etc/passwd"),
        r"parts\[0\]\.path '../../etc/passwd' is not a Parquet file inside",
    ),
    "bad sha256": (
        lambda m: m["parts"][0].update(sha256="abc"),
        r"parts\[0\]\.sha256 'abc' is not a sha256",
    ),
    "warnings": (lambda m: m.update(warnings=[1]), r"warnings\[0\] is 1, expected a string"),
}


def write_damage(tmp_path, name: str):
    content, message = DAMAGE[name]
    if callable(content):
        text = json.dumps(edited(good_manifest(tmp_path), content))
        (tmp_path / "case" / "manifest.json").write_text(text, encoding="utf-8")
    else:
        (tmp_path / "case").mkdir()
        data = content if isinstance(content, bytes) else content.encode("utf-8")
        (tmp_path / "case" / "manifest.json").write_bytes(data)
    return tmp_path / "case", message


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_a_damaged_manifest_is_named_with_what_is_wrong_and_the_fix(tmp_path, name):
    case, message = write_damage(tmp_path, name)

    with pytest.raises(CaseError) as error:
        open_case(case)

    text = str(error.value)
    assert text.startswith(f"{case / 'manifest.json'}: ")
    assert re.search(message, text), text
    assert "new case" in text  # the fix


@pytest.mark.parametrize(
    "command",
    [
        ["search", "{case}"],
        ["findings", "{case}"],
        ["chain", "--message", "x", "{case}"],
        ["report", "{case}", "-o", "{out}"],
        ["ingest", str(SUMMARY), "--case", "{case}"],
    ],
    ids=lambda c: c[0],
)
@pytest.mark.parametrize("name", ["a JSON array", "not UTF-8", "inputs a number", "no case format"])
def test_every_command_reports_a_damaged_manifest_without_a_traceback(tmp_path, command, name):
    case, _ = write_damage(tmp_path, name)
    before = (case / "manifest.json").read_bytes()
    args = [a.format(case=case, out=tmp_path / "r.html") for a in command]

    result = CliRunner().invoke(cli, args)

    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert f"Error: {case / 'manifest.json'}: " in result.output
    assert (case / "manifest.json").read_bytes() == before


def test_every_shape_problem_is_listed(tmp_path):
    manifest = edited(
        good_manifest(tmp_path),
        lambda m: (m["inputs"][0].update(rows_read="x", size=None), m.update(parts=7)),
    )
    (tmp_path / "case" / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    loaded, problems = load_manifest(tmp_path / "case")

    assert loaded is None
    where = tmp_path / "case" / "manifest.json"
    assert problems == [
        f"{where}: inputs[0].size is null, expected a whole number",
        f'{where}: inputs[0].rows_read is "x", expected a whole number',
        f"{where}: parts is 7, expected a list",
    ]
    with pytest.raises(CaseError, match=r"\(and 2 more problem\(s\): msgtrace verify lists them\)"):
        open_case(tmp_path / "case")
