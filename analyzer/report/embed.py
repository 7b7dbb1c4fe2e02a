"""The one JSON data block the page's script reads (``<script id="report-data">``).

It is compact: each table is a column list plus arrays of rows, and every string is interned
in one list (``s``, most frequent first) so rows hold small integers. Column names say how a
value is stored: ``s:`` an index into ``s``, ``t:`` a time in milliseconds after ``base``,
``e:`` an event time in 100 ns ticks after ``base`` (all 7 fractional digits of the
exports), anything else a plain integer; -1 means unknown.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analyzer.case import Case
from analyzer.chains import (
    DIRECTIONS,
    FINAL_STATUSES,
    GAP_LEVELS,
    RELATED_MESSAGE_WORDS,
    RELATED_RECIPIENT_WORDS,
    RELATION_WORDS,
)
from analyzer.report.columns import column, int_column, join_list, seconds_to_ms, time_column
from analyzer.report.detail import (
    CUSTOM_DATA_CHARS,
    PER_RECIPIENT,
    RAW_EVENT_HEADINGS,
    ROUTE_FACTS,
    UNNAMED_RELATION_WORDS,
    VERDICT_LABELS,
    VERDICT_MEANINGS,
)
from analyzer.report.marks import script_words
from analyzer.timestamps import DisplayZone

_NS_PER_MS = 1_000_000
_TICKS_PER_MS = 10_000  # event times are embedded in 100 ns ticks: all 7 fractional digits

#: Columns of the embedded messages (row ``m``).
EMBEDDED_MESSAGE_COLUMNS = (
    "s:key",
    "s:network_message_id",
    "s:message_id",
    "s:sender",
    "s:subject",
    "t:first_time",
    "t:last_time",
    "s:direction",
    "recipient_count",
    "total_bytes",
    "detail",  # 0 no events embedded, 1 all, 2 cut at the per-message cap
    "s:link",
)
#: Columns of the embedded recipients: the rows of the messages table. ``order`` and
#: ``depth`` are the chain model's lineage order within the message and depth.
EMBEDDED_RECIPIENT_COLUMNS = (
    "m",
    "order",
    "depth",
    "s:recipient",
    "t:first_time",
    "s:final_status",
    "s:direction",
    "s:status_code",
    "s:smtp_reply",
    "s:status_meaning",
    "s:parent",
    "s:relation",
    "s:from_ip",
    "s:to_ip",
    "total_bytes",
    "duration_ms",
    "deferral_count",
    "deferral_ms",
    "s:sfv",
    "s:scl",
    "s:pcl",
    "s:di",
    "s:country",
    "s:connectors",
    "s:malware",
    "s:transport_rules",
    "s:conflict",
)
#: Columns of the embedded event rows behind the detail view, by message in chain order. The
#: chain model: ``recipient_order`` is the ``order`` of the recipient whose timeline the row
#: is in (-1: none), ``gap_ms`` the gap since its previous timeline event when shown (-1:
#: none), ``gap_level`` that gap's level (an index of ``words.gap_levels``).
EMBEDDED_EVENT_COLUMNS = (
    "m",
    "recipient_order",
    "gap_ms",
    "gap_level",
    "s:recipient",
    "e:time",
    "s:time_basis",
    "timeline",  # 1 when the row is part of its recipient's timeline (chains in_timeline)
    "s:event_id",
    "s:source",
    "s:status",
    "s:status_code",
    "s:related_recipient",
    "s:reference",
    "s:client",
    "s:server",
    "s:report_type",
    "input",
    "line",
    "s:also_seen",
    "s:detail",
    "s:custom_data",
)
#: Columns of the embedded links between messages (``related_m`` -1: not in the data).
EMBEDDED_LINK_COLUMNS = ("m", "related_m", "s:relation", "s:reference", "input", "line")


class IntRows:
    """The rows of an embedded table, all integers: written into the JSON as an array of
    arrays by pyarrow's CSV writer (``json`` would make a Python int of every number: four
    times slower on the 5 million numbers of a large report).

    Attributes:
        columns: the table's columns (numpy integer arrays of one length).
    """

    def __init__(self, columns: Sequence[np.ndarray]) -> None:
        self.columns = list(columns)

    def __len__(self) -> int:
        return len(self.columns[0]) if self.columns else 0

    def to_json(self) -> str:
        """``[[1,2],[3,4]]``: the rows as a JSON array of arrays of integers."""
        if not len(self):
            return "[]"
        table = pa.table({str(i): pa.array(c, pa.int64()) for i, c in enumerate(self.columns)})
        sink = pa.BufferOutputStream()
        options = pacsv.WriteOptions(include_header=False, batch_size=65_536, quoting_style="none")
        pacsv.write_csv(table, sink, options)
        lines = sink.getvalue().to_pybytes().rstrip(b"\n")
        return "[[" + lines.replace(b"\n", b"],[").decode("ascii") + "]]"


def json_for_script(obj: Any) -> str:
    """Serialize ``obj`` as JSON that is safe inside a ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e``, ``\\u0026`` (so ``</script>`` or
    ``<!--`` in a subject cannot end or alter the element), and U+2028 / U+2029 are escaped
    too. The output is compact and deterministic (keys keep their insertion order, which the
    report builds in a fixed order). An ``IntRows`` value (only as the value of a ``"rows"``
    key of a dict, in dicts nested in dicts) is written as its array of arrays of integers.

    Args:
        obj: JSON-serializable data.

    Returns:
        The JSON text, ready to place between ``<script type="application/json">`` tags.
    """
    fragments: list[str] = []

    def placeholders(value: Any) -> Any:
        if isinstance(value, dict):
            swapped = {}
            for key, item in value.items():
                if isinstance(item, IntRows):
                    assert key == "rows", "IntRows only as the value of a 'rows' key"
                    fragments.append(item.to_json())
                    item = f"\x00rows{len(fragments) - 1}"
                swapped[key] = placeholders(item)
            return swapped
        return value  # lists are data (the strings, offsets): never rows of a table

    text = json.dumps(placeholders(obj), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # These characters only ever occur inside JSON strings, where \uXXXX means the same.
    text = (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    # A quote outside a string is never escaped and one inside always is, so '"rows":"..."'
    # occurs only where a placeholder stands, never inside an export's text.
    for index, fragment in enumerate(fragments):
        text = text.replace(f'"rows":"\\u0000rows{index}"', '"rows":' + fragment, 1)
    return text


class Interner:
    """Interns strings from many columns into one list, most frequent first.

    Index 0 is the empty string (null shows as empty); then strings by how often they occur,
    ties in case-insensitive order, so the common values (statuses, directions, replies) get
    one- or two-digit indexes and the data block stays small. All columns are encoded in one
    hashing pass (``add`` them all, ``freeze``, then ``index`` each).
    """

    def __init__(self) -> None:
        self._pending: list[pa.ChunkedArray] = []
        self._indexes: np.ndarray | None = None
        self._starts: list[int] = []
        self.add(pa.array([""], pa.string()))

    def add(self, values: pa.ChunkedArray | pa.Array) -> int:
        """Queue a column; returns the token to ``index`` it by after ``freeze``."""
        if isinstance(values, pa.Array):
            values = pa.chunked_array([values])
        self._pending.append(values.cast(pa.string()))
        return len(self._pending) - 1

    def freeze(self) -> list[str]:
        """Encode every queued column; returns the strings in index order."""
        chunks = [chunk for values in self._pending for chunk in values.chunks]
        encoded = pc.dictionary_encode(pa.chunked_array(chunks, pa.string()))
        dictionary = encoded.chunk(0).dictionary  # one dictionary for all chunks
        # null means "": dictionary entry 0 (the first value queued)
        codes = pa.chunked_array([chunk.indices for chunk in encoded.chunks], pa.int32())
        codes = np.asarray(pc.fill_null(codes, 0).to_numpy(), dtype=np.int64)
        alphabetical = pc.sort_indices(
            pa.table({"lower": pc.utf8_lower(dictionary), "value": dictionary}),
            sort_keys=[("lower", "ascending"), ("value", "ascending")],
        ).to_numpy()
        alpha_rank = np.empty(len(dictionary), dtype=np.int64)
        alpha_rank[alphabetical] = np.arange(len(dictionary))
        counts = np.bincount(codes, minlength=len(dictionary))
        counts[0] = np.iinfo(np.int64).max  # "" first
        order = np.lexsort((alpha_rank, -counts))
        ranks = np.empty(len(dictionary), dtype=np.int64)
        ranks[order] = np.arange(len(dictionary))
        self._indexes = ranks[codes]
        self._starts = list(np.cumsum([0] + [len(values) for values in self._pending]))
        return list(dictionary.take(pa.array(order)).to_pylist())

    def index(self, token: int) -> np.ndarray:
        """The string indexes of the column queued as ``token``."""
        assert self._indexes is not None, "freeze() first"
        return self._indexes[self._starts[token] : self._starts[token + 1]]


def _encode(
    names: Sequence[str],
    interner: Interner,
    string_tokens: dict[str, int],
    numbers: dict[str, np.ndarray],
) -> dict[str, Any]:
    """One embedded table: ``cols`` (``names``) and ``rows``, strings as interned indexes."""
    columns = []
    for name in names:
        kind, _, key = name.rpartition(":")
        columns.append(interner.index(string_tokens[key]) if kind == "s" else numbers[key])
    return {"cols": list(names), "rows": IntRows(columns)}


def _message_strings(messages: pa.Table, link_ids: list[str]) -> dict[str, Any]:
    return {
        "key": messages.column("message_key"),
        "network_message_id": messages.column("network_message_id"),
        "message_id": messages.column("message_id"),
        "sender": messages.column("sender_address"),
        "subject": messages.column("message_subject"),
        "direction": messages.column("direction"),
        "link": pa.array(link_ids, pa.string()),
    }


def _recipient_strings(recipients: pa.Table) -> dict[str, Any]:
    return {
        "recipient": recipients.column("recipient_address"),
        "final_status": recipients.column("final_status"),
        "direction": recipients.column("direction"),
        "status_code": recipients.column("status_code"),
        "smtp_reply": column(recipients, "smtp_reply"),
        "status_meaning": column(recipients, "status_meaning"),
        "parent": column(recipients, "parent_recipient"),
        "relation": column(recipients, "recipient_relation"),
        "from_ip": column(recipients, "from_ip"),
        "to_ip": column(recipients, "to_ip"),
        "sfv": column(recipients, "sfv"),
        "scl": column(recipients, "scl", pa.int64()).cast(pa.string()),
        "pcl": column(recipients, "pcl", pa.int64()).cast(pa.string()),
        "di": column(recipients, "di"),
        "country": column(recipients, "country"),
        "connectors": column(recipients, "connectors"),
        "malware": column(recipients, "malware_name"),
        "transport_rules": join_list(column(recipients, "transport_rules")),
        "conflict": column(recipients, "conflict"),
    }


def _event_strings(events: pa.Table, also_seen: dict[str, str]) -> dict[str, Any]:
    event_keys = events.column("event_key").to_pylist() if also_seen else []
    return {
        "recipient": events.column("recipient_address"),
        "time_basis": events.column("time_basis"),
        "event_id": events.column("event_id"),
        "source": events.column("source"),
        "status": events.column("recipient_status"),
        "status_code": events.column("status_code"),
        "related_recipient": events.column("related_recipient_address"),
        "reference": events.column("reference"),
        "client": events.column("client"),
        "server": events.column("server"),
        "report_type": events.column("report_type"),
        "also_seen": pa.array(
            [also_seen.get(k or "") for k in event_keys] or [None] * events.num_rows, pa.string()
        ),
        "detail": events.column("detail"),
        "custom_data": pc.utf8_slice_codeunits(events.column("custom_data"), 0, CUSTOM_DATA_CHARS),
    }


def embedded_data(
    case: Case,
    messages: pa.Table,
    recipients: pa.Table,
    events: pa.Table,
    also_seen: dict[str, str],
    links: pa.Table,
    detail_state: np.ndarray,
    link_ids: list[str],
    zone: DisplayZone,
    max_detail_events: int,
    max_events_per_message: int,
) -> dict[str, Any]:
    """The one JSON object the page's script reads (see the column lists above).

    Args:
        case: the case (its inputs).
        messages: the selected messages (row ``m``).
        recipients: their recipient rows (with ``m``).
        events: the embedded event rows (``selection.detail_events``).
        also_seen: other places each event was read from, by event key.
        links: the links from or to the selected messages.
        detail_state: per message, 0 (no events embedded), 1 (all) or 2 (cut).
        link_ids: per message, the id it is linked by.
        zone: the display zone.
        max_detail_events: the cap on embedded event rows (stated in the data).
        max_events_per_message: the cap per message (stated in the data).

    Returns:
        The data, ready for ``json_for_script``.
    """
    first_ns = _bound_ns([messages.column("first_time"), events.column("event_time")], pc.min)
    last_ns = _bound_ns(
        [
            messages.column("last_time"),
            recipients.column("final_time"),
            events.column("event_time"),
        ],
        pc.max,
    )
    base_ms = (first_ns // (86_400_000 * _NS_PER_MS)) * 86_400_000 if first_ns is not None else 0

    links, link_m, link_related = _ordered_links(links, messages.column("message_key"))
    link_strings = {"relation": links.column("relation"), "reference": links.column("reference")}

    interner = Interner()
    message_tokens, recipient_tokens, event_tokens, link_tokens = (
        {name: interner.add(values) for name, values in group.items()}
        for group in (
            _message_strings(messages, link_ids),
            _recipient_strings(recipients),
            _event_strings(events, also_seen),
            link_strings,
        )
    )
    strings = interner.freeze()
    input_index = pa.array([record.input_id for record in case.inputs], pa.string())

    message_block = _encode(
        EMBEDDED_MESSAGE_COLUMNS,
        interner,
        message_tokens,
        {
            "recipient_count": int_column(column(messages, "recipient_count", pa.int64())),
            "total_bytes": int_column(column(messages, "total_bytes", pa.int64())),
            "detail": detail_state,
            "first_time": time_column(messages.column("first_time"), base_ms),
            "last_time": time_column(messages.column("last_time"), base_ms),
        },
    )
    recipient_block = _encode(
        EMBEDDED_RECIPIENT_COLUMNS,
        interner,
        recipient_tokens,
        {
            "m": int_column(recipients.column("m")),
            "order": int_column(recipients.column("order")),
            "depth": int_column(recipients.column("depth")),
            "total_bytes": int_column(column(recipients, "total_bytes", pa.int64())),
            "deferral_count": int_column(column(recipients, "deferral_count", pa.int64())),
            "duration_ms": seconds_to_ms(column(recipients, "duration_seconds", pa.float64())),
            "deferral_ms": seconds_to_ms(column(recipients, "deferral_seconds", pa.float64())),
            "first_time": time_column(recipients.column("first_time"), base_ms),
        },
    )
    event_block = _encode(
        EMBEDDED_EVENT_COLUMNS,
        interner,
        event_tokens,
        {
            "m": int_column(events.column("m")),
            "recipient_order": int_column(events.column("recipient_order")),
            "gap_ms": int_column(events.column("gap_ms")),
            "gap_level": int_column(events.column("gap_level")),
            "input": int_column(pc.index_in(events.column("input_id"), value_set=input_index)),
            "line": int_column(events.column("line")),
            "timeline": int_column(column(events, "in_timeline", pa.bool_()).cast(pa.int8()), 1),
            "time": time_column(events.column("event_time"), base_ms, _TICKS_PER_MS),
        },
    )
    link_block = _encode(
        EMBEDDED_LINK_COLUMNS,
        interner,
        link_tokens,
        {
            "m": link_m,
            "related_m": link_related,
            "input": int_column(pc.index_in(column(links, "input_id"), value_set=input_index)),
            "line": int_column(column(links, "line", pa.int64())),
        },
    )
    return {
        "schema": 2,
        "base": int(base_ms),
        "zone": {
            "name": zone.name,
            "offsets": zone_offsets(zone, first_ns or 0, last_ns or 0, base_ms),
        },
        "s": strings,
        "inputs": [record.path for record in case.inputs],
        "statuses": list(FINAL_STATUSES),
        "directions": list(DIRECTIONS),
        "words": _detail_words(),
        "messages": message_block,
        "recipients": recipient_block,
        "events": event_block,
        "links": link_block,
        "caps": {
            "max_detail_events": max_detail_events,
            "max_events_per_message": max_events_per_message,
            "events_embedded": events.num_rows,
            "messages_with_events": int(np.count_nonzero(detail_state)),
            "messages": messages.num_rows,
        },
    }


def _ordered_links(
    links: pa.Table, keys: pa.ChunkedArray
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The links sorted by message, related message and line, with both messages' ``m``."""
    link_m = int_column(pc.index_in(links.column("message_key"), value_set=keys))
    link_related = int_column(pc.index_in(links.column("related_message_key"), value_set=keys))
    order = np.lexsort((int_column(links.column("line")), link_related, link_m))
    return links.take(pa.array(order)), link_m[order], link_related[order]


