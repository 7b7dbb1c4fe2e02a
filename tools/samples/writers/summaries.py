"""The admin center's summary downloads: the summary report and the enhanced summary."""

from __future__ import annotations

from ..clock import day_first, iso7, month_first
from ..model import Message, World
from ..transport import status_rows
from . import csv_text, writer

ENHANCED_COLUMNS = (
    "origin_timestamp_utc", "sender_address", "recipient_status", "message_subject", "total_bytes",
    "message_id", "network_message_id", "original_client_ip", "directionality", "connector_id",
    "delivery_priority",
)  # fmt: skip
SUMMARY_COLUMNS = (
    "Date (UTC)", "Sender", "Recipient", "Subject", "Status", "Message ID", "Message trace ID",
    "From IP", "To IP", "Size",
)  # fmt: skip


@writer("enhanced_summary")
def enhanced_summary(world: World) -> str:
    """One row per message, each recipient's events as ``addr##Event, ...``, newest first."""
    rows: list[list[object]] = [list(ENHANCED_COLUMNS)]
    for m in world.newest_first():
        trail = ";".join(
            f"{r.recipient}##{', '.join(r.events)}" for r in status_rows(world.scenario, m)
        )
        connector = m.events[0].row["connector_id"]  # the RECEIVE's
        rows.append(
            [
                iso7(m.received), m.sender, trail, m.subject, m.size, m.message_id,
                m.network_message_id, m.original_client_ip, m.directionality, connector, "Normal",
            ]
        )  # fmt: skip
    return csv_text(rows, quote_all=True)


def kept_by_excel(message: Message) -> bool:
    """Whether an analyst's Excel-saved (cp1252) copy keeps a message.

    Its subject must be text cp1252 can hold; a formula-like subject is left out, as Excel
    would have evaluated it on opening instead of keeping the text.
    """
    try:
        message.subject.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return not message.subject.startswith("=")


@writer("summary")
def summary(world: World, resaved_by_excel: bool = False) -> str:
    """One row per message x recipient, newest first, month-first dates; or, resaved by
    Excel on a UK machine, day-first dates and only the messages Excel kept."""
    stamp = day_first if resaved_by_excel else month_first
    rows: list[list[object]] = [list(SUMMARY_COLUMNS)]
    for m in world.newest_first():
        if resaved_by_excel and not kept_by_excel(m):
            continue
        for r in status_rows(world.scenario, m):
            rows.append(
                [
                    stamp(m.received), m.sender, r.recipient, m.subject, r.status, m.message_id,
                    m.network_message_id, m.original_client_ip, r.to_ip, m.size,
                ]
            )  # fmt: skip
    return csv_text(rows, quote_all=False)
