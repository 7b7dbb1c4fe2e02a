"""Readers: an export file on disk -> batches of raw rows, each with the line it starts on.

``read_layout`` finds a file's container (CSV, Exchange tracking log with ``#Fields:``, JSON),
its header and its format; ``read_csv_batches`` streams a CSV or tracking log through
pyarrow's CSV reader in batches of string columns under the file's own headers;
``read_json_records`` reads Reporting web service / Graph JSON (OData pages, NDJSON or one
document). Every row keeps the physical line it starts on, and every row that cannot be read
is recorded with its line and a reason: nothing is dropped silently.
"""

from __future__ import annotations

import csv
import ctypes
import io
import itertools
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Full, Queue

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from analyzer import formats
from analyzer.encoding import Encoding, TranscodingReader, decode_head
from analyzer.errors import InputError
from analyzer.formats import ExportFormat

BLOCK_SIZE = 8 * 1024 * 1024  # bytes of UTF-8 per CSV batch
JSON_BATCH = 50_000


@dataclass
class Layout:
    """How a file is laid out: container, header, where the data starts, and its format."""

    container: str
    headers: list[str]
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


def choose_format(path: Path, headers: list[str], container: str, forced: str | None):
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
        # the format is told from the records' keys, once the reader has them
        return Layout("json", [], 0, ",", formats.BY_NAME["reporting_api_json"], {})
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
        spec = choose_format(path, headers, "tracking_log", forced_format)
        return Layout("tracking_log", headers, skip, ",", spec, spec.header_map(headers))
    # Excel writes "sep=;" as a first line to say which delimiter it used
    excel_separator = re.match(r"^\ufeff?sep=(.)\s*$", lines[0]) if lines else None
    skip = 1 if excel_separator else 0
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
    if excel_separator:
        delimiter = excel_separator.group(1)
    elif counts[delimiter] == 0:
        raise InputError(
            str(path),
            f"is not a CSV export (its first line has no commas: {header_line[:60]!r}).",
        )
    headers = _unique_headers(next(csv.reader([header_line], delimiter=delimiter)))
    spec = choose_format(path, headers, "csv", forced_format)
    return Layout("csv", headers, skip + 1, delimiter, spec, spec.header_map(headers))


@dataclass
class RawBatch:
    """A batch of raw rows (string columns in header order) with their starting lines."""

    table: pa.Table
    lines: np.ndarray
    bytes_read: int = 0  # of the input, when the batch was complete (for progress)
    headers: list[str] | None = None  # its own headers (JSON batches), else the file's


@dataclass
class FileReadState:
    """What a reader learns about a file while reading it."""

    rows_read: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)
    blank_lines: int = 0
    comment_lines: int = 0
    decode_error_offsets: list[int] = field(default_factory=list)
    message_ids: set[str] = field(default_factory=set)  # to compare with message limits
    bytes_read: int = 0  # of the input so far

    def count_bytes(self, amount: int) -> None:
        self.bytes_read += amount


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


def _find_byte_function():
    """libc's memchr through ctypes: a zero-copy scan of an Arrow buffer at memory speed.

    Copying each column's text to Python bytes to search it cost more than parsing it; where
    libc cannot be loaded, a regular expression searches the buffer in place instead.
    """
    try:
        libc = ctypes.CDLL(None)
        memchr = libc.memchr
    except (OSError, AttributeError, TypeError):
        return None
    memchr.restype = ctypes.c_void_p
    memchr.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    return memchr


_MEMCHR = _find_byte_function()
_NEWLINE = re.compile(b"\n")


def _contains_newline(buffer: pa.Buffer) -> bool:
    if buffer.size == 0:
        return False
    if _MEMCHR is not None:
        return _MEMCHR(buffer.address, 10, buffer.size) is not None
    return _NEWLINE.search(memoryview(buffer)) is not None


def _line_breaks(table: pa.Table) -> np.ndarray:
    """Line breaks inside the fields of each row (quoted multi-line subjects)."""
    breaks = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        for chunk in column.chunks:
            data = chunk.buffers()[2]
            if data is not None and _contains_newline(data):  # a quick look before counting
                breaks += pc.fill_null(pc.count_substring(column, "\n"), 0).to_numpy(
                    zero_copy_only=False
                )
                break
    return breaks


def iso_shaped(times: pa.ChunkedArray) -> bool:
    """Whether every time starts like ISO 8601 (``yyyy-``): no locale date needs deciding."""
    fifth = pc.utf8_slice_codeunits(times, 4, 5)
    return bool(pc.all(pc.fill_null(pc.equal(fifth, "-"), True)).as_py())


def _blank_rows(table: pa.Table) -> np.ndarray:
    """Rows whose every field is empty (blank lines)."""
    if table.num_rows == 0 or table.column(0).null_count == 0:  # the usual case, for free
        return np.zeros(table.num_rows, dtype=bool)
    blank = pc.is_null(table.column(0)).to_numpy(zero_copy_only=False)
    if blank.any():
        for column in table.columns[1:]:
            blank &= pc.is_null(column).to_numpy(zero_copy_only=False)
    return blank


class CountingReader(io.RawIOBase):
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


def _text_bytes(table: pa.Table) -> int:
    """About how many bytes of UTF-8 text the rows of ``table`` took in the file."""
    size = table.num_rows * table.num_columns  # delimiters and line ends
    for column in table.columns:
        for chunk in column.chunks:
            data = chunk.buffers()[2]
            size += data.size if data is not None else 0
    return size


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


