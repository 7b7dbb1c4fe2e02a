"""A case: the canonical events of a set of inputs, on disk (Parquet + manifest) or in memory.

Layout of a case folder (case format 2)::

    manifest.json                  tool version, options, one record per input (sha256, format,
                                   encoding, row accounting, rejected rows with reasons), the
                                   list of parts (path, kind, input, rows, sha256) and the
                                   warnings that concern the whole case
    events/<input_id>.parquet      the unique events first seen in that input
    duplicates/<input_id>.parquet  rows of that input merged into an event already in the case
    case.lock                      the writers' lock (the pid of the ingest running now, if any)
    verification.json              when ``msgtrace verify`` last ran, and what it found
    interrupted/<time>/...         unfinished files of an interrupted ingest, kept for inspection

Commit protocol: a part is written under a temporary name (``*.partial``), fsynced and renamed
into place; then the manifest, which lists every part with its row count and sha256, is
replaced atomically (``analyzer.store``). The manifest is committed after each input, so a
killed ingest loses at most the input it was reading. Only the parts the manifest lists are
ever read: a part that is not listed is a leftover of an interrupted ingest. A reader says so
in ``Case.warnings``; the next writer (which holds ``case.lock``) moves the leftovers to
``interrupted/<time>/`` and records that in the manifest's warnings.

Every later command accepts a case folder or raw export files/folders (ingested in memory).
This module is the store: the records of the manifest and their validation
(``read_manifest``), reading a case (``open_case``), and writing one (``open_for_writing``,
``EventSink`` for an input's parts, ``write_manifest``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analyzer import __version__, schema
from analyzer.errors import CaseError
from analyzer.manifest import (
    CASE_FORMAT_VERSION,
    MANIFEST,
    MAX_LISTED_REJECTIONS,
    PART_KINDS,
    InputRecord,
    Manifest,
    Part,
    RejectedRow,
    load_manifest,
    read_manifest,
)
from analyzer.store import (
    PARTIAL_SUFFIX,
    atomic_output,
    crash_point,
    fsync_file,
    lock_holder,
    replace_durably,
)

INTERRUPTED = "interrupted"
#: Leftovers named in one warning (all are moved).
MAX_NAMED_LEFTOVERS = 10

# the manifest's records are imported from here by every later stage
__all__ = [
    "CASE_FORMAT_VERSION",
    "MANIFEST",
    "MAX_LISTED_REJECTIONS",
    "Case",
    "EventSink",
    "InputRecord",
    "Part",
    "RejectedRow",
    "is_case_folder",
    "open_case",
    "open_for_writing",
    "read_manifest",
]


@dataclass
class Case:
    """Canonical events with their provenance.

    Attributes:
        events: the unique canonical events (``analyzer.schema.EVENT_SCHEMA``).
        duplicates: rows merged into an existing event (``schema.DUPLICATE_SCHEMA``): the
            event's key, where the duplicate stood and its extras, so both provenances are
            kept and nothing of the duplicate row is lost.
        inputs: one record per input file, in ingest order.
        warnings: warnings that concern the whole case (not one input): an interrupted ingest
            whose leftovers were found, a case of an older format.
        path: the case folder, or None for a case built in memory from raw files.
        rejected_inputs: files that could not be read at all, each with its error.
        parts: the Parquet files of a case folder, as its manifest lists them.
    """

    events: pa.Table
    duplicates: pa.Table
    inputs: list[InputRecord]
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None
    rejected_inputs: list[InputRecord] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)

    def input_paths(self) -> dict[str, str]:
        """Map input_id to the input file's path as the user gave it."""
        return {record.input_id: record.path for record in self.inputs}

    @classmethod
    def empty(cls) -> Case:
        return cls(schema.empty_events(), schema.DUPLICATE_SCHEMA.empty_table(), [])


