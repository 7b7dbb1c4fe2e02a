"""Readers: an export on disk -> batches of raw rows, each with the line it starts on.

``read_layout`` finds an input's container (CSV, Exchange tracking log with or without its
``#Fields:`` block, JSON), its header and its format; ``read_csv_batches`` streams a CSV or
tracking log through pyarrow's CSV reader in batches of string columns under the file's own
headers; ``read_json_batches`` (``analyzer.json_records``) reads JSON records. Every row keeps
the physical line it starts on, and every row that cannot be read is recorded with its line and
a reason: nothing is dropped silently.
"""

from __future__ import annotations

import csv
import ctypes
import io
import itertools
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from queue import Empty, Full, Queue
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from analyzer import formats
from analyzer.encoding import HEAD_SIZE, Encoding, TranscodingReader, decode_head
from analyzer.errors import InputError
from analyzer.files import Source, as_source, damage_of
from analyzer.formats import Container, ExportFormat
from analyzer.formats.definitions import (
    TRACKING_EVENT_FIELD,
    TRACKING_EVENT_IDS,
    TRACKING_FIELD_LISTS,
)

BLOCK_SIZE = 8 * 1024 * 1024  # bytes of UTF-8 per CSV batch
#: A header line longer than this is no export's (real ones are under 1 KiB).
MAX_HEADER = 1024 * 1024
ISO_START = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass
class Layout:
    """How a file is laid out: container, header, where the data starts, and its format.

    Attributes:
        container: CSV, tracking log or JSON.
        headers: the file's header names (JSON: decided per batch of records).
        skip_rows: rows before the first data row (preamble and header).
        delimiter: the CSV field delimiter.
        spec: the file's format (JSON: that of its first records).
        header_map: header position -> canonical column.
        field_lists: for tracking rows without their ``#Fields:`` block, the field list of each
            field count (rows of another count than the first are read with their own).
        warnings: what the layout says about the file (said once, in the input's warnings).
    """

    container: Container
    headers: list[str]
    skip_rows: int
    delimiter: str
    spec: ExportFormat
    header_map: dict[int, str]
    field_lists: dict[int, list[str]] | None = None
    warnings: list[str] = field(default_factory=list)


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


def choose_format(
    path: str | Path, headers: list[str], container: Container, forced: str | None
) -> ExportFormat:
    """The format of a file with these headers (or the forced one, if it can read them).

    Raises:
        InputError: no format matches (naming the closest and what it lacks), or the forced
            one finds no time column.
    """
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
    spec_found = formats.detect(headers, container)
    if spec_found is not None:
        return spec_found
    near, missing = formats.closest(headers, container)
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


def _control_share(text: str) -> float:
    """The share of characters of ``text`` that are control characters (not tab, CR, LF)."""
    sample = text[:4096]
    if not sample:
        return 0.0
    return sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\r\n") / len(sample)


def _head_with_whole_line(source: Source, encoding: Encoding, skip: int) -> str:
    """The decoded head, long enough to hold line ``skip`` (the header) whole.

    Raises:
        InputError: that line is longer than ``MAX_HEADER``: no export's header is.
    """
    size = HEAD_SIZE
    head = decode_head(source, encoding, size)
    while True:
        lines = head.splitlines(keepends=True)
        if len(lines) > skip + 1 or (len(lines) > skip and lines[skip].endswith(("\n", "\r"))):
            return head  # the line ends
        if size >= MAX_HEADER:
            raise InputError(
                source.path,
                f"its header line is longer than {MAX_HEADER // 1024:,} KiB: that is no "
                "message trace export's header.",
            )
        size *= 4
        longer = decode_head(source, encoding, size)
        if longer == head:
            return head  # the file ends
        head = longer


