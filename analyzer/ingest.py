"""Ingest: export files on disk -> canonical events, with an account of every row.

For each input: sha256 and size, encoding (``analyzer.encoding``), container and format
(``analyzer.formats``), then a streamed read in batches (pyarrow's CSV reader over a UTF-8
transcoding stream), normalization (``analyzer.normalize``), duplicate merging and, for a case
on disk, a Parquet part per input. Memory stays bounded by the batch size, whatever the file
size (events are written as they come; only their 8-byte keys are kept for merging).

Every row is accounted for: ``rows_read = rows_ingested + rows_duplicate + rows_rejected``.
A rejected row keeps its line and reason; a bad file is an ``InputError`` recorded against that
file, and the other inputs still load.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import itertools
import json
import os
import re
import shutil
import threading
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Full, Queue

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from analyzer import __version__, formats, schema
from analyzer.case import (
    CASE_FORMAT_VERSION,
    MANIFEST,
    MAX_LISTED_REJECTIONS,
    Case,
    InputRecord,
    RejectedRow,
)
from analyzer.encoding import Encoding, TranscodingReader, decode_head, detect_encoding
from analyzer.errors import AnalyzerError, CaseError, InputError, OptionError
from analyzer.formats import ExportFormat
from analyzer.normalize import Batch, FileContext, to_canonical
from analyzer.progress import Progress
from analyzer.timestamps import check_time_zone, day_order, iso_utc

#: File name endings taken when a folder is searched (a file named explicitly is always read).
EXPORT_SUFFIXES = {".csv", ".log", ".txt", ".json", ".ndjson", ".jsonl", ".tsv"}
BLOCK_SIZE = 8 * 1024 * 1024  # bytes of UTF-8 per CSV batch
JSON_BATCH = 50_000
#: Rows held while no date in a locale-dated file says day-first or month-first (beyond this,
#: month-first is assumed with a warning, so memory stays bounded; summary exports stop at
#: 100,000 rows, so a real one is always decided on all its dates).
MAX_UNDECIDED_ROWS = 250_000
AMBIGUOUS_DATES = (
    "dates such as 03/04/2026 are ambiguous in this file (no day above 12); read month-first. "
    "Pass --dayfirst if the export was day-first."
)
MIXED_DATES = (
    "dates mix day-first and month-first values; read month-first. Pass --dayfirst or "
    "--monthfirst to choose."
)
NORMALIZE_THREADS = 2


@dataclass
class IngestOptions:
    """Choices that override detection, for every input of a run.

    Attributes:
        encoding: force this text encoding (else detected per file).
        format: force this export format (else detected per file from its header).
        dayfirst: read ambiguous locale dates day-first (True) or month-first (False); None
            lets each column's values decide (month-first, with a warning, if none does).
        input_tz: IANA zone of timestamps that carry no zone (locale-formatted dates).
        strict: any rejected input or row is a failure (the CLI exits 1).
    """

    encoding: str | None = None
    format: str | None = None
    dayfirst: bool | None = None
    input_tz: str = "UTC"
    strict: bool = False

    def checked(self) -> IngestOptions:
        if self.format:
            formats.get(self.format)
        self.input_tz = check_time_zone(self.input_tz)
        return self


# ----------------------------------------------------------------------------- discovery


def discover(paths: Sequence[str | Path]) -> list[Path]:
    """Files to read: each file as given, and export-like files found in folders (sorted).

    Raises:
        InputError: a path does not exist.
    """
    found: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            before = len(found)
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                if MANIFEST in files and {"events"} <= set(dirs):
                    dirs[:] = []  # a case folder inside: its parquet files are not exports
                    continue
                for name in sorted(files):
                    candidate = Path(root) / name
                    if not name.startswith(".") and candidate.suffix.lower() in EXPORT_SUFFIXES:
                        found.append(candidate)
            if len(found) == before:
                found.append(path)  # read_input says: a folder with no export files in it
        else:
            found.append(path)
    return found


def is_case_folder(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


# ----------------------------------------------------------------------------- file layout


@dataclass
class Layout:
    """How a file is laid out: container, header, where the data starts, and its format."""

    container: str
    headers: list[str]
    data_start_line: int  # physical line of the first data row (1-based)
    skip_rows: int  # rows before the first data row (preamble + header)
    delimiter: str
    spec: ExportFormat
    header_map: dict[int, str]


def _unique_headers(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    result = []
    for header in headers:
        name = header if header else "column"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
        else:
            seen[name] = 1
        result.append(name)
    return result


def _choose_format(path: Path, headers: list[str], container: str, forced: str | None):
    if forced:
        spec = formats.get(forced)
        if "event_time" not in spec.header_map(headers).values():
            raise InputError(
                str(path),
                f"--format {forced} was given but the header has no "
                f"{spec.columns['event_time'][0]} column (header starts: "
                f"{', '.join(headers[:6])}).",
            )
        return spec
    spec = formats.detect(headers, container)  # type: ignore[arg-type]
    if spec is None:
        near, missing = formats.closest(headers, container)  # type: ignore[arg-type]
        if not near.header_map(headers):
            raise InputError(
                str(path),
                "is not a message trace export: none of its columns is one msgtrace knows "
                f"(header starts: {', '.join(h for h in headers[:6] if h)}). See "
                "`msgtrace formats` for what it reads.",
            )
        shown = ", ".join(h for h in headers[:6] if h) or "(empty)"
        raise InputError(
            str(path),
            f"header matches no known export format (closest: {near.name}, missing "
            f"{', '.join(missing)}). Header starts: {shown}. Pass --format to force one "
            "(see `msgtrace formats`).",
        )
    return spec


def read_layout(path: Path, encoding: Encoding, forced_format: str | None) -> Layout:
    """Find the container, the header and the format of a file from its decoded head."""
    head = decode_head(path, encoding)
    stripped = head.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise InputError(str(path), "holds no data (only blank lines). Nothing to read.")
    control = sum(1 for ch in stripped[:4096] if ord(ch) < 32 and ch not in "\t\r\n")
    if control > 0.01 * min(len(stripped), 4096) + 2:
        raise InputError(
            str(path),
            "looks like a binary file, not a text export (an .xlsx workbook or a zip?). "
            "Export the message trace as CSV and try again.",
        )
    if stripped[0] in "{[":
        return Layout("json", [], 1, 0, ",", formats.REGISTRY[0], {})  # resolved by the reader
    lines = head.splitlines()
    # a log's header block is the run of '#' lines at the top; a "#Fields:" line after data
    # is data (a quoted multi-line subject can hold one)
    top = list(itertools.takewhile(lambda line: line.startswith("#"), lines[:20]))
    if any(line.startswith("#Fields:") for line in top):
        index = next(k for k, line in enumerate(top) if line.startswith("#Fields:"))
        headers = _unique_headers([h.strip() for h in lines[index][len("#Fields:") :].split(",")])
        # every '#' line at the top is part of the log's header block
        skip = index + 1
        while skip < len(lines) and lines[skip].startswith("#"):
            skip += 1
        spec = _choose_format(path, headers, "tracking_log", forced_format)
        return Layout("tracking_log", headers, skip + 1, skip, ",", spec, spec.header_map(headers))
    skip = 0
    preambles = [re.compile(s.preamble) for s in formats.REGISTRY if s.preamble]
    while skip < len(lines) and (
        not lines[skip].strip() or any(p.match(lines[skip]) for p in preambles)
    ):
        skip += 1
    if skip >= len(lines):
        raise InputError(str(path), "has no header line. Is it a message trace export?")
    header_line = lines[skip]
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    if counts[delimiter] == 0:
        raise InputError(
            str(path),
            f"is not a CSV export (its first line has no commas: {header_line[:60]!r}).",
        )
    headers = _unique_headers(next(csv.reader([header_line], delimiter=delimiter)))
    spec = _choose_format(path, headers, "csv", forced_format)
    return Layout("csv", headers, skip + 2, skip + 1, delimiter, spec, spec.header_map(headers))


# ----------------------------------------------------------------------------- reading


@dataclass
class RawBatch:
    """A batch of raw rows (string columns in header order) with their starting lines."""

    table: pa.Table
    lines: np.ndarray


@dataclass
class FileReadState:
    """What a reader learns about a file while reading it."""

    rows_read: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    blank_lines: int = 0
    comment_lines: int = 0
    decode_error_offsets: list[int] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)  # to compare with message limits


def _start_lines(numbers: np.ndarray, breaks: np.ndarray, state: dict) -> np.ndarray:
    """Physical start lines of records, from their record numbers and embedded line breaks.

    Record r (1-based, numbered as pyarrow numbers rows: preamble and header included) starts
    on line ``r + (line breaks inside the fields of every earlier record)``. ``numbers`` must
    cover every record since the previous call.
    """
    order = np.argsort(numbers, kind="stable")
    sorted_breaks = breaks[order]
    before = np.cumsum(sorted_breaks) - sorted_breaks + state["carry"]
    start = np.empty(len(numbers), dtype=np.int64)
    start[order] = numbers[order] + before
    state["carry"] += int(breaks.sum())
    return start


def _line_breaks(table: pa.Table) -> np.ndarray:
    """Line breaks inside the fields of each row (quoted multi-line subjects)."""
    breaks = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        for chunk in column.chunks:
            data = chunk.buffers()[2]
            if data is not None and data.to_pybytes().find(b"\n") >= 0:  # memchr, then count
                breaks += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(
                    zero_copy_only=False
                )
                break
    return breaks


def _iso_shaped(times: pa.ChunkedArray) -> bool:
    """Whether every time starts like ISO 8601 (``yyyy-``): no locale date needs deciding."""
    fifth = pc.utf8_slice_codeunits(times, 4, 5)
    return bool(pc.all(pc.fill_null(pc.equal(fifth, "-"), True)).as_py())


def _blank_rows(table: pa.Table) -> np.ndarray:
    """Rows whose every field is empty (blank lines)."""
    blank = pc.is_null(table.column(0)).to_numpy(zero_copy_only=False)
    if blank.any():
        for column in table.columns[1:]:
            blank &= pc.is_null(column).to_numpy(zero_copy_only=False)
    return blank


class _CountingReader(io.RawIOBase):
    """A read-only binary file that reports how many bytes were read (for progress bars)."""

    def __init__(self, path: Path, on_bytes=None):
        super().__init__()
        self._raw = open(path, "rb")  # noqa: SIM115 - closed in close()
        self._on_bytes = on_bytes
        self.error_offsets: list[int] = []  # pyarrow validates UTF-8 itself

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if self._on_bytes and data:
            self._on_bytes(len(data))
        return data

    def readinto(self, target) -> int:
        count = self._raw.readinto(target)
        if self._on_bytes and count:
            self._on_bytes(count)
        return count

    def close(self) -> None:
        self._raw.close()
        super().close()


def _mark_truncated_end(invalid: list, last_valid_record: int) -> None:
    """Say so when the file ends in an incomplete row: the export was cut off."""
    if invalid and invalid[-1][2] and invalid[-1][0] > last_valid_record:
        number, breaks, reason = invalid[-1]
        if "fields where the header has" in reason or "unterminated" in reason:
            invalid[-1] = (
                number,
                breaks,
                "the last row is incomplete: the file appears cut off (truncated) here; "
                "download the export again",
            )


def read_csv_batches(
    path: Path,
    encoding: Encoding,
    layout: Layout,
    state: FileReadState,
    on_bytes=None,
    careful: bool = True,
) -> Iterator[tuple[RawBatch, bool]]:
    """Stream a CSV or tracking log as raw batches, recording the rows that cannot be parsed.

    Args:
        careful: parse serially through the validating transcoder, so every bad row and byte
            is placed by line. Otherwise parse on every core (UTF-8 straight from the file,
            validated by pyarrow) and raise ``_CarefulReadNeeded`` at the first bad row or byte.

    Yields:
        (batch, whether undecodable bytes were met so far)
    """
    invalid: list[tuple[int, int, str | None]] = []  # (record number, line breaks, reason)

    def on_invalid(row) -> str:
        if not careful:
            return "error"  # ends the fast read: the careful one places and explains the row
        text = row.text or ""
        if layout.container == "tracking_log" and text.startswith("#"):
            state.comment_lines += 1
            reason = None
        elif not text.strip():
            state.blank_lines += 1
            reason = None
        elif row.actual_columns < row.expected_columns and "\n" in text:
            reason = "unterminated quoted field: the file appears cut off (truncated) at this row"
        else:
            reason = (
                f"has {row.actual_columns} fields where the header has {row.expected_columns} "
                "(a ragged row: a cut-off line, or a field with an unescaped quote or delimiter?)"
            )
        invalid.append((row.number, text.count("\n"), reason))
        return "skip"

    if careful:
        stream = TranscodingReader(path, encoding, on_bytes)
    elif encoding.name == "utf-8":  # pyarrow validates UTF-8 itself (and skips a UTF-8 BOM)
        stream = _CountingReader(path, on_bytes)
    else:  # pyarrow's strict transcoder; a BOM becomes a UTF-8 BOM, which pyarrow skips
        stream = pa.transcoding_input_stream(
            pa.PythonFile(_CountingReader(path, on_bytes), mode="r"), encoding.name, "utf-8"
        )

    def open_reader():
        return pa_csv.open_csv(
            stream,
            read_options=pa_csv.ReadOptions(
                use_threads=not careful,  # pyarrow numbers invalid rows only when reading serially
                block_size=BLOCK_SIZE,
                skip_rows=layout.skip_rows,
                column_names=layout.headers,
            ),
            parse_options=pa_csv.ParseOptions(
                delimiter=layout.delimiter,
                newlines_in_values=True,
                ignore_empty_lines=False,  # blank lines then keep their place in the numbering
                invalid_row_handler=on_invalid,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={h: pa.string() for h in layout.headers},
                # an empty field is a missing value; no other text ("NULL", "N/A") is
                null_values=[""],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
            ),
        )

    line_state = {"carry": layout.data_start_line - 1 - layout.skip_rows}
    emitted = 0
    settled = 0

    def settle(upto: int | None, records: np.ndarray, breaks: np.ndarray) -> np.ndarray:
        """Lines of ``records``; invalid records up to ``upto`` are placed and rejected."""
        nonlocal settled
        pending = [row for row in invalid[settled:] if upto is None or row[0] <= upto]
        settled += len(pending)
        numbers = np.concatenate([records, np.array([r[0] for r in pending], dtype=np.int64)])
        all_breaks = np.concatenate([breaks, np.array([r[1] for r in pending], dtype=np.int64)])
        lines = _start_lines(numbers, all_breaks, line_state)
        for (_, _, reason), line in zip(pending, lines[len(records) :], strict=True):
            if reason:
                state.rejected.append((int(line), reason))
                state.rows_read += 1
        return lines[: len(records)]

    try:
        reader = open_reader()  # reads the first block: a parse error can come from here too
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch])
            n = table.num_rows
            known = np.array(sorted(r[0] for r in invalid), dtype=np.int64)
            # the j-th emitted row is the j-th record number that was not an invalid row
            wanted = np.arange(emitted + 1, emitted + n + 1, dtype=np.int64) + layout.skip_rows
            records = wanted
            for _ in range(1000):
                shifted = wanted + np.searchsorted(known, records, side="right")
                if np.array_equal(shifted, records):
                    break
                records = shifted
            emitted += n
            breaks = _line_breaks(table)
            lines = settle(int(records[-1]) if n else None, records, breaks)
            blank = _blank_rows(table)  # blank lines arrive as rows of empty fields
            if blank.any():
                state.blank_lines += int(blank.sum())
                table = table.filter(pa.array(~blank))
                lines = lines[~blank]
            state.rows_read += table.num_rows
            state.decode_error_offsets = getattr(stream, "error_offsets", [])
            yield RawBatch(table, lines), bool(state.decode_error_offsets)
        _mark_truncated_end(invalid, emitted + layout.skip_rows)
        settle(None, np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        if not careful:
            raise _CarefulReadNeeded(str(error)) from None
        message = str(error).replace("CSV parse error: ", "")
        state.rejected.append((None, f"the rest of the file could not be parsed: {message}"))
        state.rows_read += 1
    finally:
        stream.close()
        state.decode_error_offsets = getattr(stream, "error_offsets", [])


def prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Run ``items`` in a background thread, ``depth`` items ahead of the consumer.

    Parsing (pyarrow, without the GIL) then overlaps normalization on the other core.
    Exceptions are re-raised in the consumer; memory stays bounded by ``depth`` batches.
    """
    queue: Queue = Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        queue.put(item, timeout=0.1)
                        break
                    except Full:
                        continue
                if stop.is_set():
                    return
            queue.put(done)
        except BaseException as error:  # handed to the consumer
            queue.put(error)

    worker = threading.Thread(target=produce, name="msgtrace-reader", daemon=True)
    worker.start()
    try:
        while True:
            item = queue.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                queue.get_nowait()
            except Empty:
                worker.join(0.05)
        if hasattr(items, "close"):
            items.close()


