"""Ingest: export files on disk -> canonical events, with an account of every row.

For each input (a file, or a member of an archive: ``analyzer.files``): sha256 and size,
encoding (``analyzer.encoding``), layout and format, then a streamed read in batches
(``analyzer.readers``, ``analyzer.json_records``), normalization (``analyzer.normalize``),
duplicate merging (``KeySet``) and the case store (``analyzer.case``: a Parquet part per input,
or tables in memory). Memory stays bounded by the batch size, whatever the file size (events
are written as they come; only their 8-byte keys are kept for merging).

Every row is accounted for: ``rows_read = rows_ingested + rows_duplicate + rows_rejected``.
A rejected row keeps its line and reason; a bad file is an ``InputError`` recorded against that
file, and the other inputs still load. An input that cannot be opened (a missing file, a named
pipe, a dangling link, no permission) is such a bad file. A folder that is a link to one
already searched is not read twice: its record has the status ``skipped``, with why in its
warnings (it is no input of the case).
"""

from __future__ import annotations

import binascii
import dataclasses
import itertools
import shutil
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import formats
from analyzer.case import (
    INTERRUPTED,
    MANIFEST,
    MAX_LISTED_REJECTIONS,
    Case,
    EventSink,
    InputRecord,
    RejectedRow,
    is_case_folder,
    open_case,
    open_for_writing,
    write_manifest,
)
from analyzer.encoding import Encoding, detect_encoding
from analyzer.errors import AnalyzerError, CaseError, InputError, OptionError
from analyzer.files import (
    Source,
    SourceProblem,
    Walk,
    damage_of,
    digest_of,
    file_sha256,
    walk,
)
from analyzer.formats import ExportFormat
from analyzer.json_records import read_json_batches
from analyzer.normalize import Batch, FileContext, to_canonical
from analyzer.progress import Progress
from analyzer.readers import (
    CarefulReadNeeded,
    FileReadState,
    Layout,
    RawBatch,
    choose_format,
    iso_shaped,
    prefetch,
    read_csv_batches,
    read_layout,
)
from analyzer.schema import DUPLICATE_SCHEMA
from analyzer.store import LOCK_FILE, PARTIAL_SUFFIX, CaseLock
from analyzer.timestamps import check_time_zone, day_order, iso_utc

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
    """

    encoding: str | None = None
    format: str | None = None
    dayfirst: bool | None = None
    input_tz: str = "UTC"

    def checked(self) -> IngestOptions:
        if self.format:
            formats.get(self.format)
        self.input_tz = check_time_zone(self.input_tz)
        return self


# ----------------------------------------------------------------------------- discovery


def _case_folder(path: Path) -> str | None:
    """Why a folder's files are no exports: it is a msgtrace case (its Parquet parts)."""
    if (path / MANIFEST).is_file():
        return (
            "is a msgtrace case folder, not an export: every command reads it as it is. "
            "To combine cases, ingest their original exports into one case."
        )
    return None


def discover(paths: Sequence[str | Path]) -> Walk:
    """The inputs to read: each file as given, export-like files found in folders (sorted),
    archives by their members; inputs that cannot be read carry their problem."""
    return walk(paths, not_exports=_case_folder)


def _skipped(path: str, why: str) -> InputRecord:
    return InputRecord(path=path, size=0, sha256="", input_id="", status="skipped", warnings=[why])


# ----------------------------------------------------------------------------- merging


