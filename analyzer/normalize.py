"""Raw export rows -> canonical events, vectorized over one batch at a time.

The input is a batch of string columns under the file's own headers, already mapped to
canonical columns by the format's description (``ExportFormat.header_map``); the output is a
table in ``analyzer.schema.EVENT_SCHEMA`` plus the rows that had to be rejected, with reasons.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import formats, schema
from analyzer.arrays import null_if_empty, one_array, per_distinct
from analyzer.formats import ExportFormat
from analyzer.timestamps import LocalTimeIssues, local_time_issues, parse_timestamps

INTEGER_COLUMNS = {
    "total_bytes": pa.int64(),
    "recipient_count": pa.int32(),
    "bulk_complaint_level": pa.int16(),
    "attachment_count": pa.int32(),
    "url_count": pa.int32(),
    "file_size": pa.int64(),
}
#: Most digits a value of each integer type can always hold.
INTEGER_DIGITS = {pa.int64(): 18, pa.int32(): 9, pa.int16(): 4}

#: ``/Date(1658751973240)/``: the OData verbose (ASP.NET) JSON time, milliseconds since 1970
#: UTC; an offset after them (``+0000``, ``-0500``) is the zone the time was written in, not a
#: correction of the instant.
MS_DATE = r"^\s*/Date\((?P<ms>-?\d{1,15})(?:[+-]\d{4})?\)/\s*$"


# directionality: the summary reports write 1 = inbound, 2 = outbound; tracking rows write
# Incoming / Originating; Defender writes Inbound / Outbound / Intra-org.
DIRECTIONS = {
    "1": "inbound",
    "incoming": "inbound",
    "inbound": "inbound",
    "2": "outbound",
    "outgoing": "outbound",
    "outbound": "outbound",
    "originating": "originating",
    "intraorg": "internal",
    "intra-org": "internal",
    "internal": "internal",
    "3": "internal",
}

# A status list splits at ';' only where a new status begins: SMTP replies themselves hold
# ';' (550 5.1.1 RESOLVER.ADR.RecipNotFound; not found).
STATUS_SPLIT = r";\s*([245]\d\d\b)"
# A RECEIVE row's To/Cc/Bcc list (To;To;To) splits at every ';'. (A separate pattern: RE2 has
# no look-ahead, and a split pattern that consumed the next ';' missed every other one.)
RECIPIENT_TYPES = r"^\s*(?:To|Cc|Bcc)\s*(?:;\s*(?:To|Cc|Bcc)\s*)*$"
UNIT_SEPARATOR = "\x1f"
# the bytes that structure custom_data: sections end at ";", pairs at "|", keys at "="
SEMICOLON, PIPE, EQUALS = ord(";"), ord("|"), ord("=")


@dataclass
class Batch:
    """A batch of canonical events and the rows of it that were rejected.

    Attributes:
        events: the canonical events of the rows that were not rejected.
        rejected: (line, reason) of each rejected row.
        warnings: what the batch says about its file (each once).
        keys: event_key of each event, (n, 2) uint64 (for merging).
        rows: for each event, the position of its raw row in the batch (several events can
            come from one row, and several rows of a JSON document from one line).
    """

    events: pa.Table
    rejected: list[tuple[int, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    keys: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.uint64))
    rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def _extras(named_columns: list[tuple[str, pa.Array]], n: int) -> pa.Array:
    """Columns as a map header -> value per row (empty values left out), in the given order."""
    if not named_columns or n == 0:
        return pa.MapArray.from_arrays(
            pa.array(np.zeros(n + 1, dtype=np.int32)),
            pa.array([], pa.string()),
            pa.array([], pa.string()),
        )
    columns = [one_array(column).cast(pa.string()) for _, column in named_columns]
    valid = np.column_stack([pc.is_valid(c).to_numpy(zero_copy_only=False) for c in columns])
    rows, cols = np.nonzero(valid)  # row-major: entries of a row stay together, in header order
    counts = valid.sum(axis=1)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = pa.concat_arrays(columns).take(pa.array(cols.astype(np.int64) * n + rows))
    keys = pa.array([name for name, _ in named_columns], pa.string()).take(pa.array(cols))
    return pa.MapArray.from_arrays(pa.array(offsets), keys, values)


def _position_in_list(lengths: np.ndarray) -> np.ndarray:
    """For flattened lists of these lengths, each element's position in its own list."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    return np.arange(int(lengths.sum())) - np.repeat(starts, lengths)


