"""``msgtrace verify``: check that a case folder holds exactly what its manifest says.

What is checked, each problem one line naming the file it concerns:

- the manifest: UTF-8 JSON of the right shape and a known case format; input ids unique; per
  input, ``rows_read = rows_ingested + rows_duplicate + rows_rejected``;
- every part the manifest lists: it exists, has the recorded sha256, the canonical schema of
  its kind and the recorded row count, and holds rows of its own input only;
- per input, its events and duplicates in the parts agree with its counts (rows with an event
  of their own, rows that are duplicates only), no event key is stored twice, and every
  duplicate points to an event of the case;
- no file is left over from an interrupted ingest (the ones already moved to
  ``interrupted/`` are mentioned as notes);
- with the original files (``inputs``), each is hashed again: which recorded input is missing
  or changed, and which given file is not in the case.

The result is recorded in ``CASE/verification.json`` (written atomically), so the report can
say when the case was last verified and what was found (``last_verification``).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analyzer import __version__, formats
from analyzer.case import INTERRUPTED, Case, find_leftovers, part_schema, sha256_file
from analyzer.errors import CaseError
from analyzer.manifest import MANIFEST, MAX_LISTED_REJECTIONS, Manifest, Part, load_manifest
from analyzer.store import atomic_write_text, lock_holder
from analyzer.timestamps import iso_utc

VERIFICATION = "verification.json"
#: Problems recorded in verification.json (all are counted).
MAX_RECORDED_PROBLEMS = 200


@dataclass(frozen=True)
class Problem:
    """One thing that does not hold: the file it concerns and what is wrong (with the fix)."""

    file: str
    text: str

    def line(self) -> str:
        return f"{self.file}: {self.text}"


@dataclass
class VerifyResult:
    """What ``verify_case`` found.

    Attributes:
        case_dir: the case folder.
        verified_at: when (ISO 8601 UTC).
        problems: every problem, in the order checked; none means everything holds.
        notes: facts worth knowing that are no problem (interrupted ingests already moved
            aside, an ingest running now).
        checked: what was checked: inputs, parts, events, duplicates, original files.
        record_error: why verification.json could not be written (None when it was).
    """

    case_dir: Path
    verified_at: str
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)
    record_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "case": str(self.case_dir),
            "verified_at": self.verified_at,
            "ok": self.ok,
            "problems": [{"file": p.file, "problem": p.text} for p in self.problems],
            "notes": self.notes,
            "checked": self.checked,
        }


def verify_case(
    case_dir: str | Path,
    inputs: Sequence[str | Path] | None = None,
    record: bool = True,
) -> VerifyResult:
    """Check a case folder against its manifest (and, given ``inputs``, the original files).

    Args:
        case_dir: the case folder.
        inputs: the original export files and folders, to hash again; None skips that check.
        record: write the result to ``CASE/verification.json``.

    Raises:
        CaseError: ``case_dir`` is not a case folder at all (it has no manifest).
    """
    folder = Path(case_dir)
    if not (folder / MANIFEST).is_file():
        raise CaseError(f"{folder}: is not a msgtrace case folder (it has no {MANIFEST}).")
    result = VerifyResult(folder, iso_utc(datetime.now(UTC)) or "")
    manifest_bytes = (folder / MANIFEST).read_bytes()
    manifest, shape = load_manifest(folder)
    where = str(folder / MANIFEST)
    for line in shape:
        result.problems.append(Problem(where, line.removeprefix(where + ": ")))
    if manifest is not None:
        _check_case(folder, manifest, result)
        if inputs is not None:
            _check_originals(manifest, inputs, result)
    if record:
        _record(folder, result, hashlib.sha256(manifest_bytes).hexdigest())
    return result


def _check_case(folder: Path, manifest: Manifest, result: VerifyResult) -> None:
    where = str(folder / MANIFEST)
    problems = result.problems
    if manifest.case_format == 1:
        problems.append(
            Problem(
                where,
                "case format 1: its parts have no recorded sha256, so they cannot be verified. "
                "Ingest the original exports into a new case for a verifiable one.",
            )
        )
    _check_inputs(where, manifest, problems)
    seen = _check_parts(folder, manifest, problems)
    _check_counts(folder, manifest, seen, problems)
    writer = lock_holder(folder)
    if writer is not None:
        result.notes.append(
            f"an ingest is writing this case now (pid {writer}): what it has committed so far "
            "was verified, and its unfinished files were left alone."
        )
    else:
        for leftover in find_leftovers(folder, manifest.parts):
            problems.append(
                Problem(
                    str(folder / leftover),
                    "is not listed in the manifest: a leftover of an interrupted ingest, never "
                    f"part of the case. The next msgtrace ingest into this case moves it to "
                    f"{INTERRUPTED}/; give that ingest's inputs again to ingest them.",
                )
            )
    for moved in sorted(p for p in (folder / INTERRUPTED).glob("*") if p.is_dir()):
        count = sum(1 for p in moved.rglob("*") if p.is_file())
        result.notes.append(
            f"{moved}/: {count} file(s) of an ingest that was interrupted, moved aside (never "
            "part of the case) and kept for inspection."
        )
    result.checked.update(
        inputs=len(manifest.inputs),
        parts=len(manifest.parts),
        events=sum(p.rows for p in manifest.parts if p.kind == "events"),
        duplicates=sum(p.rows for p in manifest.parts if p.kind == "duplicates"),
    )


def _check_inputs(where: str, manifest: Manifest, problems: list[Problem]) -> None:
    ids = Counter(record.input_id for record in manifest.inputs)
    for input_id, count in sorted(ids.items()):
        if count > 1:
            paths = ", ".join(r.path for r in manifest.inputs if r.input_id == input_id)
            problems.append(
                Problem(where, f"input id {input_id} is given to {count} inputs ({paths})")
            )
    for index, record in enumerate(manifest.inputs):
        at = f"inputs[{index}] ({record.path})"
        total = record.rows_ingested + record.rows_duplicate + record.rows_rejected
        if record.rows_read != total:
            problems.append(
                Problem(
                    where,
                    f"{at}: rows_read {record.rows_read:,} is not rows_ingested + "
                    f"rows_duplicate + rows_rejected ({record.rows_ingested:,} + "
                    f"{record.rows_duplicate:,} + {record.rows_rejected:,} = {total:,})",
                )
            )
        listed = len(record.rejected)
        if listed != min(record.rows_rejected, MAX_LISTED_REJECTIONS):
            problems.append(
                Problem(
                    where,
                    f"{at}: lists {listed:,} rejected row(s) but counts {record.rows_rejected:,}",
                )
            )
        if record.status != "ingested" or record.error is not None:
            problems.append(
                Problem(where, f"{at}: has status {record.status!r} among the ingested inputs")
            )
        # a file mixing Defender streaming tables records each, comma-separated
        named = [name.strip() for name in (record.format or "").split(",")]
        if not all(name in formats.BY_NAME for name in named):
            problems.append(Problem(where, f"{at}: has an unknown format {record.format!r}"))


@dataclass
class _Seen:
    """What the parts hold, per input: rows with events, duplicate rows, and all keys."""

    event_lines: dict[str, set[int]] = field(default_factory=dict)
    event_rows: Counter[str] = field(default_factory=Counter)
    duplicate_lines: dict[str, set[int]] = field(default_factory=dict)
    duplicate_rows: Counter[str] = field(default_factory=Counter)
    event_keys: list[pa.Array] = field(default_factory=list)
    duplicate_keys: list[tuple[Part, pa.Array, pa.Array]] = field(default_factory=list)


def _check_parts(folder: Path, manifest: Manifest, problems: list[Problem]) -> _Seen:
    where = str(folder / MANIFEST)
    known = {record.input_id for record in manifest.inputs}
    seen = _Seen()
    for path, count in sorted(Counter(p.path for p in manifest.parts).items()):
        if count > 1:
            problems.append(Problem(where, f"lists the part {path} {count} times"))
    for part in manifest.parts:
        file = folder / part.path
        name = str(file)
        if part.input_id not in known:
            problems.append(
                Problem(name, f"belongs to input {part.input_id}, which the manifest does not list")
            )
        if not file.is_file():
            what = "events" if part.kind == "events" else "duplicate rows"
            problems.append(
                Problem(
                    name,
                    f"is missing: the {part.rows:,} {what} of input {part.input_id} are gone. "
                    "Ingest the original exports into a new case.",
                )
            )
            continue
        if part.sha256:
            digest = sha256_file(file)
            if digest != part.sha256:
                problems.append(
                    Problem(
                        name,
                        f"sha256 is {digest}, the manifest records {part.sha256}: the file was "
                        "changed after it was written. Ingest the original exports into a new "
                        "case.",
                    )
                )
        read = _read_part(file, problems)
        if read is None:
            continue
        found, table = read
        expected = part_schema(part.kind, manifest.case_format)
        if not found.equals(expected, check_metadata=False):
            difference = _schema_difference(found, expected)
            problems.append(
                Problem(name, f"does not have the schema of {part.kind} parts ({difference})")
            )
            continue
        if table.num_rows != part.rows:
            problems.append(
                Problem(
                    name,
                    f"holds {table.num_rows:,} rows, the manifest records {part.rows:,}",
                )
            )
        foreign = pc.sum(pc.not_equal(table.column("input_id"), part.input_id)).as_py() or 0
        foreign += table.column("input_id").null_count
        if foreign:
            problems.append(
                Problem(name, f"holds {foreign:,} row(s) of another input than {part.input_id}")
            )
        lines = set(pc.unique(table.column("line")).drop_null().to_pylist())
        if part.kind == "events":
            seen.event_lines.setdefault(part.input_id, set()).update(lines)
            seen.event_rows[part.input_id] += table.num_rows
            seen.event_keys.append(pc.drop_null(table.column("event_key")).combine_chunks())
        else:
            seen.duplicate_lines.setdefault(part.input_id, set()).update(lines)
            seen.duplicate_rows[part.input_id] += table.num_rows
            seen.duplicate_keys.append(
                (part, table.column("event_key").combine_chunks(), table.column("line"))
            )
    return seen


def _read_part(file: Path, problems: list[Problem]) -> tuple[pa.Schema, pa.Table] | None:
    """The schema of a part, and its rows' key, input and line (what the counts need)."""
    try:
        found = pq.read_schema(file)
        columns = [c for c in ("event_key", "input_id", "line") if c in found.names]
        return found, pq.read_table(file, columns=columns)
    except (pa.ArrowException, OSError) as error:
        problems.append(Problem(str(file), f"is not a readable Parquet file ({error})"))
        return None