def read_layout(path: Path | Source, encoding: Encoding, forced_format: str | None) -> Layout:
    """Find the container, the header and the format of an input from its decoded head.

    Raises:
        InputError: the input holds no data, is not CSV, JSON or a tracking log, or its
            header matches no format (and none was forced).
    """
    source = as_source(path)
    head = decode_head(source, encoding)
    stripped = head.lstrip("\ufeff \t\r\n")
    if not stripped:
        raise InputError(source.path, "holds no data (only blank lines). Nothing to read.")
    if stripped[0] in "{[":
        # the format is told from the records' keys, once the reader has them
        return Layout("json", [], 0, ",", formats.BY_NAME["reporting_api_json"], {})
    lines = head.splitlines()
    # a log's header block is the run of '#' lines at the top; a "#Fields:" line after data
    # is data (a quoted multi-line subject can hold one)
    top = list(itertools.takewhile(lambda line: line.startswith("#"), lines[:20]))
    if any(line.startswith("#Fields:") for line in top):
        index = next(k for k, line in enumerate(top) if line.startswith("#Fields:"))
        lines = _head_with_whole_line(source, encoding, index).splitlines()
        headers = _unique_headers([h.strip() for h in lines[index][len("#Fields:") :].split(",")])
        # every '#' line at the top is part of the log's header block
        skip = index + 1
        while skip < len(lines) and lines[skip].startswith("#"):
            skip += 1
        spec = choose_format(source.path, headers, "tracking_log", forced_format)
        return Layout("tracking_log", headers, skip, ",", spec, spec.header_map(headers))
    headerless = _headerless_tracking_layout(source, lines, len(top), forced_format)
    if headerless is not None:
        return headerless
    # Excel writes "sep=;" as a first line to say which delimiter it used
    excel_separator = re.match(r"^\ufeff?sep=(.)\s*$", lines[0]) if lines else None
    skip = 1 if excel_separator else 0
    preambles = [re.compile(s.preamble) for s in formats.REGISTRY if s.preamble]
    while skip < len(lines) and (
        not lines[skip].strip() or any(p.match(lines[skip]) for p in preambles)
    ):
        skip += 1
    if skip >= len(lines):
        raise InputError(source.path, "has no header line. Is it a message trace export?")
    header_line = _head_with_whole_line(source, encoding, skip).splitlines()[skip]
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    delimiter = max(counts, key=lambda d: (counts[d], d == ","))
    if excel_separator:
        delimiter = excel_separator.group(1)
    elif counts[delimiter] == 0:
        _refuse_binary(source, head)
        raise InputError(
            source.path,
            f"is not a CSV export (its first line has no commas: {header_line[:60]!r}).",
        )
    headers = _unique_headers(next(csv.reader([header_line], delimiter=delimiter)))
    try:
        spec = choose_format(source.path, headers, "csv", forced_format)
    except InputError:
        _refuse_binary(source, head)
        raise
    return Layout("csv", headers, skip + 1, delimiter, spec, spec.header_map(headers))


def _refuse_binary(source: Source, head: str) -> None:
    """A file that is no export and whose head is largely control characters is binary:
    say so (a text export with a few control characters in a subject is read as text)."""
    if _control_share(head) > 0.1:
        raise InputError(
            source.path,
            "looks like a binary file, not a text export (control characters throughout, no "
            "known header). Export the message trace as CSV and try again.",
        )


def _headerless_tracking_layout(
    source: Source, lines: list[str], comments: int, forced: str | None
) -> Layout | None:
    """A layout for Exchange tracking rows that arrive without their ``#Fields:`` block.

    They are told by an ISO time in the first field and a known event id where the version's
    field list puts it (the 9th field in all of them); the field count tells the version (26:
    2010, 27: 2013, 30: 2016/2019). ``--format exchange_tracking_log`` reads a file so even
    without those signs, when its first row has one of these field counts.
    """
    first = next((line for line in lines[comments:] if line.strip()), None)
    if first is None:
        return None
    fields = next(csv.reader([first]), [])
    forced_log = forced == "exchange_tracking_log"
    if (forced and not forced_log) or not fields or not ISO_START.match(fields[0].strip()):
        return None  # a header line (or no tracking row at all)
    if len(fields) not in TRACKING_FIELD_LISTS:
        if forced_log:
            counts = ", ".join(str(c) for c in TRACKING_FIELD_LISTS)
            raise InputError(
                source.path,
                f"--format exchange_tracking_log was given, but its first row has "
                f"{len(fields)} fields and no #Fields: line says what they are (Exchange "
                f"tracking rows have {counts}).",
            )
        return None
    if not forced_log and fields[TRACKING_EVENT_FIELD].strip().upper() not in TRACKING_EVENT_IDS:
        return None
    field_lists = {count: list(names) for count, (_, names) in TRACKING_FIELD_LISTS.items()}
    version = TRACKING_FIELD_LISTS[len(fields)][0]
    headers = field_lists[len(fields)]
    spec = formats.BY_NAME["exchange_tracking_log"]
    warning = (
        f"no #Fields: header: rows read as {version} message tracking rows by their field "
        f"count ({len(fields)}); rows of another count are read with their own version's "
        "fields"
    )
    return Layout(
        "tracking_log",
        headers,
        comments,
        ",",
        spec,
        spec.header_map(headers),
        field_lists=field_lists,
        warnings=[warning],
    )


