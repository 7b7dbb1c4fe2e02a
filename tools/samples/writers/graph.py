"""Microsoft Graph message trace (v1.0): ``messageTraces`` pages and ``getDetailsByRecipient``.

``GET /admin/exchange/tracing/messageTraces`` returns ``exchangeMessageTrace`` records in
``{"@odata.context": ..., "value": [...], "@odata.nextLink": ...}`` pages; a script that saves
each page as it comes (``ConvertTo-Json``, two-space indents) writes them one after another.
"""

from __future__ import annotations

import json
import random
from datetime import datetime

from ..clock import iso7, ticks_of
from ..model import World
from ..transport import guid, status_rows
from . import writer
from .powershell import DETAILS

GRAPH = "https://graph.microsoft.com/v1.0"
TRACES = f"{GRAPH}/admin/exchange/tracing/messageTraces"
TRACES_CONTEXT = f"{GRAPH}/$metadata#admin/exchange/tracing/messageTraces"
DETAILS_CONTEXT = f"{GRAPH}/$metadata#Collection(microsoft.graph.exchangeMessageTraceDetail)"
#: The final statuses of the trace exports as Graph's camelCase ``status`` enumeration has them.
GRAPH_STATUS = {
    "Delivered": "delivered",
    "Failed": "failed",
    "Pending": "pending",
    "Expanded": "expanded",
    "Quarantined": "quarantined",
    "FilteredAsSpam": "filteredAsSpam",
    "GettingStatus": "gettingStatus",
}


def _page_text(page: dict[str, object]) -> str:
    return json.dumps(page, ensure_ascii=False, indent=2) + "\n"


@writer("graph_message_traces")
def graph_message_traces(
    world: World, top: int, seed: int, since: datetime | None = None, until: datetime | None = None
) -> str:
    """The ``exchangeMessageTrace`` records of messages received in [since, until), newest
    first, in pages of ``top`` records: every page but the last ends with its
    ``@odata.nextLink`` (a ``$skiptoken`` drawn from the ``seed`` stream)."""
    scenario = world.scenario
    first = ticks_of(since) if since else scenario.start
    end = ticks_of(until) if until else scenario.end
    records: list[dict[str, object]] = []
    for m in world.newest_first():
        if not first <= m.received < end:
            continue
        for r in status_rows(scenario, m):
            records.append(
                {
                    "id": m.network_message_id,
                    "messageId": m.message_id,
                    "receivedDateTime": iso7(m.received),
                    "senderAddress": m.sender,
                    "recipientAddress": r.recipient,
                    "subject": m.subject,
                    "status": GRAPH_STATUS[r.status],
                    "size": m.size,
                    "fromIP": m.original_client_ip or None,
                    "toIP": r.to_ip or None,
                }
            )
    rng = random.Random(seed)
    window = f"receivedDateTime ge {iso7(first)} and receivedDateTime lt {iso7(end)}"
    pages = []
    for start in range(0, len(records), top):
        page: dict[str, object] = {
            "@odata.context": TRACES_CONTEXT,
            "value": records[start : start + top],
        }
        if start + top < len(records):
            token = f"{rng.getrandbits(160):040x}"
            page["@odata.nextLink"] = (
                f"{TRACES}?$filter={window.replace(' ', '%20')}&$top={top}&$skiptoken={token}"
            )
        pages.append(_page_text(page))
    return "".join(pages)


@writer("graph_message_trace_details")
def graph_message_trace_details(world: World, message: str, recipient: str, seed: int) -> str:
    """``getDetailsByRecipient(recipientAddress='<recipient>')`` of a message's trace: its
    events for that recipient as ``exchangeMessageTraceDetail`` records (event, action,
    description and data as Get-MessageTraceDetail has them; times to the 100 ns). Each record
    has an ``id`` of its own (drawn from the ``seed`` stream), and none names the recipient:
    it is only in the request."""
    m = world.message(message)
    mailbox = world.scenario.tenant.mailbox_servers[m.mailbox_server].host
    rng = random.Random(seed)
    records: list[dict[str, object]] = []
    for event in m.events:
        show = DETAILS.get(event.row["event_id"])
        if show is None or recipient not in event.row["recipient_address"].split(";"):
            continue
        for t, name, action, detail, data in show(world, m, event, mailbox):
            records.append(
                {
                    "id": guid(rng),
                    "messageId": m.message_id,
                    "dateTime": iso7(t),
                    "event": name,
                    "action": action or None,
                    "description": detail,
                    "data": data,
                }
            )
    if not records:
        raise ValueError(f"scenario.toml: {message} has no event for {recipient}")
    return _page_text({"@odata.context": DETAILS_CONTEXT, "value": records})
