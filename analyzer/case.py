"""A case: the canonical events of a set of inputs, on disk (Parquet + manifest) or in memory.

Layout of a case folder::

    manifest.json               tool version, options, and one record per input (sha256,
                                format, encoding, row accounting, rejected rows with reasons)
    events/<input_id>.parquet   the unique events first seen in that input
    duplicates/<input_id>.parquet  rows of that input merged into an event already in the case

Every later command accepts a case folder or raw export files/folders (ingested in memory).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from analyzer import schema

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
