"""A case: the canonical events of a set of inputs, on disk (Parquet + manifest) or in memory.

Layout of a case folder::

    manifest.json               tool version, options, and one record per input (sha256,
                                format, encoding, row accounting, rejected rows with reasons)
    events/<input_id>.parquet   the unique events first seen in that input
    duplicates/<input_id>.parquet  rows of that input merged into an event already in the case

Every later command accepts a case folder or raw export files/folders (ingested in memory).
This module is the store: the records of the manifest, reading a case (``open_case``), and
writing one (``EventSink`` for an input's events, ``write_manifest``).
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from analyzer import __version__, schema
from analyzer.errors import CaseError

MANIFEST = "manifest.json"
CASE_FORMAT_VERSION = 1
#: At most this many rejected rows are listed per input in the manifest (all are counted).
MAX_LISTED_REJECTIONS = 1000


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
    status: str = "ingested"  # ingested | already_in_case | rejected
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
class Case:
    """Canonical events with their provenance.

    Attributes:
        events: the unique canonical events (``analyzer.schema.EVENT_SCHEMA``).
        duplicates: rows merged into an existing event (``schema.DUPLICATE_SCHEMA``): the
            event's key and where the duplicate stood, so both provenances are kept.
        inputs: one record per input file, in ingest order.
        warnings: warnings that concern the whole case (not one input).
        path: the case folder, or None for a case built in memory from raw files.
        rejected_inputs: files that could not be read at all, each with its error.
    """

    events: pa.Table
    duplicates: pa.Table
    inputs: list[InputRecord]
    warnings: list[str] = field(default_factory=list)
    path: Path | None = None
    rejected_inputs: list[InputRecord] = field(default_factory=list)

    def input_paths(self) -> dict[str, str]:
        """Map input_id to the input file's path as the user gave it."""
        return {record.input_id: record.path for record in self.inputs}

    @classmethod
    def empty(cls) -> Case:
        return cls(schema.empty_events(), schema.DUPLICATE_SCHEMA.empty_table(), [])


def is_case_folder(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def read_manifest(folder: Path) -> dict:
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise CaseError(f"{folder}: the case manifest cannot be read ({error}).") from None
    if manifest.get("case_format") != CASE_FORMAT_VERSION:
        raise CaseError(
            f"{folder}: case format {manifest.get('case_format')!r} is not supported by "
            f"msgtrace {__version__} (expected {CASE_FORMAT_VERSION})."
        )
    return manifest


def open_case(folder: str | Path, columns: list[str] | None = None) -> Case:
    """Load a case folder written by ``ingest_into_case`` (only ``columns``, if given)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    inputs = [InputRecord.from_json(item) for item in manifest.get("inputs", [])]
    rejected_inputs = [InputRecord.from_json(i) for i in manifest.get("rejected_inputs", [])]
    events, duplicates = [], []
    for record in inputs:
        part = folder / "events" / f"{record.input_id}.parquet"
        if record.rows_ingested and not part.exists():
            raise CaseError(
                f"{folder}: events/{part.name} is missing: the {record.rows_ingested:,} rows "
                f"ingested from {record.path} are gone. Ingest the inputs into a new case."
            )
        dup = folder / "duplicates" / f"{record.input_id}.parquet"
        try:
            if part.exists():
                events.append(pq.read_table(part, schema=schema.EVENT_SCHEMA, columns=columns))
            if dup.exists():
                duplicates.append(pq.read_table(dup, schema=schema.DUPLICATE_SCHEMA))
        except (pa.ArrowException, OSError) as error:
            raise CaseError(
                f"{folder}: the case files of {record.path} are damaged ({error}). Ingest the "
                "inputs into a new case."
            ) from None
    return Case(
        events=pa.concat_tables(events)
        if events
        else schema.empty_events().select(columns or schema.COLUMN_NAMES),
        duplicates=pa.concat_tables(duplicates)
        if duplicates
        else schema.DUPLICATE_SCHEMA.empty_table(),
        inputs=inputs,
        warnings=list(manifest.get("warnings", [])),
        path=folder,
        rejected_inputs=rejected_inputs,
    )


def write_manifest(folder: Path, case: Case) -> None:
    manifest = {
        "tool": "msgtrace",
        "tool_version": __version__,
        "case_format": CASE_FORMAT_VERSION,
        "inputs": [record.to_json() for record in case.inputs],
        "rejected_inputs": [record.to_json() for record in case.rejected_inputs],
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    partial = folder / (MANIFEST + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(folder / MANIFEST)


def _write_row_group(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    table = pa.concat_tables(tables).combine_chunks()
    writer.write_table(table, row_group_size=len(table))


class EventSink:
    """Where an input's events go: Parquet files of a case, tables in memory, or nowhere.

    Parquet writing (compression, without the GIL) runs on a worker thread, one row group of
    ``ROW_GROUP`` rows at a time, so it overlaps the normalization of the next batches.
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
        self._pending: dict[str, list[pa.Table]] = {"events": [], "duplicates": []}
        self._worker = ThreadPoolExecutor(max_workers=1) if folder else None
        self._last_write: Future | None = None

    def _path(self, kind: str) -> Path:
        assert self.folder is not None
        return self.folder / kind / f"{self.input_id}.parquet.partial"

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

    def _flush(self, kind: str) -> None:
        pending = self._pending[kind]
        if not pending:
            return
        tables = list(pending)
        pending.clear()
        table = tables[0]  # for the schema; the worker joins them into one row group
        writer = self._writers.get(kind)
        if writer is None:
            path = self._path(kind)
            path.parent.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(
                path,
                table.schema,
                compression="zstd",
                compression_level=1,
                # columns with a value per row gain nothing from a dictionary
                use_dictionary=[
                    c for c in table.column_names if c not in ("event_key", "event_time", "line")
                ],
            )
            self._writers[kind] = writer
        if self._last_write is not None:
            self._last_write.result()  # at most one row group waits: memory stays bounded
        assert self._worker is not None
        self._last_write = self._worker.submit(_write_row_group, writer, tables)

    def discard(self) -> None:
        """Forget everything written so far (the file is being read again)."""
        if self._last_write is not None:
            self._last_write.result()
            self._last_write = None
        for kind, writer in self._writers.items():
            writer.close()
            self._path(kind).unlink()
        self._writers.clear()
        for pending in self._pending.values():
            pending.clear()
        self.events.clear()
        self.duplicates.clear()

    def commit(self, keep: bool) -> None:
        """Finish the files (renamed into place) or, when ``keep`` is false, remove them."""
        try:
            if keep:
                for kind in self._pending:
                    self._flush(kind)
            if self._last_write is not None:
                self._last_write.result()
        finally:
            for kind, writer in self._writers.items():
                writer.close()
                partial = self._path(kind)
                if keep:
                    partial.replace(partial.with_suffix(""))
                else:
                    partial.unlink()
            self._writers.clear()
            if self._worker:
                self._worker.shutdown()
