"""The sample tenant as typed records, read from scenario.toml, and the messages built from it.

Loading checks the data as it reads it: an unknown field, a missing one or an unknown outcome
is a ValueError naming the record, so a typo in scenario.toml never passes silently.
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from .clock import TICKS_PER_SECOND, ticks_of

SCENARIO_FILE = Path(__file__).with_name("scenario.toml")


@dataclass(frozen=True)
class Host:
    """A server: its name and IP."""

    host: str
    ip: str


@dataclass(frozen=True)
class Mailbox:
    """A mailbox of the tenant: its address, display name and the IP it usually sends from."""

    address: str
    name: str = ""
    client_ip: str = ""


@dataclass(frozen=True)
class Correspondent:
    """An outside sender: its address and name, its mail server, country and language."""

    address: str
    name: str
    host: str
    ip: str
    country: str
    language: str


@dataclass(frozen=True)
class RemoteServer:
    """The mail server of an outside domain, and how its 250 reply reads."""

    host: str
    ip: str
    reply: str  # gsmtp | postfix | exchange


@dataclass(frozen=True)
class TransportRule:
    """A transport rule acting on mail from ``from_domain`` to outside recipients."""

    name: str
    id: str
    from_domain: str
    action: str
    described: str
    modified: datetime


@dataclass(frozen=True)
class Tenant:
    """The Exchange Online tenant."""

    domains: tuple[str, ...]
    id: str
    organization: str
    office_ip: str
    frontend: str
    mailbox_servers: tuple[Host, ...]
    dsn_sender: str
    transport_rule: tuple[TransportRule, ...] = ()


@dataclass(frozen=True)
class OnPremises:
    """The on-premises Exchange server of the hybrid setup."""

    server: str
    fqdn: str
    ip: str
    version: str
    forest: str
    public_host: str
    public_ip: str
    seed: int
    online_inbound_connector: str
    online_outbound_connector: str
    send_connector: str
    receive_connector: str
    smart_host: Host
    online_outbound: Host
    mailboxes: tuple[Mailbox, ...]
    message: tuple[OnPremMessage, ...] = ()


@dataclass(frozen=True)
class OnPremMessage:
    """A message in the on-premises server's log: an Exchange Online message of the same
    ``key`` (submitted there, or received from Exchange Online), or one of its own."""

    key: str
    internal_message_id: int
    submitted_before: float = 0.0  # seconds before Exchange Online received it
    sent_after: float = 0.0  # SEND to Office 365, seconds after submission
    received_after: float = 0.0  # seconds after Exchange Online's SEND
    headers_added: int = 0  # bytes Exchange Online adds to a message it hands over
    delivered_after: float = 0.0  # seconds after submission or receipt
    # a message of its own:
    network_message_id: str = ""
    message_id: str = ""
    submitted: datetime | None = None
    sender: str = ""
    recipient: str = ""
    subject: str = ""
    size: int = 0
    # the server finds no shadow server for it (HAREDIRECTFAIL after its SMTP RECEIVE)
    no_shadow: bool = False


#: What happened to one recipient: its status in the summary-type exports, and the events
#: the enhanced summary lists for it. scenario.toml's header describes each.
OUTCOMES: dict[str, tuple[str, tuple[str, ...]]] = {
    "deliver": ("Delivered", ("Receive", "Deliver")),
    "send": ("Delivered", ("Receive", "Send")),
    "onprem": ("Delivered", ("Receive", "Send")),
    "fail": ("Failed", ("Receive", "Fail")),
    "defer_deliver": ("Delivered", ("Receive", "Defer", "Deliver")),
    "defer_pending": ("Pending", ("Receive", "Defer")),
    "quarantine": ("Quarantined", ("Receive", "Deliver", "Quarantined")),
    "junk": ("FilteredAsSpam", ("Receive", "Deliver", "FilteredAsSpam")),
    "expand": ("Expanded", ("Receive", "Expand")),
    "redirect": ("Delivered", ("Receive", "Redirect", "Deliver")),
}


@dataclass(frozen=True)
class Recipient:
    """One recipient of a message and what happened to it."""

    address: str
    outcome: str
    header: str = "To"  # To / Cc, as the RECEIVE row's recipient_status says
    members: tuple[str, ...] = ()  # expand: the group's members
    redirect_to: str = ""  # redirect: where the copy goes


@dataclass(frozen=True)
class AttachedFile:
    """A file attached to a message (Defender's EmailAttachmentInfo)."""

    name: str
    type: str  # as Defender's FileType says it: pdf, docx, zip...
    size: int


@dataclass(frozen=True)
class Click:
    """A recipient's click on a link of a message, through Safe Links (UrlClickEvents)."""

    by: str  # the account that clicked (AccountUpn)
    at: datetime
    url: str
    action: str  # ClickAllowed, ClickBlocked, UrlErrorPage...
    ip: str
    clicked_through: bool = False


@dataclass(frozen=True)
class Incident:
    """A message of an incident, with its fixed ids (scenario.toml's header describes each
    field); what it leaves out is drawn or comes from ``defaults``."""

    key: str
    network_message_id: str
    message_id: str
    summary: str
    at: datetime | None = None
    sender: str = ""
    recipients: tuple[Recipient, ...] = ()
    subject: str = ""
    details: bool = False
    attachments: int = 0
    urls: int | None = None
    size: int | None = None
    spam_filter: dict[str, Any] | None = None
    malware: dict[str, str] = field(default_factory=dict)
    threat: str = ""
    bulk_complaint_level: int = 0
    authentication: dict[str, str] | None = None
    zapped: datetime | None = None
    bounce_of: str = ""  # a DSN of this earlier message
    after: float = 0.0  # DSN: seconds after the message it bounces
    forward_of: str = ""  # an inbox rule's forward of this earlier message
    grows_by: int = 0  # forward: bytes it adds to the forwarded message
    links: tuple[str, ...] = ()  # the URLs in its body (Defender's EmailUrlInfo), `urls` of them
    clicks: tuple[Click, ...] = ()  # recipients' clicks on them (Defender's UrlClickEvents)
    files: tuple[AttachedFile, ...] = ()  # its attachments (EmailAttachmentInfo), `attachments`


@dataclass(frozen=True)
class Burst:
    """Many messages from one mailbox to outside recipients in a few minutes."""

    sender: str
    first: datetime
    messages: int
    every: float
    recipients_each: int
    local_parts: tuple[str, ...]
    domains: tuple[str, ...]
    subject: str
    client_ip: str
    size: int


@dataclass(frozen=True)
class Ordinary:
    """A background message: what it fixes; the rest is drawn (see scenario.toml)."""

    kind: str  # inbound | internal | outbound
    day: int
    hour: int | None = None
    sender: str = ""
    recipients: tuple[Recipient, ...] = ()
    subject: str = ""


@dataclass(frozen=True)
class Background:
    """Ordinary traffic: its records and the pools its draws come from."""

    senders_domain: str
    never_drawn: tuple[str, ...]
    subjects: tuple[str, ...]
    message: tuple[Ordinary, ...]


@dataclass(frozen=True)
class OtherTableRecord:
    """A Defender streaming record of a table that holds no mail data (a sign-in, a mailbox
    audit event...): its table, time and columns, written as they are given."""

    table: str
    at: datetime
    properties: dict[str, Any]


@dataclass(frozen=True)
class SampleFile:
    """One file of samples/: its name, export format, encoding, writer and what it shows."""

    name: str
    format: str
    encoding: str  # Python codec name without BOM suffix: utf-16-le, utf-8, cp1252
    bom: bool
    writer: str
    shows: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Scenario:
    """Everything scenario.toml says; ``incident``, ``burst`` and ``background`` are the
    records the traffic builder interprets."""

    seed: int
    start: int  # ticks
    days: int
    subject_limit: int
    tenant: Tenant
    onprem: OnPremises
    mailbox: tuple[Mailbox, ...]
    partner: tuple[Correspondent, ...]
    outsider: tuple[Correspondent, ...]
    remote_server: dict[str, RemoteServer]
    defaults: dict[str, Any]
    incident: tuple[Incident, ...]
    burst: Burst
    background: Background
    file: tuple[SampleFile, ...]
    defender_other: tuple[OtherTableRecord, ...] = ()

    @property
    def end(self) -> int:
        """Ticks of the first instant after the data."""
        return self.start + self.days * 86_400 * TICKS_PER_SECOND

    def is_internal(self, address: str) -> bool:
        """Whether an address is in one of the tenant's domains."""
        return domain_of(address).lower() in self.tenant.domains

    def mailbox_of(self, address: str) -> Mailbox:
        """The mailbox of an address, online or on premises; its client IP filled in."""
        for mailbox in (*self.mailbox, *self.onprem.mailboxes):
            if mailbox.address == address:
                if mailbox.client_ip:
                    return mailbox
                return dataclasses.replace(mailbox, client_ip=self.tenant.office_ip)
        raise ValueError(f"{address} is no mailbox of scenario.toml")

    def correspondent(self, address: str) -> Correspondent:
        """The partner or outsider of an address."""
        for correspondent in (*self.partner, *self.outsider):
            if correspondent.address == address:
                return correspondent
        raise ValueError(f"{address} is no partner or outsider of scenario.toml")

    def remote(self, domain: str) -> RemoteServer:
        """The mail server of an outside domain."""
        if domain in self.remote_server:
            return self.remote_server[domain]
        for partner in self.partner:
            if domain_of(partner.address) == domain:
                return RemoteServer(partner.host, partner.ip, "exchange")
        number = sum(domain.encode()) % 200 + 20
        return RemoteServer(f"mx.{domain}", f"198.51.100.{number}", "postfix")


def domain_of(address: str) -> str:
    """The part of an address after its last @."""
    return address.rsplit("@", 1)[-1]


@dataclass(frozen=True)
class Event:
    """One transport event of a message, as the extended report's columns hold it."""

    time: int  # ticks
    row: dict[str, str]


@dataclass
class Message:
    """One message as Exchange Online saw it; every export is written from these."""

    key: str
    network_message_id: str
    message_id: str
    received: int  # ticks
    sender: str
    sender_name: str
    subject: str
    size: int
    origin: str  # internet | mailbox | mailboxrule | dsn | onprem
    recipients: list[Recipient]
    mailbox_server: int
    client_ip: str = ""
    client_hostname: str = ""
    original_client_ip: str = ""
    return_path: str = ""
    reference: str = ""
    agent_info: tuple[str, ...] = ()
    threat: str = ""  # Spam | Phish | Malware (Defender's ThreatTypes)
    bulk_complaint_level: int = 0
    authentication: dict[str, str] = field(default_factory=dict)
    attachments: int = 0
    urls: int = 0
    details: bool = False  # also in the Get-MessageTraceDetail export
    malware: dict[str, str] = field(default_factory=dict)  # name, file, signatures
    zapped: int | None = None  # ticks of Defender's ZAP, if any
    links: tuple[str, ...] = ()  # an incident's URLs, clicks and attached files (Defender)
    clicks: tuple[Click, ...] = ()
    files: tuple[AttachedFile, ...] = ()
    internal_message_id: int = 0  # numbered in time order
    events: list[Event] = field(default_factory=list)

    @property
    def incoming(self) -> bool:
        """Whether the message came from outside the tenant."""
        return self.origin == "internet"

    @property
    def directionality(self) -> str:
        """Incoming or Originating, as the extended report says."""
        return "Incoming" if self.incoming else "Originating"


@dataclass
class World:
    """The scenario and the messages built from it: what every writer reads."""

    scenario: Scenario
    messages: list[Message]

    def message(self, key: str) -> Message:
        """The message of a key (an incident's name, ``burst-01``, ``bg-01`` ...)."""
        for message in self.messages:
            if message.key == key:
                return message
        raise KeyError(f"no message has the key {key!r}")

    def newest_first(self) -> list[Message]:
        """The messages as the trace exports list them: newest first."""
        return sorted(self.messages, key=lambda m: (-m.received, m.key))


# ---------------------------------------------------------------------------------- loading

T = TypeVar("T")


def record(kind: type[T], values: Mapping[str, Any], where: str) -> T:
    """A dataclass from a TOML table, refusing unknown and missing fields."""
    fields = {f.name: f for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ValueError(f"scenario.toml, {where}: unknown field {unknown[0]!r}")
    try:
        return kind(**values)
    except TypeError as error:
        raise ValueError(f"scenario.toml, {where}: {error}") from None


def recipients(values: list[Mapping[str, Any]], where: str) -> tuple[Recipient, ...]:
    """The recipients of a record, each checked."""
    found = []
    for n, value in enumerate(values):
        one = record(Recipient, value, f"{where}, recipient {n + 1}")
        if one.outcome not in OUTCOMES:
            known = ", ".join(OUTCOMES)
            raise ValueError(f"scenario.toml, {where}: unknown outcome {one.outcome!r}; {known}")
        found.append(dataclasses.replace(one, members=tuple(one.members)))
    return tuple(found)


def _with_recipients(kind: type[T], values: Mapping[str, Any], where: str) -> T:
    values = dict(values)
    values["recipients"] = recipients(values.get("recipients", []), where)
    return record(kind, values, where)


def _incident(values: Mapping[str, Any]) -> Incident:
    """An incident, its links, clicks and files checked against its URL and attachment
    counts (Defender's UrlCount and AttachmentCount must agree with its rows)."""
    where = f"incident {values.get('key')}"
    values = dict(values)
    values["links"] = tuple(values.get("links", ()))
    values["clicks"] = tuple(record(Click, c, f"{where}, click") for c in values.get("clicks", ()))
    values["files"] = tuple(
        record(AttachedFile, f, f"{where}, file") for f in values.get("files", ())
    )
    incident = _with_recipients(Incident, values, where)
    if incident.links and len(incident.links) != incident.urls:
        raise ValueError(
            f"scenario.toml, {where}: {len(incident.links)} links but urls = {incident.urls}"
        )
    if incident.files and len(incident.files) != incident.attachments:
        raise ValueError(
            f"scenario.toml, {where}: {len(incident.files)} files but "
            f"attachments = {incident.attachments}"
        )
    for click in incident.clicks:
        if click.url not in incident.links:
            raise ValueError(f"scenario.toml, {where}: a click on {click.url}, not a link of it")
        if click.by not in {r.address for r in incident.recipients}:
            raise ValueError(f"scenario.toml, {where}: a click by {click.by}, no recipient")
    return incident


def _background(values: Mapping[str, Any]) -> Background:
    messages = tuple(
        _with_recipients(Ordinary, m, f"background.message {n + 1}")
        for n, m in enumerate(values["message"])
    )
    for n, m in enumerate(messages):
        if m.kind not in ("inbound", "internal", "outbound"):
            raise ValueError(f"scenario.toml, background.message {n + 1}: kind {m.kind!r}")
    values = {**values, "message": messages}
    for name in ("never_drawn", "subjects"):
        values[name] = tuple(values[name])
    return record(Background, values, "[background]")


def _tenant(values: Mapping[str, Any]) -> Tenant:
    values = dict(values)
    values["domains"] = tuple(values["domains"])
    values["mailbox_servers"] = tuple(
        record(Host, h, "tenant.mailbox_servers") for h in values["mailbox_servers"]
    )
    values["transport_rule"] = tuple(
        record(TransportRule, r, "tenant.transport_rule") for r in values.get("transport_rule", [])
    )
    return record(Tenant, values, "[tenant]")


def _onprem(values: Mapping[str, Any]) -> OnPremises:
    values = dict(values)
    for name in ("smart_host", "online_outbound"):
        values[name] = record(Host, values[name], f"onprem.{name}")
    values["mailboxes"] = tuple(record(Mailbox, m, "onprem.mailboxes") for m in values["mailboxes"])
    values["message"] = tuple(
        record(OnPremMessage, m, f"onprem.message {m.get('key')}") for m in values["message"]
    )
    return record(OnPremises, values, "[onprem]")


@functools.cache
def load_scenario(path: Path = SCENARIO_FILE) -> Scenario:
    """The scenario of a TOML file (by default tools/samples/scenario.toml).

    Raises:
        ValueError: a record has an unknown or missing field, or an unknown outcome.
    """
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    burst = data["burst"]
    return Scenario(
        seed=data["seed"],
        start=ticks_of(data["start"]),
        days=data["days"],
        subject_limit=data["subject_limit"],
        tenant=_tenant(data["tenant"]),
        onprem=_onprem(data["onprem"]),
        mailbox=tuple(record(Mailbox, m, f"mailbox {m.get('address')}") for m in data["mailbox"]),
        partner=tuple(record(Correspondent, c, "partner") for c in data["partner"]),
        outsider=tuple(record(Correspondent, c, "outsider") for c in data["outsider"]),
        remote_server={
            domain: record(RemoteServer, s, f"remote_server {domain}")
            for domain, s in data["remote_server"].items()
        },
        defaults=data["defaults"],
        incident=tuple(_incident(i) for i in data["incident"]),
        burst=record(
            Burst,
            {
                **burst,
                "local_parts": tuple(burst["local_parts"]),
                "domains": tuple(burst["domains"]),
            },
            "[burst]",
        ),
        background=_background(data["background"]),
        file=tuple(record(SampleFile, f, f"file {f.get('name')}") for f in data["file"]),
        defender_other=tuple(
            record(OtherTableRecord, r, f"defender_other {r.get('table')}")
            for r in data.get("defender_other", ())
        ),
    )