def _json_value(value) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def read_json_records(
    path: Path, encoding: Encoding, state: FileReadState, on_bytes=None
) -> tuple[list[str], list[tuple[int, dict]]]:
    """Records of a JSON export: NDJSON lines, OData pages (``value``), or one document."""
    stream = TranscodingReader(path, encoding, on_bytes)
    try:
        text = stream.read().decode("utf-8")
    finally:
        stream.close()
    state.decode_error_offsets = stream.error_offsets
    records: list[tuple[int, dict]] = []

    def take(line: int, document) -> None:
        if isinstance(document, dict) and isinstance(document.get("value"), list):
            items = document["value"]
        elif isinstance(document, list):
            items = document
        else:
            items = [document]
        for item in items:
            if isinstance(item, dict):
                records.append((line, item))
            else:
                state.rejected.append((line, "JSON value is not an object (record)"))
                state.rows_read += 1

    try:
        take(1, json.loads(text))
    except json.JSONDecodeError:
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                take(number, json.loads(line))
            except json.JSONDecodeError as error:
                state.rejected.append(
                    (number, f"not valid JSON ({error.msg}, column {error.colno})")
                )
                state.rows_read += 1
    headers: list[str] = []
    seen: set[str] = set()
    for _, record in records:
        for key in record:
            if key not in seen:
                seen.add(key)
                headers.append(key)
    return headers, records


