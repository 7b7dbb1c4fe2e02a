"""What Exchange Online records of each message: its transport events (the extended report's
rows, which the other message trace exports summarize) and each recipient's final status.

The events of a message draw from the seeded stream after every message is built, in time
order: internal message id, RECEIVE, then each recipient's rows.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from .clock import TICKS_PER_SECOND, iso3, iso7, seconds, unix_seconds
from .model import OUTCOMES, Event, Message, Recipient, Scenario, domain_of

EXTENDED_COLUMNS = (
    "date_time_utc", "client_ip", "client_hostname", "server_ip", "server_hostname",
    "source_context", "connector_id", "source", "event_id", "internal_message_id", "message_id",
    "network_message_id", "recipient_address", "recipient_status", "total_bytes",
    "recipient_count", "related_recipient_address", "reference", "message_subject",
    "sender_address", "return_path", "message_info", "directionality", "tenant_id",
    "original_client_ip", "original_server_ip", "custom_data",
)  # fmt: skip

FIRST_INTERNAL_MESSAGE_ID = 4_120_000  # the mailbox database's counter before Monday
DELIVERED = "250 2.1.5 Recipient OK"
NOT_FOUND = "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
# A shadow-redundancy deferral, the most common 451 4.4.0 in Exchange Online.
REDUNDANCY_DEFER = (
    "451 4.4.0 Message failed to be made redundant due to A shadow copy was required but "
    "failed to be made with an AckStatus of Fail"
)
STORE_DRIVER_DATA = "S:DeliveryPriority=Normal;S:AccountForest=NAMPR12A004.PROD.OUTLOOK.COM"
RECEIVE_SOURCES = {
    "internet": "SMTP",
    "onprem": "SMTP",
    "mailbox": "STOREDRIVER",
    "mailboxrule": "MAILBOXRULE",
}


def connection_defer(ip: str) -> str:
    """The 451 4.4.0 of a server that drops the connection."""
    return (
        '451 4.4.0 Primary target IP address responded with: "421 4.4.2 Connection dropped due '
        'to SocketError." Attempted failover to alternate host, but that did not succeed. Either '
        "there are no alternate hosts, or delivery failed to all alternate hosts. The last "
        f"endpoint attempted was {ip}:25"
    )


def guid(rng: random.Random) -> str:
    """A random (version 4) GUID."""
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


@dataclass
class _Log:
    """The events of one message as they are added; ``delivered`` and ``sends`` collect the
    recipients of its one DELIVER and of its SENDs (one per outside domain)."""

    scenario: Scenario
    message: Message
    rng: random.Random
    events: list[Event] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)
    sends: dict[str, list[str]] = field(default_factory=dict)

    @property
    def mailbox(self) -> tuple[str, str]:
        server = self.scenario.tenant.mailbox_servers[self.message.mailbox_server]
        return server.host, server.ip

    def add(
        self, t: int, event_id: str, source: str, to: list[str], statuses: list[str], **more: str
    ) -> None:
        m = self.message
        row = dict.fromkeys(EXTENDED_COLUMNS, "")
        row.update(
            date_time_utc=iso7(t),
            event_id=event_id,
            source=source,
            internal_message_id=str(m.internal_message_id),
            message_id=m.message_id,
            network_message_id=m.network_message_id,
            recipient_address=";".join(to),
            recipient_status=";".join(statuses),
            total_bytes=str(m.size),
            recipient_count=str(len(to)),
            message_subject=m.subject,
            sender_address=m.sender,
            return_path=m.return_path,
            directionality=m.directionality,
            tenant_id=self.scenario.tenant.id,
            original_client_ip=m.original_client_ip,
        )
        row.update(more)
        self.events.append(Event(t, row))

    def deliver(self, t: int, to: list[str]) -> None:
        host, ip = self.mailbox
        statuses = [DELIVERED] * len(to)
        self.add(
            t,
            "DELIVER",
            "STOREDRIVER",
            to,
            statuses,
            client_ip=ip,
            server_hostname=host,
            custom_data=STORE_DRIVER_DATA,
        )

    def send(self, address: str) -> None:
        self.sends.setdefault(domain_of(address), []).append(address)


def _receive(log: _Log) -> None:
    m, rng, t = log.message, log.rng, log.message.received
    to = [r.address for r in m.recipients]
    host, ip = log.mailbox
    frontend = log.scenario.tenant.frontend
    if m.origin == "dsn":
        log.add(t, "DSN", "DSN", to, [""], reference=m.reference, server_hostname=host)
        return
    if m.origin in ("internet", "onprem"):
        short = frontend.split(".", 1)[0]
        connector = f"{short}\\Default {short}"
        if m.origin == "onprem":
            connector = log.scenario.onprem.online_inbound_connector
        fields = {
            "client_ip": m.client_ip,
            "client_hostname": m.client_hostname,
            "server_hostname": frontend,
            "source_context": f"08DE{rng.getrandbits(48):012X};{iso3(t)};0",
            "connector_id": connector,
            "message_info": f"{iso3(t - seconds(0.4))};SRV={frontend}:TOTAL-FE=0.0"
            f"{rng.randrange(10, 99)}",
        }
    elif m.origin == "mailbox":
        context = (
            f"MDB:{guid(rng)}, Mailbox:{guid(rng)}, Event:{rng.randrange(10**8)}, "
            f"MessageClass:IPM.Note, CreationTime:{iso3(t - seconds(1.3))}, ClientType:OWA"
        )
        fields = {
            "client_ip": ip,
            "client_hostname": host,
            "server_hostname": host,
            "source_context": context,
            "message_info": "04I:",
        }
    else:  # mailboxrule: the mailbox's inbox rule makes a new message
        fields = {
            "client_hostname": host,
            "server_hostname": host,
            "source_context": f"Mailbox:{guid(rng)}, RuleProcessing:InboxRule",
        }
    statuses = [r.header for r in m.recipients]
    log.add(t, "RECEIVE", RECEIVE_SOURCES[m.origin], to, statuses, reference=m.reference, **fields)


# What each outcome adds for its recipient, t being the receipt; deliver, junk and send only
# join the message's one DELIVER or its SENDs, and a quarantine adds nothing: the verdict
# (DI=SQ, AMA action=b) is the last word.


def _fail(log: _Log, r: Recipient, t: int) -> None:
    host = log.mailbox[0]
    log.add(t + seconds(0.2), "FAIL", "ROUTING", [r.address], [NOT_FOUND], server_hostname=host)


def _expand(log: _Log, r: Recipient, t: int) -> None:
    log.add(
        t + seconds(0.5),
        "EXPAND",
        "ROUTING",
        list(r.members),
        [""],
        related_recipient_address=r.address,
        server_hostname=log.mailbox[0],
    )
    log.delivered.extend(r.members)


def _redirect(log: _Log, r: Recipient, t: int) -> None:
    log.add(
        t + seconds(0.5),
        "REDIRECT",
        "ROUTING",
        [r.redirect_to],
        [""],
        related_recipient_address=r.address,
        server_hostname=log.mailbox[0],
    )
    log.delivered.append(r.address)
    log.send(r.redirect_to)


def _defer_deliver(log: _Log, r: Recipient, t: int) -> None:
    for after in (3.1, 907.4):
        log.add(
            t + seconds(after),
            "DEFER",
            "SMTP",
            [r.address],
            [REDUNDANCY_DEFER],
            server_hostname=log.scenario.tenant.frontend,
        )
    log.deliver(t + seconds(2719.8), [r.address])


def _defer_pending(log: _Log, r: Recipient, t: int) -> None:
    server = log.scenario.remote(domain_of(r.address))
    for after in (4.2, 906.3, 1808.9):
        log.add(
            t + seconds(after),
            "DEFER",
            "SMTP",
            [r.address],
            [connection_defer(server.ip)],
            server_ip=server.ip,
            server_hostname=server.host,
            connector_id="Internet",
        )


def _onprem(log: _Log, r: Recipient, t: int) -> None:
    onprem = log.scenario.onprem
    reply = (
        f"250 2.6.0 {log.message.message_id} [InternalId={log.rng.randrange(10**11)}, "
        f"Hostname={onprem.fqdn}] Queued mail for delivery"
    )
    log.add(
        t + seconds(1.9),
        "SEND",
        "SMTP",
        [r.address],
        [reply],
        server_ip=onprem.public_ip,
        server_hostname=onprem.public_host,
        connector_id=onprem.online_outbound_connector,
    )


OUTCOME_EVENTS: dict[str, Callable[[_Log, Recipient, int], None]] = {
    "deliver": lambda log, r, t: log.delivered.append(r.address),
    "junk": lambda log, r, t: log.delivered.append(r.address),
    "send": lambda log, r, t: log.send(r.address),
    "quarantine": lambda log, r, t: None,
    "fail": _fail,
    "expand": _expand,
    "redirect": _redirect,
    "defer_deliver": _defer_deliver,
    "defer_pending": _defer_pending,
    "onprem": _onprem,
}


def _send_reply(log: _Log, style: str) -> str:
    rng, m = log.rng, log.message
    if style == "gsmtp":
        code = f"{rng.getrandbits(40):010x}si{rng.randrange(10**6):06d}"
        return f"250 2.0.0 OK  {unix_seconds(m.received)} {code} - gsmtp"
    if style == "exchange":
        inner = m.message_id.strip("<>")
        return f"250 2.6.0 <{inner}> [InternalId={rng.randrange(10**12)}] Queued mail for delivery"
    return f"250 2.0.0 Ok: queued as {rng.getrandbits(40):010X}"


def _srs(log: _Log) -> str:
    """The Sender Rewriting Scheme address a forwarded copy leaves with."""
    local, domain = log.message.sender.rsplit("@", 1)
    tenant_domain = log.scenario.tenant.domains[0]
    return f"bounces+SRS={log.rng.getrandbits(20):05x}={domain}={local}@{tenant_domain}"


def message_events(scenario: Scenario, message: Message, rng: random.Random) -> list[Event]:
    """The transport events of a message in time order, as Exchange Online tracks them."""
    log = _Log(scenario, message, rng)
    t = message.received
    _receive(log)
    for n, data in enumerate(message.agent_info):
        log.add(
            t + seconds(0.31 + 0.07 * n),
            "AGENTINFO",
            "AGENT",
            [r.address for r in message.recipients],
            [""],
            custom_data=data,
        )
    later = t + seconds(1.2) + rng.randrange(TICKS_PER_SECOND)
    for r in message.recipients:
        OUTCOME_EVENTS[r.outcome](log, r, t)
    if log.delivered:
        log.deliver(later, log.delivered)
    for n, (domain, addresses) in enumerate(log.sends.items()):
        server = scenario.remote(domain)
        replies = [_send_reply(log, server.reply) for _ in addresses]
        # A redirected copy of outside mail leaves with a rewritten (SRS) return path.
        return_path = _srs(log) if message.incoming else message.return_path
        log.add(
            later + seconds(0.8 + 0.3 * n),
            "SEND",
            "SMTP",
            addresses,
            replies,
            server_ip=server.ip,
            server_hostname=server.host,
            connector_id="Internet",
            return_path=return_path,
        )
    return sorted(log.events, key=lambda event: event.time)


def track(scenario: Scenario, messages: list[Message], rng: random.Random) -> None:
    """Number the messages (in time order) and fill in each one's events."""
    internal_id = FIRST_INTERNAL_MESSAGE_ID
    for message in messages:
        internal_id += rng.randrange(3, 40)
        message.internal_message_id = internal_id
        message.events = message_events(scenario, message, rng)


# ------------------------------------------------------------------ per-recipient statuses


@dataclass(frozen=True)
class StatusRow:
    """One message x recipient with the final status a summary export reports."""

    message: Message
    recipient: str
    status: str
    events: tuple[str, ...]  # the enhanced summary's event words
    to_ip: str


def status_rows(scenario: Scenario, message: Message) -> list[StatusRow]:
    """A message's rows in a summary export: one per recipient, group members included."""
    rows = []
    for r in message.recipients:
        status, events = OUTCOMES[r.outcome]
        to_ip = ""
        if r.outcome == "send":
            to_ip = scenario.remote(domain_of(r.address)).ip
        elif r.outcome == "onprem":
            to_ip = scenario.onprem.public_ip
        rows.append(StatusRow(message, r.address, status, events, to_ip))
        for member in r.members:
            rows.append(StatusRow(message, member, "Delivered", ("Receive", "Deliver"), ""))
        if r.redirect_to:
            copy_ip = scenario.remote(domain_of(r.redirect_to)).ip
            rows.append(
                StatusRow(message, r.redirect_to, "Delivered", ("Receive", "Send"), copy_ip)
            )
    return rows
