"""Exchange Online PowerShell: Get-MessageTrace, Get-MessageTraceDetail and their V2
successors | Export-Csv."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..clock import month_first, seconds
from ..model import Event, Message, World
from ..transport import status_rows
from . import csv_text, writer

TRACE_TYPE_LINE = "#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace"
TRACE_COLUMNS = (
    "PSComputerName", "RunspaceId", "PSShowComputerName", "Organization", "MessageId", "Received",
    "SenderAddress", "RecipientAddress", "Subject", "Status", "ToIP", "FromIP", "Size",
    "MessageTraceId", "StartDate", "EndDate", "Index",
)  # fmt: skip
RUNSPACE_ID = "0b6e3c2a-91d4-4f7e-b1a5-6c2d8e4f9a10"
DETAIL_COLUMNS = (
    "Organization", "MessageId", "MessageTraceId", "SenderAddress", "RecipientAddress", "Date",
    "Event", "Action", "Detail", "Data",
)  # fmt: skip
#: Get-MessageTraceV2's properties are undocumented; these are the V1 ones seen in practice.
TRACE_V2_COLUMNS = (
    "Received", "SenderAddress", "RecipientAddress", "Subject", "Status", "ToIP", "FromIP", "Size",
    "MessageId", "MessageTraceId",
)  # fmt: skip


@writer("get_messagetrace")
def get_messagetrace(world: World) -> str:
    """Get-MessageTrace | Export-Csv from a remote session (Windows PowerShell 5.1): a #TYPE
    line, the session's columns, one row per message x recipient, newest first."""
    scenario = world.scenario
    start, end = month_first(scenario.start), month_first(scenario.end)
    rows: list[list[object]] = [list(TRACE_COLUMNS)]
    for m in world.newest_first():
        for r in status_rows(scenario, m):
            # Get-MessageTrace reports a message still in transit as GettingStatus.
            status = "GettingStatus" if r.status == "Pending" else r.status
            rows.append(
                [
                    "outlook.office365.com", RUNSPACE_ID, "False", scenario.tenant.organization,
                    m.message_id, month_first(m.received), m.sender, r.recipient, m.subject,
                    status, r.to_ip, m.original_client_ip, m.size, m.network_message_id, start,
                    end, len(rows) - 1,
                ]
            )  # fmt: skip
    return TRACE_TYPE_LINE + "\r\n" + csv_text(rows, quote_all=True)


def _v2_status(m: Message, recipient: str, status: str) -> str:
    """The Status Get-MessageTraceV2 reports: ``None`` (no delivery status) for a mailbox whose
    mail was redirected to another recipient, as V2 documents it; V1's otherwise."""
    if any(r.address == recipient and r.outcome == "redirect" for r in m.recipients):
        return "None"
    return status


def _v2_query(world: World, sender: str = "", recipient: str = "") -> list[list[object]]:
    """The rows one Get-MessageTraceV2 query returns over the whole data, newest first."""
    rows: list[list[object]] = []
    for m in world.newest_first():
        if sender and m.sender != sender:
            continue
        for r in status_rows(world.scenario, m):
            if recipient and r.recipient != recipient:
                continue
            rows.append(
                [
                    month_first(m.received), m.sender, r.recipient, m.subject,
                    _v2_status(m, r.recipient, r.status), r.to_ip, m.original_client_ip, m.size,
                    m.message_id, m.network_message_id,
                ]
            )  # fmt: skip
    return rows


@writer("get_messagetrace_v2")
def get_messagetrace_v2(world: World, queries: list[dict[str, Any]]) -> str:
    """Get-MessageTraceV2 | Export-Csv -Append (PowerShell 7: no #TYPE line, one header) of
    each query in turn (``sender`` or ``recipient``, ``result_size``), page after page.

    A query returns at most ``result_size`` rows; the script asks for the next page with
    -StartingRecipientAddress and -EndDate set to the last row's, so each continuation page
    starts with the row that ended the previous one (the boundary row, written twice).
    """
    rows: list[list[object]] = [list(TRACE_V2_COLUMNS)]
    for query in queries:
        size = query["result_size"]
        found = _v2_query(world, query.get("sender", ""), query.get("recipient", ""))
        start = 0
        while True:
            rows.extend(found[start : start + size])
            if start + size >= len(found):
                break
            start += size - 1  # the next page starts at this page's last row
    return csv_text(rows, quote_all=True)


def _mep(**values: str) -> str:
    parts = "".join(f'<MEP Name="{name}" String="{value}"/>' for name, value in values.items())
    return f"<root>{parts}</root>"


#: (time, Event, Action, Detail, Data) rows of Get-MessageTraceDetail.
Detail = tuple[int, str, str, str, str]