def json_batches(headers: list[str], records: list[tuple[int, dict]]) -> Iterator[RawBatch]:
    for start in range(0, len(records), JSON_BATCH):
        chunk = records[start : start + JSON_BATCH]
        columns = [
            pa.array([_json_value(record.get(h)) for _, record in chunk], pa.string())
            for h in headers
        ]
        table = pa.Table.from_arrays(columns, names=[f"c{k}" for k in range(len(headers))])
        yield RawBatch(table, np.array([line for line, _ in chunk], dtype=np.int64))


# ----------------------------------------------------------------------------- merging


class KeySet:
    """The event keys seen so far, for merging duplicates without holding events in memory.

    Keys are kept as sorted uint64 runs, merged when a run grows as large as the one before
    it, so a membership test costs a few binary searches.
    """

    def __init__(self) -> None:
        self.runs: list[np.ndarray] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self.runs)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        found = np.zeros(len(keys), dtype=bool)
        for run in self.runs:
            index = np.searchsorted(run, keys)
            index[index == len(run)] = 0
            found |= run[index] == keys if len(run) else False
        return found

    def snapshot(self) -> list[np.ndarray]:
        """The keys as they are now (runs are never changed in place, only replaced)."""
        return list(self.runs)

    def restore(self, snapshot: list[np.ndarray]) -> None:
        self.runs = list(snapshot)

    def add(self, keys: np.ndarray) -> None:
        """Add keys that are not in the set yet (the caller checked with ``contains``)."""
        run = _distinct_sorted(keys)
        while self.runs and len(self.runs[-1]) <= 2 * len(run):
            # two sorted runs with no key in common: a stable sort merges them in one pass
            run = np.concatenate([self.runs.pop(), run])
            run.sort(kind="stable")
        self.runs.append(run)


