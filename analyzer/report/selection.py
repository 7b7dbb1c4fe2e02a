"""Which messages, recipients, links and event rows a report holds, within its caps.

A full report holds every message and recipient; a focused report (``--message``) holds the
message, the messages linked to it and the findings citing them. Messages are numbered by
their place in time order (``m``, the index the embedded data uses). The event rows behind
the detail view are capped: messages cited by findings first, then the newest.

The chain model of a message (``analyzer.chains``: lineage order and depth per recipient,
the gap before each timeline event and its level) is computed here once, column-wise, for
every selected row; the focused HTML (``detail``) and the page's script (``embed``) only
format these columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import one_array, take_or_null, to_numpy_bool
from analyzer.case import Case
from analyzer.chains import GAP_SHOWN_SECONDS, Chains, lineage_order, resolve_message, timeline_gaps
from analyzer.findings.model import Finding
from analyzer.report.columns import int_column


@dataclass(frozen=True)
class Selection:
    """The rows of the chains one report shows.

    Attributes:
        messages: the messages in time order (unknown time last, ties by key): row ``m``.
        recipients: their recipient rows with ``m``, ``_address_lower``, the chain model's
            ``order`` (place in the message's lineage order) and ``depth``, and
            ``connectors`` (see ``recipient_connectors``), sorted by message, then address.
        links: the links from or to those messages (the other end may be missing).
        findings: the findings the report shows (in a focused report, those citing its
            messages).
        focus_key: the focused message's key, None in a full report.
        event_count: event rows of the selected messages.
        link_ids: per message, the id it is linked by (``#message=``).
    """

    messages: pa.Table
    recipients: pa.Table
    links: pa.Table
    findings: Sequence[Finding]
    focus_key: str | None
    event_count: int
    link_ids: list[str]


def select_rows(chains: Chains, findings: Sequence[Finding], message: str | None) -> Selection:
    """The messages, recipients, links and findings of a full or focused report.

    Args:
        chains: the case's chains.
        findings: every finding.
        message: the id of the message to focus on, or None for a full report.

    Returns:
        The selection.

    Raises:
        NotFoundError: ``message`` is not in the chains.
    """
    messages = _sorted_messages(chains.messages)
    message_keys = messages.column("message_key")
    focus_key = None
    selected_keys = message_keys
    if message:
        focus_key = resolve_message(chains, message)
        selected_keys = pa.array(_focus_keys(chains.links, focus_key), pa.string())
        keep = pc.is_in(message_keys, value_set=selected_keys)
        messages = messages.filter(keep)
        message_keys = messages.column("message_key")
        selected = set(selected_keys.to_pylist())
        findings = [f for f in findings if any(e.message_key in selected for e in f.evidence)]

    recipients = chains.recipients.filter(
        pc.is_in(chains.recipients.column("message_key"), value_set=message_keys)
    )
    # the chain model's lineage order, on the rows in the chains' own order (as message_chain)
    order, depth = lineage_order(recipients)
    recipients = recipients.append_column("order", pa.array(order, pa.int64()))
    recipients = recipients.append_column("depth", pa.array(depth, pa.int64()))
    recipients = recipients.append_column(
        "connectors", recipient_connectors(chains.events, recipients)
    )
    recipients = _with_message_index(recipients, message_keys)
    recipients = recipients.sort_by(
        [("m", "ascending"), ("_address_lower", "ascending"), ("recipient_address", "ascending")]
    )
    # A link is shown from both of its messages; its original may be missing from the data.
    links = chains.links.filter(
        pc.or_(
            pc.is_in(chains.links.column("message_key"), value_set=message_keys),
            pc.is_in(chains.links.column("related_message_key"), value_set=message_keys),
        )
    )
    return Selection(
        messages=messages,
        recipients=recipients,
        links=links,
        findings=findings,
        focus_key=focus_key,
        event_count=_event_count(chains, selected_keys, focus_key),
        link_ids=_message_link_ids(messages),
    )


def _filled(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One array, null as "" (text) or -1 (numbers): pairs compare nulls as equal."""
    array = one_array(values)
    return pc.fill_null(array, "" if pa.types.is_string(array.type) else -1)


def pair_index(
    left: tuple[pa.ChunkedArray | pa.Array, pa.ChunkedArray | pa.Array],
    right: tuple[pa.ChunkedArray | pa.Array, pa.ChunkedArray | pa.Array],
) -> np.ndarray:
    """For each row's pair of values in ``left`` (e.g. message, address), the row of
    ``right`` holding the same pair (the first one), -1 when none does.

    Each half of a pair is encoded over both sides as small integers and the two codes make
    one 64-bit key, so the lookup hashes integers, not joined texts.
    """
    count = len(left[0])
    codes = []
    sizes = []
    for ours, theirs in zip(left, right, strict=True):
        encoded = pc.dictionary_encode(pa.concat_arrays([_filled(ours), _filled(theirs)]))
        codes.append(np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64))
        sizes.append(len(encoded.dictionary))
    keys = codes[0] * sizes[1] + codes[1]
    return int_column(pc.index_in(pa.array(keys[:count]), value_set=pa.array(keys[count:])))


def recipient_connectors(events: pa.Table, recipients: pa.Table) -> pa.Array:
    """The connectors each recipient's rows name (``connector_id``), in the order the chain
    first names them, joined by ``, ``; null when none does.

    The chains keep no connector per recipient; the admin center's details page shows one.
    Exchange names the connector on the rows of each recipient (extended reports, tracking
    logs, enhanced summaries), so a recipient's connectors are those of its own rows.
    """
    nothing = pa.nulls(recipients.num_rows, pa.string())
    if "connector_id" not in events.column_names or recipients.num_rows == 0:
        return nothing
    connector = events.column("connector_id")
    named = events.select(["message_key", "recipient_key", "connector_id"]).filter(
        pc.fill_null(pc.not_equal(pc.utf8_trim_whitespace(connector), ""), False)
    )
    if named.num_rows == 0:
        return nothing
    named = named.append_column("_row", pa.array(np.arange(named.num_rows), pa.int64()))
    # each connector once per recipient, at its first row; use_threads=False keeps the order
    first = named.group_by(
        ["message_key", "recipient_key", "connector_id"], use_threads=False
    ).aggregate([("_row", "min")])
    first = first.sort_by([("_row_min", "ascending")])
    listed = first.group_by(["message_key", "recipient_key"], use_threads=False).aggregate(
        [("connector_id", "list")]
    )
    text = pc.binary_join(listed.column("connector_id_list"), ", ")
    found = pair_index(
        (recipients.column("message_key"), recipients.column("recipient_address")),
        (listed.column("message_key"), listed.column("recipient_key")),
    )
    return take_or_null(text, found)


def _sorted_messages(messages: pa.Table) -> pa.Table:
    """Messages in time order (unknown time last), ties broken by key: index ``m`` in the page."""
    first = messages.column("first_time")
    no_time = pc.is_null(first)
    table = messages.append_column("_no_time", no_time)
    return table.sort_by(
        [("_no_time", "ascending"), ("first_time", "ascending"), ("message_key", "ascending")]
    ).drop_columns(["_no_time"])


def _focus_keys(links: pa.Table, focus_key: str) -> list[str]:
    """The focused message and the messages linked to it (either direction), sorted."""
    keys = {focus_key}
    forward = links.filter(pc.equal(links.column("message_key"), focus_key))
    backward = links.filter(pc.equal(links.column("related_message_key"), focus_key))
    keys.update(forward.column("related_message_key").to_pylist())
    keys.update(backward.column("message_key").to_pylist())
    return sorted(k for k in keys if k is not None)


def _with_message_index(table: pa.Table, message_keys: pa.ChunkedArray) -> pa.Table:
    index = pc.index_in(table.column("message_key"), value_set=message_keys)
    table = table.append_column("m", index.cast(pa.int64()))
    return table.append_column("_address_lower", pc.utf8_lower(table.column("recipient_address")))


def _message_link_ids(messages: pa.Table) -> list[str]:
    """The id each message is linked by (``#message=``): its network id, else its key."""
    network = messages.column("network_message_id").to_pylist()
    keys = messages.column("message_key").to_pylist()
    return [n or k for n, k in zip(network, keys, strict=True)]


def _event_count(chains: Chains, selected_keys: pa.Array, focus_key: str | None) -> int:
    if focus_key is None:
        return int(chains.events.num_rows)
    return int(
        pc.sum(pc.is_in(chains.events.column("message_key"), value_set=selected_keys)).as_py() or 0
    )


def time_bounds(messages: pa.Table) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The first and last time of the messages, None when none is dated."""
    values = [
        pc.min(messages.column("first_time")).as_py() if messages.num_rows else None,
        pc.max(messages.column("last_time")).as_py() if messages.num_rows else None,
    ]
    if values[0] is None or values[1] is None:
        return None
    return pd.Timestamp(values[0]), pd.Timestamp(values[1])


@dataclass(frozen=True)
class DetailEvents:
    """The event rows embedded for the detail view.

    Attributes:
        events: the rows (``DETAIL_EVENT_COLUMNS`` plus ``m``, ``detail``, ``client``,
            ``server`` and the chain model's ``gap_ms``, ``gap_level`` and
            ``recipient_order``), by message index, then in chain order (recipient, time,
            lifecycle rank, sequence, input, line).
        state: per message, 0 (no events embedded), 1 (all) or 2 (cut at the per-message cap).
        note: what was left out, in words ("" when nothing).
    """

    events: pa.Table
    state: np.ndarray
    note: str


#: Event columns the detail view uses (the rest of a chains event stays in the case).
DETAIL_EVENT_COLUMNS = (
    "message_key",
    "recipient_address",
    "recipient_key",
    "event_time",
    "time_basis",
    "event_id",
    "source",
    "recipient_status",
    "status_code",
    "related_recipient_address",
    "reference",
    "client_hostname",
    "client_ip",
    "server_hostname",
    "server_ip",
    "report_type",
    "input_id",
    "line",
    "event_key",
    "event_detail",
    "delivery_action",
    "reported_status",
    "custom_data",
    "lifecycle_rank",
    "in_timeline",
)


def detail_events(
    chain_events: pa.Table,
    messages: pa.Table,
    recipients: pa.Table,
    cited: list[str],
    focused: bool,
    max_detail_events: int,
    max_events_per_message: int,
) -> DetailEvents:
    """Pick the event rows to embed for the detail view, within the caps, with their model.

    Messages cited by findings come first, then the newest messages; events are taken per
    message (at most ``max_events_per_message``) until ``max_detail_events``. A focused
    report embeds its few messages in full up to the per-message cap. Each row gets the
    chain model's gap (``analyzer.chains.timeline_gaps``, over all rows of its message, so a
    per-message cut does not change it) and the lineage place of its recipient.

    Args:
        chain_events: the chains' events.
        messages: the selected messages (``Selection.messages``).
        recipients: their recipient rows (``Selection.recipients``: ``m`` and ``order``).
        cited: keys of the messages findings cite.
        focused: whether this is a focused report.
        max_detail_events: event rows to embed across all messages.
        max_events_per_message: event rows to embed for any one message.

    Returns:
        The embedded rows, the state of each message and a note on what was left out.
    """
    message_keys = messages.column("message_key")
    state = np.zeros(messages.num_rows, dtype=np.int64)
    # only the columns the page shows: filtering every column of a big case costs seconds
    shown = [name for name in DETAIL_EVENT_COLUMNS if name in chain_events.column_names]
    m = int_column(pc.index_in(chain_events.column("message_key"), value_set=message_keys))
    events = chain_events.select(shown).append_column("m", pa.array(m))
    per_message = np.bincount(m[m >= 0], minlength=messages.num_rows).astype(np.int64)
    if messages.num_rows == 0 or not per_message.any():
        empty = _with_model_columns(events.slice(0, 0), recipients)
        return DetailEvents(_with_shown_columns(empty), state, "")
    capped = np.minimum(per_message, max_events_per_message)
    cited_mask = np.asarray(
        pc.is_in(message_keys, value_set=pa.array(cited, pa.string())).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    # Priority: cited messages first, then newest first (messages are in time order, so a
    # larger index is newer); the index breaks ties.
    order = np.lexsort((-np.arange(messages.num_rows), ~cited_mask))
    order = order[capped[order] > 0]
    within = np.cumsum(capped[order]) <= max_detail_events
    chosen = order[within] if not focused else order
    state[chosen] = np.where(per_message[chosen] > capped[chosen], 2, 1)

    keep = pc.is_in(events.column("m"), value_set=pa.array(np.sort(chosen), pa.int64()))
    # whole messages in chain order: what the chain model's gaps are computed over
    events = _with_model_columns(events.filter(keep), recipients)
    events = events.append_column("_position", pa.array(np.arange(events.num_rows), pa.int64()))
    events = events.sort_by([("m", "ascending"), ("_position", "ascending")])
    m_sorted = events.column("m").to_numpy()
    position = np.arange(len(m_sorted)) - np.searchsorted(m_sorted, m_sorted, side="left")
    events = events.filter(pa.array(position < max_events_per_message)).drop_columns(["_position"])

    notes = []
    left_out = int(np.count_nonzero(state == 0) - np.count_nonzero(per_message == 0))
    if left_out:
        notes.append(
            f"event rows of {left_out:,} message(s) are not embedded (at most "
            f"{max_detail_events:,} event rows in all, messages cited by findings "
            "first, then the newest)"
        )
    cut = int(np.count_nonzero(state == 2))
    if cut:
        notes.append(
            f"{cut:,} message(s) have more than {max_events_per_message:,} event rows; "
            "only their first rows are embedded"
        )
    return DetailEvents(_with_shown_columns(events), state, "; ".join(notes))


def _with_model_columns(events: pa.Table, recipients: pa.Table) -> pa.Table:
    """The chain model of each event row (rows of whole messages, in chain order):

    - ``gap_ms``: the gap since the previous timeline event of its recipient
      (``timeline_gaps``) in whole milliseconds when renderers show it (from
      ``GAP_SHOWN_SECONDS``), else -1;
    - ``gap_level``: that gap's level (``GAP_LEVELS`` index: 0, 1 "gap", 2 "long-gap");
    - ``recipient_order``: the ``order`` of the recipient row the event belongs to (its
      ``recipient_key`` is that row's address; as in ``message_chain``, rows about no
      recipient belong to a recipient without address only when it is the message's only
      one), -1 for none.
    """
    gaps, levels = timeline_gaps(events)
    shown = ~np.isnan(gaps) & (gaps >= GAP_SHOWN_SECONDS)
    gap_ms = np.full(len(gaps), -1, dtype=np.int64)
    gap_ms[shown] = np.round(gaps[shown] * 1000).astype(np.int64)
    row = pair_index(
        (events.column("m"), events.column("recipient_key")),
        (recipients.column("m"), recipients.column("recipient_address")),
    )
    recipient_order = int_column(recipients.column("order"))
    found = np.full(len(row), -1, dtype=np.int64)
    found[row >= 0] = recipient_order[row[row >= 0]]
    if len(found):
        message = int_column(events.column("m"))
        counts = np.bincount(int_column(recipients.column("m")), minlength=int(message.max()) + 1)
        blank = to_numpy_bool(pc.equal(pc.fill_null(events.column("recipient_key"), ""), ""))
        found[blank & (counts[message] != 1)] = -1
    events = events.append_column("gap_ms", pa.array(gap_ms, pa.int64()))
    events = events.append_column("gap_level", pa.array(levels.astype(np.int64), pa.int64()))
    return events.append_column("recipient_order", pa.array(found, pa.int64()))


def _with_shown_columns(events: pa.Table) -> pa.Table:
    """The columns the detail view shows that are made of others: detail, client, server."""
    detail = pc.coalesce(  # Get-MessageTraceDetail and Defender rows have a detail text
        events.column("event_detail"),
        events.column("delivery_action"),
        events.column("reported_status"),
    )
    events = events.append_column("detail", detail)
    events = events.append_column("client", _host(events, "client_hostname", "client_ip"))
    return events.append_column("server", _host(events, "server_hostname", "server_ip"))


def _host(events: pa.Table, hostname: str, ip: str) -> pa.ChunkedArray:
    """``host (ip)``, or whichever of the two the event has."""
    host = events.column(hostname)
    address = events.column(ip)
    both = pc.binary_join_element_wise(
        host, pc.binary_join_element_wise("(", address, ")", ""), " "
    )
    return pc.coalesce(both, host, address)


def cited_message_keys(findings: Sequence[Finding]) -> list[str]:
    """The keys of the messages the findings cite, sorted."""
    return sorted({e.message_key for f in findings for e in f.evidence if e.message_key})


def also_seen(case: Case, events: pa.Table) -> dict[str, str]:
    """Other places each embedded event was seen (duplicate rows merged at ingest).

    Returns:
        ``file:line; file:line`` by event key, for the events that have duplicates.
    """
    duplicates = case.duplicates
    if duplicates.num_rows == 0 or events.num_rows == 0:
        return {}
    keys = pc.unique(pc.drop_null(events.column("event_key")))
    rows = duplicates.filter(pc.is_in(duplicates.column("event_key"), value_set=keys))
    if rows.num_rows == 0:
        return {}
    paths = case.input_paths()
    frame = rows.to_pandas()
    frame["where"] = (
        frame["input_id"].map(lambda i: paths.get(i, i)).astype(str)
        + ":"
        + frame["line"].astype("Int64").astype(str)
    )
    frame = frame.sort_values(["event_key", "input_id", "line"], kind="stable")
    return frame.groupby("event_key", sort=True)["where"].agg("; ".join).to_dict()
