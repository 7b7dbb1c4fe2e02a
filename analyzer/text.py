"""Terminal text: export values made safe to print, and the text of ``msgtrace chain``."""

from __future__ import annotations

import re
from typing import Any

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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


def _short_time(text: str | None) -> str:
    if not text:
        return "(no time)".ljust(27)
    return text[:10] + " " + text[11:23] + " UTC"


def format_chain_text(chain: dict[str, Any]) -> str:
    """The text of ``msgtrace chain``: the message, then one block per recipient."""
    lines = [
        f"Message {chain['network_message_id'] or chain['message_key']}",
        f"  Internet message id: {chain['message_id'] or '-'}",
        f"  Sender:              {chain['sender'] or '-'}",
        f"  Subject:             {chain['subject'] or '-'}",
        f"  First seen:          {_short_time(chain['first_time'])}",
        f"  Direction:           {chain['direction']}",
        f"  Final statuses:      {chain['statuses']}",
    ]
    for recipient in chain["recipients"]:
        lines.append("")
        lineage = ""
        if recipient["parent"]:
            lineage = f" ({recipient['relation'].replace('_', ' ')} {recipient['parent']})"
        lines.append(
            f"Recipient {recipient['address'] or '(none)'}{lineage}: {recipient['final_status']}"
            f" - {recipient['status_meaning']}"
        )
        if recipient["smtp_reply"]:
            lines.append(f"  SMTP reply: {recipient['smtp_reply']}")
        facts = [f"direction {recipient['direction']}"]
        if recipient["duration_seconds"] is not None:
            facts.append(f"{recipient['duration_seconds']:.1f} s from receipt to final event")
        if recipient["deferral_count"]:
            facts.append(
                f"{recipient['deferral_count']} deferral(s), "
                f"{recipient['deferral_seconds']:.0f} s in all"
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
        for rule in verdicts["transport_rules"]:
            lines.append(f"  Transport rule: {rule}")
        if recipient["conflict"]:
            lines.append(f"  CONFLICT: {recipient['conflict']}")
        lines.append("  Timeline (UTC):")
        for event in recipient["events"]:
            lines.append("    " + _event_line(event))
        if not recipient["events"]:
            lines.append("    (no events for this recipient in the data)")
    if chain["message_events"]:
        lines.append("")
        lines.append("Rows about no recipient:")
        for event in chain["message_events"]:
            lines.append("    " + _event_line(event))
    if chain["related_messages"]:
        lines.append("")
        lines.append("Related messages:")
        for related in chain["related_messages"]:
            what = {
                ("dsn_for", "this_is_related_to"): "this message is a DSN about",
                ("dsn_for", "related_is_about_this"): "delivery status notification (DSN):",
                ("inbox_rule_forward_of", "this_is_related_to"): "forwarded by an inbox rule from",
                ("inbox_rule_forward_of", "related_is_about_this"): "forwarded by an inbox rule as",
            }[(related["relation"], related["direction"])]
            name = related["network_message_id"] or related["message_key"] or related["reference"]
            subject = f' "{related["subject"]}"' if related["subject"] else ""
            lines.append(f"  {what} {name}{subject}")
    return "\n".join(terminal_safe(line) for line in lines) + "\n"


def _event_line(event: dict[str, Any]) -> str:
    what = event["event_id"] or "STATUS"
    marker = " " if event["in_timeline"] else "~"
    basis = "*" if event["time_basis"] == "message" else " "
    status = event["status"] or ""
    if event["related_recipient"]:
        # no arrow: as Exchange logs EXPAND/REDIRECT the related address is the parent (the
        # group, the original address), but some exports write it the other way round
        status = f"{status} (related recipient {event['related_recipient']})".strip()
    where = f"{event['input']}:{event['line']}" if event["line"] is not None else event["input"]
    return (
        f"{marker}{_short_time(event['time'])}{basis} {what:<11} {event['source'] or '':<12}"
        f" {status}  [{event['report_type']}, {where}]"
    ).rstrip()


CHAIN_TEXT_LEGEND = (
    "Legend: * time is the message's receive time (the export has no time per event); "
    "~ repeats a fact another export gives with its own time (kept as evidence)."
)