def _distinct_sorted(keys: np.ndarray) -> np.ndarray:
    ordered = np.sort(keys, kind="stable")
    if len(ordered) == 0:
        return ordered
    return ordered[np.concatenate(([True], ordered[1:] != ordered[:-1]))]


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """True where a key appears for the first time in ``keys``."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[order[1:][ordered[1:] == ordered[:-1]]] = False
    return first


def key_values(keys: pa.Array) -> np.ndarray:
    """Hex event keys back to uint64."""
    if len(keys) == 0:
        return np.array([], dtype=np.uint64)
    data = "".join(keys.to_pylist()).encode("ascii")
    return np.frombuffer(bytes.fromhex(data.decode("ascii")), dtype=">u8").astype(np.uint64)


# ----------------------------------------------------------------------------- one input


@dataclass
class InputResult:
    """One input's record and, for in-memory loads, its events and duplicates."""

    record: InputRecord
    events: list[pa.Table] = field(default_factory=list)
    duplicates: list[pa.Table] = field(default_factory=list)


def _write_row_group(writer: pq.ParquetWriter, tables: list[pa.Table]) -> None:
    table = pa.concat_tables(tables).combine_chunks()
    writer.write_table(table, row_group_size=len(table))


class _Sink:
    """Where an input's events go: Parquet files of a case, or tables in memory.

    Parquet writing (compression, without the GIL) runs on a worker thread, one row group of
    ``ROW_GROUP`` rows at a time, so it overlaps the normalization of the next batches.
    """

    ROW_GROUP = 131_072

    def __init__(self, folder: Path | None, input_id: str):
        self.folder = folder
        self.input_id = input_id
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
        if table.num_rows == 0:
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


