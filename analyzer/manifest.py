"""The manifest of a case folder: its records, and the validation of ``manifest.json``.

``manifest.json`` is the one file that says what a case holds: the tool and case format
version, one ``InputRecord`` per input (its sha256, format, encoding and row accounting), the
inputs rejected whole, the ``Part`` files (path, kind, input, rows, sha256) and the warnings
that concern the whole case. Every command that opens a case validates it first
(``read_manifest``): a manifest that is not UTF-8, not JSON, of the wrong shape, missing a
key, with a value of the wrong type or of an unknown case format is reported as
``CASE/manifest.json: ...`` with the fix, never as a traceback.
"""

from __future__ import annotations

import dataclasses
import json
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from analyzer import __version__
from analyzer.errors import CaseError

MANIFEST = "manifest.json"
#: 2: the manifest lists every part with its sha256; 128-bit event keys; duplicates keep
#: their row's extras. 1: parts were implied by the inputs (msgtrace 0.1.0 before that).
CASE_FORMAT_VERSION = 2
READABLE_CASE_FORMATS = (1, 2)
#: At most this many rejected rows are listed per input in the manifest (all are counted).
MAX_LISTED_REJECTIONS = 1000
PART_KINDS = ("events", "duplicates")
DAMAGED_MANIFEST_FIX = (
    "The manifest is damaged: restore manifest.json from a copy of the case, or ingest the "
    "original exports into a new case."
)


@dataclass
class RejectedRow:
    """One input row that could not be ingested, and why."""

    line: int | None
    reason: str


@dataclass
class InputRecord:
    """What happened to one input file (one entry of the manifest)."""

    path: str
    size: int
    sha256: str
    input_id: str
    format: str | None = None
    encoding: str | None = None
    encoding_detected_by: str | None = None  # how: byte order mark, NUL pattern, chardet, ...
    bom: bool = False
    rows_read: int = 0
    rows_ingested: int = 0
    rows_duplicate: int = 0
    rows_rejected: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    first_event: str | None = None  # ISO 8601 UTC, e.g. 2022-09-19T15:02:29.3390000Z
    last_event: str | None = None
    error: str | None = None  # set when the whole file was rejected
    # "1,000 messages" / "20,000 rows" when the file stops exactly at an export limit of its
    # format: it was probably cut off by the service
    export_limit: str | None = None
    status: str = "ingested"  # ingested | already_in_case | rejected | skipped
    # a member of an archive (.zip, .gz): path is "archive!member", size and sha256 are the
    # member's decompressed bytes; the archive's own path and sha256 are kept here
    archive: str | None = None
    archive_sha256: str | None = None
    member: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["rejected"] = [r.__dict__ for r in self.rejected]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InputRecord:
        data = dict(data)
        data["rejected"] = [RejectedRow(**r) for r in data.get("rejected", [])]
        return cls(**data)


@dataclass
class Part:
    """One Parquet file of a case, as the manifest lists it.

    Attributes:
        path: relative to the case folder, with ``/`` (``events/in-001.parquet``).
        kind: ``events`` (``schema.EVENT_SCHEMA``) or ``duplicates``
            (``schema.DUPLICATE_SCHEMA``).
        input_id: the input whose rows it holds.
        rows: its number of rows.
        sha256: of the file's bytes.
    """

    path: str
    kind: str
    input_id: str
    rows: int
    sha256: str

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Manifest:
    """A case's ``manifest.json``, validated (``read_manifest``)."""

    case_format: int
    inputs: list[InputRecord]
    rejected_inputs: list[InputRecord]
    parts: list[Part]  # for a format-1 case, the parts its inputs imply (without sha256)
    warnings: list[str]
    tool_version: str | None = None


