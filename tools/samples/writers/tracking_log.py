"""The on-premises Exchange 2019 server's message tracking log (MSGTRK*.LOG, 30 fields).

Its messages are the ``[[onprem.message]]`` records: one submitted there and SENT to Exchange
Online, one Exchange Online hands over to it, and one between two of its own mailboxes. The
log draws from a stream of its own (``onprem.seed``), so it shifts no other file.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime

from ..clock import iso3, seconds, ticks_of
from ..model import Host, Message, OnPremMessage, World
from ..transport import DELIVERED, guid
from . import csv_text, writer

MSGTRK_FIELDS = (
    "date-time", "client-ip", "client-hostname", "server-ip", "server-hostname", "source-context",
    "connector-id", "source", "event-id", "internal-message-id", "message-id",
    "network-message-id", "recipient-address", "recipient-status", "total-bytes",
    "recipient-count", "related-recipient-address", "reference", "message-subject",
    "sender-address", "return-path", "message-info", "directionality", "tenant-id",
    "original-client-ip", "original-server-ip", "custom-data", "transport-traffic-type",
    "log-id", "schema-version",
)  # fmt: skip


@dataclass
class _Log:
    world: World
    rng: random.Random
    log_id: str = ""
    rows: list[tuple[int, list[str]]] = field(default_factory=list)

    def add(self, t: int, **values: str) -> None:
        row = dict.fromkeys(MSGTRK_FIELDS, "")
        row.update({name.replace("_", "-"): value for name, value in values.items()})
        row.update({"date-time": iso3(t), "transport-traffic-type": "Email"})
        row.update({"log-id": self.log_id, "schema-version": self.world.scenario.onprem.version})
        self.rows.append((t, [row[f] for f in MSGTRK_FIELDS]))

    def database(self) -> str:
        """custom-data naming the mailbox database a message is stored in or taken from."""
        forest = self.world.scenario.onprem.forest
        database = guid(self.rng)
        return (
            f"S:MailboxDatabaseGuid={database};S:DeliveryPriority=Normal;S:AccountForest={forest}"
        )


def _fields(
    record: OnPremMessage, message_id: str, nmid: str, recipient: str, size: int, subject: str
) -> dict[str, str]:
    return {
        "internal_message_id": str(record.internal_message_id),
        "message_id": message_id,
        "network_message_id": nmid,
        "recipient_address": recipient,
        "total_bytes": str(size),
        "recipient_count": "1",
        "message_subject": subject,
    }


def _submitted(log: _Log, t: int, shared: dict[str, str], no_shadow: bool = False) -> None:
    """A mailbox of the server submits a message: NOTIFYMAPI, RECEIVE, SUBMIT, SMTP RECEIVE
    (then HAREDIRECTFAIL when ``no_shadow``)."""
    onprem, rng = log.world.scenario.onprem, log.rng
    mailbox = guid(rng)
    context = (
        f"MDB:{guid(rng)}, Mailbox:{mailbox}, Event:{rng.randrange(10**8)}, "
        f"MessageClass:IPM.Note, CreationTime:{iso3(t - seconds(0.2))}, ClientType:MOMT, "
        "SubmissionAssistant:MailboxTransportSubmissionEmailAssistant"
    )
    mapi = {"client_ip": onprem.ip, "client_hostname": onprem.server, "source_context": context}
    log.add(
        t - seconds(0.13),
        **mapi,
        source="STOREDRIVER",
        event_id="NOTIFYMAPI",
        sender_address=shared["sender_address"],
        message_info=f"{iso3(t - seconds(0.2))};LSRV={onprem.fqdn}:TOTAL-SUB=0.128|SA=0.128"
        "|MTSS-PEN=0.000",
        custom_data=f"S:ItemEntryId=00-00-00-00-{rng.getrandbits(32):08X}",
    )
    log.add(
        t,
        **mapi,
        **shared,
        source="STOREDRIVER",
        event_id="RECEIVE",
        recipient_status="To",
        message_info="04I:",
    )
    submit_context = f"MDB:{guid(rng)}, Mailbox:{mailbox}, Event:{rng.randrange(10**8)}"
    log.add(
        t + seconds(0.04),
        **shared,
        server_hostname=onprem.fqdn,
        source="STOREDRIVER",
        event_id="SUBMIT",
        source_context=submit_context,
    )
    # The submission service hands the message to the server's own transport over SMTP.
    _smtp(
        log,
        t + seconds(0.21),
        shared,
        "RECEIVE",
        Host(onprem.fqdn, onprem.ip),
        Host(onprem.server, onprem.ip),
        f"08DE{rng.getrandbits(48):012X};250 2.0.0 OK",
        connector_id=f"{onprem.server}\\Default {onprem.server}",
        recipient_status="To",
        custom_data=log.database(),
    )
    if no_shadow:
        # Shadow redundancy: the server keeps a copy of every message it receives on another
        # server until the next hop has it; with none to take it, it logs HAREDIRECTFAIL. The
        # message itself goes on (the event says nothing of its delivery).
        log.add(
            t + seconds(0.23),
            **shared,
            server_hostname=onprem.server,
            source_context="No suitable shadow servers",
            source="SMTP",
            event_id="HAREDIRECTFAIL",
        )


def _smtp(
    log: _Log,
    t: int,
    shared: dict[str, str],
    event_id: str,
    client: Host,
    server: Host,
    context: str,
    **more: str,
) -> None:
    """An SMTP hop of the server: from ``client`` to ``server``."""
    log.add(
        t,
        **shared,
        client_ip=client.ip,
        client_hostname=client.host,
        server_ip=server.ip,
        server_hostname=server.host,
        source_context=context,
        source="SMTP",
        event_id=event_id,
        **more,
    )


def _sent_to_office365(
    log: _Log, t: int, after: float, shared: dict[str, str], sent: Message
) -> None:
    """The SEND to Exchange Online, ``after`` seconds, of a message submitted at ``t``."""
    scenario, rng = log.world.scenario, log.rng
    onprem = scenario.onprem
    context = f"08DE{rng.getrandbits(48):012X};{iso3(t)};ClientSubmitTime:"
    status = (
        f"250 2.6.0 {sent.message_id} [InternalId={rng.randrange(10**12)}, "
        f"Hostname={scenario.tenant.frontend}] "
        f"{sent.size} bytes in 0.141, 73.512 KB/sec Queued mail for delivery"
    )
    _smtp(
        log,
        t + seconds(after),
        shared,
        "SEND",
        Host(onprem.server, onprem.ip),
        onprem.smart_host,
        context,
        connector_id=onprem.send_connector,
        recipient_status=status,
        message_info=f"{iso3(t - seconds(0.2))};SRV={onprem.fqdn}:TOTAL-SUB=0.121|SA=0.118"
        "|MTSS-PEN=0.000",
    )


def _received_from_office365(log: _Log, t: int, shared: dict[str, str], m: Message) -> None:
    """Exchange Online hands a message over to the server."""
    onprem = log.world.scenario.onprem
    _smtp(
        log,
        t,
        shared,
        "RECEIVE",
        onprem.online_outbound,
        Host(onprem.server, onprem.ip),
        f"08DE{log.rng.getrandbits(48):012X};250 2.6.0 Queued mail for delivery",
        connector_id=f"{onprem.server}\\{onprem.receive_connector}",
        recipient_status="To",
        message_info=f"{iso3(m.received)};SRV={log.world.scenario.tenant.frontend}",
    )


def _delivered(log: _Log, t: int, shared: dict[str, str]) -> None:
    onprem = log.world.scenario.onprem
    log.add(
        t,
        **shared,
        server_ip=onprem.ip,
        server_hostname=onprem.fqdn,
        source="STOREDRIVER",
        event_id="DELIVER",
        recipient_status=DELIVERED,
        custom_data=log.database(),
    )


def _log_message(log: _Log, record: OnPremMessage) -> None:
    """The rows of one on-premises message, by which way it goes."""
    scenario = log.world.scenario
    online = {m.key: m for m in log.world.messages}.get(record.key)
    if online is None:  # between two of the server's own mailboxes
        sender = scenario.mailbox_of(record.sender)
        shared = _fields(
            record,
            record.message_id,
            record.network_message_id,
            record.recipient,
            record.size,
            record.subject,
        )
        shared |= {
            "sender_address": sender.address,
            "return_path": sender.address,
            "directionality": "Originating",
            "original_client_ip": sender.client_ip,
        }
        start = ticks_of(record.submitted) if record.submitted else 0
        _submitted(log, start, shared, no_shadow=record.no_shadow)
        _delivered(log, start + seconds(record.delivered_after), shared)
        return
    recipient = online.recipients[0].address
    shared = _fields(
        record,
        online.message_id,
        online.network_message_id,
        recipient,
        online.size + record.headers_added,
        online.subject,
    )
    shared |= {
        "sender_address": online.sender,
        "return_path": online.sender,
        "directionality": online.directionality,
        "original_client_ip": online.original_client_ip,
    }
    if online.origin == "onprem":  # submitted here, sent to Exchange Online
        start = online.received - seconds(record.submitted_before)
        _submitted(log, start, shared)
        _sent_to_office365(log, start, record.sent_after, shared, online)
        return
    # Exchange Online hands it over after its SEND; the server delivers it.
    shared["tenant_id"] = scenario.tenant.id
    arrived = online.events[-1].time + seconds(record.received_after)
    _received_from_office365(log, arrived, shared, online)
    _delivered(log, arrived + seconds(record.delivered_after), shared)


def tracking_rows(
    world: World, since: int | None = None, until: int | None = None
) -> list[list[str]]:
    """The on-premises server's rows in time order, each a value per ``MSGTRK_FIELDS``; those
    logged in [since, until) when given (ticks)."""
    rng = random.Random(world.scenario.onprem.seed)
    log = _Log(world, rng, log_id=guid(rng))
    for record in world.scenario.onprem.message:
        _log_message(log, record)
    first = world.scenario.start if since is None else since
    end = world.scenario.end if until is None else until
    rows = sorted(log.rows, key=lambda item: item[0])
    return [row for t, row in rows if first <= t < end]


@writer("exchange_tracking_log")
def exchange_tracking_log(world: World, opened: datetime, until: datetime) -> str:
    """The log opened at ``opened``: its # header lines, then the rows written before
    ``until``, while it was the server's current log."""
    onprem = world.scenario.onprem
    header = [
        "#Software: Microsoft Exchange Server",
        f"#Version: {onprem.version}",
        "#Log-type: Message Tracking Log",
        f"#Date: {iso3(ticks_of(opened))}",
        "#Fields: " + ",".join(MSGTRK_FIELDS),
    ]
    rows = tracking_rows(world, ticks_of(opened), ticks_of(until))
    return "\r\n".join(header) + "\r\n" + csv_text(rows, quote_all=False)


@writer("exchange_tracking_rows")
def exchange_tracking_rows(
    world: World, since: datetime | None = None, until: datetime | None = None
) -> str:
    """The server's rows from ``since`` to before ``until`` (default: all of them) as a log
    shipper forwards them to a SIEM: one row a line, LF line ends, without the # header block
    (so only their 30 fields tell that they come from Exchange 2016/2019)."""
    rows = tracking_rows(
        world, ticks_of(since) if since else None, ticks_of(until) if until else None
    )
    return csv_text(rows, quote_all=False, line_end="\n")
