"""The tenant's messages, built from the incident, burst and background records.

One seeded ``random.Random`` supplies every value a record leaves out, drawn in a fixed order:
the incidents, the burst, then the background, each record's draws in the order scenario.toml
describes. The samples are byte-for-byte deterministic because nothing else is random and the
wall clock is never read.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .clock import TICKS_PER_SECOND, month_first, seconds, ticks_of, utc_second
from .model import (
    Correspondent,
    Host,
    Incident,
    Mailbox,
    Message,
    Ordinary,
    Recipient,
    Scenario,
    domain_of,
)

#: Size ranges (bytes) a message's size is drawn from, by where it comes from.
INBOUND_SIZES = (8_000, 90_000)
ORIGINATING_SIZES = (6_000, 60_000)
DSN_SIZES = (30_000, 40_000)
#: Fields of an incident that only mail from outside has (a verdict, Defender's counts).
OUTSIDE_ONLY = (
    "urls", "spam_filter", "malware", "threat", "bulk_complaint_level", "authentication",
    "attachments", "zapped", "links", "clicks", "files",
)  # fmt: skip


class Draws:
    """Values drawn from the one seeded random stream."""

    def __init__(self, scenario: Scenario, rng: random.Random):
        self.scenario = scenario
        self.rng = rng

    def hex(self, digits: int) -> str:
        """Upper-case hex digits."""
        return f"{self.rng.getrandbits(4 * digits):0{digits}X}"

    def network_message_id(self) -> str:
        """A GUID ending as Exchange Online's network message ids do (08de...)."""
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-08de{h[24:32]}"

    def internet_message_id(self, sender: str, received: int, server: int) -> str:
        """A Message-ID as the sender's mail system writes it."""
        if self.scenario.is_internal(sender):
            host = self.scenario.tenant.mailbox_servers[server].host
            return f"<{host.split('.', 1)[0]}{self.hex(16)}@{host}>"
        return f"<{utc_second(received):%Y%m%d%H%M%S}.{self.hex(16)}@{domain_of(sender)}>"


@dataclass
class Draft:
    """A message as its record gives it; what is empty is drawn."""

    key: str
    received: int  # ticks, to the second: the fraction is drawn
    recipients: list[Recipient]
    subject: str
    network_message_id: str = ""
    message_id: str = ""
    size: int | None = None
    details: bool = False
    extras: Incident | None = field(default=None)  # an incident's verdicts and counts


def _drawn_start(draws: Draws, draft: Draft, sender: str, sizes: tuple[int, int]) -> Message:
    """The fields every message draws alike: time, mailbox server, ids, size (in this order)."""
    rng, scenario = draws.rng, draws.scenario
    received = draft.received + rng.randrange(TICKS_PER_SECOND)
    server = rng.randrange(len(scenario.tenant.mailbox_servers))
    nmid = draft.network_message_id or draws.network_message_id()
    mid = draft.message_id or draws.internet_message_id(sender, received, server)
    return Message(
        key=draft.key,
        network_message_id=nmid,
        message_id=mid,
        received=received,
        sender=sender,
        sender_name="",
        subject=draft.subject[: scenario.subject_limit],
        size=draft.size or rng.randrange(*sizes),
        origin="",
        recipients=draft.recipients,
        mailbox_server=server,
        return_path=sender,
        authentication=scenario.defaults["authentication"],
        details=draft.details,
    )


def from_outside(draws: Draws, draft: Draft, sender: Correspondent, urls: int) -> Message:
    """A message from an outside sender, with the spam filter's (and any incident's) verdict."""
    message = _drawn_start(draws, draft, sender.address, INBOUND_SIZES)
    message.origin = "internet"
    message.sender_name = sender.name
    message.client_ip = message.original_client_ip = sender.ip
    message.client_hostname = sender.host
    message.urls = urls
    incident = draft.extras
    spam_filter = draws.scenario.defaults["spam_filter"]
    if incident is not None:
        spam_filter = incident.spam_filter or spam_filter
        message.threat = incident.threat
        message.bulk_complaint_level = incident.bulk_complaint_level
        message.authentication = incident.authentication or message.authentication
        message.attachments = incident.attachments
        message.malware = incident.malware
        message.zapped = ticks_of(incident.zapped) if incident.zapped else None
        message.links, message.clicks = incident.links, incident.clicks
        message.files = incident.files
    message.agent_info = (spam_verdict(spam_filter, sender),)
    if message.malware:
        message.agent_info += (malware_verdict(message.malware),)
    return message