@dataclass
class RawBatch:
    """A batch of raw rows (string columns in header order) with their starting lines.

    Attributes:
        table: the rows; column k holds the values of header k.
        lines: the line each row starts on.
        bytes_read: of the input, when the batch was complete (for progress).
        headers: the batch's own headers (JSON batches, rows of another field count), else
            the file's.
        spec: the batch's own format (Defender streaming records, by their category), else
            the file's.
    """

    table: pa.Table
    lines: np.ndarray
    bytes_read: int = 0
    headers: list[str] | None = None
    spec: ExportFormat | None = None


@dataclass
class FileReadState:
    """What a reader learns about a file while reading it.

    Attributes:
        rows_read: rows (records) read, rejected ones included.
        rejected: (line, reason) of each row that could not be read.
        blank_lines: blank lines skipped (no rows).
        repeated_headers: header lines found again inside the file (exports concatenated
            into one file), skipped.
        control_rows: rows whose text holds NUL or other control characters (kept).
        first_control_line: the line of the first of them.
        other_tables: Defender streaming records of tables msgtrace does not read, by table.
        decode_error_offsets: byte offsets of undecodable byte sequences.
        damage: what went wrong decompressing an archive member, if anything.
        message_ids: distinct message ids seen (to compare with message limits).
        bytes_read: of the input so far.
        formats_read: the formats of the rows read, in the order first met.
    """

    rows_read: int = 0
    rejected: list[tuple[int | None, str]] = field(default_factory=list)
    blank_lines: int = 0
    repeated_headers: int = 0
    control_rows: int = 0
    first_control_line: int | None = None
    other_tables: Counter[str] = field(default_factory=Counter)
    decode_error_offsets: list[int] = field(default_factory=list)
    damage: str | None = None
    message_ids: set[str] = field(default_factory=set)
    bytes_read: int = 0
    formats_read: list[str] = field(default_factory=list)

    def count_bytes(self, amount: int) -> None:
        self.bytes_read += amount

    def count_control(self, table: pa.Table, lines: np.ndarray) -> None:
        """Count the rows of ``table`` whose text holds control characters."""
        rows = control_rows(table)
        if rows is not None and rows.any():
            self.control_rows += int(rows.sum())
            first = int(lines[rows].min())
            if self.first_control_line is None or first < self.first_control_line:
                self.first_control_line = first


def _start_lines(numbers: np.ndarray, breaks: np.ndarray, state: dict[str, int]) -> np.ndarray:
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


def _find_byte_function() -> Any:
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


def _contains_byte(buffer: pa.Buffer, byte: int) -> bool:
    if buffer.size == 0:
        return False
    if _MEMCHR is not None:
        return _MEMCHR(buffer.address, byte, buffer.size) is not None
    return re.search(re.escape(bytes([byte])), memoryview(buffer)) is not None


def line_breaks_in(text: str) -> int:
    """Line breaks in ``text``: each ``\\r\\n``, ``\\n`` and lone ``\\r`` (CR-only files)."""
    return text.count("\n") + text.count("\r") - text.count("\r\n")


def _line_breaks(table: pa.Table) -> np.ndarray:
    """Line breaks inside the fields of each row (quoted multi-line subjects): ``\\r\\n``,
    ``\\n``, and the lone ``\\r`` of files with CR-only line ends."""
    breaks = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        data = [chunk.buffers()[2] for chunk in column.chunks]
        data = [d for d in data if d is not None]
        newline = any(_contains_byte(d, 10) for d in data)  # a quick look before counting
        carriage = any(_contains_byte(d, 13) for d in data)
        if newline:
            breaks += _counts(column, "\n")
        if carriage:
            breaks += _counts(column, "\r")
            if newline:
                breaks -= _counts(column, "\r\n")
    return breaks


