"""The focused message (``--message``), rendered on the server, and the words of its view.

``message_detail`` formats the chain model of the focused message into the
``MessageDetailView`` of ``_detail.html``: the recipients in the model's lineage order with
their depth and relation words, each timeline event with the model's gap and level, the
related messages in the model's words (``analyzer.chains``; the columns come from
``selection``). It derives nothing. The words (verdict labels and meanings, route facts, raw
row headings) are also sent to the page's script, which formats the same model for any
message of a full report.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.case import Case
from analyzer.chains import GAP_LEVELS, RELATED_MESSAGE_WORDS, RELATION_WORDS
from analyzer.report.context import EventView, MessageDetailView, RecipientView
from analyzer.timestamps import DisplayZone, duration_text, iso_utc

#: Columns of a message's raw event rows (server-rendered and in the page's detail view): the
#: row's place in its input file comes right after its time, so it shows without scrolling.
RAW_EVENT_HEADINGS = (
    "Time (UTC)",
    "Input file, line",
    "Recipient",
    "Event",
    "In timeline",
    "Status",
    "Detail",
    "Source",
    "Related recipient",
    "Reference",
    "Client",
    "Server",
    "Also seen in",
    "custom_data",
)
#: custom_data is cut to this many characters in the page (the case keeps it whole).
CUSTOM_DATA_CHARS = 1_000

#: The filtering verdicts a recipient may have: (chains recipients column, label).
VERDICT_LABELS = (
    ("sfv", "Spam filter verdict (SFV)"),
    ("scl", "Spam confidence level (SCL)"),
    ("pcl", "Phishing confidence level (PCL)"),
    ("di", "Delivery disposition (DI)"),
    ("malware_name", "Malware"),
    ("transport_rules", "Transport rules"),
)

# Microsoft's anti-spam message header reference: what SFV and DI values mean.
VERDICT_MEANINGS = {
    "sfv": {
        "BLK": "blocked: sender on the user's blocked senders list",
        "NSPM": "not spam",
        "SFE": "allowed: sender on the user's safe senders list",
        "SKA": "allowed by an allow list of the spam policy",
        "SKB": "blocked by a block list of the spam policy",
        "SKI": "skipped: internal mail of the organization",
        "SKN": "marked not spam before filtering (e.g. a transport rule)",
        "SKQ": "released from quarantine",
        "SKS": "marked spam before filtering (e.g. a transport rule)",
        "SPM": "spam",
    },
    "di": {
        "SB": "sender blocked",
        "SD": "message deleted",
        "SJ": "delivered to the Junk Email folder",
        "SN": "routed through the normal outbound pool",
        "SO": "routed through the high-risk outbound pool",
        "SQ": "quarantined",
    },
}


#: What the admin center's message details page shows of a message's route: (recipients
#: column, label). Shown once for the message when every recipient has the same value, else
#: per recipient.
ROUTE_FACTS = (
    ("from_ip", "From IP"),
    ("to_ip", "To IP"),
    ("country", "Country (CTRY)"),
    ("connectors", "Connector"),
    ("total_bytes", "Size"),
)
#: The message fact of a route value that differs between recipients.
PER_RECIPIENT = "per recipient (below)"
#: How a child recipient's relation reads when the chains name none (as ``message_chain``).
UNNAMED_RELATION_WORDS = "from"


def size_words(size: int | None) -> str:
    """A message size as the detail view shows it: ``12,345 bytes``, "" when unknown."""
    return "" if size is None or size < 0 else f"{size:,} bytes"


def verdict_text(key: str, value: Any) -> str:
    """A verdict's value with its meaning when known: ``SPM (spam)``; lists joined by ``, ``."""
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    meaning = VERDICT_MEANINGS.get(key, {}).get(text.upper())
    return f"{text} ({meaning})" if meaning else text


def message_detail(
    focus_key: str,
    messages: pa.Table,
    recipients: pa.Table,
    events: pa.Table,
    also_seen: dict[str, str],
    links: pa.Table,
    link_ids: list[str],
    case: Case,
    zone: DisplayZone,
    events_note: str,
) -> MessageDetailView:
    """The focused message with its recipients' chains, related messages and raw rows.

    Args:
        focus_key: the message's key.
        messages: the selected messages (row ``m``).
        recipients: their recipient rows (``selection.Selection.recipients``: ``m``, the
            model's ``order`` and ``depth``, ``connectors``).
        events: the embedded event rows (``selection.detail_events``: the model's
            ``gap_ms``, ``gap_level`` and ``recipient_order``).
        also_seen: other places each event was read from, by event key.
        links: the links from or to the selected messages.
        link_ids: per message, the id it is linked by.
        case: the case (for input paths).
        zone: the display zone.
        events_note: why event rows were left out ("" when none were).

    Returns:
        The view ``_detail.html`` shows.
    """
    keys = messages.column("message_key").to_pylist()
    m = keys.index(focus_key)
    message = messages.slice(m, 1).to_pylist()[0]
    paths = case.input_paths()
    rows = recipients.filter(pc.equal(recipients.column("m"), m)).to_pylist()
    rows.sort(key=lambda row: row["order"])  # the model's lineage order
    message_events = events.filter(pc.equal(events.column("m"), m)).to_pylist()
    by_recipient: dict[int, list[EventView]] = {}
    raw_events = []
    for event in message_events:
        view = _event_view(event, zone, paths, also_seen)
        raw_events.append(view)
        by_recipient.setdefault(event["recipient_order"], []).append(view)
    shared, differing = route_facts(rows, message.get("total_bytes"))
    return MessageDetailView(
        network_message_id=message.get("network_message_id") or "",
        message_id=message.get("message_id") or "",
        sender=message.get("sender_address") or "",
        subject=message.get("message_subject") or "",
        first_time=zone.format(message.get("first_time")),
        last_time=zone.format(message.get("last_time")),
        direction=message.get("direction") or "unknown",
        route=shared,
        recipients=tuple(
            _recipient_view(row, differing, tuple(by_recipient.get(row["order"], [])))
            for row in rows
        ),
        related=_related(focus_key, messages, links, link_ids),
        events_note=events_note if not message_events else "",
        # all rows, also those of an address no recipient row has (the timelines miss them)
        raw_events=tuple(raw_events),
    )