def is_case_folder(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


# ----------------------------------------------------------------------------- the manifest


def manifest_text(case: Case) -> str:
    """The manifest of ``case`` as written (stable key order: same case, same bytes)."""
    manifest = {
        "tool": "msgtrace",
        "tool_version": __version__,
        "case_format": CASE_FORMAT_VERSION,
        "inputs": [record.to_json() for record in case.inputs],
        "rejected_inputs": [record.to_json() for record in case.rejected_inputs],
        "parts": [part.to_json() for part in case.parts],
        "warnings": list(case.warnings),
    }
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def write_manifest(folder: Path, case: Case) -> None:
    """Commit ``case``: replace its manifest atomically (the caller holds the case lock).

    Nothing is written when the manifest already says exactly this.
    """
    data = manifest_text(case).encode("utf-8")
    try:
        if (folder / MANIFEST).read_bytes() == data:
            return
    except OSError:
        pass
    last = case.inputs[-1].input_id if case.inputs else "-"
    with atomic_output(folder / MANIFEST) as handle:
        handle.write(data)
        handle.flush()
        crash_point(f"manifest-written:{last}")


# ----------------------------------------------------------------------------- leftovers


def find_leftovers(folder: Path, parts: Iterable[Part]) -> list[str]:
    """Files of an interrupted ingest: under events/ and duplicates/ but not listed in the
    manifest, and unfinished manifests (relative paths with ``/``, sorted)."""
    listed = {part.path for part in parts}
    found = []
    for kind in PART_KINDS:
        base = folder / kind
        if base.is_dir():
            for path in base.rglob("*"):
                relative = path.relative_to(folder).as_posix()
                if path.is_file() and relative not in listed:
                    found.append(relative)
    found += [p.name for p in folder.glob(f"{MANIFEST}.*{PARTIAL_SUFFIX}") if p.is_file()]
    return sorted(found)


def _named(paths: list[str]) -> str:
    named = ", ".join(paths[:MAX_NAMED_LEFTOVERS])
    more = len(paths) - MAX_NAMED_LEFTOVERS
    return named + (f" and {more} more" if more > 0 else "")


def quarantine(folder: Path, leftovers: list[str]) -> str:
    """Move leftovers to ``interrupted/<UTC time>/`` (kept: an investigator may want them);
    return the warning that says so. The caller holds the case lock."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / INTERRUPTED / stamp
    suffix = 1
    while target.exists():
        suffix += 1
        target = folder / INTERRUPTED / f"{stamp}-{suffix}"
    for relative in leftovers:
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        (folder / relative).replace(destination)
    return (
        "an earlier ingest into this case was interrupted (killed, or the disk was full) "
        f"before it finished: its unfinished files were never part of the case and were moved "
        f"to {target.relative_to(folder).as_posix()}/ for inspection: {_named(leftovers)}. "
        "Give that ingest's inputs again to ingest them."
    )


def _reader_leftover_warning(folder: Path, parts: list[Part]) -> str | None:
    """The warning of a reader that finds leftovers (None when there are none, or when an
    ingest running now is writing them). Readers never move anything."""
    found = find_leftovers(folder, parts)
    if not found or lock_holder(folder) is not None:
        return None
    # a manifest committed since this one was read lists its parts: they are no leftovers
    manifest, _ = load_manifest(folder)
    if manifest is not None:
        still = set(find_leftovers(folder, manifest.parts))
        found = [name for name in found if name in still]
    if not found:
        return None
    return (
        f"{folder}: files of an interrupted ingest are not part of the case and were not read: "
        f"{_named(found)}. The next msgtrace ingest into this case moves them to "
        f"{INTERRUPTED}/ (give that ingest's inputs again to ingest them)."
    )


# ----------------------------------------------------------------------------- reading


def _format_1_warning(folder: Path, manifest: Manifest) -> str:
    return (
        f"{folder / MANIFEST}: case format 1 (written by msgtrace "
        f"{manifest.tool_version or 'unknown'}): its parts carry no sha256 and its event keys "
        "are the older 64-bit ones, so it is read as it is but cannot be verified or added to. "
        "Ingest the original exports into a new case for a verifiable one."
    )


def _checked_part(folder: Path, part: Part, record: InputRecord | None) -> Path:
    """The path of a listed part, after the cheap checks (exists, schema, row count).

    Raises:
        CaseError: naming the part, what is wrong, and that the case must be re-ingested.
    """
    path = folder / part.path
    source = record.path if record else f"input {part.input_id}"
    if not path.is_file():
        what = "rows ingested" if part.kind == "events" else "duplicate rows"
        rows = (record.rows_ingested if part.kind == "events" else part.rows) if record else 0
        raise CaseError(
            f"{folder}: {part.path} is missing: the {rows:,} {what} from {source} are gone. "
            "Ingest the inputs into a new case."
        )
    expected = part_schema(part.kind, 2 if part.sha256 else 1)
    try:
        metadata = pq.read_metadata(path)
        found = metadata.schema.to_arrow_schema()
    except (pa.ArrowException, OSError) as error:
        raise CaseError(
            f"{path}: the case files of {source} are damaged ({error}). Ingest the inputs "
            "into a new case."
        ) from None
    if not found.equals(expected, check_metadata=False):
        raise CaseError(
            f"{path}: the case files of {source} are damaged (the part does not have the "
            f"schema of {part.kind}). Ingest the inputs into a new case."
        )
    if metadata.num_rows != part.rows:
        raise CaseError(
            f"{path}: the case files of {source} are damaged (it holds {metadata.num_rows:,} "
            f"rows, the manifest records {part.rows:,}). Ingest the inputs into a new case."
        )
    return path


def _read_parts(
    folder: Path, manifest: Manifest, columns: list[str] | None
) -> tuple[list[pa.Table], list[pa.Table]]:
    records = {record.input_id: record for record in manifest.inputs}
    events, duplicates = [], []
    for part in manifest.parts:
        record = records.get(part.input_id)
        path = _checked_part(folder, part, record)
        try:
            if part.kind == "events":
                events.append(pq.read_table(path, columns=columns))
            else:
                duplicates.append(_duplicates_of(pq.read_table(path)))
        except (pa.ArrowException, OSError) as error:
            source = record.path if record else part.input_id
            raise CaseError(
                f"{path}: the case files of {source} are damaged ({error}). Ingest the "
                "inputs into a new case."
            ) from None
    return events, duplicates


#: Duplicates parts of case format 1: no extras.
DUPLICATE_SCHEMA_1 = pa.schema([f for f in schema.DUPLICATE_SCHEMA if f.name != "extras"])


def part_schema(kind: str, case_format: int = CASE_FORMAT_VERSION) -> pa.Schema:
    """The schema a part of ``kind`` has in a case of ``case_format``."""
    if kind == "events":
        return schema.EVENT_SCHEMA
    return schema.DUPLICATE_SCHEMA if case_format >= 2 else DUPLICATE_SCHEMA_1


def _duplicates_of(table: pa.Table) -> pa.Table:
    """A duplicates part in ``schema.DUPLICATE_SCHEMA`` (format 1 kept no extras: null)."""
    if "extras" not in table.column_names:
        table = table.append_column("extras", pa.nulls(table.num_rows, schema.STRING_MAP))
    return table.select(schema.DUPLICATE_SCHEMA.names).cast(schema.DUPLICATE_SCHEMA)


def open_case(folder: str | Path, columns: list[str] | None = None) -> Case:
    """Load a case folder written by ``ingest_into_case`` (only ``columns``, if given).

    Only the parts the manifest lists are read, each checked for its schema and row count
    (``msgtrace verify`` also checks their sha256). Leftovers of an interrupted ingest are
    named in ``Case.warnings`` and left in place. A case of format 1 is read with a warning.

    Raises:
        CaseError: the manifest is damaged or of an unknown format, or a part is missing or
            damaged (naming the file and the fix).
    """
    folder = Path(folder)
    manifest = read_manifest(folder)
    warnings = list(manifest.warnings)
    wanted = columns
    if manifest.case_format == 1:
        warnings.append(_format_1_warning(folder, manifest))
        columns = None  # the keys are computed again, from every column
    events, duplicates = _read_parts(folder, manifest, columns)
    leftovers = _reader_leftover_warning(folder, manifest.parts)
    if leftovers:
        warnings.append(leftovers)
    case = Case(
        events=pa.concat_tables(events)
        if events
        else schema.empty_events().select(columns or schema.COLUMN_NAMES),
        duplicates=pa.concat_tables(duplicates)
        if duplicates
        else schema.DUPLICATE_SCHEMA.empty_table(),
        inputs=manifest.inputs,
        warnings=warnings,
        path=folder,
        rejected_inputs=manifest.rejected_inputs,
        parts=manifest.parts,
    )
    if manifest.case_format == 1:
        _rekey_format_1(case)
        if wanted is not None:
            case.events = case.events.select(wanted)
    return case


def _rekey_format_1(case: Case) -> None:
    """Give a format-1 case today's event keys, so it merges with raw files read with it."""
    from analyzer.normalize import event_keys

    if case.events.num_rows == 0:
        return
    old = case.events.column("event_key")
    new = event_keys(case.events)
    position = case.events.schema.get_field_index("event_key")
    case.events = case.events.set_column(position, "event_key", new)
    if case.duplicates.num_rows:
        where = pc.index_in(case.duplicates.column("event_key"), value_set=old)
        remapped = pc.coalesce(new.take(where), case.duplicates.column("event_key"))
        position = case.duplicates.schema.get_field_index("event_key")
        case.duplicates = case.duplicates.set_column(position, "event_key", remapped)


def open_for_writing(folder: Path) -> tuple[Case, list[str]]:
    """The case in ``folder`` for an ingest to add to (only the events' keys are loaded).

    The caller holds the case lock (``analyzer.store.CaseLock``). Leftovers of an interrupted
    ingest are moved to ``interrupted/<time>/`` and a warning saying so is added to the case's
    warnings (the next commit records it in the manifest). A folder without a manifest (a
    new case, or one whose first ingest was interrupted) gives an empty case.

    Returns:
        The case, and the warnings added to it (about leftovers found now).

    Raises:
        CaseError: the manifest is damaged, of an unknown format or of format 1, or a part is
            missing or damaged.
    """
    if is_case_folder(folder):
        manifest = read_manifest(folder)
        if manifest.case_format != CASE_FORMAT_VERSION:
            raise CaseError(
                f"{_format_1_warning(folder, manifest)} msgtrace {__version__} adds only to "
                f"cases of format {CASE_FORMAT_VERSION}: ingest this case's original exports "
                "and the new ones into a new case."
            )
        case = open_case(folder, columns=["event_key"])
        case.warnings = list(manifest.warnings)  # the reader's leftover warning is redone here
    else:
        case = Case.empty()
        case.path = folder
    found = []
    leftovers = find_leftovers(folder, case.parts)
    if leftovers:
        found.append(quarantine(folder, leftovers))
        case.warnings.extend(found)
    return case, found


# ----------------------------------------------------------------------------- writing


def _write_row_group(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    table = pa.concat_tables(tables).combine_chunks()
    writer.write_table(table, row_group_size=len(table))


def sha256_file(path: Path) -> str:
    """sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


class EventSink:
    """Where an input's events go: Parquet parts of a case, tables in memory, or nowhere.

    Parquet writing (compression, without the GIL) runs on a worker thread, one row group of
    ``ROW_GROUP`` rows at a time, so it overlaps the normalization of the next batches. Parts
    are written as ``*.partial`` and renamed into place by ``commit``, which says what it
    committed (the caller lists it in the manifest).
    """

    ROW_GROUP = 131_072

    def __init__(self, folder: Path | None, input_id: str, keep: bool = True):
        """Args:
        folder: the case folder to write Parquet into; None keeps the tables in memory.
        keep: False drops the events once counted (``inspect`` needs no events, and a
            2 GB export must not fill memory for it).
        """
        self.folder = folder
        self.input_id = input_id
        self.keep = keep
        self.events: list[pa.Table] = []
        self.duplicates: list[pa.Table] = []
        self._writers: dict[str, pq.ParquetWriter] = {}
        self._rows: dict[str, int] = {kind: 0 for kind in PART_KINDS}
        self._pending: dict[str, list[pa.Table]] = {kind: [] for kind in PART_KINDS}
        self._worker = ThreadPoolExecutor(max_workers=1) if folder else None
        self._last_write: Future | None = None
        self._last_kind = "events"

    def _final(self, kind: str) -> Path:
        assert self.folder is not None
        return self.folder / kind / f"{self.input_id}.parquet"

    def _path(self, kind: str) -> Path:
        final = self._final(kind)
        return final.with_name(final.name + PARTIAL_SUFFIX)

    def write(self, kind: str, table: pa.Table) -> None:
        if table.num_rows == 0 or not self.keep:
            return
        if self.folder is None:
            (self.events if kind == "events" else self.duplicates).append(table)
            return
        pending = self._pending[kind]
        pending.append(table)
        if sum(t.num_rows for t in pending) >= self.ROW_GROUP:
            self._flush(kind)

    def _cannot_write(self, kind: str, error: BaseException) -> CaseError:
        detail = getattr(error, "strerror", None) or error
        return CaseError(
            f"{self._final(kind)}: cannot write the case ({detail}). Free some space (or raise "
            "the file size limit) and run the ingest again: the inputs committed before this "
            "one are kept."
        )

    def _wait_for_write(self) -> None:
        """Wait for the row group being written; its failure is the case's, not the input's."""
        if self._last_write is not None:
            last, self._last_write = self._last_write, None
            try:
                last.result()
            except (OSError, pa.ArrowException) as error:
                raise self._cannot_write(self._last_kind, error) from None

    def _flush(self, kind: str) -> None:
        pending = self._pending[kind]
        if not pending:
            return
        tables = list(pending)
        pending.clear()
        self._rows[kind] += sum(t.num_rows for t in tables)
        table = tables[0]  # for the schema; the worker joins them into one row group
        writer = self._writers.get(kind)
        if writer is None:
            path = self._path(kind)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(
                    path,
                    table.schema,
                    compression="zstd",
                    compression_level=1,
                    # columns with a value per row gain nothing from a dictionary
                    use_dictionary=[
                        c
                        for c in table.column_names
                        if c not in ("event_key", "event_time", "line")
                    ],
                )
            except (OSError, pa.ArrowException) as error:
                raise self._cannot_write(kind, error) from None
            self._writers[kind] = writer
        self._wait_for_write()  # at most one row group waits: memory stays bounded
        assert self._worker is not None
        self._last_write = self._worker.submit(_write_row_group, writer, tables)
        self._last_kind = kind

    def discard(self) -> None:
        """Forget everything written so far (the file is being read again)."""
        if self._last_write is not None:
            self._last_write.result()
            self._last_write = None
        for kind, writer in self._writers.items():
            writer.close()
            self._path(kind).unlink()
        self._writers.clear()
        for kind, pending in self._pending.items():
            pending.clear()
            self._rows[kind] = 0
        self.events.clear()
        self.duplicates.clear()

    def commit(self, keep: bool) -> list[Part]:
        """Finish the parts and rename them into place, or, when ``keep`` is false (or when
        writing fails), remove them.

        Returns:
            The parts committed, for the manifest (none in memory, or when not kept).

        Raises:
            CaseError: a part cannot be written (no space left, a file size limit).
        """
        parts: list[Part] = []
        done: list[tuple[str, Path]] = []
        try:
            if keep:
                for kind in PART_KINDS:
                    self._flush(kind)
            self._wait_for_write()
            for kind in [k for k in PART_KINDS if k in self._writers]:  # events first
                writer = self._writers.pop(kind)
                try:
                    writer.close()  # writes the footer: it can fail on a full disk too
                    if keep:
                        fsync_file(self._path(kind))
                except (OSError, pa.ArrowException) as error:
                    raise self._cannot_write(kind, error) from None
                done.append((kind, self._path(kind)))
            for kind, partial in done:
                if not keep:
                    partial.unlink()
                    continue
                final = self._final(kind)
                if final.exists():
                    raise CaseError(
                        f"{final}: exists already although the manifest does not list it: "
                        "something other than msgtrace changed the case folder. Ingest the "
                        "inputs into a new case."
                    )
                digest = sha256_file(partial)
                crash_point(f"part-written:{self.input_id}")
                replace_durably(partial, final)
                assert self.folder is not None
                relative = final.relative_to(self.folder).as_posix()
                parts.append(Part(relative, kind, self.input_id, self._rows[kind], digest))
            if parts:
                crash_point(f"part-committed:{self.input_id}")
            return parts
        except BaseException:
            self.abandon()
            for committed in parts:  # renamed, but never listed: not part of the case
                self._final(committed.kind).unlink(missing_ok=True)
            raise
        finally:
            if self._worker:
                self._worker.shutdown()

    def abandon(self) -> None:
        """Close and remove every unfinished part (after a failure; nothing is committed)."""
        if self._last_write is not None:
            self._last_write.cancel()
            # the failure being handled is the caller's: this one adds nothing
            with contextlib.suppress(BaseException):
                self._last_write.result()
            self._last_write = None
        for writer in self._writers.values():
            with contextlib.suppress(OSError, pa.ArrowException):
                writer.close()
        self._writers.clear()
        if self.folder is not None:
            for kind in PART_KINDS:
                self._path(kind).unlink(missing_ok=True)
        if self._worker:
            self._worker.shutdown()
