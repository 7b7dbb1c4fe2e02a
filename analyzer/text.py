"""Terminal text: export values made safe to print, and the text of ``msgtrace chain``.

Everything here formats; nothing decides. ``format_chain_text`` prints the model of one
message that ``analyzer.chains.message_chain`` computes (lineage order, gaps, relation words),
with times and durations from ``analyzer.timestamps``.
"""

from __future__ import annotations

import re
from typing import Any

from analyzer.chains.message import RELATED_RECIPIENT_WORDS
from analyzer.timestamps import UTC, duration_text

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")

#: The legend printed under ``msgtrace chain``'s text.
CHAIN_TEXT_LEGEND = (
    "Legend: * time is the message's receive time (the export has no time per event); "
    "~ repeats a fact another export gives with its own time (kept as evidence); "
    "+15 min marks a gap of 5 minutes or more since the previous event."
)
#: The longest status shown in its own column; longer ones push the provenance right.
STATUS_COLUMN_WIDTH = 48
_NO_TIME = "(no time)"


def terminal_safe(text: str) -> str:
    """Text from an export made safe to print on one line of a terminal.

    Export values are untrusted: a subject may hold line breaks that would break the layout,
    or escape sequences (ESC ``[2J``...) that a terminal would obey. Tabs and line breaks
    become spaces; other control characters are shown as ``\\xNN``.

    Args:
        text: any text.

    Returns:
        The text without control characters.
    """

    def visible(match: re.Match[str]) -> str:
        character = match.group()
        return " " if character in "\t\n\r" else f"\\x{ord(character):02x}"

    return _CONTROL_CHARACTERS.sub(visible, text)


def _time(text: str | None) -> str:
    """An ISO time of the model as ``2024-03-01 10:00:01.234 UTC`` (``(no time)`` padded to
    the same width)."""
    return UTC.format_ms(text, missing="") or _NO_TIME.ljust(len(UTC.format_ms(0)))


def _status(event: dict[str, Any]) -> str:
    """The event's status, with its related recipient (no arrow: as Exchange logs
    EXPAND/REDIRECT the related address is the parent, but some exports write it the other
    way round)."""
    status = event["status"] or ""
    if event["related_recipient"]:
        status = f"{status} ({RELATED_RECIPIENT_WORDS} {event['related_recipient']})".strip()
    return status


class _Columns:
    """Widths of the timeline columns, the same for every timeline of one message."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.event_id = max([len(e["event_id"] or "STATUS") for e in events], default=0)
        self.source = max([len(e["source"] or "") for e in events], default=0)
        statuses = [len(_status(e)) for e in events]
        self.status = min(max(statuses, default=0), STATUS_COLUMN_WIDTH)

    def line(self, event: dict[str, Any]) -> str:
        """One event: marker, time, basis, event id, source, status, provenance."""
        marker = " " if event["in_timeline"] else "~"
        basis = "*" if event["time_basis"] == "message" else " "
        what = (event["event_id"] or "STATUS").ljust(self.event_id)
        source = (event["source"] or "").ljust(self.source)
        status = _status(event).ljust(self.status)
        where = f"{event['input']}:{event['line']}" if event["line"] is not None else event["input"]
        return (
            f"{marker}{_time(event['time'])}{basis} {what} {source} {status}"
            f"  [{event['report_type']}, {where}]"
        ).rstrip()


def _recipient_lines(recipient: dict[str, Any], columns: _Columns) -> list[str]:
    lineage = ""
    if recipient["parent"]:
        lineage = f" ({recipient['relation_words']} {recipient['parent']})"
    lines = [
        f"Recipient {recipient['address'] or '(none)'}{lineage}: {recipient['final_status']}"
        f" - {recipient['status_meaning']}"
    ]
    if recipient["smtp_reply"]:
        lines.append(f"  SMTP reply: {recipient['smtp_reply']}")
    facts = [f"direction {recipient['direction']}"]
    if recipient["final_status"] == "Pending" or recipient["duration_seconds"] is None:
        facts.append("no final event in the data")
    else:
        facts.append(f"{duration_text(recipient['duration_seconds'])} from receipt to final event")
    if recipient["deferral_count"]:
        facts.append(
            f"{recipient['deferral_count']} deferral(s), "
            f"{duration_text(recipient['deferral_seconds'])} in all"
        )
    if recipient["join_key"] != "network_message_id":
        facts.append(f"joined by {recipient['join_key']}")
    lines.append("  " + "; ".join(facts))
    verdicts = recipient["verdicts"]
    shown = [
        f"{name.upper() if name != 'malware_name' else 'malware'}={verdicts[name]}"
        for name in ("sfv", "scl", "pcl", "di", "country", "malware_name")
        if verdicts[name] is not None
    ]
    if shown:
        lines.append("  Verdicts: " + " ".join(shown))
    lines.extend(f"  Transport rule: {rule}" for rule in verdicts["transport_rules"])
    if recipient["conflict"]:
        lines.append(f"  CONFLICT: {recipient['conflict']}")
    lines.append("  Timeline (UTC):")
    lines.extend(_timeline_lines(recipient["events"], columns))
    if not recipient["events"]:
        lines.append("    (no events for this recipient in the data)")
    return lines


def _timeline_lines(events: list[dict[str, Any]], columns: _Columns) -> list[str]:
    """The events, with a mark before each notable gap (5 minutes or more)."""
    lines = []
    for event in events:
        if event["gap_level"]:
            lines.append(f"     +{duration_text(event['gap_seconds'])}")
        lines.append("    " + columns.line(event))
    return lines


def format_chain_text(chain: dict[str, Any]) -> str:
    """The text of ``msgtrace chain``: the message, then one block per recipient.

    Args:
        chain: ``analyzer.chains.message_chain`` of the message.

    Returns:
        Text safe to print: recipients in lineage order (a parent before its children), each
        with its timeline in UTC (columns aligned for the whole message), then related
        messages.
    """
    recipients = sorted(chain["recipients"], key=lambda r: r["order"])
    every_event = [e for r in recipients for e in r["events"]] + chain["message_events"]
    columns = _Columns(every_event)
    lines = [
        f"Message {chain['network_message_id'] or chain['message_key']}",
        f"  Internet message id: {chain['message_id'] or '-'}",
        f"  Sender:              {chain['sender'] or '-'}",
        f"  Subject:             {chain['subject'] or '-'}",
        f"  First seen:          {_time(chain['first_time'])}",
        f"  Direction:           {chain['direction']}",
        f"  Final statuses:      {chain['statuses']}",
    ]
    for recipient in recipients:
        lines.append("")
        lines.extend(_recipient_lines(recipient, columns))
    if chain["message_events"]:
        lines.append("")
        lines.append("Rows about no recipient:")
        lines.extend(_timeline_lines(chain["message_events"], columns))
    if chain["related_messages"]:
        lines.append("")
        lines.append("Related messages:")
        for related in chain["related_messages"]:
            name = related["network_message_id"] or related["message_key"] or related["reference"]
            subject = f' "{related["subject"]}"' if related["subject"] else ""
            lines.append(f"  {related['words']} {name}{subject}")
    return "\n".join(terminal_safe(line) for line in lines) + "\n"