def from_mailbox(
    draws: Draws, draft: Draft, sender: Mailbox, origin: str = "mailbox", client_ip: str = ""
) -> Message:
    """A message from a mailbox of the tenant, online or on the on-premises server."""
    scenario = draws.scenario
    message = _drawn_start(draws, draft, sender.address, ORIGINATING_SIZES)
    message.urls = draws.rng.randrange(0, 3)
    message.origin = origin
    message.sender_name = sender.name
    client = scenario.tenant.mailbox_servers[message.mailbox_server]
    if origin == "onprem":  # it arrives over the hybrid connector, from the server's public name
        client = Host(scenario.onprem.public_host, scenario.onprem.public_ip)
    message.client_ip, message.client_hostname = client.ip, client.host
    message.original_client_ip = client_ip or sender.client_ip
    message.agent_info = rule_hits(scenario, sender.address, draft.recipients)
    return message


def spam_verdict(spam_filter: dict[str, object], sender: Correspondent) -> str:
    """custom_data of the spam filter agent (S:SFA=SUM|...) for a message from ``sender``."""
    sfv, srv = spam_filter["SFV"], spam_filter.get("SRV", "")
    sfs = "(130005001)(9610025)(8096001)" if sfv == "SPM" else ""
    return (
        f"S:SFA=SUM|SFV={sfv}|IPV=NLI|SRV={srv}|SFS={sfs}|SCL={spam_filter['SCL']}|SCORE=-1"
        f"|LIST=0|DI={spam_filter['DI']}|RD={sender.host}|H={sender.host}|CIP={sender.ip}"
        f"|SFP=1501|ASF=1|CTRY={sender.country}|CLTCTRY=|LANG={sender.language}"
        "|LAT=0|LAT=0|LAT=0|FPR=|IPVD=|CSP=none"
    )


def malware_verdict(malware: dict[str, str]) -> str:
    """custom_data of the anti-malware agent blocking an attachment (action=b)."""
    return (
        "S:AMA=SUM|v=1|action=b|error=|atch=1;"
        f"S:AMA=EV|engine=M|v=1|sig={malware['signatures']}|name={malware['name']}"
        f"|file={malware['file']}"
    )


def rule_hits(scenario: Scenario, sender: str, recipients: list[Recipient]) -> tuple[str, ...]:
    """custom_data of each transport rule acting on a message (S:TRA=ETR|...)."""
    outside = any(not scenario.is_internal(r.address) for r in recipients)
    return tuple(
        f"S:TRA=ETR|ruleId={rule.id}|st={month_first(ticks_of(rule.modified))}"
        f"|action={rule.action}|sev=1|mode=Enforce"
        for rule in scenario.tenant.transport_rule
        if outside and domain_of(sender) == rule.from_domain
    )


# ------------------------------------------------------------------------------ the records


def _incident(draws: Draws, incident: Incident, built: dict[str, Message]) -> Message:
    scenario = draws.scenario
    if incident.bounce_of:
        return _dsn(draws, incident, built[incident.bounce_of])
    draft = Draft(
        key=incident.key,
        received=ticks_of(incident.at) if incident.at else 0,
        recipients=list(incident.recipients),
        subject=incident.subject,
        network_message_id=incident.network_message_id,
        message_id=incident.message_id,
        size=incident.size,
        details=incident.details,
        extras=incident,
    )
    if incident.forward_of:
        return _forward(draws, draft, incident, built[incident.forward_of])
    if scenario.is_internal(incident.sender):
        given = [name for name in OUTSIDE_ONLY if getattr(incident, name)]
        if given:
            raise ValueError(
                f"scenario.toml, incident {incident.key}: {given[0]} is for mail from outside"
            )
        on_premises = any(m.address == incident.sender for m in scenario.onprem.mailboxes)
        origin = "onprem" if on_premises else "mailbox"
        return from_mailbox(draws, draft, scenario.mailbox_of(incident.sender), origin)
    urls = scenario.defaults["inbound_urls"] if incident.urls is None else incident.urls
    return from_outside(draws, draft, scenario.correspondent(incident.sender), urls)


def _dsn(draws: Draws, incident: Incident, failed: Message) -> Message:
    """The delivery status notification of a failure, to its sender, from the same server."""
    scenario = draws.scenario
    return Message(
        key=incident.key,
        network_message_id=incident.network_message_id,
        message_id=incident.message_id,
        received=failed.received + seconds(incident.after),
        sender=scenario.tenant.dsn_sender,
        sender_name="Microsoft Outlook",
        subject=("Undeliverable: " + failed.subject)[: scenario.subject_limit],
        size=draws.rng.randrange(*DSN_SIZES),
        origin="dsn",
        recipients=[Recipient(failed.sender, "deliver")],
        mailbox_server=failed.mailbox_server,
        return_path="<>",
        reference=failed.message_id,
    )


