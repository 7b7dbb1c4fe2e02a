"""JSON exports -> batches of raw records, each with the line it starts on.

Every shape the message trace services and their collectors write is read, in any mix:

- NDJSON: one record, or one page, per line;
- a page: ``{"value": [...]}`` (Graph messageTraces and getDetailsByRecipient, Reporting web
  service OData; with or without ``@odata.context``, ``@odata.nextLink``, ``odata.metadata``),
  ``{"d": {"results": [...]}}`` or ``{"d": [...]}`` (OData verbose, maybe with ``__next``),
  ``{"records": [...]}`` (Defender streaming API / Event Hub);
- an array of records, or of pages; several documents one after another (pages appended to
  one file), pretty-printed or not.

Documents are read one at a time from a stream, so memory stays bounded by the largest one
(a service page is bounded: 5,000 records at most). Page-level members (links, counts,
metadata) are not records. A document that is not valid JSON rejects what cannot be read of it,
as one row with the reason, and reading goes on at the next line that starts a document; the
records of a broken array read before the break are kept.

Defender streaming records (``category`` ``AdvancedHunting-<Table>``, the table's columns under
``properties``) are read by their category's format; records of tables msgtrace does not read
are counted by table, not rejected one by one.
"""

from __future__ import annotations

import io
import itertools
import json
import re
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from analyzer import formats
from analyzer.encoding import Encoding, TranscodingReader
from analyzer.files import Source, as_source
from analyzer.formats import ExportFormat
from analyzer.formats.definitions import STREAMING_CATEGORY
from analyzer.readers import FileReadState, RawBatch

JSON_BATCH = 50_000
#: Characters read at a time; a document longer than the text at hand is read in growing steps.
READ_CHARS = 1024 * 1024
_SPACE = re.compile(r"[ \t\r\n]*")
#: The list of records inside a page, whichever service wrote it.
_ITEMS_START = re.compile(r'"(?:value|results|records|d)"\s*:\s*\[')
#: A line that starts a document: where reading goes on after a broken one.
_DOCUMENT_START = re.compile(r"^[\[{]", re.MULTILINE)
_NOT_A_RECORD = "JSON value is not an object (record)"


def _records_list(document: Any) -> list[Any] | None:
    """The records of a page (Graph, OData, OData verbose, Event Hub), or None for a record."""
    if not isinstance(document, dict):
        return None
    for key in ("value", "records"):
        if isinstance(document.get(key), list):
            return list(document[key])
    inner = document.get("d")
    if isinstance(inner, list):
        return inner
    if isinstance(inner, dict) and isinstance(inner.get("results"), list):
        return list(inner["results"])
    return None


class _Text:
    """The text of a JSON input, read ahead as needed, with the line of any position."""

    def __init__(self, stream: io.TextIOBase):
        self.stream = stream
        self.text = ""
        self.eof = False
        self._cursor = 0  # a position whose line is known
        self._cursor_line = 1

    def more(self, size: int) -> bool:
        """Read ``size`` more characters; False at the end of the input."""
        if self.eof:
            return False
        chunk = self.stream.read(size)
        if not chunk:
            self.eof = True
            return False
        self.text += chunk
        return True

    def line_at(self, position: int) -> int:
        if position >= self._cursor:
            self._cursor_line += self.text.count("\n", self._cursor, position)
        else:
            self._cursor_line -= self.text.count("\n", position, self._cursor)
        self._cursor = position
        return self._cursor_line

    def drop_before(self, position: int) -> int:
        """Forget the text before ``position`` (read already); returns the new position 0."""
        self.line_at(position)
        self.text = self.text[position:]
        self._cursor = 0
        return 0


def _items_with_positions(
    text: str, start: int, items: list[Any] | None = None
) -> tuple[list[tuple[int, Any]], int]:
    """The items of the list whose ``[`` is just before ``start``, each with the position it
    starts at, and the position after the list's last item (``items``: how many to expect).

    Raises:
        json.JSONDecodeError: the list breaks; ``.placed`` holds the items read before it and
            ``.at`` where the item that breaks starts.
    """
    decoder = json.JSONDecoder()
    placed: list[tuple[int, Any]] = []
    position = start
    for _ in items if items is not None else itertools.count():
        while position < len(text) and text[position] in " \t\r\n,":
            position += 1
        if position < len(text) and text[position] == "]":
            break
        try:
            item, end = decoder.raw_decode(text, position)
        except json.JSONDecodeError as error:
            error.placed = placed  # type: ignore[attr-defined]
            error.at = position  # type: ignore[attr-defined]
            raise
        placed.append((position, item))
        position = end
    return placed, position