def _receive(world: World, m: Message, event: Event, mailbox: str) -> list[Detail]:
    found = []
    if m.origin == "mailbox":
        submitted = "The message was submitted."
        found.append(
            (event.time - seconds(0.6), "Submit", "", submitted, _mep(MailboxServer=mailbox))
        )
    receiver = event.row["server_hostname"] or mailbox
    detail = f"Message received by: {receiver} using TLS1.2 with AES256"
    data = _mep(Directionality=m.directionality, ClientIP=m.client_ip)
    return [*found, (event.time, "Receive", "", detail, data)]


def _agent(world: World, m: Message, event: Event, mailbox: str) -> list[Detail]:
    data, t = event.row["custom_data"], event.time
    if data.startswith("S:SFA"):
        return [(t, "Spam Diagnostics", "", "", _mep(CustomData=data))]
    if data.startswith("S:AMA"):
        detail = (
            f"Malware: {m.malware['name']} in {m.malware['file']}. The message was quarantined."
        )
        return [(t, "Malware", "Quarantine", detail, _mep(CustomData=data))]
    rules = [r for r in world.scenario.tenant.transport_rule if f"|ruleId={r.id}|" in data]
    if not data.startswith("S:TRA") or not rules:
        return []  # no other agent shows in the detail
    rule = rules[0]
    detail = (
        f"Transport rule: '{rule.name}', ID: ({rule.id}), took the following action(s): "
        f"{rule.described}."
    )
    return [(t, "Transport rule", "", detail, _mep(RuleId=rule.id))]


def _deliver(world: World, m: Message, event: Event, mailbox: str) -> list[Detail]:
    detail = "The message was successfully delivered."
    return [(event.time, "Deliver", "", detail, _mep(MailboxServer=mailbox))]


def _send(world: World, m: Message, event: Event, mailbox: str) -> list[Detail]:
    host, ip = event.row["server_hostname"], event.row["server_ip"]
    detail = f"Message sent to {host} at {ip} using TLS1.3 with AES256"
    return [(event.time, "Send external", "", detail, _mep(ConnectorId="Internet"))]


def _not_yet(world: World, m: Message, event: Event, mailbox: str) -> list[Detail]:
    status = event.row["recipient_status"]
    detail = f"Reason: [{{LED={status}}};{{MSG=}};{{FQDN=}};{{IP=}};{{LRT=}}]."
    name = event.row["event_id"].title()
    return [(event.time, name, "", detail, _mep(Status=status.split(" ", 1)[0]))]


def _redirect(world: World, m: Message, event: Event, mailbox: str) -> list[Detail]:
    detail = (
        f"The message was redirected from {event.row['related_recipient_address']} to "
        f"{event.row['recipient_address']}."
    )
    return [(event.time, "Redirect", "", detail, _mep(MailboxServer=mailbox))]


#: What each event of the extended report becomes; the others are not shown.
DETAILS: dict[str, Callable[[World, Message, Event, str], list[Detail]]] = {
    "RECEIVE": _receive,
    "AGENTINFO": _agent,
    "REDIRECT": _redirect,
    "DELIVER": _deliver,
    "SEND": _send,
    "FAIL": _not_yet,
    "DEFER": _not_yet,
}


def _detail_rows(world: World, messages: list[Message]) -> list[list[object]]:
    """Get-MessageTraceDetail rows of ``messages``, one recipient after another."""
    organization = world.scenario.tenant.organization
    rows: list[list[object]] = [list(DETAIL_COLUMNS)]
    for m in messages:
        mailbox = world.scenario.tenant.mailbox_servers[m.mailbox_server].host
        for r in status_rows(world.scenario, m):
            for event in m.events:
                show = DETAILS.get(event.row["event_id"])
                if show is None or r.recipient not in event.row["recipient_address"].split(";"):
                    continue
                for t, name, action, detail, data in show(world, m, event, mailbox):
                    rows.append(
                        [
                            organization, m.message_id, m.network_message_id, m.sender,
                            r.recipient, month_first(t), name, action, detail, data,
                        ]
                    )  # fmt: skip
    return rows


@writer("get_messagetrace_detail")
def get_messagetrace_detail(world: World) -> str:
    """Get-MessageTraceDetail | Export-Csv (PowerShell 7: no #TYPE line) for the messages
    whose record asks for ``details``, one recipient after another."""
    return csv_text(_detail_rows(world, [m for m in world.messages if m.details]), quote_all=True)


@writer("get_messagetrace_detail_v2")
def get_messagetrace_detail_v2(world: World, messages: list[str]) -> str:
    """Get-MessageTraceV2 | Get-MessageTraceDetailV2 | Export-Csv (PowerShell 7) for the
    messages of these keys, in this order: the same columns as Get-MessageTraceDetail."""
    return csv_text(_detail_rows(world, [world.message(k) for k in messages]), quote_all=True)