def _tidy_list(text: pa.Array) -> pa.Array:
    """Drop empty items of a ``;`` list (``a@x;`` or ``;;``): they name no recipient."""
    text = pc.replace_substring_regex(text, r";(\s*;)+", ";")
    return pc.replace_substring_regex(text, r"^\s*;|;\s*$", "")


def _split_recipients(
    columns: dict[str, pa.Array], n: int
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """One row per recipient: ``a;b`` with statuses ``x;y`` becomes two rows.

    Returns:
        the exploded columns and, for each output row, the index of its input row.
    """
    recipients = columns.get("recipient_address")
    if (
        recipients is None
        or not pc.any(pc.fill_null(pc.match_substring(recipients, ";"), False)).as_py()
    ):
        return columns, np.arange(n)
    address_lists = pc.split_pattern(_tidy_list(pc.fill_null(recipients, "")), ";")
    parent = pc.list_parent_indices(address_lists).to_numpy()
    counts = pc.list_value_length(address_lists).to_numpy()
    position = _position_in_list(counts)
    addresses = null_if_empty(pc.utf8_trim_whitespace(pc.list_flatten(address_lists)))
    exploded = {name: column.take(pa.array(parent)) for name, column in columns.items()}
    exploded["recipient_address"] = addresses
    status = columns.get("recipient_status")
    if status is not None:
        text = _tidy_list(pc.fill_null(status, ""))
        marked = pc.if_else(
            pc.match_substring_regex(text, RECIPIENT_TYPES),
            pc.replace_substring(text, ";", UNIT_SEPARATOR),
            pc.replace_substring_regex(text, STATUS_SPLIT, UNIT_SEPARATOR + r"\1"),
        )
        status_lists = pc.split_pattern(marked, UNIT_SEPARATOR)
        status_counts = pc.list_value_length(status_lists).to_numpy()
        # one status per recipient: take the k-th; a single status applies to all recipients;
        # any other count keeps the whole text on every recipient (nothing invented).
        per_recipient = status_counts[parent] == counts[parent]
        starts = np.concatenate([[0], np.cumsum(status_counts)[:-1]])
        index = np.where(per_recipient, starts[parent] + position, 0)
        flat = pc.list_flatten(status_lists)
        picked = (
            flat.take(pa.array(np.clip(index, 0, max(len(flat) - 1, 0))))
            if len(flat)
            else pa.nulls(len(parent), pa.string())
        )
        whole = status.take(pa.array(parent))
        exploded["recipient_status"] = null_if_empty(
            pc.utf8_trim_whitespace(pc.if_else(pa.array(per_recipient), picked, whole))
        )
    return exploded, parent


def _split_recipient_events(columns: dict[str, pa.Array], n: int):
    """Enhanced summary: ``a@x##Receive, Deliver;b@y##Receive, Fail`` -> one row per event."""
    text = _tidy_list(pc.fill_null(columns.get("recipient_status", pa.nulls(n, pa.string())), ""))
    recipients = pc.split_pattern(text, ";")
    recipient_parent = pc.list_parent_indices(recipients).to_numpy()
    flat = pc.list_flatten(recipients)
    pairs = pc.split_pattern(flat, "##", max_splits=1)
    address = pc.utf8_trim_whitespace(
        pc.list_element(
            pc.if_else(
                pc.greater(pc.list_value_length(pairs), 0), pairs, pa.scalar([""], pairs.type)
            ),
            0,
        )
    )
    has_events = pc.equal(pc.list_value_length(pairs), 2)
    events_text = pc.if_else(
        has_events,
        pc.list_element(pc.if_else(has_events, pairs, pa.scalar(["", ""], pairs.type)), 1),
        "",
    )
    event_lists = pc.split_pattern_regex(events_text, r"\s*,\s*")
    event_parent = pc.list_parent_indices(event_lists).to_numpy()
    sequence = _position_in_list(pc.list_value_length(event_lists).to_numpy())
    row = recipient_parent[event_parent]
    exploded = {name: column.take(pa.array(row)) for name, column in columns.items()}
    exploded["recipient_address"] = null_if_empty(address.take(pa.array(event_parent)))
    exploded["event_id"] = null_if_empty(pc.utf8_trim_whitespace(pc.list_flatten(event_lists)))
    # each event row keeps its recipient's part of the cell verbatim: "a@x##Receive, Deliver"
    exploded["recipient_status"] = flat.take(pa.array(event_parent))
    exploded["event_seq"] = pa.array(sequence.astype(np.int16))
    return exploded, row


def _string_buffers(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(bytes, offsets, validity) of a string array, as numpy views where possible."""
    array = array.cast(pa.large_string()) if array.type != pa.large_string() else array
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, dtype=np.uint8)
    )
    valid = pc.is_valid(array).to_numpy(zero_copy_only=False)
    return data, offsets, valid


def parse_custom_data(custom_data: pa.Array) -> pa.Array:
    """``S:SFA=SUM|SFV=SPM;S:K=v`` -> map {SFA: SUM, SFA.SFV: SPM, K: v} (see schema).

    Sections end at ``;``, pairs at ``|``, and a pair's key ends at its first ``=``. A
    section's name is its first key: ``S:TRA=ETR|ruleId=x`` gives TRA=ETR and TRA.ruleId=x.
    A missing value gives an empty map.
    """
    if isinstance(custom_data, pa.ChunkedArray):
        custom_data = custom_data.combine_chunks()
    return _parsed_where(custom_data, pc.is_valid(custom_data))


def _verdict_fields(
    custom_data: pa.Array, event_id: pa.Array | None, source: pa.Array | None
) -> pa.Array:
    """custom_data parsed on AGENTINFO rows (spam, malware and transport rule verdicts) and on
    SMTP RECEIVE rows (``S:MimeParts=...``: attachments, embedded parts, MIME parts).

    Other rows keep custom_data verbatim only: parsing every row of a large extended report
    costs more than the rest of ingest, and chains need these rows' facts alone.
    """
    if event_id is None:
        return parse_custom_data(custom_data)
    parse = pc.equal(event_id, "AGENTINFO")
    if source is not None:
        smtp_receive = pc.and_(pc.equal(event_id, "RECEIVE"), pc.equal(source, "SMTP"))
        parse = pc.or_(pc.fill_null(parse, False), pc.fill_null(smtp_receive, False))
    return _parsed_where(custom_data, pc.and_(pc.fill_null(parse, False), pc.is_valid(custom_data)))


def _parsed_where(custom_data: pa.Array, parse: pa.Array) -> pa.Array:
    """The map of each row where ``parse`` (a non-null mask), an empty map elsewhere.

    The rows to parse are copied together first: the tokenizer then reads no byte of another
    row (a null may still span its row's text: ``pc.if_else`` leaves it there).
    """
    n = len(custom_data)
    parsed = pc.fill_null(parse, False).to_numpy(zero_copy_only=False)
    text = custom_data if parsed.all() else custom_data.filter(pa.array(parsed))
    pairs_per_row, keys, values = _custom_data_pairs(text)
    counts = np.zeros(n, dtype=np.int64)
    counts[parsed] = pairs_per_row
    map_offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=map_offsets[1:])
    return pa.MapArray.from_arrays(pa.array(map_offsets), keys, values)


def _custom_data_pairs(text: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array]:
    """Pairs of non-null custom_data strings: (pairs per row, qualified keys, values).

    Tokenized with numpy, no per-row Python: the bytes are scanned once for the three that
    matter (``;`` ``|`` ``=``), and everything after works on that much shorter list of
    "special" positions and on the tokens (the runs between separators, one per row start
    and one after each separator).
    """
    n = len(text)
    data, offsets, _ = _string_buffers(text)
    begin = int(offsets[0])
    window = data[begin : int(offsets[-1])]
    row_bounds = offsets - begin  # row r is window[row_bounds[r]:row_bounds[r + 1]]
    special = np.flatnonzero((window == SEMICOLON) | (window == PIPE) | (window == EQUALS))
    kind = window[special]
    is_separator = kind != EQUALS
    separators = np.flatnonzero(is_separator)  # indexes into special
    # specials of row r: special[first_special[r]:first_special[r + 1]]
    first_special = np.searchsorted(special, row_bounds)
    separators_before = np.zeros(len(special) + 1, dtype=np.int64)
    np.cumsum(is_separator, out=separators_before[1:])
    separators_before_row = separators_before[first_special]
    # Tokens in text order: row r's first token, then one per separator of the row. Row r's
    # tokens are row_token[r] .. row_token[r + 1] - 1.
    row_token = separators_before_row + np.arange(n + 1)
    tokens = int(row_token[-1])
    after_separator = np.ones(tokens, dtype=bool)
    after_separator[row_token[:-1]] = False
    separator_token = np.flatnonzero(after_separator)
    starts = np.empty(tokens, dtype=np.int64)
    starts[row_token[:-1]] = row_bounds[:-1]
    starts[separator_token] = special[separators] + 1
    # a token ends where the next one of its row begins (at its separator) or at the row end
    stops = np.empty(tokens, dtype=np.int64)
    stops[separator_token - 1] = special[separators]
    stops[row_token[1:] - 1] = row_bounds[1:]
    # the first special at or after a token's start: its key ends there if that is an '='
    next_special = np.empty(tokens, dtype=np.int64)
    next_special[row_token[:-1]] = first_special[:-1]
    next_special[separator_token] = separators + 1
    section_start = ~after_separator
    section_start[separator_token] = kind[separators] == SEMICOLON
    # tokens of one section (of one row) share a number: each row start and ';' begins one
    section_id = np.cumsum(section_start)
    # skip the "S:" that opens a section
    prefixed = np.flatnonzero(section_start & (stops - starts >= 2))
    prefixed = prefixed[
        (window[starts[prefixed]] == ord("S")) & (window[starts[prefixed] + 1] == ord(":"))
    ]
    starts[prefixed] += 2
    # past the last special: a position no token reaches
    first_equal = np.append(special, len(window))[next_special]
    # a pair needs a key and an '=' inside its token (the next special of an empty token, or
    # of one without '=', is its separator, its row's end or beyond)
    keep = np.flatnonzero((first_equal > starts) & (first_equal < stops))
    starts, stops, first_equal = starts[keep], stops[keep], first_equal[keep]
    section_start, section_id = section_start[keep], section_id[keep]
    buffer = pa.py_buffer(window)
    keys = _slices(buffer, starts, first_equal)
    values = _slices(buffer, first_equal + 1, stops)
    section_index = np.maximum.accumulate(np.where(section_start, np.arange(len(starts)), 0))
    # a section whose first pair has no key=value has no name: its pairs keep their own keys
    # (never the name of an earlier section, or of another row's)
    named = section_start[section_index] & (section_id[section_index] == section_id)
    qualified = _qualified_keys(keys, section_index, named & ~section_start)
    kept_before = np.zeros(tokens + 1, dtype=np.int64)
    kept_before[keep + 1] = 1
    pairs_per_row = np.diff(np.cumsum(kept_before)[row_token])
    return pairs_per_row, qualified, values


def _qualified_keys(keys: pa.Array, section_index: np.ndarray, qualify: np.ndarray) -> pa.Array:
    """``section.key`` where ``qualify``, else ``key``: built once per distinct pair of names.

    Keys repeat endlessly (SFV, SCL, DI...), so each distinct key and each distinct
    (section, key) pair becomes a string once, and rows take them by index.
    """
    encoded = pc.dictionary_encode(keys)
    names = encoded.dictionary.to_pylist()
    key_ids = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    combined = key_ids[section_index] * len(names) + key_ids
    present = np.zeros(len(names) * len(names) + 1, dtype=bool)
    present[combined[qualify]] = True
    pairs = np.flatnonzero(present)
    combined_id = np.cumsum(present) - 1 + len(names)
    final_ids = np.where(qualify, combined_id[combined], key_ids)
    texts = names + [f"{names[p // len(names)]}.{names[p % len(names)]}" for p in pairs]
    return pa.array(texts, pa.string()).take(pa.array(final_ids))


def _slices(buffer: pa.Buffer, starts: np.ndarray, stops: np.ndarray) -> pa.Array:
    """Strings ``buffer[starts[k]:stops[k]]`` for ordered, non-overlapping spans.

    An array whose offsets run start0, stop0, start1, stop1, ... holds each span at an even
    position (and what lies between spans at odd ones): taking the even ones copies the spans
    in C++, with no per-byte index and no Python loop.
    """
    if len(starts) == 0:
        return pa.array([], pa.string())
    bounds = np.empty(2 * len(starts), dtype=np.int32)  # a batch's text is far below 2 GiB
    bounds[0::2] = starts
    bounds[1::2] = stops
    spans = pa.StringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), buffer)
    return spans.take(pa.array(np.arange(0, len(bounds) - 1, 2)))


def _all_whole_numbers(text: pa.Array) -> bool:
    """True if every value is 1 to 18 ASCII digits (what ``^\\d{1,18}$`` accepts).

    Read from the bytes: a cast alone would also take "-0" or "0x10".
    """
    data, offsets, valid = _string_buffers(text)
    lengths = np.diff(offsets)[valid]
    if not ((lengths >= 1) & (lengths <= 18)).all():
        return False
    digits = data[int(offsets[0]) : int(offsets[-1])] - np.uint8(ord("0"))
    return bool((digits <= 9).all())


def _status_rules(spec: ExportFormat, columns: dict[str, pa.Array], n: int) -> pa.Array:
    """reported_status from the format's ordered (column, substring, status) rules."""
    result = pa.nulls(n, pa.string())
    for column_name, needle, status in reversed(spec.status_rules):
        column = columns.get(column_name)
        if column is None:
            continue
        hit = pc.fill_null(pc.match_substring(pc.utf8_lower(column), needle), False)
        result = pc.if_else(hit, pa.scalar(status), result)
    return result


#: The SipHash-2-4 keys of the two 64-bit halves of an event key (pandas' ``hash_array`` is
#: SipHash-2-4; fixed keys give an event the same key in every run and every case).
KEY_HASH_KEYS = ("msgtrace-event/1", "msgtrace-event/2")
#: Each half starts from its own seed and mixes numbers with its own constant.
_SEEDS = (0x243F6A8885A308D3, 0x13198A2E03707344)
_NUMBER_CONSTANTS = (0x9E3779B97F4A7C15, 0xD1B54A32D192ED03)
#: Null hashes alike everywhere, and unlike any string (even the empty one) or number.
_NULL_HASHES = (np.uint64(0x6A09E667F3BCC908), np.uint64(0xBB67AE8584CAA73B))


def event_keys(table: pa.Table) -> pa.Array:
    """Content hash of each event as 32 hex digits (see ``event_key_values``)."""
    return hex_strings(event_key_values(table))


def event_key_values(table: pa.Table) -> np.ndarray:
    """Content hash of each event over ``schema.KEY_COLUMNS``: 128 bits, as (n, 2) uint64.

    Two rows with the same key are the same event seen twice (overlapping exports). Every
    content column counts in full, long text too (subject, custom_data, message_info,
    source_context, detail, data): two events that differ in one character of one column
    have different keys. Extras and provenance do not count (the duplicates part keeps a
    duplicate's extras). Each half is its own 64-bit hash of the whole row: every distinct
    string of a column is hashed once with SipHash-2-4 under that half's key (columns repeat
    a lot: hosts, statuses, ids of a message), numbers are mixed with splitmix64, and the
    column values are folded into the row per column with numpy, so no per-row Python object
    is made. Accidental collisions are about as likely as 2^-128 per pair; it is not meant
    as a cryptographic commitment (``msgtrace verify`` checks the files' sha256 for that).
    """
    n = table.num_rows
    halves = np.empty((2, n), dtype=np.uint64)
    for half, seed in enumerate(_SEEDS):
        halves[half] = seed
    if n == 0:
        return np.ascontiguousarray(halves.T)
    scratch = np.empty(n, dtype=np.uint64)
    taken = np.empty(n, dtype=np.uint64)
    for position, name in enumerate(schema.KEY_COLUMNS):
        if name == "custom_data_fields":  # derived from custom_data and event_id
            continue
        column = one_array(table.column(name))
        with np.errstate(over="ignore"):
            salt = np.uint64(position + 1) * np.uint64(0x9E3779B97F4A7C15)
        if column.null_count == n:  # a column the export does not have: one value
            with np.errstate(over="ignore"):
                for half in (0, 1):
                    halves[half] ^= _NULL_HASHES[half] + salt
        else:
            distinct, index = _value_hashes(column)
            for half in (0, 1):
                with np.errstate(over="ignore"):
                    values = distinct[half] + salt
                if index is None:
                    halves[half] ^= values
                else:
                    np.take(values, index, out=taken)
                    halves[half] ^= taken
        for half in (0, 1):
            _mix_in_place(halves[half], scratch)
    return np.ascontiguousarray(halves.T)


def _mix_in_place(values: np.ndarray, scratch: np.ndarray) -> None:
    """splitmix64's finalizer, in place: every input bit affects every output bit."""
    np.right_shift(values, np.uint64(30), out=scratch)
    values ^= scratch
    values *= np.uint64(0xBF58476D1CE4E5B9)  # numpy wraps uint64 arrays silently
    np.right_shift(values, np.uint64(27), out=scratch)
    values ^= scratch
    values *= np.uint64(0x94D049BB133111EB)
    np.right_shift(values, np.uint64(31), out=scratch)
    values ^= scratch


def _value_hashes(column: pa.Array | pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """Both 64-bit hashes of each value, the same for the same value anywhere.

    Returns:
        (hashes, index): ``hashes`` is (2, d) uint64; row r's hashes are column ``index[r]``
        (strings: one column per distinct value), or column r when ``index`` is None.
    """
    column = one_array(column)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # null is a value of the dictionary here, so the rows need no mask of their own
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        dictionary = encoded.dictionary
        text = pc.fill_null(dictionary, "").to_numpy(zero_copy_only=False)
        hashes = np.empty((2, len(dictionary)), dtype=np.uint64)
        for half, key in enumerate(KEY_HASH_KEYS):
            # SipHash-2-4 of the value's UTF-8 bytes, all of them
            hashes[half] = pd.util.hash_array(text, hash_key=key, categorize=False)
        if dictionary.null_count:
            null = pc.is_null(dictionary).to_numpy(zero_copy_only=False)
            for half in (0, 1):
                hashes[half][null] = _NULL_HASHES[half]
        return hashes, encoded.indices.to_numpy(zero_copy_only=False)
    if pa.types.is_timestamp(column.type):
        column = pc.cast(column, pa.int64())
    numbers = pc.cast(column, pa.int64())
    if numbers.null_count:
        numbers = pc.fill_null(numbers, 0)
    bits = numbers.to_numpy(zero_copy_only=False).view(np.uint64)
    hashes = np.empty((2, len(bits)), dtype=np.uint64)
    scratch = np.empty(len(bits), dtype=np.uint64)
    null = ~pc.is_valid(column).to_numpy(zero_copy_only=False) if column.null_count else None
    for half, constant in enumerate(_NUMBER_CONSTANTS):
        hashes[half] = bits + np.uint64(constant)
        _mix_in_place(hashes[half], scratch)
        if null is not None:
            hashes[half][null] = _NULL_HASHES[half]
    return hashes, None


def hex_strings(values: np.ndarray) -> pa.Array:
    """(n, 2) uint64 event keys as 32-digit lower-case hex strings, without a per-value call."""
    values = np.ascontiguousarray(values, dtype=np.uint64).reshape(-1, 2)
    text = values.astype(">u8").tobytes().hex().encode("ascii")
    offsets = pa.py_buffer(np.arange(0, 32 * len(values) + 1, 32, dtype=np.int32).tobytes())
    return pa.StringArray.from_buffers(len(values), offsets, pa.py_buffer(text))


@dataclass
class FileContext:
    """What normalization needs to know about the file a batch comes from."""

    input_id: str
    report_type: str
    dayfirst: bool = False
    input_tz: str = "UTC"
    decode_errors: bool = False  # the file had undecodable bytes (rows with U+FFFD rejected)


def to_canonical(
    table: pa.Table,
    headers: list[str],
    spec: ExportFormat,
    header_map: dict[int, str],
    lines: np.ndarray,
    context: FileContext,
) -> Batch:
    """Normalize one batch of raw rows (string columns, in header order) to canonical events.

    Args:
        table: the raw batch; column k holds the values of ``headers[k]``.
        headers: the file's header names (as written).
        spec: the file's format.
        header_map: header position -> canonical column (``spec.header_map(headers)``).
        lines: for each row, the line of the file it starts on.
        context: provenance and parsing choices for the file.
    """
    n = table.num_rows
    rejected: list[tuple[int, str]] = []
    warnings: list[str] = []
    columns: dict[str, pa.Array] = {}
    for position, name in header_map.items():
        # values are kept as exported (empty fields are already null)
        column = one_array(table.column(position))
        columns[name] = column if column.type == pa.string() else column.cast(pa.string())
    # every column the format does not map is kept, by its header (nothing is lost)
    extras = [(headers[p], table.column(p)) for p in range(len(headers)) if p not in header_map]
    _trace_ids(columns, headers, header_map, spec, extras, warnings)
    for name, value in spec.constants.items():
        columns.setdefault(name, pa.repeat(pa.scalar(value, pa.string()), n))
    for name, source in spec.fallbacks.items():
        if name not in columns and source in columns:
            columns[name] = columns[source]
    raw_time = columns.get("event_time", pa.nulls(n, pa.string()))

    keep = np.ones(n, dtype=bool)
    if context.decode_errors:
        _reject_undecodable(table, lines, keep, rejected)

    # Times: every canonical row needs one.
    times = parse_timestamps(raw_time, dayfirst=context.dayfirst, input_tz=context.input_tz)
    missing = pc.and_(pc.is_null(times), pc.is_valid(raw_time))
    if pc.any(missing).as_py():
        times = pc.coalesce(times, _ms_dates(raw_time))
    bad_time = pc.is_null(times).to_numpy(zero_copy_only=False) & keep
    # --input-tz: times the zone skips are rejected, times it repeats are warned about
    zone_issues = local_time_issues(raw_time, context.dayfirst, context.input_tz)
    time_header = next((headers[p] for p, c in header_map.items() if c == "event_time"), "time")
    if zone_issues is not None and (warning := zone_issues.warning(time_header, lines)):
        warnings.append(warning)
    if bad_time.any():
        _reject_times(raw_time, bad_time, lines, time_header, rejected, zone_issues)
        keep &= ~bad_time
    columns["event_time"] = times

    _integers(columns, headers, header_map, extras, warnings)
    columns["extras"] = _extras(extras, n)

    if spec.status_rules:
        columns["reported_status"] = _status_rules(spec, columns, n)
    if "reported_status" in columns:
        none = pc.equal(pc.utf8_lower(pc.utf8_trim_whitespace(columns["reported_status"])), "none")
        count = pc.sum(pc.and_(pc.fill_null(none, False), pa.array(keep))).as_py() or 0
        if count:
            warnings.append(NO_STATUS_WARNING)

    row_index = np.arange(n)
    if spec.row_shape == "event":
        columns, row_index = _split_recipients(columns, n)
    elif spec.row_shape == "recipient_events":
        columns, row_index = _split_recipient_events(columns, n)
    m = len(row_index)

    _derived(columns)
    columns["time_basis"] = pa.repeat(pa.scalar(spec.time_basis, pa.string()), m)
    columns["input_id"] = pa.repeat(pa.scalar(context.input_id, pa.string()), m)
    columns["report_type"] = pa.repeat(pa.scalar(spec.name, pa.string()), m)
    columns["line"] = pa.array(lines[row_index].astype(np.int64))
    columns = {k: v for k, v in columns.items() if v is not None}
    events = schema.conform(pa.table(columns))
    keys = event_key_values(events)  # a row's key is its own: rows to drop change no other's
    kept = keep[row_index]
    rows = row_index.astype(np.int64)
    if not kept.all():  # filtering copies every column: only when a row was rejected
        events = events.filter(pa.array(kept))
        keys = keys[kept]
        rows = rows[kept]
    events = events.set_column(
        events.schema.get_field_index("event_key"), "event_key", hex_strings(keys)
    )
    return Batch(events, rejected, warnings, keys, rows)


#: Said once per file when rows carry Get-MessageTraceV2's status None.
NO_STATUS_WARNING = (
    "some rows have the status None (Get-MessageTraceV2: no delivery status, because the message "
    "was rejected or redirected to another recipient; the row does not say which): None "
    "decides no final status, so these recipients are Unknown unless other rows decide"
)


def _trace_ids(
    columns: dict[str, pa.Array],
    headers: list[str],
    header_map: dict[int, str],
    spec: ExportFormat,
    extras: list[tuple[str, pa.Array | pa.ChunkedArray]],
    warnings: list[str],
) -> None:
    """Keep ``message_trace_id`` only if it is one: an id that no two records share, while a
    message has several records, is each record's own (Graph documents its detail records'
    ``id`` so); it then goes to extras, and fills no network message id."""
    position = next((p for p, c in header_map.items() if c == "message_trace_id"), None)
    if position is None or not spec.record_id_aliases:
        return
    header = headers[position]
    if formats.normalize_header(header) not in {
        formats.normalize_header(alias) for alias in spec.record_id_aliases
    }:
        return
    ids = columns["message_trace_id"]
    with_id = len(ids) - ids.null_count
    if with_id < 2 or pc.count_distinct(ids).as_py() < with_id:
        return  # records share ids: trace ids
    messages = columns.get("message_id")
    if (
        messages is None
        or pc.count_distinct(messages).as_py() >= len(messages) - messages.null_count
    ):
        return  # one record per message: nothing tells, the format's word stands
    del columns["message_trace_id"]
    extras.append((header, ids))
    warnings.append(
        f"each record has an {header!r} of its own (no two records share one): it identifies "
        "the record, not the message trace, so it is kept in extras and these rows join their "
        "message by message id only"
    )


def _reject_undecodable(
    table: pa.Table, lines: np.ndarray, keep: np.ndarray, rejected: list[tuple[int, str]]
) -> None:
    """Reject rows holding undecodable bytes (U+FFFD in the stream): never store a replaced
    value."""
    damaged = np.zeros(len(keep), dtype=bool)
    for position in range(table.num_columns):
        column = table.column(position)
        damaged |= pc.fill_null(pc.match_substring(column, "\ufffd"), False).to_numpy(
            zero_copy_only=False
        )
    for line in lines[damaged]:
        rejected.append(
            (
                int(line),
                "holds bytes that are not valid in the file's encoding "
                "(re-run with --encoding if the encoding was misdetected)",
            )
        )
    keep &= ~damaged


def _ms_dates(values: pa.Array) -> pa.Array:
    """``/Date(ms)/`` times (OData verbose JSON) as UTC timestamps; null for other values."""
    found = pc.extract_regex(values, MS_DATE)
    milliseconds = pc.cast(pc.struct_field(found, "ms"), pa.int64())
    # nanoseconds since 1970 fit in 64 bits from 1677 to 2262: beyond, no real time
    plausible = pc.less_equal(pc.abs(milliseconds), 9_223_372_036_853)
    milliseconds = pc.if_else(plausible, milliseconds, pa.scalar(None, pa.int64()))
    return pc.cast(pc.multiply(milliseconds, 1_000_000), schema.TIMESTAMP)


def _reject_times(
    raw_time: pa.Array,
    bad_time: np.ndarray,
    lines: np.ndarray,
    header: str,
    rejected: list[tuple[int, str]],
    zone_issues: LocalTimeIssues | None,
) -> None:
    """Reject the rows without a readable time, each with its value (the first 10,000); a
    time that ``--input-tz`` skips (``zone_issues``) says so."""
    bad = np.flatnonzero(bad_time)
    values = raw_time.take(pa.array(bad[:10000])).to_pylist()
    for index, value in zip(bad[:10000], values, strict=True):
        reason = (
            f"no {header} value"
            if value is None
            else zone_issues.reason(header, value)
            if zone_issues is not None and zone_issues.skipped[index]
            else f"unreadable {header} value {value[:60]!r}"
        )
        rejected.append((int(lines[index]), reason))
    rejected.extend((int(line), f"unreadable {header} value") for line in lines[bad[10000:]])


def _integers(
    columns: dict[str, pa.Array],
    headers: list[str],
    header_map: dict[int, str],
    extras: list[tuple[str, pa.Array | pa.ChunkedArray]],
    warnings: list[str],
) -> None:
    """Integer columns from their text; a value that is no whole number is left empty and
    kept as text in extras."""
    for name, arrow_type in INTEGER_COLUMNS.items():
        if name not in columns:
            continue
        text = columns[name]
        longest = INTEGER_DIGITS[arrow_type]
        if _all_whole_numbers(text) and (pc.max(pc.utf8_length(text)).as_py() or 0) <= longest:
            columns[name] = pc.cast(text, arrow_type)  # the usual case, told from the bytes
            continue
        digits = pc.fill_null(pc.match_substring_regex(text, rf"^\d{{1,{longest}}}$"), False)
        columns[name] = pc.cast(pc.if_else(digits, text, pa.scalar(None, pa.string())), arrow_type)
        not_numbers = pc.and_(pc.invert(digits), pc.is_valid(text))
        odd = pc.sum(not_numbers).as_py() or 0
        if odd:
            header = next(headers[p] for p, c in header_map.items() if c == name)
            warnings.append(
                f"{odd} {name} value(s) are not whole numbers (or too large); left empty "
                f"and kept as text in extras under {header!r}"
            )
            extras.append((header, pc.if_else(not_numbers, text, pa.scalar(None, pa.string()))))


def _derived(columns: dict[str, pa.Array]) -> None:
    """Columns derived from others: event ids in upper case, SMTP codes, direction, parsed
    custom_data."""
    event_id = columns.get("event_id")
    if event_id is not None:
        columns["event_id"] = per_distinct(
            event_id, lambda ids: pc.utf8_upper(pc.replace_substring_regex(ids, r"[\s_]+", ""))
        )
    status = columns.get("recipient_status")
    if status is not None:
        # a few statuses repeat over thousands of rows: both regexes run once per distinct one
        encoded = pc.dictionary_encode(status)
        statuses = encoded.dictionary
        # x.y.z on its own, not inside a longer dotted number ("version 10.5.1.2")
        code = pc.extract_regex(
            statuses, r"(?:^|[^\d.])(?P<code>[245]\.\d{1,3}\.\d{1,3})(?:[^\d.]|\.\D|\.$|$)"
        )
        columns["status_code"] = pc.struct_field(code, "code").take(encoded.indices)
        reply = pc.extract_regex(statuses, r"^(?P<reply>[245]\d\d)\b")
        columns["smtp_reply_code"] = pc.cast(pc.struct_field(reply, "reply"), pa.int16()).take(
            encoded.indices
        )
    if "directionality" in columns:
        lowered = pc.utf8_lower(columns["directionality"])
        keys = pa.array(list(DIRECTIONS), pa.string())
        index = pc.index_in(lowered, value_set=keys)
        columns["direction"] = pa.array(list(DIRECTIONS.values()), pa.string()).take(index)
    if "custom_data" in columns:
        columns["custom_data_fields"] = _verdict_fields(
            columns["custom_data"], columns.get("event_id"), columns.get("source")
        )