def _counts(column: pa.ChunkedArray, needle: str) -> np.ndarray:
    counted = pc.fill_null(pc.count_substring(column, needle), 0)
    return np.asarray(counted.to_numpy(zero_copy_only=False), dtype=np.int64)


#: C0 controls but tab, LF and CR; DEL; C1 controls (two bytes in UTF-8).
CONTROL_TEXT = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"


def control_rows(table: pa.Table) -> np.ndarray | None:
    """Rows whose text holds a control character (None when no row does: the usual case).

    An export's text is attacker-written: a subject can hold NUL, escape sequences or other
    control characters. They are kept as exported; this only finds the rows, to say so. Each
    column's bytes are looked at first (a smallest byte under 32, a DEL or the lead byte of
    a C1 control), so clean columns cost a scan at memory speed.
    """
    found: np.ndarray | None = None
    for column in table.columns:
        if not any(_may_hold_controls(chunk) for chunk in column.chunks):
            continue
        hit = pc.fill_null(pc.match_substring_regex(column, CONTROL_TEXT), False)
        rows = np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)
        found = rows if found is None else found | rows
    return found


def _may_hold_controls(chunk: pa.Array) -> bool:
    """Whether the text of a string array may hold a control character: a byte under 32, a
    DEL, or the lead byte of a C1 control. Only the bytes of its values are looked at (a
    buffer can be longer, and zero-filled where values are missing)."""
    if chunk.null_count == len(chunk) or not pa.types.is_string(chunk.type):
        return False
    _, offsets_buffer, data = chunk.buffers()
    if data is None:
        return False
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)
    start, end = int(offsets[chunk.offset]), int(offsets[chunk.offset + len(chunk)])
    if end <= start:
        return False
    used = data.slice(start, end - start)
    # one pass for both ends: most columns are ASCII (times, ids, addresses, statuses)
    low, high = pc.min_max(pa.Array.from_buffers(pa.uint8(), end - start, [None, used])).values()
    if low.as_py() < 32:
        return True
    return high.as_py() >= 0x7F and (_contains_byte(used, 0x7F) or _contains_byte(used, 0xC2))


def iso_shaped(times: pa.ChunkedArray | pa.Array) -> bool:
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


def _repeated_header_rows(table: pa.Table, layout: Layout) -> np.ndarray | None:
    """Rows that repeat the header (exports concatenated into one file), or None.

    A tracking log's header lines all start with ``#`` (a data row starts with its time); a
    CSV's header row is the header's names again.
    """
    if table.num_rows == 0:
        return None
    if layout.container == "tracking_log":
        comment = pc.fill_null(pc.starts_with(table.column(0), "#"), False)
        if not pc.any(comment).as_py():
            return None
        return np.asarray(comment.to_numpy(zero_copy_only=False), dtype=bool)
    headers = layout.headers
    if table.num_columns < 2:
        return None
    first = pc.fill_null(pc.equal(table.column(0), headers[0]), False)
    if not pc.any(first).as_py():
        return None
    same = np.asarray(first.to_numpy(zero_copy_only=False), dtype=bool)
    for position in range(1, min(table.num_columns, 4)):
        equal = pc.fill_null(pc.equal(table.column(position), headers[position]), False)
        same &= np.asarray(equal.to_numpy(zero_copy_only=False), dtype=bool)
    return same


class CountingReader(io.RawIOBase):
    """A read-only binary input that reports how many bytes were read (for progress bars)."""

    def __init__(self, path: Path | Source, on_bytes: Callable[[int], None] | None = None):
        super().__init__()
        self._raw = as_source(path).open()
        self._on_bytes = on_bytes
        self.error_offsets: list[int] = []  # pyarrow validates UTF-8 itself

    @property
    def damage(self) -> str | None:
        return damage_of(self._raw)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if self._on_bytes and data:
            self._on_bytes(len(data))
        return data

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        count = self._raw.readinto(target)  # type: ignore[attr-defined]
        if self._on_bytes and count:
            self._on_bytes(count)
        return int(count or 0)

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


#: How an invalid row is held until its line is known: (record number, line breaks, reason,
#: text of a row read with another field list). A reason of None skips the row (a blank line,
#: a comment, a repeated header block); text is set for rows of another tracking version.
Invalid = tuple[int, int, str | None, str | None]
_CUT_OFF = (
    "the last row is incomplete: the file appears cut off (truncated) here; "
    "download the export again"
)