class _CarefulReadNeeded(Exception):
    """The fast read met something only the careful (serial, validating) read handles."""


def read_input(
    path: Path,
    input_id: str,
    options: IngestOptions,
    seen: KeySet,
    sink: _Sink,
    progress: Progress | None = None,
    digest: str | Future | None = None,
) -> InputRecord:
    """Read one input into ``sink``, merging events already in ``seen``; never raises for a
    bad file (the record carries the error)."""
    record = InputRecord(path=str(path), size=0, sha256="", input_id=input_id)
    try:
        if not path.exists():
            raise InputError(str(path), "no such file or folder.")
        if path.is_dir() and is_case_folder(path):
            raise InputError(
                str(path),
                "is a msgtrace case folder, not an export: every command reads it as it is. "
                "To combine cases, ingest their original exports into one case.",
            )
        if path.is_dir():
            raise InputError(str(path), "is a folder with no export files in it.")
        record.size = path.stat().st_size
        record.sha256 = digest if isinstance(digest, str) else ""
        if record.size == 0:
            raise InputError(str(path), "is empty (0 bytes). Download the export again.")
        encoding = detect_encoding(path, options.encoding)
        record.encoding, record.bom = encoding.name, encoding.bom
        record.encoding_detected_by = encoding.how
        if encoding.how.startswith("fallback"):
            record.warnings.append(
                f"the encoding was guessed ({encoding.how}): if accents or non-Latin text look "
                "wrong, re-run with --encoding (e.g. cp1251, cp932, cp1250)"
            )
        layout = read_layout(path, encoding, options.format)
        # A fast read first (pyarrow parses on every core, straight from the file when it is
        # UTF-8). A file with a row pyarrow cannot split, or bytes that are not UTF-8, is read
        # again carefully: serially (only then does pyarrow number its bad rows) and through
        # the validating transcoder.
        checkpoint = (seen.snapshot(), list(record.warnings))
        try:
            state, layout = _read_rows(
                path, encoding, layout, options, record, seen, sink, progress, careful=False
            )
        except _CarefulReadNeeded:
            seen.restore(checkpoint[0])
            sink.discard()
            record.warnings = list(checkpoint[1])
            record.rows_duplicate = 0
            state, layout = _read_rows(
                path, encoding, layout, options, record, seen, sink, progress, careful=True
            )
        _account(record, state, layout, encoding)
    except InputError as error:
        record.error = str(error)[len(str(path)) + 2 :]
        record.status = "rejected"
        if progress:
            progress.finish()
    except OSError as error:
        record.error = f"cannot be read: {error.strerror or error}"
        record.status = "rejected"
    if isinstance(digest, Future):
        try:
            record.sha256 = digest.result()
        except OSError as error:
            record.error = record.error or f"cannot be read: {error.strerror or error}"
            record.status = "rejected"
    elif not record.sha256 and path.is_file():
        record.sha256 = sha256_of(path)
    return record