class CarefulReadNeeded(Exception):
    """The fast read met something only the careful (serial, validating) read handles."""


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
            validated by pyarrow) and raise ``CarefulReadNeeded`` at the first bad row or byte.

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
        stream = CountingReader(path, on_bytes)
    else:  # pyarrow's strict transcoder; a BOM becomes a UTF-8 BOM, which pyarrow skips
        stream = pa.transcoding_input_stream(
            pa.PythonFile(CountingReader(path, on_bytes), mode="r"), encoding.name, "utf-8"
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

    # every skipped row (preamble, header) is one line: record numbers count them already
    line_state = {"carry": 0}
    rows_text = 0
    width = (
        4 if encoding.name.startswith("utf-32") else 2 if encoding.name.startswith("utf-16") else 1
    )
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
            # pyarrow reads far ahead of the batches it hands out, so progress counts the text
            # of the rows handed out (times the bytes per character of the file's encoding)
            rows_text += _text_bytes(table) * width
            yield (
                RawBatch(table, lines, min(rows_text, state.bytes_read)),
                bool(state.decode_error_offsets),
            )
        _mark_truncated_end(invalid, emitted + layout.skip_rows)
        settle(None, np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        if not careful:
            raise CarefulReadNeeded(str(error)) from None
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


def read_json_batches(
    path: Path, encoding: Encoding, state: FileReadState, on_bytes=None
) -> Iterator[RawBatch]:
    """Records of a JSON export, in batches, each record with the line it starts on.

    NDJSON (one record, or one OData page, per line) is streamed line by line, so memory stays
    bounded whatever the file size; a single document (an OData page or a list, perhaps
    pretty-printed) is read whole: the service's pages are bounded. A batch's headers are the
    keys of its records, in the order first seen.
    """
    stream = TranscodingReader(path, encoding, on_bytes)
    try:
        text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8", newline="")
        first = text.readline()
        try:
            json.loads(first)
            line_by_line = True
        except json.JSONDecodeError:
            line_by_line = False  # a document spread over lines
        if line_by_line:
            lines = itertools.chain([(1, first)], enumerate(text, start=2))
            yield from _record_batches(_ndjson_records(lines, state), state, stream)
        else:
            whole = first + text.read()
            yield from _record_batches(_document_records(whole, state), state, stream)
    finally:
        stream.close()
        state.decode_error_offsets = stream.error_offsets


def _take_records(line: int, document, state: FileReadState) -> Iterator[tuple[int, dict]]:
    if isinstance(document, dict) and isinstance(document.get("value"), list):
        items = document["value"]  # an OData page
    elif isinstance(document, list):
        items = document
    else:
        items = [document]
    for item in items:
        if isinstance(item, dict):
            yield line, item
        else:
            state.rejected.append((line, "JSON value is not an object (record)"))
            state.rows_read += 1


def _ndjson_records(lines, state: FileReadState) -> Iterator[tuple[int, dict]]:
    for number, line in lines:
        if not line.strip():
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError as error:
            state.rejected.append((number, f"not valid JSON ({error.msg}, column {error.colno})"))
            state.rows_read += 1
            continue
        yield from _take_records(number, document, state)


def _document_records(text: str, state: FileReadState) -> Iterator[tuple[int, dict]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError:  # not one document after all: try it line by line
        yield from _ndjson_records(enumerate(text.splitlines(), start=1), state)
        return
    placed = _records_with_lines(text, document)
    for line, item in placed if placed is not None else [(1, document)]:
        yield from _take_records(line, item, state)


def _record_batches(
    records: Iterator[tuple[int, dict]], state: FileReadState, stream
) -> Iterator[RawBatch]:
    for chunk in iter(lambda: list(itertools.islice(records, JSON_BATCH)), []):
        headers: list[str] = []
        seen: set[str] = set()
        for _, record in chunk:
            for key in record:
                if key not in seen:
                    seen.add(key)
                    headers.append(key)
        columns = [
            pa.array([_json_value(record.get(h)) for _, record in chunk], pa.string())
            for h in headers
        ]
        table = pa.Table.from_arrays(columns, names=[f"c{k}" for k in range(len(headers))])
        state.rows_read += len(chunk)
        state.decode_error_offsets = stream.error_offsets
        lines = np.array([line for line, _ in chunk], dtype=np.int64)
        yield RawBatch(table, lines, state.bytes_read, headers)


_ITEMS_START = re.compile(r'^\s*\[|"value"\s*:\s*\[')


def _records_with_lines(text: str, document) -> list[tuple[int, object]] | None:
    """The items of a one-document export (a list, or an OData page's ``value``), each with
    the line it starts on; None when the document has no such list or it cannot be placed."""
    items = (
        document
        if isinstance(document, list)
        else (document.get("value") if isinstance(document, dict) else None)
    )
    if not isinstance(items, list) or not items:
        return None
    decoder = json.JSONDecoder()
    for match in _ITEMS_START.finditer(text):
        position = match.end()
        placed: list[tuple[int, object]] = []
        line, counted = 1, 0
        try:
            for _ in items:
                while text[position] in " \t\r\n,":
                    position += 1
                line += text.count("\n", counted, position)
                counted = position
                item, position = decoder.raw_decode(text, position)
                placed.append((line, item))
        except (json.JSONDecodeError, IndexError):
            continue
        if [item for _, item in placed] == items:
            return placed
    return None