def _schema_difference(found: pa.Schema, expected: pa.Schema) -> str:
    missing = [f.name for f in expected if f.name not in found.names]
    extra = [f.name for f in found if f.name not in expected.names]
    retyped = [
        f"{f.name} is {found.field(f.name).type}, expected {f.type}"
        for f in expected
        if f.name in found.names and found.field(f.name).type != f.type
    ]
    parts = []
    if missing:
        parts.append("missing " + ", ".join(missing))
    if extra:
        parts.append("unexpected " + ", ".join(extra))
    parts += retyped
    if not parts:
        parts.append("columns out of order")
    return "; ".join(parts)


def _check_counts(folder: Path, manifest: Manifest, seen: _Seen, problems: list[Problem]) -> None:
    where = str(folder / MANIFEST)
    for index, record in enumerate(manifest.inputs):
        spec = formats.BY_NAME.get(record.format or "")
        event_lines = seen.event_lines.get(record.input_id, set())
        duplicate_lines = seen.duplicate_lines.get(record.input_id, set())
        if spec is not None and spec.row_shape == "status":  # one event per row
            ingested = seen.event_rows[record.input_id]
            duplicate = seen.duplicate_rows[record.input_id]
        else:  # a row's events share its line; a row is a duplicate when all its events are
            ingested = len(event_lines)
            duplicate = len(duplicate_lines - event_lines)
        if (ingested, duplicate) != (record.rows_ingested, record.rows_duplicate):
            problems.append(
                Problem(
                    where,
                    f"inputs[{index}] ({record.path}): counts {record.rows_ingested:,} ingested "
                    f"and {record.rows_duplicate:,} duplicate rows, its parts hold "
                    f"{ingested:,} and {duplicate:,}",
                )
            )
    keys = pa.concat_arrays(seen.event_keys) if seen.event_keys else pa.array([], pa.string())
    counts = pc.value_counts(keys)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    if len(repeated):
        problems.append(
            Problem(
                where,
                f"{len(repeated):,} event key(s) are stored more than once in the events (first "
                f"{repeated.field('values')[0].as_py()}): an event was not merged",
            )
        )
    for part, dup_keys, lines in seen.duplicate_keys:
        dangling = ~np.asarray(pc.is_in(dup_keys, value_set=keys).to_numpy(zero_copy_only=False))
        if dangling.any():
            first = int(np.asarray(lines.to_numpy())[np.flatnonzero(dangling)[0]])
            problems.append(
                Problem(
                    str(folder / part.path),
                    f"{int(dangling.sum()):,} duplicate row(s) point to events that are not in the "
                    f"case (first: line {first} of input {part.input_id}): an events part is "
                    "missing or was changed",
                )
            )