def _read_rows(
    path: Path,
    encoding: Encoding,
    layout: Layout,
    options: IngestOptions,
    record: InputRecord,
    seen: KeySet,
    sink: _Sink,
    progress: Progress | None,
    careful: bool,
) -> tuple[FileReadState, Layout]:
    """Read, normalize, merge and write every row of one file; return what was learned."""
    state = FileReadState()
    if progress:
        progress.start(path.name, record.size)
    on_bytes = progress.advance if progress else None
    if layout.container == "json":
        headers, records = read_json_records(path, encoding, state, on_bytes)
        if not records and not state.rejected:
            raise InputError(str(path), "is JSON with no message trace records in it.")
        spec = (
            _choose_format(path, headers, "json", options.format)
            if records
            else formats.BY_NAME["reporting_api_json"]
        )
        layout = Layout("json", headers, 1, 0, ",", spec, spec.header_map(headers))
        state.rows_read += len(records)
        raw_batches = (
            (batch, bool(state.decode_error_offsets)) for batch in json_batches(headers, records)
        )
    else:
        raw_batches = prefetch(
            read_csv_batches(path, encoding, layout, state, on_bytes, careful=careful)
        )
    record.format = layout.spec.name
    _normalize_all(raw_batches, layout, options, record, state, seen, sink)
    if progress:
        progress.finish()
    return state, layout


def _account(record: InputRecord, state: FileReadState, layout: Layout, encoding: Encoding):
    """Fill the record's row accounting and warnings from what reading the file learned."""
    record.rows_rejected = len(state.rejected)
    record.rows_read = state.rows_read
    record.rows_ingested = record.rows_read - record.rows_duplicate - record.rows_rejected
    listed = sorted(state.rejected, key=lambda r: (r[0] is None, r[0] or 0))
    record.rejected = [RejectedRow(line, reason) for line, reason in listed[:MAX_LISTED_REJECTIONS]]
    offsets = state.decode_error_offsets
    if offsets:
        record.warnings.append(
            f"{len(offsets)} byte sequence(s) are not valid {encoding.name} (first at byte "
            f"offset {offsets[0]}); the rows holding them were rejected. If the encoding is "
            "wrong, re-run with --encoding."
        )
    if state.blank_lines:
        record.warnings.append(f"{state.blank_lines} blank line(s) skipped")
    messages = len(state.message_ids)
    if record.rows_read in layout.spec.limits:
        record.export_limit = f"{record.rows_read:,} rows"
    elif messages in layout.spec.message_limits:
        record.export_limit = f"{messages:,} messages"
    if record.export_limit:
        record.warnings.append(
            f"exactly {record.export_limit}, a known export limit of {layout.spec.name} "
            "reports: the export was probably cut off. Export smaller time ranges and "
            "ingest them all."
        )
    if record.rows_read == 0:
        record.warnings.append("no data rows (only a header)")