class KeySet:
    """The event keys seen so far, for merging duplicates without holding events in memory.

    Keys are 128 bits, as (n, 2) uint64 rows (``normalize.event_key_values``). They are kept
    as runs sorted by their first half, merged when a run grows as large as the one before it,
    so a membership test costs a few binary searches on plain uint64 (a 128-bit sort would
    cost ten times more); keys sharing a first half are told apart by the second.
    """

    def __init__(self) -> None:
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []  # (first halves, second halves)

    def __len__(self) -> int:
        return sum(len(high) for high, _ in self.runs)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        found = np.zeros(len(keys), dtype=bool)
        for high, low in self.runs:
            found |= _members(high, low, keys)
        return found

    def snapshot(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """The keys as they are now (runs are never changed in place, only replaced)."""
        return list(self.runs)

    def restore(self, snapshot: list[tuple[np.ndarray, np.ndarray]]) -> None:
        self.runs = list(snapshot)

    def add(self, keys: np.ndarray) -> None:
        """Add keys that are not in the set yet (the caller checked with ``contains``)."""
        run = _distinct_sorted(keys)
        while self.runs and len(self.runs[-1][0]) <= 2 * len(run):
            run = _distinct_sorted(np.concatenate([np.column_stack(self.runs.pop()), run]))
        self.runs.append((np.ascontiguousarray(run[:, 0]), np.ascontiguousarray(run[:, 1])))


def _members(high: np.ndarray, low: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Which ``keys`` are in one run (``high`` sorted, ``low`` alongside)."""
    found = np.zeros(len(keys), dtype=bool)
    if len(high) == 0 or len(keys) == 0:
        return found
    position = np.searchsorted(high, keys[:, 0])
    query = np.arange(len(keys))
    # one pass decides nearly every key; another runs only while first halves tie
    while len(query):
        inside = position < len(high)
        query, position = query[inside], position[inside]
        same = high[position] == keys[query, 0]
        query, position = query[same], position[same]
        hit = low[position] == keys[query, 1]
        found[query[hit]] = True
        query, position = query[~hit], position[~hit] + 1
    return found


def _key_order(keys: np.ndarray) -> np.ndarray:
    """A stable order of (n, 2) keys by value: by the first half, and by the second only when
    first halves tie (they almost never do: sorting one uint64 is much faster)."""
    order = np.argsort(keys[:, 0], kind="stable")
    first = keys[order, 0]
    if len(first) > 1 and (first[1:] == first[:-1]).any():
        order = np.lexsort((keys[:, 1], keys[:, 0]))
    return order


def _distinct_sorted(keys: np.ndarray) -> np.ndarray:
    ordered = keys[_key_order(keys)]
    if len(ordered) == 0:
        return ordered.reshape(0, 2)
    repeated = (ordered[1:] == ordered[:-1]).all(axis=1)
    return ordered[np.concatenate(([True], ~repeated))]


def _first_occurrences(keys: np.ndarray) -> np.ndarray:
    """True where a key appears for the first time in ``keys``."""
    order = _key_order(keys)
    ordered = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[order[1:][(ordered[1:] == ordered[:-1]).all(axis=1)]] = False
    return first


def key_values(keys: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Hex event keys (32 digits each, as stored in a case) back to (n, 2) uint64.

    The keys lie back to back in the array's text buffer, so it is unhexed in one call.
    """
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    if len(keys) == 0:
        return np.zeros((0, 2), dtype=np.uint64)
    keys = keys.cast(pa.string())
    _, offsets_buffer, data_buffer = keys.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int32)[
        keys.offset : keys.offset + len(keys) + 1
    ]
    start, end = int(offsets[0]), int(offsets[-1])
    if keys.null_count or end - start != 32 * len(keys):
        raise CaseError("the case's event keys are damaged; ingest the inputs into a new case.")
    text = memoryview(data_buffer)[start:end]
    try:
        raw = binascii.unhexlify(text)
    except binascii.Error:
        raise CaseError(
            "the case's event keys are damaged; ingest the inputs into a new case."
        ) from None
    return np.frombuffer(raw, dtype=">u8").astype(np.uint64).reshape(-1, 2)


# ----------------------------------------------------------------------------- one input


def _new_record(source: Source, input_id: str) -> InputRecord:
    record = InputRecord(path=source.path, size=0, sha256="", input_id=input_id)
    if source.in_archive:
        record.archive, record.member = str(source.file), source.member
    return record


def read_input(
    source: Source,
    input_id: str,
    options: IngestOptions,
    seen: KeySet,
    sink: EventSink,
    progress: Progress | None = None,
    digest: tuple[str, int] | Future[tuple[str, int]] | None = None,
) -> InputRecord:
    """Read one input into ``sink``, merging events already in ``seen``; never raises for a
    bad input (the record carries the error).

    Args:
        digest: the input's (sha256, size) if known, or being computed; else computed here.
    """
    record = _new_record(source, input_id)
    try:
        if source.problem:
            raise InputError(source.path, source.problem)
        record.size = source.size()
        if isinstance(digest, tuple):
            record.sha256, record.size = digest
        if record.size == 0 and source.compression != "gzip":  # gzip states sizes mod 4 GiB
            raise InputError(source.path, "is empty (0 bytes). Download the export again.")
        encoding = detect_encoding(source, options.encoding)
        record.encoding, record.bom = encoding.name, encoding.bom
        record.encoding_detected_by = encoding.how
        if encoding.how.startswith("fallback"):
            record.warnings.append(
                f"the encoding was guessed ({encoding.how}): if accents or non-Latin text look "
                "wrong, re-run with --encoding (e.g. cp1251, cp932, cp1250)"
            )
        layout = read_layout(source, encoding, options.format)
        # A fast read first (pyarrow parses on every core, straight from the file when it is
        # UTF-8). A file with a row pyarrow cannot split, or bytes that are not UTF-8, is read
        # again carefully: serially (only then does pyarrow number its bad rows) and through
        # the validating transcoder.
        checkpoint = (seen.snapshot(), list(record.warnings))
        try:
            state, layout = _read_rows(
                source, encoding, layout, options, record, seen, sink, progress, careful=False
            )
        except CarefulReadNeeded:
            seen.restore(checkpoint[0])
            sink.discard()
            record.warnings = list(checkpoint[1])
            record.rows_duplicate = 0
            state, layout = _read_rows(
                source, encoding, layout, options, record, seen, sink, progress, careful=True
            )
        _account(record, state, layout, encoding)
    except InputError as error:
        record.error = _damage_at_start(source) or str(error)[len(source.path) + 2 :]
        record.status = "rejected"
        if progress:
            progress.finish()
    except OSError as error:
        record.error = _damage_at_start(source) or _unreadable(error)
        record.status = "rejected"
        if progress:
            progress.finish()
    if isinstance(digest, Future):
        try:
            record.sha256, record.size = digest.result()
        except OSError as error:
            record.error = record.error or _unreadable(error)
            record.status = "rejected"
    elif not record.sha256 and not source.problem:
        try:
            record.sha256, record.size = digest_of(source)
        except OSError as error:
            record.error = record.error or _unreadable(error)
            record.status = "rejected"
    return record


def _damage_at_start(source: Source) -> str | None:
    """Why a member of an archive cannot be decompressed at all, if that is why it failed."""
    if not source.in_archive or source.problem:
        return None
    try:
        with source.open() as handle:
            handle.read(1)
            damage = damage_of(handle)
    except OSError as error:
        return f"cannot be decompressed: {error}."
    return f"cannot be read: {damage}. Get the archive again." if damage else None


def _unreadable(error: OSError) -> str:
    if isinstance(error, SourceProblem):
        return f"{error}."
    return f"cannot be read: {error.strerror or error}."


def _read_rows(
    source: Source,
    encoding: Encoding,
    layout: Layout,
    options: IngestOptions,
    record: InputRecord,
    seen: KeySet,
    sink: EventSink,
    progress: Progress | None,
    careful: bool,
) -> tuple[FileReadState, Layout]:
    """Read, normalize, merge and write every row of one input; return what was learned."""
    state = FileReadState()
    if progress:
        progress.start(Path(source.path).name, record.size)
    # the bar moves as rows are stored, not as bytes are read ahead of them
    on_bytes = state.count_bytes
    raw_batches: Iterator[tuple[RawBatch, bool]]
    if layout.container == "json":
        layout, raw_batches = _json_batches(source, encoding, options, state, on_bytes)
    else:
        raw_batches = prefetch(
            read_csv_batches(source, encoding, layout, state, on_bytes, careful=careful)
        )
    _normalize_all(raw_batches, layout, options, record, state, seen, sink, progress)
    if progress:
        progress.finish()
    return state, layout


def _json_batches(
    source: Source,
    encoding: Encoding,
    options: IngestOptions,
    state: FileReadState,
    on_bytes: Callable[[int], None],
) -> tuple[Layout, Iterator[tuple[RawBatch, bool]]]:
    """The layout of a JSON input (its first records' format) and its batches, each with its
    format: Defender streaming records by their category, other records by their keys (the
    first batch's format; later batches map their own keys)."""
    batches = read_json_batches(source, encoding, state, on_bytes)
    first = next(batches, None)
    if first is None:
        if state.rows_read:  # every record was rejected
            spec = formats.BY_NAME["reporting_api_json"]
            return Layout("json", [], 0, ",", spec, {}), iter(())
        if state.other_tables:
            tables = ", ".join(f"{t} ({n:,})" for t, n in sorted(state.other_tables.items()))
            raise InputError(
                source.path,
                f"holds only Defender streaming records of tables with no mail data: {tables}. "
                "Export EmailEvents, EmailPostDeliveryEvents, EmailAttachmentInfo, "
                "EmailUrlInfo or UrlClickEvents.",
            )
        raise InputError(source.path, "is JSON with no message trace records in it.")
    forced = formats.get(options.format) if options.format else None
    plain: list[ExportFormat] = []

    def spec_of(batch: RawBatch) -> ExportFormat:
        if forced is not None:
            return forced
        if batch.spec is not None:
            return batch.spec
        if not plain:
            plain.append(choose_format(source.path, batch.headers or [], "json", None))
        return plain[0]

    if forced is not None:
        choose_format(source.path, first.headers or [], "json", options.format)
    spec = spec_of(first)
    headers = first.headers or []
    layout = Layout("json", headers, 0, ",", spec, spec.header_map(headers))

    def with_specs() -> Iterator[tuple[RawBatch, bool]]:
        for batch in itertools.chain([first], batches):
            batch.spec = spec_of(batch)
            yield batch, bool(state.decode_error_offsets)

    return layout, with_specs()


def _account(record: InputRecord, state: FileReadState, layout: Layout, encoding: Encoding):
    """Fill the record's row accounting and warnings from what reading the file learned."""
    record.rows_rejected = len(state.rejected)
    record.rows_read = state.rows_read
    record.rows_ingested = record.rows_read - record.rows_duplicate - record.rows_rejected
    listed = sorted(state.rejected, key=lambda r: (r[0] is None, r[0] or 0))
    record.rejected = [RejectedRow(line, reason) for line, reason in listed[:MAX_LISTED_REJECTIONS]]
    if state.formats_read:
        record.format = ", ".join(state.formats_read)
    else:
        record.format = layout.spec.name
    for warning in layout.warnings:
        if warning not in record.warnings:
            record.warnings.append(warning)
    offsets = state.decode_error_offsets
    if offsets:
        record.warnings.append(
            f"{len(offsets)} byte sequence(s) are not valid {encoding.name} (first at byte "
            f"offset {offsets[0]}); the rows holding them were rejected. If the encoding is "
            "wrong, re-run with --encoding."
        )
    if state.damage:
        record.warnings.append(
            f"{state.damage}: the rows before that point were read, the rest of the member is "
            "missing. Get the archive again."
        )
    if state.blank_lines:
        record.warnings.append(f"{state.blank_lines} blank line(s) skipped")
    if state.repeated_headers:
        record.warnings.append(
            f"{state.repeated_headers} header or #TYPE line(s) found again inside the file "
            "(exports appended to one file) were skipped"
        )
    if state.control_rows:
        record.warnings.append(
            f"{state.control_rows} row(s) hold NUL or other control characters in their text "
            f"(first at line {state.first_control_line}); kept as exported (text a sender "
            "wrote can hold them)"
        )
    if state.other_tables:
        tables = ", ".join(
            f"{name} ({count:,})" for name, count in sorted(state.other_tables.items())
        )
        record.warnings.append(
            f"{sum(state.other_tables.values()):,} Defender streaming record(s) of tables that "
            f"hold no message trace data were skipped: {tables}"
        )
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
    elif record.rows_rejected == record.rows_read:
        record.warnings.append("every row was rejected: nothing of this input was loaded")


def _normalize_all(
    raw_batches: Iterator[tuple[RawBatch, bool]],
    layout: Layout,
    options: IngestOptions,
    record: InputRecord,
    state: FileReadState,
    seen: KeySet,
    sink: EventSink,
    progress: Progress | None = None,
) -> None:
    """Normalize, merge and write every batch of one input."""
    context = FileContext(
        record.input_id,
        layout.spec.name,
        dayfirst=bool(options.dayfirst),
        input_tz=options.input_tz,
    )
    header_maps: dict[tuple[str, tuple[str, ...]], dict[int, str]] = {}

    def columns_of(raw: RawBatch) -> tuple[ExportFormat, list[str], dict[int, str]]:
        """The batch's format, headers and canonical columns (JSON batches have their own)."""
        spec = raw.spec or layout.spec
        headers = raw.headers if raw.headers is not None else layout.headers
        key = (spec.name, tuple(headers))
        if key not in header_maps:
            header_maps[key] = spec.header_map(headers)
            _note_format(spec, header_maps[key], state, record)
        return spec, headers, header_maps[key]

    decided = options.dayfirst is not None
    waiting: list[tuple[RawBatch, bool]] = []
    evidence = {"day_first": False, "month_first": False}
    first_time = last_time = None

    # Batches are normalized on a small thread pool (Arrow and numpy kernels release the GIL)
    # and merged strictly in file order, so the output does not depend on thread timing.
    workers = ThreadPoolExecutor(max_workers=NORMALIZE_THREADS)
    in_flight: deque[tuple[Future[Batch], int]] = deque()  # (normalized batch, bytes read then)
    shown = 0  # bytes of the input the progress bar has shown as done

    def emit(raw: RawBatch, decode_errors: bool) -> None:
        spec, headers, header_map = columns_of(raw)
        batch_context = dataclasses.replace(
            context, decode_errors=decode_errors, report_type=spec.name
        )
        in_flight.append(
            (
                workers.submit(
                    to_canonical, raw.table, headers, spec, header_map, raw.lines, batch_context
                ),
                raw.bytes_read,
            )
        )
        while len(in_flight) > NORMALIZE_THREADS:
            merge(*in_flight.popleft())

    def merge(future: Future[Batch], bytes_read: int) -> None:
        nonlocal first_time, last_time, shown
        batch = future.result()
        if progress and bytes_read > shown:
            progress.advance(bytes_read - shown)
            shown = bytes_read
        state.rejected.extend(batch.rejected)
        for warning in batch.warnings:
            if warning not in record.warnings:
                record.warnings.append(warning)
        events = batch.events
        if events.num_rows == 0:
            return
        # message ids are only counted up to just past the largest limit: memory stays bounded
        if layout.spec.message_limits and len(state.message_ids) <= max(layout.spec.message_limits):
            ids = pc.coalesce(events.column("network_message_id"), events.column("message_id"))
            state.message_ids.update(pc.unique(ids).drop_null().to_pylist())
        # the time range the file covers counts its duplicates too
        low, high = pc.min_max(events.column("event_time")).values()
        first_time = low.value if first_time is None else min(first_time, low.value)
        last_time = high.value if last_time is None else max(last_time, high.value)
        keys = batch.keys
        first_in_batch = _first_occurrences(keys)
        duplicate = seen.contains(keys) | ~first_in_batch
        seen.add(keys[~duplicate])
        if duplicate.any():
            dup_table = events.filter(pa.array(duplicate)).select(DUPLICATE_SCHEMA.names)
            sink.write("duplicates", dup_table)
            # a row is a duplicate when all its events are (rows, not lines: one line of a
            # JSON document can hold many records)
            rows_all = np.unique(batch.rows)
            rows_with_new = np.unique(batch.rows[~duplicate])
            record.rows_duplicate += len(rows_all) - len(rows_with_new)
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
            time_position = next(
                (p for p, c in columns_of(raw)[2].items() if c == "event_time"), None
            )
            if not decided and time_position is not None:
                times = raw.table.column(time_position)
                order = day_order(times) if not iso_shaped(times) else None
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
            merge(*in_flight.popleft())
    finally:
        for future, _ in in_flight:
            future.cancel()
        workers.shutdown()
        close = getattr(raw_batches, "close", None)
        if close is not None:
            close()  # stops the reader thread when reading ends early
    if first_time is not None and last_time is not None:
        record.first_event = iso_utc(np.datetime64(first_time, "ns"))
        record.last_event = iso_utc(np.datetime64(last_time, "ns"))


def _note_format(
    spec: ExportFormat, header_map: dict[int, str], state: FileReadState, record: InputRecord
) -> None:
    """Remember a format met in the input, and warn of what its rows lack."""
    if spec.name not in state.formats_read:
        state.formats_read.append(spec.name)
    mapped = set(header_map.values())
    if "recipient_address" in spec.columns and "recipient_address" not in mapped:
        # Graph getDetailsByRecipient names the recipient in its request only
        warning = (
            f"the {spec.name} rows carry no recipient: they are kept as events of their "
            "message (by its message trace id and message id) without a recipient"
        )
        if warning not in record.warnings:
            record.warnings.append(warning)


# ----------------------------------------------------------------------------- public API


def inspect_files(
    paths: Sequence[str | Path],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> list[InputRecord]:
    """Read each input (nothing is written) and say what it is: format, encoding, rows, times.

    Folders not searched (a link to one already searched) come as records with the status
    ``skipped``.
    """
    options = (options or IngestOptions()).checked()
    found = discover(paths)
    records = []
    archives = _ArchiveDigests()
    for number, source in enumerate(found.sources, start=1):
        record = read_input(
            source, f"in-{number:03d}", options, KeySet(), EventSink(None, "", keep=False), progress
        )
        archives.fill(record, source)
        records.append(record)
    records += [_skipped(path, why) for path, why in found.skipped]
    return records


class _ArchiveDigests:
    """The sha256 of each archive read in a run, computed once."""

    def __init__(self) -> None:
        self.known: dict[Path, str] = {}

    def fill(self, record: InputRecord, source: Source) -> None:
        if not source.in_archive:
            return
        if source.file not in self.known:
            try:
                self.known[source.file] = file_sha256(source.file)
            except OSError:
                return
        record.archive_sha256 = self.known[source.file]


def _existing_keys(case: Case) -> KeySet:
    seen = KeySet()
    if case.events.num_rows:
        seen.add(key_values(case.events.column("event_key")))
    return seen


def _ingest(
    paths: Sequence[str | Path],
    case: Case,
    folder: Path | None,
    options: IngestOptions,
    progress: Progress | None,
    commit: Callable[[], None] | None = None,
) -> list[InputRecord]:
    """Read ``paths`` into ``case`` (in memory, or into ``folder`` when given).

    Into a folder, each input is committed on its own (its parts are renamed into place, then
    ``commit`` replaces the manifest): a killed ingest loses only the input it was reading.
    The caller holds the case lock.
    """
    seen = _existing_keys(case)
    known = {record.sha256: record for record in case.inputs if record.sha256}
    sizes = {record.size for record in case.inputs}
    hashing = ThreadPoolExecutor(max_workers=1)
    archives = _ArchiveDigests()
    added: list[InputRecord] = []
    next_number = len(case.inputs) + 1
    found = discover(paths)
    try:
        for source in found.sources:
            input_id = f"in-{next_number:03d}"
            # The same content can only be in the case already when an input of its size is:
            # then hash it first; otherwise hash it while it is read (hashlib runs without the
            # GIL).
            digest: tuple[str, int] | Future[tuple[str, int]] | None = None
            if source.problem is None:
                try:
                    size = source.size()
                    digest = (
                        digest_of(source) if size in sizes else hashing.submit(digest_of, source)
                    )
                except OSError:
                    digest = None  # read_input reports it
            if isinstance(digest, tuple) and digest[0] in known:
                earlier = known[digest[0]]
                record = _new_record(source, earlier.input_id)
                record.sha256, record.size = digest
                record.format, record.status = earlier.format, "already_in_case"
                archives.fill(record, source)
                added.append(record)
                continue
            sink = EventSink(folder, input_id)
            try:
                record = read_input(source, input_id, options, seen, sink, progress, digest)
            except BaseException:
                sink.abandon()
                raise
            archives.fill(record, source)
            parts = sink.commit(keep=record.error is None)
            added.append(record)
            if record.error is not None:
                case.rejected_inputs = [
                    r
                    for r in case.rejected_inputs
                    if (r.path, r.sha256) != (record.path, record.sha256)
                ] + [record]
            else:
                case.inputs.append(record)
                case.parts.extend(parts)
                known[record.sha256] = record
                sizes.add(record.size)
                next_number += 1
                if folder is None:
                    if sink.events:
                        case.events = pa.concat_tables([case.events, *sink.events])
                    if sink.duplicates:
                        case.duplicates = pa.concat_tables([case.duplicates, *sink.duplicates])
            if commit is not None:
                commit()
    finally:
        hashing.shutdown()
    added += [_skipped(path, why) for path, why in found.skipped]
    return added


def loaded_nothing(record: InputRecord) -> bool:
    """Whether an input gave the case nothing: it could not be read, or every row of it was
    rejected."""
    if record.status == "rejected":
        return True
    return (
        record.status == "ingested"
        and record.rows_read > 0
        and (record.rows_rejected == record.rows_read)
    )


@dataclass
class IngestResult:
    """What ``ingest_into_case`` did.

    Attributes:
        case_dir: the case folder.
        inputs: every input of the case now (earlier runs included).
        added: the record of each input of this run (ingested, already in the case, rejected).
        events: number of unique events in the case now.
        warnings: warnings about the whole case found by this run (leftovers of an
            interrupted ingest, moved aside); they are in the manifest too.
    """

    case_dir: Path
    inputs: list[InputRecord]
    added: list[InputRecord]
    events: int
    warnings: list[str] = dataclasses.field(default_factory=list)


def ingest_into_case(
    paths: Sequence[str | Path],
    case_dir: str | Path,
    options: IngestOptions | None = None,
    progress: Progress | None = None,
    wait: bool = False,
    on_wait: Callable[[int | None], object] | None = None,
) -> IngestResult:
    """Ingest exports into a case folder (created if needed; an existing case is added to).

    One process writes a case at a time: the case lock (``analyzer.store.CaseLock``) is held
    for the whole run. Leftovers of an interrupted ingest are moved to ``interrupted/`` first
    (``IngestResult.warnings`` says so).

    Args:
        paths: export files and folders.
        case_dir: the case folder.
        options: detection overrides.
        progress: shown while files are read.
        wait: when another msgtrace is writing the case, wait for it instead of failing.
        on_wait: told the other writer's pid before waiting.

    Raises:
        CaseError: ``case_dir`` exists and is not a case folder (and is not empty), the case
            is damaged or of an older format, or it cannot be written.
        CaseBusyError: another msgtrace is writing the case and ``wait`` is false.
    """
    options = (options or IngestOptions()).checked()
    folder = Path(case_dir)
    if folder.exists() and not folder.is_dir():
        raise CaseError(f"{folder} is a file, not a case folder; choose a new folder name.")
    # a folder whose first ingest is running or was killed has the lock file but no manifest
    ours = {LOCK_FILE, "events", "duplicates", INTERRUPTED}
    if (
        folder.exists()
        and not is_case_folder(folder)
        and any(
            p.name not in ours and not p.name.endswith(PARTIAL_SUFFIX) for p in folder.iterdir()
        )
    ):
        raise CaseError(
            f"{folder} exists and is not a msgtrace case folder; choose a new folder name."
        )
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    with CaseLock(folder, wait=wait, on_wait=on_wait):
        new_case = not is_case_folder(folder)
        case, found = open_for_writing(folder)

        def commit() -> None:
            if case.inputs or found or not new_case:  # a new case needs an input first
                write_manifest(folder, case)

        added = _ingest(paths, case, folder, options, progress, commit)
        if new_case and not case.inputs and not found:
            # nothing loaded: leave no empty case behind
            if created:
                shutil.rmtree(folder)
            else:
                for name in ("events", "duplicates"):
                    shutil.rmtree(folder / name, ignore_errors=True)
                (folder / LOCK_FILE).unlink(missing_ok=True)
            return IngestResult(folder, [], added, 0)
        commit()  # nothing to do unless only leftovers were found
    events = sum(part.rows for part in case.parts if part.kind == "events")
    return IngestResult(folder, case.inputs, added, events, found)


def load_sources(
    sources: Sequence[str | Path],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> Case:
    """A case from a case folder and/or raw export files and folders (read in memory).

    Raises:
        OptionError: more than one case folder was given.
        InputError: nothing at all could be loaded: no input could be read, or every row was
            rejected (the message lists why, per file).
    """
    options = (options or IngestOptions()).checked()
    cases = [s for s in sources if is_case_folder(s)]
    raw = [s for s in sources if not is_case_folder(s)]
    if len(cases) > 1:
        raise OptionError("give at most one case folder (ingest the others into it first).")
    case = open_case(cases[0]) if cases else Case.empty()
    if raw:
        added = _ingest(raw, case, None, options, progress)
        for record in added:
            if record.status == "skipped":
                case.warnings.append(f"{record.path}: {record.warnings[0]}")
        inputs = [r for r in added if r.status != "skipped"]
        if not cases and all(loaded_nothing(r) for r in inputs):
            problems = "; ".join(f"{r.path}: {_why_nothing(r)}" for r in inputs)
            raise InputError(
                ", ".join(str(s) for s in raw),
                f"nothing could be loaded: {problems or 'no files found'}",
            )
    return case


def ingest_summary(records: Sequence[InputRecord]) -> str:
    """One line saying how many inputs gave nothing and how many rows were rejected."""
    inputs = [r for r in records if r.status != "skipped"]
    unreadable = sum(loaded_nothing(r) for r in inputs)
    rejected = sum(r.rows_rejected for r in inputs)
    return (
        f"{len(inputs)} input(s): {unreadable} could not be read or had every row rejected; "
        f"{rejected:,} row(s) rejected"
    )


def _why_nothing(record: InputRecord) -> str:
    if record.error:
        return record.error
    if record.rows_read == 0:
        return "no data rows"
    first = record.rejected[0] if record.rejected else None
    where = f" (line {first.line}: {first.reason})" if first and first.line else ""
    return f"every row was rejected{where}"


__all__ = [
    "AnalyzerError",
    "IngestOptions",
    "discover",
    "ingest_into_case",
    "ingest_summary",
    "inspect_files",
    "load_sources",
    "loaded_nothing",
    "open_case",
]