def _mark_truncated_end(invalid: list[Invalid], last_valid_record: int) -> None:
    """Say so when the file ends in an incomplete row: the export was cut off."""
    if invalid and invalid[-1][2] and invalid[-1][0] > last_valid_record:
        number, breaks, reason, _ = invalid[-1]
        if reason and ("fields where the header has" in reason or "unterminated" in reason):
            invalid[-1] = (number, breaks, _CUT_OFF, None)


class CarefulReadNeeded(Exception):
    """The fast read met something only the careful (serial, validating) read handles."""


def _classify_invalid(row: Any, layout: Layout, state: FileReadState) -> Invalid:
    """What to do with a row pyarrow could not split into the header's fields."""
    text = row.text or ""
    breaks = line_breaks_in(text)
    if text.startswith("#") and layout.container == "tracking_log":
        state.repeated_headers += 1  # a log's header line (logs concatenated)
        return (row.number, breaks, None, None)
    if text.startswith("#TYPE") or re.match(r"^\ufeff?sep=.\s*$", text):
        state.repeated_headers += 1  # the preamble of a concatenated PowerShell export
        return (row.number, breaks, None, None)
    if not text.strip():
        state.blank_lines += 1
        return (row.number, breaks, None, None)
    if layout.field_lists and row.actual_columns in layout.field_lists:
        return (row.number, breaks, None, text)  # a tracking row of another version
    if row.actual_columns < row.expected_columns and ("\n" in text or "\r" in text):
        return (
            row.number,
            breaks,
            "unterminated quoted field: the file appears cut off (truncated) at this row",
            None,
        )
    return (
        row.number,
        breaks,
        f"has {row.actual_columns} fields where the header has {row.expected_columns} "
        "(a ragged row: a cut-off line, or a field with an unescaped quote or delimiter?)",
        None,
    )


def _other_version_batches(
    rows: list[tuple[int, str]], layout: Layout, bytes_read: int
) -> Iterator[RawBatch]:
    """Tracking rows of another field count than the file's first, read with their own list."""
    assert layout.field_lists is not None
    by_count: dict[int, list[tuple[int, list[str]]]] = {}
    for line, text in rows:
        fields = next(csv.reader([text]))
        by_count.setdefault(len(fields), []).append((line, fields))
    for count, parsed in sorted(by_count.items()):
        headers = layout.field_lists[count]
        columns = [
            pa.array([fields[k] or None for _, fields in parsed], pa.string()) for k in range(count)
        ]
        table = pa.Table.from_arrays(columns, names=headers)
        lines = np.array([line for line, _ in parsed], dtype=np.int64)
        yield RawBatch(table, lines, bytes_read, headers)


def _record_numbers(invalid: list[Invalid], emitted: int, n: int, skip_rows: int) -> np.ndarray:
    """Record numbers of the next ``n`` rows pyarrow hands out, ``emitted`` rows after the
    first: the j-th row handed out is the j-th record number that was not an invalid row."""
    known = np.array(sorted(r[0] for r in invalid), dtype=np.int64)
    wanted = np.arange(emitted + 1, emitted + n + 1, dtype=np.int64) + skip_rows
    records = wanted
    for _ in range(1000):
        shifted = wanted + np.searchsorted(known, records, side="right")
        if np.array_equal(shifted, records):
            break
        records = shifted
    return records