def _normalize_all(
    raw_batches,
    layout: Layout,
    options: IngestOptions,
    record: InputRecord,
    state: FileReadState,
    seen: KeySet,
    sink: _Sink,
) -> None:
    """Normalize, merge and write every batch of one input."""
    context = FileContext(
        record.input_id,
        layout.spec.name,
        dayfirst=bool(options.dayfirst),
        input_tz=options.input_tz,
    )
    time_position = next((p for p, c in layout.header_map.items() if c == "event_time"), None)
    decided = options.dayfirst is not None
    waiting: list[tuple[RawBatch, bool]] = []
    evidence = {"day_first": False, "month_first": False}
    first_time = last_time = None

    # Batches are normalized on a small thread pool (Arrow and numpy kernels release the GIL)
    # and merged strictly in file order, so the output does not depend on thread timing.
    workers = ThreadPoolExecutor(max_workers=NORMALIZE_THREADS)
    in_flight: deque[Future] = deque()

    def emit(raw: RawBatch, decode_errors: bool) -> None:
        batch_context = dataclasses.replace(context, decode_errors=decode_errors)
        in_flight.append(
            workers.submit(
                to_canonical,
                raw.table,
                layout.headers,
                layout.spec,
                layout.header_map,
                raw.lines,
                batch_context,
            )
        )
        while len(in_flight) > NORMALIZE_THREADS:
            merge(in_flight.popleft().result())

    def merge(batch: Batch) -> None:
        nonlocal first_time, last_time
        state.rejected.extend(batch.rejected)
        for warning in batch.warnings:
            if warning not in record.warnings:
                record.warnings.append(warning)
        events = batch.events
        if events.num_rows == 0:
            return
        if layout.spec.message_limits:
            ids = pc.coalesce(events.column("network_message_id"), events.column("message_id"))
            state.message_ids.update(pc.unique(ids).drop_null().to_pylist())
        # the time range the file covers counts its duplicates too
        low, high = pc.min_max(events.column("event_time")).values()
        first_time = low.value if first_time is None else min(first_time, low.value)
        last_time = high.value if last_time is None else max(last_time, high.value)
        keys = batch.keys if batch.keys is not None else key_values(events.column("event_key"))
        first_in_batch = _first_occurrences(keys)
        duplicate = seen.contains(keys) | ~first_in_batch
        seen.add(keys[~duplicate])
        if duplicate.any():
            dup_table = events.filter(pa.array(duplicate)).select(["event_key", "input_id", "line"])
            sink.write("duplicates", dup_table)
            record_lines = events.column("line").to_numpy()
            # a row is a duplicate when all its events are
            lines_all = np.unique(record_lines)
            lines_with_new = np.unique(record_lines[~duplicate])
            record.rows_duplicate += len(lines_all) - len(lines_with_new)
            events = events.filter(pa.array(~duplicate))
        sink.write("events", events)

    def decide(dayfirst: bool, warning: str | None) -> None:
        nonlocal decided
        decided = True
        context.dayfirst = dayfirst
        if warning:
            record.warnings.append(warning)
        for held, held_errors in waiting:
            emit(held, held_errors)
        waiting.clear()

    try:
        for raw, decode_errors in raw_batches:
            if not decided and time_position is not None:
                times = raw.table.column(time_position)
                order = day_order(times) if not _iso_shaped(times) else None
                if order is not None and order.locale_values:
                    evidence["day_first"] |= order.day_first
                    evidence["month_first"] |= order.month_first
                    waiting.append((raw, decode_errors))
                    if evidence["day_first"] != evidence["month_first"]:
                        decide(evidence["day_first"], None)
                    elif evidence["day_first"]:  # both: no later value can settle it
                        decide(False, MIXED_DATES)
                    elif sum(held.table.num_rows for held, _ in waiting) >= MAX_UNDECIDED_ROWS:
                        decide(False, AMBIGUOUS_DATES)
                    continue
            if waiting:
                decide(False, AMBIGUOUS_DATES)
            emit(raw, decode_errors)
        if waiting:
            decide(False, AMBIGUOUS_DATES)
        while in_flight:
            merge(in_flight.popleft().result())
    finally:
        for future in in_flight:
            future.cancel()
        workers.shutdown()
        if hasattr(raw_batches, "close"):
            raw_batches.close()  # stops the reader thread when reading ends early
    to_iso = lambda ns: iso_utc(np.datetime64(ns, "ns")) if ns is not None else None  # noqa: E731
    record.first_event, record.last_event = to_iso(first_time), to_iso(last_time)


# ----------------------------------------------------------------------------- public API