def _detail_words() -> dict[str, Any]:
    """The words of the detail view, once, for the page's script: the chain model's (relation
    and related-message words, gap levels), the report's (verdicts, route facts, raw row
    headings) and how hidden characters are marked (``marks``)."""
    return {
        "relations": dict(sorted(RELATION_WORDS.items())),
        "relation_unnamed": UNNAMED_RELATION_WORDS,
        "related_messages": RELATED_MESSAGE_WORDS,
        "related_recipient": RELATED_RECIPIENT_WORDS,
        "gap_levels": list(GAP_LEVELS),
        "route": [[key, label] for key, label in ROUTE_FACTS],
        "per_recipient": PER_RECIPIENT,
        "verdicts": [[key, label] for key, label in VERDICT_LABELS],
        "verdict_meanings": VERDICT_MEANINGS,
        "raw_headings": list(RAW_EVENT_HEADINGS),
        **script_words(),
    }


def _bound_ns(columns: Iterable[pa.ChunkedArray], bound: Callable[..., Any]) -> int | None:
    """The earliest (``pc.min``) or latest (``pc.max``) time of several columns, in ns."""
    values = [bound(c.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())).as_py() for c in columns]
    present = [v for v in values if v is not None]
    if not present:
        return None
    return int(min(present) if bound is pc.min else max(present))


