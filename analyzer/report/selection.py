"""Which messages, recipients, links and event rows a report holds, within its caps.

A full report holds every message and recipient; a focused report (``--message``) holds the
message, the messages linked to it and the findings citing them. Messages are numbered by
their place in time order (``m``, the index the embedded data uses). The event rows behind
the detail view are capped: messages cited by findings first, then the newest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.case import Case
from analyzer.chains import Chains, resolve_message
from analyzer.findings.model import Finding
from analyzer.report.columns import int_column


@dataclass(frozen=True)
class Selection:
    """The rows of the chains one report shows.

    Attributes:
        messages: the messages in time order (unknown time last, ties by key): row ``m``.
        recipients: their recipient rows with ``m`` and ``_address_lower``, sorted by
            message, then address.
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
        events: the rows (``DETAIL_EVENT_COLUMNS`` plus ``m``, ``detail``, ``client`` and
            ``server``), sorted by message index, recipient, time, lifecycle rank, input and
            line.
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
    cited: list[str],
    focused: bool,
    max_detail_events: int,
    max_events_per_message: int,
) -> DetailEvents:
    """Pick the event rows to embed for the detail view, within the caps.

    Messages cited by findings come first, then the newest messages; events are taken per
    message (at most ``max_events_per_message``) until ``max_detail_events``. A focused
    report embeds its few messages in full up to the per-message cap.

    Args:
        chain_events: the chains' events.
        messages: the selected messages (``Selection.messages``).
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
        return DetailEvents(_with_shown_columns(events.slice(0, 0)), state, "")
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
    events = events.filter(keep)
    events = events.append_column(
        "_recipient_lower", pc.utf8_lower(pc.fill_null(events.column("recipient_address"), ""))
    )
    events = events.append_column("_input", pc.fill_null(events.column("input_id"), ""))
    events = events.sort_by(
        [
            ("m", "ascending"),
            ("_recipient_lower", "ascending"),
            ("event_time", "ascending"),
            ("lifecycle_rank", "ascending"),
            ("_input", "ascending"),
            ("line", "ascending"),
        ]
    )
    m_sorted = events.column("m").to_numpy()
    position = np.arange(len(m_sorted)) - np.searchsorted(m_sorted, m_sorted, side="left")
    events = events.filter(pa.array(position < max_events_per_message))

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