def inspect_files(
    paths: Sequence[str | Path],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> list[InputRecord]:
    """Read each file (nothing is written) and say what it is: format, encoding, rows, times."""
    options = (options or IngestOptions()).checked()
    records = []
    for number, path in enumerate(discover(paths), start=1):
        seen = KeySet()
        records.append(
            read_input(path, f"in-{number:03d}", options, seen, _Sink(None, ""), progress)
        )
    return records


def _read_manifest(folder: Path) -> dict:
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
    manifest = _read_manifest(folder)
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


def _write_manifest(folder: Path, case: Case) -> None:
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


def _existing_keys(case: Case) -> KeySet:
    seen = KeySet()
    if case.events.num_rows:
        seen.add(key_values(case.events.column("event_key").combine_chunks()))
    return seen


def _ingest(
    paths: Sequence[str | Path],
    case: Case,
    folder: Path | None,
    options: IngestOptions,
    progress: Progress | None,
) -> list[InputRecord]:
    """Read ``paths`` into ``case`` (in memory, and into ``folder`` when given)."""
    seen = _existing_keys(case)
    known = {record.sha256: record for record in case.inputs if record.sha256}
    sizes = {record.size for record in case.inputs}
    hashing = ThreadPoolExecutor(max_workers=1)
    added: list[InputRecord] = []
    next_number = len(case.inputs) + 1
    for path in discover(paths):
        input_id = f"in-{next_number:03d}"
        # The same content can only be in the case already when a file of its size is: then
        # hash it first; otherwise hash it while it is read (hashlib runs without the GIL).
        digest: str | Future | None = None
        if path.is_file():
            if path.stat().st_size in sizes:
                digest = sha256_of(path)
            else:
                digest = hashing.submit(sha256_of, path)
        if isinstance(digest, str) and digest in known:
            added.append(
                InputRecord(
                    path=str(path),
                    size=path.stat().st_size,
                    sha256=digest,
                    input_id=known[digest].input_id,
                    format=known[digest].format,
                    status="already_in_case",
                )
            )
            continue
        sink = _Sink(folder, input_id)
        record = read_input(path, input_id, options, seen, sink, progress, digest)
        sink.commit(keep=record.error is None)
        added.append(record)
        if record.error is not None:
            case.rejected_inputs = [
                r
                for r in case.rejected_inputs
                if (r.path, r.sha256) != (record.path, record.sha256)
            ] + [record]
        if record.error is None:
            case.inputs.append(record)
            known[record.sha256] = record
            sizes.add(record.size)
            next_number += 1
            if folder is None:
                if sink.events:
                    case.events = pa.concat_tables([case.events, *sink.events])
                if sink.duplicates:
                    case.duplicates = pa.concat_tables([case.duplicates, *sink.duplicates])
    hashing.shutdown()
    return added


@dataclass
class IngestResult:
    """What ``ingest_into_case`` did.

    Attributes:
        case_dir: the case folder.
        inputs: every input of the case now (earlier runs included).
        added: the record of each input of this run (ingested, already in the case, rejected).
        events: number of unique events in the case now.
    """

    case_dir: Path
    inputs: list[InputRecord]
    added: list[InputRecord]
    events: int


def ingest_into_case(
    paths: Sequence[str | Path],
    case_dir: str | Path,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> IngestResult:
    """Ingest exports into a case folder (created if needed; an existing case is added to).

    Raises:
        CaseError: ``case_dir`` exists and is not a case folder (and is not empty).
    """
    options = (options or IngestOptions()).checked()
    folder = Path(case_dir)
    if folder.exists() and not is_case_folder(folder) and any(folder.iterdir()):
        raise CaseError(
            f"{folder} exists and is not a msgtrace case folder; choose a new folder name."
        )
    created = not folder.exists()
    new_case = not is_case_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # only the keys of the events already in the case are needed, to merge duplicates
    case = Case.empty() if new_case else open_case(folder, columns=["event_key"])
    added = _ingest(paths, case, folder, options, progress)
    if new_case and not case.inputs:  # nothing loaded: leave no empty case behind
        if created:
            shutil.rmtree(folder)
        return IngestResult(folder, [], added, 0)
    _write_manifest(folder, case)
    events = sum(
        pq.read_metadata(folder / "events" / f"{r.input_id}.parquet").num_rows
        for r in case.inputs
        if (folder / "events" / f"{r.input_id}.parquet").exists()
    )
    return IngestResult(folder, case.inputs, added, events)


def load_sources(
    sources: Sequence[str | Path],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> Case:
    """A case from a case folder and/or raw export files and folders (read in memory).

    Raises:
        OptionError: more than one case folder was given.
        InputError: nothing at all could be loaded (the message lists why, per file).
    """
    options = (options or IngestOptions()).checked()
    cases = [s for s in sources if is_case_folder(s)]
    raw = [s for s in sources if not is_case_folder(s)]
    if len(cases) > 1:
        raise OptionError("give at most one case folder (ingest the others into it first).")
    case = open_case(cases[0]) if cases else Case.empty()
    if raw:
        added = _ingest(raw, case, None, options, progress)
        if not cases and not any(r.error is None for r in added):
            problems = "; ".join(f"{r.path}: {r.error}" for r in added) or "no files found"
            raise InputError(", ".join(str(s) for s in raw), f"nothing could be loaded: {problems}")
    return case


__all__ = [
    "AnalyzerError",
    "IngestOptions",
    "discover",
    "ingest_into_case",
    "inspect_files",
    "load_sources",
    "open_case",
]
