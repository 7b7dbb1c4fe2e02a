"""Microsoft Defender's streaming API: advanced hunting rows as JSON records.

Each record is ``{"time", "tenantId", "operationName", "category": "AdvancedHunting-<Table>",
"properties": {<the table's columns>}}``. An Event Hub message carries a batch of them as
``{"records": [...]}``: a consumer that saves each message's body as it comes, pretty-printed
(two-space indents, as ``jq .`` or ``ConvertTo-Json`` write it), writes the messages one after
another, each record starting on a line of its own. A log shipper that forwards the records
one by one writes NDJSON, one record a line.

Without an Event Hub name, the streaming API makes one hub per table; a hub named in its
settings receives every table streamed to it. Streaming EmailEvents have no Latest* columns:
their DeliveryAction and DeliveryLocation are those of the moment the record was written.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from ..clock import iso7, ticks_of
from ..model import Message, World, domain_of
from ..transport import status_rows
from . import writer
from .defender import (
    EMAIL_EVENT_COLUMNS,
    POST_DELIVERY_COLUMNS,
    email_event_rows,
    post_delivery_rows,
)

CATEGORY = "AdvancedHunting-"
#: EmailEvents columns that the streaming API does not have.
NOT_STREAMED = ("LatestDeliveryLocation", "LatestDeliveryAction")

#: (time in ticks, table, columns) of one advanced hunting row.
Row = tuple[int, str, dict[str, Any]]


def _first_contacts(world: World) -> set[tuple[str, str]]:
    """(message key, recipient) of every recipient receiving mail from that sender for the
    first time in the data (Defender's IsFirstContact)."""
    seen: set[tuple[str, str]] = set()
    first: set[tuple[str, str]] = set()
    for m in world.messages:  # in time order
        for r in status_rows(world.scenario, m):
            pair = (m.sender.lower(), r.recipient.lower())
            if pair not in seen:
                seen.add(pair)
                first.add((m.key, r.recipient))
    return first


def _email_events(world: World) -> list[Row]:
    first = _first_contacts(world)
    rows: list[Row] = []
    for m, values in email_event_rows(world):
        columns = dict(zip(EMAIL_EVENT_COLUMNS, values, strict=True))
        for name in NOT_STREAMED:
            del columns[name]
        columns["Timestamp"] = iso7(m.received)
        columns["SenderFromDomain"] = domain_of(m.sender)
        columns["SenderMailFromDomain"] = domain_of(m.return_path.strip("<>"))
        columns["EmailSize"] = m.size
        recipient = columns["RecipientEmailAddress"]
        columns["IsFirstContact"] = (m.key, recipient) in first
        rows.append((m.received, "EmailEvents", columns))
    return rows


def _post_delivery(world: World) -> list[Row]:
    rows: list[Row] = []
    for t, values in post_delivery_rows(world):
        columns = dict(zip(POST_DELIVERY_COLUMNS, values, strict=True))
        columns["Timestamp"] = iso7(t)
        rows.append((t, "EmailPostDeliveryEvents", columns))
    return rows


def file_sha256(m: Message, name: str) -> str:
    """The SHA-256 Defender reports of an attached file. The samples hold no file contents:
    it is the hash of the message's id and the file's name, the same in every export."""
    return hashlib.sha256(f"{m.network_message_id}/{name}".encode()).hexdigest()


def _attachments_links_clicks(world: World) -> list[Row]:
    rows: list[Row] = []
    for m in world.messages:
        common = {"NetworkMessageId": m.network_message_id}
        for f in m.files:
            for r in status_rows(world.scenario, m):
                columns = {
                    "Timestamp": iso7(m.received), **common, "SenderFromAddress": m.sender,
                    "SenderDisplayName": m.sender_name, "RecipientEmailAddress": r.recipient,
                    "FileName": f.name, "FileType": f.type, "SHA256": file_sha256(m, f.name),
                    "FileSize": f.size, "ThreatTypes": "", "DetectionMethods": "",
                }  # fmt: skip
                rows.append((m.received, "EmailAttachmentInfo", columns))
        for url in m.links:
            host = url.split("/")[2]
            columns = {"Timestamp": iso7(m.received), **common, "Url": url, "UrlDomain": host}
            rows.append((m.received, "EmailUrlInfo", {**columns, "UrlLocation": "Body"}))
        for click in m.clicks:
            t = ticks_of(click.at)
            columns = {
                "Timestamp": iso7(t), "Url": click.url, "ActionType": click.action,
                "AccountUpn": click.by, "Workload": "Email", **common, "ThreatTypes": "",
                "DetectionMethods": "", "IPAddress": click.ip,
                "IsClickedThrough": click.clicked_through, "UrlChain": json.dumps([click.url]),
            }  # fmt: skip
            rows.append((t, "UrlClickEvents", columns))
    return rows


def _other_tables(world: World) -> list[Row]:
    rows: list[Row] = []
    for other in world.scenario.defender_other:
        t = ticks_of(other.at)
        rows.append((t, other.table, {"Timestamp": iso7(t), **other.properties}))
    return rows


def _record(tenant: str, row: Row) -> dict[str, Any]:
    t, table, columns = row
    return {
        "time": iso7(t),
        "tenantId": tenant,
        "operationName": "Publish",
        "category": CATEGORY + table,
        "properties": columns,
    }


@writer("defender_streaming")
def defender_streaming(
    world: World,
    tables: list[str],
    batch: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> str:
    """The streaming records of ``tables`` in [since, until), in time order.

    The tables are EmailEvents, EmailPostDeliveryEvents, EmailAttachmentInfo (of messages
    whose record lists ``files``), EmailUrlInfo (``links``), UrlClickEvents (``clicks``) and
    those of ``[[defender_other]]``. With ``batch``, as Event Hub messages of at most that
    many records of one table, pretty-printed one after another (in the order of their first
    records); without, as NDJSON, one record a line.
    """
    unknown = set(tables) - {
        "EmailEvents", "EmailPostDeliveryEvents", "EmailAttachmentInfo", "EmailUrlInfo",
        "UrlClickEvents", *(other.table for other in world.scenario.defender_other),
    }  # fmt: skip
    if unknown:
        raise ValueError(f"scenario.toml: no streaming records of {sorted(unknown)}")
    first = ticks_of(since) if since else world.scenario.start
    end = ticks_of(until) if until else world.scenario.end
    rows = [
        *_email_events(world),
        *_post_delivery(world),
        *_attachments_links_clicks(world),
        *_other_tables(world),
    ]
    chosen = [
        row
        for row in sorted(rows, key=lambda row: (row[0], row[1]))
        if row[1] in tables and first <= row[0] < end
    ]
    tenant = world.scenario.tenant.id
    if batch is None:
        return "".join(
            json.dumps(_record(tenant, row), ensure_ascii=False, separators=(",", ":")) + "\n"
            for row in chosen
        )
    by_table: dict[str, list[Row]] = {}
    for row in chosen:
        by_table.setdefault(row[1], []).append(row)
    batches = [
        table_rows[start : start + batch]
        for table_rows in by_table.values()
        for start in range(0, len(table_rows), batch)
    ]
    batches.sort(key=lambda rows: (rows[0][0], rows[0][1]))
    messages = [
        json.dumps(
            {"records": [_record(tenant, row) for row in rows]}, ensure_ascii=False, indent=2
        )
        + "\n"
        for rows in batches
    ]
    return "".join(messages)