def read_manifest(folder: Path) -> Manifest:
    """Read and validate ``folder/manifest.json``.

    Raises:
        CaseError: ``CASE/manifest.json: ...`` naming what is wrong and the fix (the first
            problem; ``manifest_problems`` lists them all).
    """
    manifest, problems = load_manifest(folder)
    if manifest is None or problems:
        first = problems[0]
        if len(problems) > 1:
            first += f" (and {len(problems) - 1} more problem(s): msgtrace verify lists them)"
        # a problem that carries its own fix ends with a full stop
        raise CaseError(first if first.endswith(".") else f"{first}. {DAMAGED_MANIFEST_FIX}")
    return manifest


def load_manifest(folder: Path) -> tuple[Manifest | None, list[str]]:
    """The manifest of ``folder`` and every problem of its shape (each naming the file).

    The manifest is None when a problem prevents reading it at all (not a file, not UTF-8,
    not JSON, not an object, an unknown case format, or a wrong shape).
    """
    where = folder / MANIFEST
    try:
        raw = where.read_bytes()
    except FileNotFoundError:
        return None, [f"{where}: is missing: {folder} is not a msgtrace case folder"]
    except OSError as error:
        return None, [f"{where}: cannot be read ({error.strerror or error})"]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, [
            f"{where}: is not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start})"
        ]
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        return None, [
            f"{where}: is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg})"
        ]
    if not isinstance(data, dict):
        return None, [f"{where}: holds a JSON {_json_kind(data)}, not the object of a manifest"]
    version = data.get("case_format")
    if "case_format" not in data:
        return None, [f"{where}: has no case_format: it is not the manifest of a case"]
    if version not in READABLE_CASE_FORMATS or isinstance(version, bool):
        return None, [
            f"{where}: case format {version!r} is not supported by msgtrace {__version__} "
            f"(it reads case formats {', '.join(map(str, READABLE_CASE_FORMATS))}; this case "
            f"was written by msgtrace {data.get('tool_version', 'unknown')!s}). Open it with "
            "that version, or ingest the original exports into a new case."
        ]
    problems = _shape_problems(where, data, version)
    if problems:
        return None, problems
    inputs = [InputRecord.from_json(item) for item in data["inputs"]]
    rejected = [InputRecord.from_json(item) for item in data.get("rejected_inputs", [])]
    if version == 1:
        parts = _implied_parts(folder, inputs)
    else:
        parts = [Part(**item) for item in data["parts"]]
    return (
        Manifest(
            version,
            inputs,
            rejected,
            parts,
            list(data.get("warnings", [])),
            data.get("tool_version"),
        ),
        [],
    )


def _json_kind(value: object) -> str:
    names = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


#: Top-level keys of a manifest and their types; the ones in REQUIRED must be present.
TOP_LEVEL: dict[str, Any] = {
    "tool": str,
    "tool_version": str,
    "case_format": int,
    "inputs": list[InputRecord],
    "rejected_inputs": list[InputRecord],
    "parts": list[Part],
    "warnings": list[str],
}
REQUIRED = {1: ("case_format", "inputs"), 2: ("case_format", "inputs", "parts")}
SHA256 = re.compile(r"^[0-9a-f]{64}$")
PART_PATH = re.compile(r"^(events|duplicates)/([A-Za-z0-9_.=-]+/)*[A-Za-z0-9_.=-]+\.parquet$")


