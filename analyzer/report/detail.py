"""The focused message (``--message``), rendered on the server, and the words of its view.

``message_detail`` builds the ``MessageDetailView`` of ``_detail.html`` from the selected
rows. The words (verdict labels and meanings, raw row headings) are also sent to the page's
script, which draws the same view for any message of a full report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.case import Case
from analyzer.report.chain_model import RELATION_WORDS, gap_level, lineage_order
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
    ("country", "Country of origin"),
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
        recipients: their recipient rows (with ``m``).
        events: the embedded event rows (``selection.detail_events``).
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
    message_events = events.filter(pc.equal(events.column("m"), m)).to_pylist()
    by_recipient: dict[str, list[dict[str, Any]]] = {}
    for event in message_events:
        by_recipient.setdefault((event["recipient_address"] or "").lower(), []).append(event)

    def event_view(event: dict[str, Any], gap: str = "", level: str = "") -> EventView:
        return _event_view(event, gap, level, zone, paths, also_seen)

    recipient_views = []
    # order, depth and gaps: chain_model's copies until analyzer.chains computes them
    for row, depth in lineage_order(rows):
        address = row["recipient_address"] or ""
        timeline = _timeline(by_recipient.get(address.lower(), []), event_view)
        recipient_views.append(_recipient_view(row, depth, timeline))
    return MessageDetailView(
        network_message_id=message.get("network_message_id") or "",
        message_id=message.get("message_id") or "",
        sender=message.get("sender_address") or "",
        subject=message.get("message_subject") or "",
        first_time=zone.format(message.get("first_time")),
        last_time=zone.format(message.get("last_time")),
        direction=message.get("direction") or "unknown",
        total_bytes=""
        if message.get("total_bytes") is None
        else f"{message['total_bytes']:,} bytes",
        recipients=tuple(recipient_views),
        related=_related(focus_key, messages, links, link_ids),
        events_note=events_note if not message_events else "",
        # all rows, also those of an address no recipient row has (the timelines miss them)
        raw_events=tuple(event_view(event) for event in message_events),
    )


def _timeline(
    items: list[dict[str, Any]], event_view: Callable[[dict[str, Any], str, str], EventView]
) -> tuple[EventView, ...]:
    """A recipient's events with the gap since the previous timed event of its timeline
    (to come from the chains model with ``chain_model``)."""
    views = []
    previous = None
    for event in items:
        stamp = event["event_time"]
        in_timeline = event.get("in_timeline") is not False
        own_time = event.get("time_basis") != "message"
        gap, level = "", ""
        if in_timeline and own_time and stamp is not None:
            if previous is not None:
                seconds = (pd.Timestamp(stamp) - pd.Timestamp(previous)).total_seconds()
                if seconds >= 1:
                    gap = "+" + duration_text(seconds)
                    level = gap_level(seconds)
            previous = stamp
        views.append(event_view(event, gap, level))
    return tuple(views)


def _event_view(
    event: dict[str, Any],
    gap: str,
    level: str,
    zone: DisplayZone,
    paths: dict[str, str],
    also_seen: dict[str, str],
) -> EventView:
    stamp = event["event_time"]
    nanos = None if stamp is None else pd.Timestamp(stamp).value
    return EventView(
        time=zone.format(stamp),
        time_utc=iso_utc(nanos) or "-",
        recipient=event["recipient_address"] or "",
        event_id=event["event_id"] or "",
        source=event["source"] or "",
        status=event["recipient_status"] or "",
        related_recipient=event["related_recipient_address"] or "",
        gap=gap,
        gap_level=level,
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
    row: dict[str, Any], depth: int, events: tuple[EventView, ...]
) -> RecipientView:
    verdicts = tuple(
        (label, verdict_text(key, row.get(key)))
        for key, label in VERDICT_LABELS
        if row.get(key) not in (None, "", [])
    )
    duration = row.get("duration_seconds")
    deferral_count = row.get("deferral_count") or 0
    return RecipientView(
        address=row["recipient_address"] or "",
        depth=depth,
        parent=row.get("parent_recipient") or "",
        relation=(row.get("recipient_relation") or "from").replace("_", " "),
        final_status=row["final_status"] or "Unknown",
        status_code=row.get("status_code") or "",
        smtp_reply=row.get("smtp_reply") or "",
        status_meaning=row.get("status_meaning") or "",
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
    """(link id, relation words, id, subject) of the messages linked to the focused one."""
    keys = messages.column("message_key").to_pylist()
    subjects = messages.column("message_subject").to_pylist()
    network_ids = messages.column("network_message_id").to_pylist()
    index_of = {key: index for index, key in enumerate(keys)}
    related = []
    for link in links.to_pylist():
        words = RELATION_WORDS.get(link["relation"], (link["relation"], link["relation"]))
        if link["message_key"] == focus_key:
            other, said = index_of.get(link["related_message_key"] or ""), words[0]
        elif link["related_message_key"] == focus_key:
            other, said = index_of.get(link["message_key"]), words[1]
        else:
            continue
        if other is None:
            related.append(("", said, link["reference"] or "", "a message not in the data"))
        else:
            related.append(
                (link_ids[other], said, network_ids[other] or keys[other], subjects[other] or "")
            )
    return tuple(sorted(set(related)))