def _placed_records(
    text: str, start: int, document: Any, end: int | None = None
) -> list[tuple[int, Any]]:
    """The records of one decoded document (``text[start:end]``), each with the position it
    starts at.

    A page's records are found again in the text (decoded a second time, to learn where each
    starts); when they cannot be placed, each keeps the document's start.
    """
    if isinstance(document, list):
        return _flatten(text, _placed_list(text, start + 1, document))
    items = _records_list(document)
    if items is None:
        return [(start, document)]
    match = _ITEMS_START.search(text, start, len(text) if end is None else end)
    if match is None:
        return [(start, item) for item in items]
    return _placed_list(text, match.end(), items)


def _placed_list(text: str, start: int, items: list[Any]) -> list[tuple[int, Any]]:
    try:
        placed, _ = _items_with_positions(text, start, items)
    except json.JSONDecodeError:
        return [(start, item) for item in items]
    if [item for _, item in placed] != items:  # a subject mimicked the page's key
        return [(start, item) for item in items]
    return placed


def _flatten(text: str, placed: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """Items of an array: records as they are, pages (an array of pages) by their records."""
    found: list[tuple[int, Any]] = []
    for position, item in placed:
        if _records_list(item) is not None:
            found.extend(_placed_records(text, position, item))
        else:
            found.append((position, item))
    return found


def _salvage(text: str, start: int) -> tuple[list[tuple[int, Any]], int]:
    """The records of a broken document that can be read, and where it breaks.

    Only a list (an array, or a page's records) can be read in part: its items up to the one
    that breaks. Any other broken document breaks at its start.
    """
    if text.startswith("[", start):
        list_start = start + 1
    else:
        match = _ITEMS_START.search(text, start)
        if match is None:
            return [], start
        list_start = match.end()
    try:
        placed, after = _items_with_positions(text, list_start)
    except json.JSONDecodeError as error:
        return _flatten(text, error.placed), int(error.at)  # type: ignore[attr-defined]
    return _flatten(text, placed), after


def json_records(stream: io.TextIOBase, state: FileReadState) -> Iterator[tuple[int, Any]]:
    """(line, item) of every record of a JSON input, document by document.

    Items that are not objects are yielded too (the caller rejects them); a document that
    cannot be read is recorded in ``state.rejected`` and counted as one row read.
    """
    source = _Text(stream)
    decoder = json.JSONDecoder()
    position = 0
    want = READ_CHARS
    waiting_at = -1  # the start of a document that needed more text
    while True:
        position = _SPACE.match(source.text, position).end()  # type: ignore[union-attr]
        if position >= len(source.text):
            if not source.more(READ_CHARS):
                return
            continue
        if position > READ_CHARS and position > len(source.text) // 2:
            position = source.drop_before(position)
            waiting_at = -1
        try:
            document, end = decoder.raw_decode(source.text, position)
        except json.JSONDecodeError as error:
            if source.text.find("\n", error.pos) < 0 and not source.eof:
                # the document may just go on beyond the text at hand: read more (more each
                # time the same document needs it, so a long one is not decoded over and over)
                want = want * 2 if waiting_at == position else READ_CHARS
                waiting_at = position
                source.more(want)
                continue
            position = yield from _broken(source, position, error, state)
            continue
        waiting_at = -1
        for start, item in _placed_records(source.text, position, document, end):
            yield source.line_at(start), item
        position = end


def _broken(
    source: _Text, start: int, error: json.JSONDecodeError, state: FileReadState
) -> Generator[tuple[int, Any], None, int]:
    """Yield what a broken document holds, reject the rest; returns where reading goes on."""
    placed, breaks = _salvage(source.text, start)
    for position, item in placed:
        yield source.line_at(position), item
    first_line = source.line_at(max(breaks, start))
    where = f"line {source.line_at(error.pos)}, column {error.colno}"
    # go on at the next line that starts a document, after the line of the error
    while True:
        line_end = source.text.find("\n", error.pos)
        match = _DOCUMENT_START.search(source.text, line_end + 1) if line_end >= 0 else None
        if match is not None or not source.more(READ_CHARS):
            break
    reason = f"not valid JSON ({error.msg} at {where})"
    if match is None:
        resume = len(source.text)
        if line_end < 0 or not source.text[line_end:].strip():
            reason += ": the file appears cut off (truncated) here; download the export again"
        last_line = source.line_at(len(source.text.rstrip()))
    else:
        resume = match.start()
        last_line = source.line_at(resume) - 1
    if last_line > first_line:
        reason += f"; lines {first_line}-{last_line} could not be read"
    state.rejected.append((first_line, reason))
    state.rows_read += 1
    return resume


def json_value(value: Any) -> str | None:
    """A JSON value as the text of a raw column (nested values as compact JSON text)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def _streaming_spec(record: dict[str, Any]) -> tuple[str | None, ExportFormat | None]:
    """(table name, format) of a Defender streaming record; (None, None) for other records."""
    category = record.get("category")
    if not isinstance(category, str) or not isinstance(record.get("properties"), dict):
        return None, None
    if not category.lower().startswith(STREAMING_CATEGORY.lower()):
        return None, None
    return category[len(STREAMING_CATEGORY) :], formats.by_category(category)


def _unwrapped(record: dict[str, Any]) -> dict[str, Any]:
    """A streaming record's table columns, then its envelope (time, tenantId, category...)."""
    flat = dict(record["properties"])
    for key, value in record.items():
        if key != "properties" and key not in flat:
            flat[key] = value
    return flat


def read_json_batches(
    path: Path | Source,
    encoding: Encoding,
    state: FileReadState,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[RawBatch]:
    """Records of a JSON export, in batches, each record with the line it starts on.

    A batch's headers are the keys of its records, in the order first seen; Defender
    streaming records come in batches of their own table, with its format.
    """
    stream = TranscodingReader(as_source(path), encoding, on_bytes)
    try:
        text = io.TextIOWrapper(io.BufferedReader(stream), encoding="utf-8", newline="")
        records = json_records(text, state)
        for chunk in iter(lambda: list(itertools.islice(records, JSON_BATCH)), []):
            state.decode_error_offsets = stream.error_offsets
            yield from _chunk_batches(chunk, state)
    finally:
        stream.close()
        state.decode_error_offsets = stream.error_offsets
        state.damage = state.damage or stream.damage


def _chunk_batches(chunk: list[tuple[int, Any]], state: FileReadState) -> Iterator[RawBatch]:
    """One raw batch per kind of record in ``chunk`` (records of one streaming table, or
    plain records), in the order the kinds are first met."""
    groups: dict[str | None, tuple[ExportFormat | None, list[tuple[int, dict[str, Any]]]]] = {}
    for line, item in chunk:
        if not isinstance(item, dict):
            state.rejected.append((line, _NOT_A_RECORD))
            state.rows_read += 1
            continue
        table, spec = _streaming_spec(item)
        if table is not None and spec is None:
            state.other_tables[table] += 1  # a Defender table that is no mail data
            continue
        if spec is not None:
            item = _unwrapped(item)
        groups.setdefault(spec.name if spec else None, (spec, []))[1].append((line, item))
    for spec, records in groups.values():
        headers: list[str] = []
        seen: set[str] = set()
        for _, record in records:
            for key in record:
                if key not in seen:
                    seen.add(key)
                    headers.append(key)
        columns = [
            pa.array([json_value(record.get(h)) for _, record in records], pa.string())
            for h in headers
        ]
        table = pa.Table.from_arrays(columns, names=[f"c{k}" for k in range(len(headers))])
        lines = np.array([line for line, _ in records], dtype=np.int64)
        state.rows_read += len(records)
        state.count_control(table, lines)
        yield RawBatch(table, lines, state.bytes_read, headers, spec)