def zone_offsets(zone: DisplayZone, first_ns: int, last_ns: int, base_ms: int) -> list[list[Any]]:
    """UTC offsets of ``zone`` over a time range, for the page's script.

    Each entry is ``[from_ms, minutes, label]``: ``from_ms`` is relative to ``base_ms`` and
    the entry holds until the next. Sampled per hour (per day for ranges over 20 years),
    which catches every real zone transition.
    """
    if zone.is_utc or last_ns < first_ns:
        return [[0, 0, "UTC"]]
    step = "h" if last_ns - first_ns < 20 * 366 * 86_400 * 10**9 else "D"
    start = pd.Timestamp(first_ns, tz="UTC").floor("D") - pd.Timedelta(days=1)
    end = pd.Timestamp(last_ns, tz="UTC").ceil("D") + pd.Timedelta(days=1)
    points = pd.date_range(start, end, freq=step, tz="UTC")
    local = points.tz_convert(zone.zone)
    offsets = (local.tz_localize(None) - points.tz_localize(None)).total_seconds() // 60
    minutes = np.asarray(offsets, dtype=np.int64)
    starts_ms = np.asarray(points.asi8, dtype=np.int64) // _NS_PER_MS - base_ms
    change = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1]])
    result: list[list[Any]] = [
        [int(starts_ms[index]), int(minutes[index]), local[int(index)].strftime("%Z")]
        for index in change
    ]
    result[0][0] = min(result[0][0], -(10**15))  # the first entry holds for all earlier times
    return result