def _route_value(key: str, value: Any) -> str:
    if key == "total_bytes":
        return size_words(value)
    return "" if value is None else str(value)


def route_facts(
    rows: list[dict[str, Any]], message_bytes: int | None
) -> tuple[tuple[tuple[str, str], ...], frozenset[str]]:
    """The route facts of a message (``ROUTE_FACTS``) the way the detail view shows them.

    Args:
        rows: the message's recipient rows.
        message_bytes: the message's size (used when no recipient row has one).

    Returns:
        ``(shared, differing)``: the (label, value) facts the message shows (``PER_RECIPIENT``
        for a value that differs between recipients; a recipient without a value differs
        from one with a value, so nothing is attributed to a recipient that did not have
        it), and the keys each recipient shows for itself.
    """
    shared = []
    differing = set()
    for key, label in ROUTE_FACTS:
        values = {_route_value(key, row.get(key)) for row in rows}
        if key == "total_bytes" and values <= {""}:
            values = {size_words(message_bytes)}
        if len(values) > 1:
            differing.add(key)
            shared.append((label, PER_RECIPIENT))
        elif values and (value := values.pop()):
            shared.append((label, value))
    return tuple(shared), frozenset(differing)


def _event_view(
    event: dict[str, Any],
    zone: DisplayZone,
    paths: dict[str, str],
    also_seen: dict[str, str],
) -> EventView:
    stamp = event["event_time"]
    nanos = None if stamp is None else pd.Timestamp(stamp).value
    gap_ms = event["gap_ms"]
    return EventView(
        time=zone.format(stamp),
        time_utc=iso_utc(nanos) or "-",
        recipient=event["recipient_address"] or "",
        event_id=event["event_id"] or "",
        source=event["source"] or "",
        status=event["recipient_status"] or "",
        related_recipient=event["related_recipient_address"] or "",
        # the model's gap, as the page's script shows it: from the same whole milliseconds
        gap="" if gap_ms < 0 else "+" + duration_text(gap_ms / 1000),
        gap_level=GAP_LEVELS[event["gap_level"]] if gap_ms >= 0 else "",
        message_time_only=event.get("time_basis") == "message",
        in_timeline=event.get("in_timeline") is not False,
        input=paths.get(event["input_id"] or "", event["input_id"] or ""),
        line="" if event["line"] is None else str(event["line"]),
        report_type=event.get("report_type") or "",
        also_seen=also_seen.get(event.get("event_key") or "", ""),
        detail=event["detail"] or "",
        reference=event.get("reference") or "",
        client=event["client"] or "",
        server=event["server"] or "",
        custom_data=(event.get("custom_data") or "")[:CUSTOM_DATA_CHARS],
    )


def _recipient_view(
    row: dict[str, Any], differing: frozenset[str], events: tuple[EventView, ...]
) -> RecipientView:
    verdicts = tuple(
        (label, verdict_text(key, row.get(key)))
        for key, label in VERDICT_LABELS
        if row.get(key) not in (None, "", [])
    )
    route = tuple(
        (label, _route_value(key, row.get(key)))
        for key, label in ROUTE_FACTS
        if key in differing and _route_value(key, row.get(key))
    )
    duration = row.get("duration_seconds")
    deferral_count = row.get("deferral_count") or 0
    relation = row.get("recipient_relation") or ""
    return RecipientView(
        address=row["recipient_address"] or "",
        depth=row["depth"],
        parent=row.get("parent_recipient") or "",
        relation=RELATION_WORDS.get(relation, UNNAMED_RELATION_WORDS),
        final_status=row["final_status"] or "Unknown",
        status_code=row.get("status_code") or "",
        smtp_reply=row.get("smtp_reply") or "",
        status_meaning=row.get("status_meaning") or "",
        route=route,
        verdicts=verdicts,
        duration="" if duration is None else duration_text(duration),
        deferrals=(
            f"{deferral_count} deferral(s), " + duration_text(row.get("deferral_seconds") or 0)
            if deferral_count
            else ""
        ),
        conflict=row.get("conflict") or "",
        events=events,
    )


def _related(
    focus_key: str, messages: pa.Table, links: pa.Table, link_ids: list[str]
) -> tuple[tuple[str, str, str, str], ...]:
    """(link id, the model's words, id, subject) of the messages linked to the focused one."""
    keys = messages.column("message_key").to_pylist()
    subjects = messages.column("message_subject").to_pylist()
    network_ids = messages.column("network_message_id").to_pylist()
    index_of = {key: index for index, key in enumerate(keys)}
    related = []
    for link in links.to_pylist():
        words = RELATED_MESSAGE_WORDS.get(link["relation"], {})
        if link["message_key"] == focus_key:
            other = index_of.get(link["related_message_key"] or "")
            said = words.get("this_is_related_to", link["relation"])
        elif link["related_message_key"] == focus_key:
            other = index_of.get(link["message_key"])
            said = words.get("related_is_about_this", link["relation"])
        else:
            continue
        if other is None:
            related.append(("", said, link["reference"] or "", "a message not in the data"))
        else:
            related.append(
                (link_ids[other], said, network_ids[other] or keys[other], subjects[other] or "")
            )
    return tuple(sorted(set(related)))