# ----------------------------------------------------------------------------- the originals


def _check_originals(manifest: Manifest, given: Sequence[str | Path], result: VerifyResult) -> None:
    """Hash the original files again: each recorded input must be among them, unchanged."""
    from analyzer.files import digest_of  # only verify --inputs needs them
    from analyzer.ingest import discover

    found = discover(given)
    hashes: dict[Path, str] = {}
    for source in found.sources:
        # an archive's members are inputs of their own: their sha256 is the member's content
        if source.problem is not None:
            result.problems.append(Problem(source.path, source.problem))
            continue
        try:
            hashes[Path(source.path)] = digest_of(source)[0]
        except OSError as error:
            result.problems.append(
                Problem(source.path, f"cannot be read ({error.strerror or error})")
            )
    by_hash: dict[str, list[Path]] = {}
    for path, digest in hashes.items():
        by_hash.setdefault(digest, []).append(path)
    recorded = {r.sha256 for r in manifest.inputs} | {
        r.sha256 for r in manifest.rejected_inputs if r.sha256
    }
    matched = 0
    for record in manifest.inputs:
        if record.sha256 in by_hash:
            matched += 1
            continue
        same_name = [
            p for p in hashes if p.name == Path(record.path).name and hashes[p] not in recorded
        ]
        if same_name:
            for path in same_name:
                result.problems.append(
                    Problem(
                        str(path),
                        f"changed since it was ingested as {record.input_id}: its sha256 is "
                        f"{hashes[path]}, the case records {record.sha256}",
                    )
                )
        else:
            result.problems.append(
                Problem(
                    record.path,
                    f"input {record.input_id} (sha256 {record.sha256}) is missing: no given "
                    "file has its content",
                )
            )
    changed = {p.file for p in result.problems}
    for path, digest in sorted(hashes.items()):
        if digest not in recorded and str(path) not in changed:
            result.problems.append(
                Problem(str(path), "is not in the case (no input has its sha256)")
            )
    result.checked.update(original_files=len(hashes), original_files_matched=matched)