def _forward(draws: Draws, draft: Draft, incident: Incident, forwarded: Message) -> Message:
    """An inbox rule's forward: a new message from the mailbox the forwarded one reached."""
    if len(forwarded.recipients) != 1:
        raise ValueError(f"scenario.toml, incident {incident.key}: forward_of needs one recipient")
    draft.subject = "FW: " + forwarded.subject
    draft.size = forwarded.size + incident.grows_by
    mailbox = draws.scenario.mailbox_of(forwarded.recipients[0].address)
    message = from_mailbox(draws, draft, mailbox, origin="mailboxrule")
    # An inbox rule's message is made by the mailbox, not sent from a client: no client IP.
    message.original_client_ip = ""
    message.reference = forwarded.message_id
    return message


def _burst(draws: Draws) -> list[Message]:
    burst = draws.scenario.burst
    sender = draws.scenario.mailbox_of(burst.sender)
    addresses = [f"{local}@{domain}" for local in burst.local_parts for domain in burst.domains]
    each = burst.recipients_each
    messages = []
    for number in range(burst.messages):
        batch = addresses[number * each : number * each + each]
        draft = Draft(
            key=f"burst-{number + 1:02d}",
            received=ticks_of(burst.first) + seconds(number * burst.every),
            recipients=[Recipient(address, "send") for address in batch],
            subject=burst.subject,
            size=burst.size,
        )
        messages.append(from_mailbox(draws, draft, sender, client_ip=burst.client_ip))
    return messages


def _ordinary(draws: Draws, number: int, ordinary: Ordinary) -> Message:
    """A background message: its record's values, the rest drawn (scenario.toml's order)."""
    rng, scenario = draws.rng, draws.scenario
    background = scenario.background
    hour = rng.randrange(7, 18) if ordinary.hour is None else ordinary.hour
    minute, second = rng.randrange(60), rng.randrange(60)
    received = scenario.start + seconds(((ordinary.day * 24 + hour) * 60 + minute) * 60 + second)
    draft = Draft(f"bg-{number:02d}", received, list(ordinary.recipients), ordinary.subject)
    mailboxes = scenario.mailbox
    if ordinary.kind == "inbound":
        draft.subject = draft.subject or rng.choice(background.subjects)
        pool = [m for m in mailboxes if m.address not in background.never_drawn]
        drawn = [Recipient(m.address, "deliver") for m in rng.sample(pool, rng.randrange(1, 3))]
        draft.recipients = draft.recipients or drawn
        urls = rng.randrange(0, 4)
        return from_outside(draws, draft, scenario.correspondent(ordinary.sender), urls)
    if ordinary.sender:
        sender = scenario.mailbox_of(ordinary.sender)
    else:
        senders = [m for m in mailboxes if domain_of(m.address) == background.senders_domain]
        sender = scenario.mailbox_of(senders[rng.randrange(len(senders))].address)
    if not draft.recipients and ordinary.kind == "internal":
        others = [m for m in mailboxes if m.address != sender.address]
        chosen = rng.sample(others, rng.randrange(1, 4))
        draft.recipients = [
            Recipient(m.address, "deliver", "To" if n == 0 else "Cc") for n, m in enumerate(chosen)
        ]
    elif not draft.recipients:
        partner = scenario.partner[rng.randrange(len(scenario.partner))]
        draft.recipients = [Recipient(partner.address, "send")]
    draft.subject = draft.subject or rng.choice(background.subjects)
    return from_mailbox(draws, draft, sender)


def build_messages(scenario: Scenario, rng: random.Random) -> list[Message]:
    """Every message of the scenario, incidents, burst and background, in time order.

    Args:
        scenario: the records.
        rng: the seeded stream; the caller goes on drawing from it (transport events).
    """
    draws = Draws(scenario, rng)
    built: dict[str, Message] = {}
    for incident in scenario.incident:
        built[incident.key] = _incident(draws, incident, built)
    messages = [*built.values(), *_burst(draws)]
    for number, ordinary in enumerate(scenario.background.message, start=1):
        messages.append(_ordinary(draws, number, ordinary))
    messages.sort(key=lambda m: (m.received, m.key))
    return messages