def read_csv_batches(
    path: Path | Source,
    encoding: Encoding,
    layout: Layout,
    state: FileReadState,
    on_bytes: Callable[[int], None] | None = None,
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
    source = as_source(path)
    invalid: list[Invalid] = []

    def on_invalid(row: Any) -> str:
        # only the careful read gets here: its stream is valid UTF-8 (undecodable bytes are
        # U+FFFD), so pyarrow can give the row's text (the fast read has no handler at all:
        # pyarrow decoding a bad row's text in it would fail inside the parser)
        invalid.append(_classify_invalid(row, layout, state))
        return "skip"

    stream: Any
    damage_source: Any  # the stream that knows whether an archive member was damaged
    if careful:
        stream = damage_source = TranscodingReader(source, encoding, on_bytes)
    elif encoding.name == "utf-8":  # pyarrow validates UTF-8 itself (and skips a UTF-8 BOM)
        stream = damage_source = CountingReader(source, on_bytes)
    else:  # pyarrow's strict transcoder; a BOM becomes a UTF-8 BOM, which pyarrow skips
        damage_source = CountingReader(source, on_bytes)
        stream = pa.transcoding_input_stream(
            pa.PythonFile(damage_source, mode="r"), encoding.name, "utf-8"
        )

    def open_reader() -> Any:
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
                invalid_row_handler=on_invalid if careful else None,
            ),
            convert_options=pa_csv.ConvertOptions(
                column_types={h: pa.string() for h in layout.headers},
                # an empty field is a missing value; no other text ("NULL", "N/A", "None") is
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
    other_rows: list[tuple[int, str]] = []

    def settle(upto: int | None, records: np.ndarray, breaks: np.ndarray) -> np.ndarray:
        """Lines of ``records``; invalid records up to ``upto`` are placed and rejected."""
        nonlocal settled
        pending = [row for row in invalid[settled:] if upto is None or row[0] <= upto]
        settled += len(pending)
        numbers = np.concatenate([records, np.array([r[0] for r in pending], dtype=np.int64)])
        all_breaks = np.concatenate([breaks, np.array([r[1] for r in pending], dtype=np.int64)])
        lines = _start_lines(numbers, all_breaks, line_state)
        for (_, _, reason, text), line in zip(pending, lines[len(records) :], strict=True):
            if reason:
                state.rejected.append((int(line), reason))
                state.rows_read += 1
            elif text is not None:
                other_rows.append((int(line), text))
        return lines[: len(records)]

    def other_versions() -> Iterator[tuple[RawBatch, bool]]:
        if other_rows:
            for batch in _other_version_batches(other_rows, layout, state.bytes_read):
                state.rows_read += batch.table.num_rows
                state.count_control(batch.table, batch.lines)
                yield batch, bool(state.decode_error_offsets)
            other_rows.clear()

    try:
        reader = open_reader()  # reads the first block: a parse error can come from here too
        for record_batch in reader:
            table = pa.Table.from_batches([record_batch])
            n = table.num_rows
            records = _record_numbers(invalid, emitted, n, layout.skip_rows)
            emitted += n
            breaks = _line_breaks(table)
            lines = settle(int(records[-1]) if n else None, records, breaks)
            drop = _blank_rows(table)  # blank lines arrive as rows of empty fields
            state.blank_lines += int(drop.sum())
            repeated = _repeated_header_rows(table, layout)
            if repeated is not None and repeated.any():
                state.repeated_headers += int(repeated.sum())
                drop = drop | repeated
            if drop.any():
                table = table.filter(pa.array(~drop))
                lines = lines[~drop]
            state.rows_read += table.num_rows
            state.count_control(table, lines)
            state.decode_error_offsets = getattr(stream, "error_offsets", [])
            # pyarrow reads far ahead of the batches it hands out, so progress counts the text
            # of the rows handed out (times the bytes per character of the file's encoding)
            rows_text += _text_bytes(table) * width
            yield (
                RawBatch(table, lines, min(rows_text, state.bytes_read)),
                bool(state.decode_error_offsets),
            )
            yield from other_versions()
        _mark_truncated_end(invalid, emitted + layout.skip_rows)
        settle(None, np.array([], dtype=np.int64), np.array([], dtype=np.int64))
        yield from other_versions()
    except (pa.ArrowInvalid, UnicodeDecodeError) as error:
        if emitted == 0 and "Could not skip initial" in str(error):
            return  # the header is the whole file, without a line end after it: no rows
        if not careful:
            raise CarefulReadNeeded(str(error)) from None
        message = str(error).replace("CSV parse error: ", "")
        state.rejected.append((None, f"the rest of the file could not be parsed: {message}"))
        state.rows_read += 1
    finally:
        stream.close()
        state.decode_error_offsets = getattr(stream, "error_offsets", [])
        state.damage = state.damage or damage_source.damage


Item = TypeVar("Item")


def prefetch(items: Iterator[Item], depth: int = 2) -> Iterator[Item]:
    """Run ``items`` in a background thread, ``depth`` items ahead of the consumer.

    Parsing (pyarrow, without the GIL) then overlaps normalization on the other core.
    Exceptions are re-raised in the consumer; memory stays bounded by ``depth`` batches.
    """
    queue: Queue[Any] = Queue(maxsize=depth)
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
        close = getattr(items, "close", None)
        if close is not None:
            close()