def _shape_problems(where: Path, data: dict[str, Any], version: int) -> list[str]:
    """Every key of the wrong type, missing or unknown, as ``where: key ...`` lines."""
    problems: list[str] = []
    for key in REQUIRED[version]:
        if key not in data:
            problems.append(f"{where}: has no {key}")
    for key, value in data.items():
        hint = TOP_LEVEL.get(key)
        if hint is None or (key == "parts" and version == 1):
            problems.append(f"{where}: has an unknown key {key!r}")
            continue
        _check(value, hint, key, where, problems)
    parts = data.get("parts") if version == 2 else None
    for index, part in enumerate(parts if isinstance(parts, list) else []):
        if not isinstance(part, dict):
            continue
        at = f"{where}: parts[{index}]"
        path, kind = part.get("path"), part.get("kind")
        if isinstance(path, str) and (not PART_PATH.match(path) or ".." in path.split("/")):
            problems.append(
                f"{at}.path {path!r} is not a Parquet file inside events/ or duplicates/"
            )
        elif isinstance(path, str) and isinstance(kind, str) and not path.startswith(kind + "/"):
            problems.append(f"{at}.path {path!r} is not in the folder of its kind {kind!r}")
        if isinstance(kind, str) and kind not in PART_KINDS:
            problems.append(f"{at}.kind is {kind!r}, expected 'events' or 'duplicates'")
        sha = part.get("sha256")
        if isinstance(sha, str) and not SHA256.match(sha):
            problems.append(f"{at}.sha256 {sha!r} is not a sha256 (64 lower-case hex digits)")
    for list_key in ("inputs", "rejected_inputs", "parts"):
        items = data.get(list_key)
        for index, item in enumerate(items if isinstance(items, list) else []):
            for count in ("rows", "size", "rows_read", "rows_ingested", "rows_duplicate"):
                value = item.get(count) if isinstance(item, dict) else None
                if isinstance(value, int) and not isinstance(value, bool) and value < 0:
                    problems.append(f"{where}: {list_key}[{index}].{count} is negative ({value})")
    return problems


def _describe(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(hint))
    if origin is list:
        return "a list"
    if dataclasses.is_dataclass(hint):
        return "an object"
    return {str: "a string", int: "a whole number", bool: "true or false"}.get(
        hint, "null" if hint is type(None) else str(hint)
    )


def _check(value: Any, hint: Any, at: str, where: Path, problems: list[str]) -> None:
    """Append a problem for each place ``value`` does not have the type ``hint``."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return
        hint = next(a for a in options if a is not type(None))
        origin = typing.get_origin(hint)
    wrong = f"{where}: {at} is {json.dumps(value, ensure_ascii=False)[:60]}, expected "
    if origin is list:
        if not isinstance(value, list):
            problems.append(wrong + "a list")
            return
        (item_hint,) = typing.get_args(hint)
        for index, item in enumerate(value):
            _check(item, item_hint, f"{at}[{index}]", where, problems)
        return
    if dataclasses.is_dataclass(hint):
        if not isinstance(value, dict):
            problems.append(wrong + "an object")
            return
        hints = typing.get_type_hints(hint)
        for item in dataclasses.fields(hint):
            required = (
                item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
            )
            if item.name not in value:
                if required:
                    problems.append(f"{where}: {at} has no {item.name}")
                continue
            _check(value[item.name], hints[item.name], f"{at}.{item.name}", where, problems)
        for key in value:
            if key not in hints:
                problems.append(f"{where}: {at} has an unknown key {key!r}")
        return
    ok = (
        isinstance(value, bool)
        if hint is bool
        else isinstance(value, int) and not isinstance(value, bool)
        if hint is int
        else isinstance(value, hint)
    )
    if not ok:
        problems.append(wrong + _describe(hint))


def _implied_parts(folder: Path, inputs: list[InputRecord]) -> list[Part]:
    """The parts of a format-1 case: its manifest did not list them (nor their sha256).

    An events part belongs to an input that ingested rows; one where the input ingested none
    is the orphan of an interrupted ingest (format 1 wrote parts before the manifest) and is
    not read. A duplicates part cannot be told from an orphan: it is read if present.
    """
    parts = []
    for record in inputs:
        events = folder / "events" / f"{record.input_id}.parquet"
        if record.rows_ingested:
            rows = _rows_or_zero(events)
            parts.append(Part(f"events/{events.name}", "events", record.input_id, rows, ""))
        duplicates = folder / "duplicates" / f"{record.input_id}.parquet"
        if duplicates.exists():
            rows = _rows_or_zero(duplicates)
            parts.append(
                Part(f"duplicates/{duplicates.name}", "duplicates", record.input_id, rows, "")
            )
    return parts


def _rows_or_zero(path: Path) -> int:
    try:
        return int(pq.read_metadata(path).num_rows)
    except (OSError, pa.ArrowException):
        return 0