# ----------------------------------------------------------------------------- the record


def _record(folder: Path, result: VerifyResult, manifest_sha256: str) -> None:
    record = {
        "verified_at": result.verified_at,
        "tool_version": __version__,
        "ok": result.ok,
        "problem_count": len(result.problems),
        "problems": [p.line() for p in result.problems[:MAX_RECORDED_PROBLEMS]],
        "checked": result.checked,
        "manifest_sha256": manifest_sha256,
    }
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    try:
        atomic_write_text(folder / VERIFICATION, text)
    except OSError as error:
        result.record_error = (
            f"{folder / VERIFICATION}: the result could not be recorded "
            f"({error.strerror or error}); the case folder may be read-only"
        )


@dataclass(frozen=True)
class LastVerification:
    """When a case was last verified and what was found (for the report's evidence section).

    Attributes:
        verified_at: ISO 8601 UTC, or None when the record is unreadable.
        ok: everything held.
        problems: how many problems were found.
        originals_checked: the original files were hashed again too.
        current: the manifest is unchanged since (False: inputs were added or the manifest
            was edited after the verification).
        summary: the line to show: ``last verified 2026-11-18T09:00:00.0000000Z: OK``.
    """

    verified_at: str | None
    ok: bool
    problems: int
    originals_checked: bool
    current: bool
    summary: str


def last_verification(case: Case | str | Path) -> LastVerification | None:
    """What ``CASE/verification.json`` says, or None when the case was never verified (or is
    not a case folder: a case read from raw files in memory)."""
    folder = case.path if isinstance(case, Case) else Path(case)
    if folder is None or not (folder / VERIFICATION).is_file():
        return None
    try:
        record = json.loads((folder / VERIFICATION).read_text(encoding="utf-8"))
        verified_at = str(record["verified_at"])
        ok = record["ok"] is True
        problems = int(record["problem_count"])
        originals = "original_files" in record.get("checked", {})
        recorded_manifest = str(record["manifest_sha256"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return LastVerification(
            None, False, 0, False, False, f"{folder / VERIFICATION} is unreadable or damaged"
        )
    try:
        current = hashlib.sha256((folder / MANIFEST).read_bytes()).hexdigest() == recorded_manifest
    except OSError:
        current = False
    outcome = "OK" if ok else f"{problems} problem{'s' if problems != 1 else ''}"
    summary = f"last verified {verified_at}: {outcome}"
    if originals:
        summary += " (original files hashed again)"
    if not current:
        summary += "; the case changed since: run msgtrace verify again"
    return LastVerification(verified_at, ok, problems, originals, current, summary)
