"""Deterministic sample exports of one fictional tenant, in every format msgtrace reads.

``write_samples(folder)`` renders three days of Contoso's mail (Monday 16 to Wednesday 18
November 2026, UTC; tenant domains contoso.com and contoso.co.uk, about 60 messages) into
every export format and encoding an investigator meets. The SAME messages appear in several
files, as when an investigator downloads a summary, an enhanced summary and an extended report
for the same period: ids, times and addresses agree across formats. Run
``python -m analyzer.samples [FOLDER]`` to regenerate (default: the repository's ``samples/``).

Output is byte-for-byte deterministic: one seeded ``random.Random``, a fixed base time, never
the wall clock. ``tests/test_samples.py`` checks that the committed ``samples/`` equal a fresh
run, so this module is the source of truth for every sample file.

All addresses are fictional: Microsoft's example companies (contoso.com, fabrikam.com, ...),
``.example`` domains for attackers, and IPs from the documentation ranges (192.0.2.0/24,
198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32).

Scenarios (name, network message id, what happens; the Internet message ids are in
``SCENARIOS``). Times are UTC.

- ``hybrid_onprem_to_cloud`` a2ac77fd-36c6-8c2a-f238-08de35daa570: Mon 08:05,
  facilities@contoso.com, a mailbox on the on-premises Exchange 2019 server EX01, mails
  alice.wong@contoso.com in Exchange Online. Seen in the MSGTRK log (SEND to Office 365) and in
  the extended report (RECEIVE from on-premises), with the same ids.
- ``inbound_to_onprem`` a5a7d0e2-8115-dd9a-565b-08deee302ee3: Mon 08:21, fabrikam.com mails
  facilities@contoso.com; Exchange Online SENDs it to the on-premises server, whose MSGTRK log
  RECEIVEs and DELIVERs it.
- ``partial_failure`` b006c93f-3057-5f95-8184-08de035e26fb: Mon 10:02, bob.smith mails
  carol.jones (DELIVER) and mark.jonson@contoso.com, a typo (FAIL
  ``550 5.1.1 RESOLVER.ADR.RecipNotFound; not found``).
- ``partial_failure_dsn`` 930beadd-a0ce-37d9-8080-08de857a05c4: the DSN (event DSN, source
  DSN) of that failure, delivered to bob.smith; its ``reference`` is the failed message's id.
- ``group_expansion`` 904023d8-3eb6-5079-f062-08de8095682e: Mon 11:30, northwindtraders.com
  mails sales@contoso.com, EXPANDed to dan.miller, erin.garcia and frank.lee, all delivered.
  As in Exchange's tracking logs, the EXPAND row lists the members in ``recipient_address``
  and the group in ``related_recipient_address``.
- ``deferred_then_delivered`` 41dec90c-8ec3-2bcf-5b58-08de8fb4b647: Mon 13:15, inbound to
  grace.kim, DEFERred twice (``451 4.4.0``) and DELIVERed 45 minutes later.
- ``transport_rule_disclaimer`` 92a25d95-3963-55ef-095f-08deb4dd37aa: Mon 15:40,
  isla.taylor@contoso.co.uk mails lucernepublishing.com; the rule "UK external disclaimer"
  (ruleId 5c1e7f0a-2b9d-4e36-a8f1-0d7c4b2e9a13) applies ApplyHtmlDisclaimer. The rule acts on
  every outbound message from contoso.co.uk.
- ``spam_quarantined`` c80b16d3-1f61-397e-a49b-08de751e5402: Tue 03:14, Russian-language bulk
  spam to henry.patel (SFV=SPM, SCL=9, DI=SQ, CTRY=RU), quarantined.
- ``malware_quarantined`` d107033f-3a53-5406-2f19-08de3470ddb2: Tue 09:47, invoice.zip with
  Trojan:Win32/Sample to alice.wong (AMA action=b), quarantined.
- ``bulk_junked`` 65419878-368a-6ae5-f089-08de01b22b44: Tue 12:00, a newsletter with an emoji
  subject to carol.jones, SCL 5, delivered to Junk (FilteredAsSpam).
- ``attacker_hyperlink`` 236c9b37-b991-38c2-314a-08de28638282: Tue 22:10, subject
  ``=HYPERLINK("http://evil.example","x")`` (a spreadsheet formula), delivered to frank.lee.
- ``attacker_markup`` c6048f5f-3c82-433a-8c4d-08de889f834c: Tue 23:30, a subject carrying
  ``<img src=x onerror=alert(1)>`` and ``</script><script>``, delivered to Junk.
- ``lookalike_phish`` 34349d2d-14c6-414b-9771-08de2a7c7180: Wed 09:12, it-support@c0ntoso.com
  (a look-alike domain first seen here, in the last third of the data) phishes victim,
  henry.patel and grace.kim; SCL 6 yet DELIVERed. Defender ZAP moves it to quarantine at 09:58.
- ``forward_trigger`` 6ae1af81-00dd-369e-a0c5-08de7f3ddff2: Wed 10:41, fabrikam.com mails
  victim@contoso.com, whose mailbox the attacker now controls.
- ``inbox_rule_forward`` 9fa2baa7-a0e4-1bb8-2ff7-08deeb3e8118: an inbox rule of
  victim@contoso.com forwards that message: a RECEIVE with source MAILBOXRULE of a new message
  whose ``reference`` is the trigger's message id, SENT to x.collector.4471@gmail.com.
- ``mailbox_redirect`` 3e7b00e0-d60b-43d6-6c5a-08dea048b640: Wed 10:55, northwindtraders.com
  mails victim; mailbox forwarding REDIRECTs a copy to the same gmail.com address (the SEND row
  carries a rewritten SRS return path) and delivers the original.
- ``outbound_burst``: Wed 11:02 to 11:11, victim@contoso.com sends 11 messages with one subject
  to 33 outside recipients from 203.0.113.66, an IP it never otherwise uses (its office IP is
  198.51.100.23). Network message ids are generated (``key`` burst-01 to burst-11).
- ``pending_deferral`` 8d5dfa7c-76d4-6c61-1f07-08dec2a73162: Wed 23:20, dan.miller mails
  proseware.com, whose server drops the connection: DEFERred three times, no end before the data
  stops (Pending; GettingStatus in the Get-MessageTrace export).
- ``onprem_internal`` (MSGTRK log only): Mon 08:40, facilities@contoso.com mails
  records@contoso.com, both on EX01.

Background traffic (about 30 messages, ``key`` bg-01 ...) is inbound, internal and outbound mail
whose subjects exercise quoting: commas, double quotes, a newline, Cyrillic, Japanese, emoji,
cp1252 Latin (é, ü, ß, €) and one subject cut at 256 characters, as Exchange cuts them.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

SEED = 4471_2026
#: Start of the data (Monday 16 November 2026, 00:00 UTC); the data covers three days.
BASE_TIME = datetime(2026, 11, 16, tzinfo=UTC)
DAYS = 3
TICKS_PER_SECOND = 10_000_000  # timestamps carry 7 fractional digits: 100 ns ticks
SUBJECT_LIMIT = 256  # Exchange keeps the first 256 characters of a subject

TENANT_DOMAINS = ("contoso.com", "contoso.co.uk")
TENANT_ID = "3f6b2c1d-8e4a-4b7f-9c2d-5a1e0f9b7c64"
ORGANIZATION = "contoso.onmicrosoft.com"
VICTIM = "victim@contoso.com"
ATTACKER_MAILBOX = "x.collector.4471@gmail.com"
ATTACKER_IP = "203.0.113.66"
OFFICE_IP = "198.51.100.23"
LOOKALIKE_DOMAIN = "c0ntoso.com"
RULE_ID = "5c1e7f0a-2b9d-4e36-a8f1-0d7c4b2e9a13"
RULE_NAME = "UK external disclaimer"

FRONTEND = "BN8NAM12FT004.mail.protection.outlook.com"
FRONTEND_SHORT = "BN8NAM12FT004"
MAILBOX_SERVERS = (
    ("CH0PR12MB5307.namprd12.prod.outlook.com", "2001:db8:10b6:a03::21"),
    ("SN6PR12MB2623.namprd12.prod.outlook.com", "2001:db8:10b6:805::9"),
)
ONPREM_HOST = "mail.contoso.com"
ONPREM_IP = "198.51.100.10"
ONPREM_SERVER = "EX01"
ONPREM_FQDN = "EX01.contoso.local"
ONPREM_SERVER_IP = "10.0.1.21"
ONPREM_VERSION = "15.02.1118.007"
DSN_SENDER = "MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@contoso.com"


@dataclass(frozen=True)
class Scenario:
    """A scenario later stages rely on: its name, ids and what happens."""

    name: str
    network_message_id: str
    message_id: str
    summary: str


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "hybrid_onprem_to_cloud",
        "a2ac77fd-36c6-8c2a-f238-08de35daa570",
        "<DB5BE285678F1F9D.4E2A@EX01.contoso.local>",
        "on-premises mailbox to an Exchange Online mailbox (MSGTRK log and extended report)",
    ),
    Scenario(
        "inbound_to_onprem",
        "a5a7d0e2-8115-dd9a-565b-08deee302ee3",
        "<20261116082140.931F33F5525BB613@mail.fabrikam.com>",
        "inbound mail routed by Exchange Online to an on-premises mailbox",
    ),
    Scenario(
        "partial_failure",
        "b006c93f-3057-5f95-8184-08de035e26fb",
        "<CH0PR12MB5307C296AB1301ADFA28@CH0PR12MB5307.namprd12.prod.outlook.com>",
        "two recipients: one delivered, one 550 5.1.1 unknown recipient",
    ),
    Scenario(
        "partial_failure_dsn",
        "930beadd-a0ce-37d9-8080-08de857a05c4",
        "<5D343B47FDD0B802@CH0PR12MB5307.namprd12.prod.outlook.com>",
        "the DSN of the 5.1.1 failure, referencing the failed message",
    ),
    Scenario(
        "group_expansion",
        "904023d8-3eb6-5079-f062-08de8095682e",
        "<20261116113000.6FE6879085600DBF@northwindtraders.com>",
        "sales@contoso.com expanded to three members, delivered",
    ),
    Scenario(
        "deferred_then_delivered",
        "41dec90c-8ec3-2bcf-5b58-08de8fb4b647",
        "<20261116131500.DFDABA17D51862A6@adventure-works.com>",
        "deferred twice (451 4.4.0), then delivered",
    ),
    Scenario(
        "transport_rule_disclaimer",
        "92a25d95-3963-55ef-095f-08deb4dd37aa",
        "<SN6PR12MB262367333AD46F48A5A0@SN6PR12MB2623.namprd12.prod.outlook.com>",
        "transport rule ApplyHtmlDisclaimer on outbound mail from contoso.co.uk",
    ),
    Scenario(
        "spam_quarantined",
        "c80b16d3-1f61-397e-a49b-08de751e5402",
        "<E5E8F6BE7753D041@mx.skidki-mega.example>",
        "Russian-language bulk spam, SCL 9, quarantined",
    ),
    Scenario(
        "malware_quarantined",
        "d107033f-3a53-5406-2f19-08de3470ddb2",
        "<017B200F94489BBD@tailspin-billing.example>",
        "invoice.zip with Trojan:Win32/Sample, quarantined",
    ),
    Scenario(
        "bulk_junked",
        "65419878-368a-6ae5-f089-08de01b22b44",
        "<B67689B67C60865C@news.woodgrovebank-offers.example>",
        "bulk newsletter, SCL 5, delivered to Junk",
    ),
    Scenario(
        "attacker_hyperlink",
        "236c9b37-b991-38c2-314a-08de28638282",
        "<BA1C22F23FD7CB1B@secure-docs.example>",
        'subject `=HYPERLINK("http://evil.example","x")`, delivered',
    ),
    Scenario(
        "attacker_markup",
        "c6048f5f-3c82-433a-8c4d-08de889f834c",
        "<1D7E7A5B648D4236@invoices-portal.example>",
        "subject with `<img src=x onerror=alert(1)>` and `</script>`, delivered to Junk",
    ),
    Scenario(
        "lookalike_phish",
        "34349d2d-14c6-414b-9771-08de2a7c7180",
        "<35A7BFA873492510@mail.c0ntoso.com>",
        "look-alike domain phish, SCL 6 yet delivered; ZAP later",
    ),
    Scenario(
        "forward_trigger",
        "6ae1af81-00dd-369e-a0c5-08de7f3ddff2",
        "<20261118104100.1EA1D7B7D146E18A@mail.fabrikam.com>",
        "inbound message to the victim that an inbox rule forwards",
    ),
    Scenario(
        "inbox_rule_forward",
        "9fa2baa7-a0e4-1bb8-2ff7-08deeb3e8118",
        "<CH0PR12MB53074A59D6D1511153B1@CH0PR12MB5307.namprd12.prod.outlook.com>",
        "inbox-rule forward (source MAILBOXRULE) to an outside gmail.com address",
    ),
    Scenario(
        "mailbox_redirect",
        "3e7b00e0-d60b-43d6-6c5a-08dea048b640",
        "<20261118105500.638DCAAF63A6D0D2@northwindtraders.com>",
        "mailbox forwarding: REDIRECT of a copy to the gmail.com address",
    ),
    Scenario(
        "pending_deferral",
        "8d5dfa7c-76d4-6c61-1f07-08dec2a73162",
        "<CH0PR12MB5307A2ECE740E455FEEA@CH0PR12MB5307.namprd12.prod.outlook.com>",
        "deferred three times, still pending at the end of the data",
    ),
)
SCENARIO_BY_NAME: dict[str, Scenario] = {s.name: s for s in SCENARIOS}


# --------------------------------------------------------------------------------------------
# People and hosts


@dataclass(frozen=True)
class Person:
    """A mailbox: its address, display name and the IP it usually sends from."""

    address: str
    name: str
    client_ip: str = OFFICE_IP


INTERNAL = (
    Person("alice.wong@contoso.com", "Wong, Alice"),
    Person("bob.smith@contoso.com", "Smith, Bob"),
    Person("carol.jones@contoso.com", "Jones, Carol", "198.51.100.40"),
    Person("dan.miller@contoso.com", "Miller, Dan"),
    Person("erin.garcia@contoso.com", "Garcia, Erin"),
    Person("frank.lee@contoso.com", "Lee, Frank", "198.51.100.40"),
    Person("grace.kim@contoso.com", "Kim, Grace"),
    Person("henry.patel@contoso.com", "Patel, Henry"),
    Person(VICTIM, "Bowen, Megan (Finance)"),
    Person("isla.taylor@contoso.co.uk", "Taylor, Isla", "198.51.100.77"),
    Person("jack.evans@contoso.co.uk", "Evans, Jack", "198.51.100.77"),
)
PEOPLE = {p.address: p for p in INTERNAL}


@dataclass(frozen=True)
class Correspondent:
    """An outside organization: a sender there, its mail server, and its country."""

    address: str
    name: str
    host: str
    ip: str
    country: str
    language: str


CORRESPONDENTS = (
    Correspondent(
        "j.martin@fabrikam.com", "Jean Martin", "mail.fabrikam.com", "192.0.2.10", "US", "en"
    ),
    Correspondent(
        "orders@northwindtraders.com",
        "Northwind Orders",
        "smtp.northwindtraders.com",
        "192.0.2.20",
        "US",
        "en",
    ),
    Correspondent(
        "logistics@adventure-works.com",
        "Adventure Works Logistics",
        "mx1.adventure-works.com",
        "192.0.2.30",
        "CA",
        "en",
    ),
    Correspondent(
        "claire.dubois@lucernepublishing.com",
        "Claire Dubois",
        "mail.lucernepublishing.com",
        "192.0.2.40",
        "FR",
        "fr",
    ),
    Correspondent(
        "h.mueller@tailspintoys.com", "Hans Müller", "mx.tailspintoys.com", "192.0.2.50", "DE", "de"
    ),
    Correspondent(
        "sato.yuki@wingtiptoys.com", "佐藤 由紀", "mail.wingtiptoys.com", "192.0.2.60", "JP", "ja"
    ),
    Correspondent(
        "ivan.petrov@litwareinc.com", "Иван Петров", "mx.litwareinc.com", "192.0.2.70", "KZ", "ru"
    ),
)

#: Outside mail servers by recipient domain: (host, IP, how its 250 reply reads).
REMOTE_SERVERS: dict[str, tuple[str, str, str]] = {
    "gmail.com": ("gmail-smtp-in.l.google.com", "192.0.2.27", "gsmtp"),
    "proseware.com": ("mx.proseware.com", "198.51.100.90", "postfix"),
}
BURST_DOMAINS = (
    "fabrikam.com", "northwindtraders.com", "adventure-works.com", "lucernepublishing.com",
    "tailspintoys.com", "wingtiptoys.com", "litwareinc.com", "alpineskihouse.com",
    "fourthcoffee.com", "woodgrovebank.com", "proseware.com",
)  # fmt: skip
BURST_NAMES = ("accounts", "finance", "ap")


def remote_server(domain: str) -> tuple[str, str, str]:
    """The mail server of an outside domain: (host name, IP, style of its 250 reply)."""
    if domain in REMOTE_SERVERS:
        return REMOTE_SERVERS[domain]
    for c in CORRESPONDENTS:
        if c.address.endswith("@" + domain):
            return c.host, c.ip, "exchange"
    number = sum(domain.encode()) % 200 + 20
    return f"mx.{domain}", f"198.51.100.{number}", "postfix"


def is_internal(address: str) -> bool:
    """Whether an address is in one of the tenant's domains."""
    return address.rsplit("@", 1)[-1].lower() in TENANT_DOMAINS


# --------------------------------------------------------------------------------------------
# Time: integer 100 ns ticks since BASE_TIME, so 7 fractional digits are exact


def ticks(day: int, hour: int, minute: int, second: int, fraction: int = 0) -> int:
    """Ticks of day ``day`` (0 = Monday 16 November) at hh:mm:ss + ``fraction`` ticks."""
    return (
        ((day * 24 + hour) * 60 + minute) * 60 * TICKS_PER_SECOND
        + second * TICKS_PER_SECOND
        + fraction
    )


def seconds(value: float) -> int:
    """A duration in seconds as ticks."""
    return round(value * TICKS_PER_SECOND)


def _datetime(t: int) -> datetime:
    return BASE_TIME + timedelta(seconds=t // TICKS_PER_SECOND)


def iso7(t: int, zulu: bool = True) -> str:
    """``2026-11-16T08:15:30.1234567Z`` (extended report, enhanced summary, API)."""
    return f"{_datetime(t):%Y-%m-%dT%H:%M:%S}.{t % TICKS_PER_SECOND:07d}" + ("Z" if zulu else "")


def iso3(t: int) -> str:
    """``2026-11-16T08:15:30.123Z`` (tracking logs, Defender)."""
    return f"{_datetime(t):%Y-%m-%dT%H:%M:%S}.{t % TICKS_PER_SECOND // 10_000:03d}Z"


def month_first(t: int) -> str:
    """``11/16/2026 8:15:30 AM``: en-US, as the EAC summary and Windows PowerShell write it."""
    d = _datetime(t)
    hour = d.hour % 12 or 12
    return f"{d.month}/{d.day}/{d.year} {hour}:{d:%M:%S} {'AM' if d.hour < 12 else 'PM'}"


def day_first(t: int) -> str:
    """``16/11/2026 08:15:30``: en-GB, as Excel re-saves a summary on a UK machine."""
    d = _datetime(t)
    return f"{d.day}/{d.month}/{d.year} {d:%H:%M:%S}"


# --------------------------------------------------------------------------------------------
# The tenant's messages

#: What happened to one recipient.
#: deliver: DELIVER to a mailbox; send: SEND to an outside server; fail: FAIL 5.1.1;
#: defer_deliver: DEFER twice, then DELIVER; defer_pending: DEFER with no end;
#: quarantine: quarantined by a verdict; junk: delivered to Junk; expand: a group EXPANDed to
#: ``members``; redirect: delivered and REDIRECTed to ``redirect_to``; onprem: SEND to the
#: on-premises server.
OUTCOMES = (
    "deliver", "send", "fail", "defer_deliver", "defer_pending", "quarantine", "junk", "expand",
    "redirect", "onprem",
)  # fmt: skip


@dataclass
class Recipient:
    """One recipient of a message and what happened to it."""

    address: str
    outcome: str
    kind: str = "To"  # To / Cc on the RECEIVE row
    members: tuple[str, ...] = ()
    redirect_to: str = ""

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {self.outcome!r}; known: {', '.join(OUTCOMES)}")


@dataclass
class Message:
    """One message as the service saw it; every export is rendered from these."""

    key: str
    network_message_id: str
    message_id: str
    received: int
    sender: str
    subject: str
    size: int
    origin: str  # internet | mailbox | mailboxrule | dsn | onprem
    recipients: list[Recipient]
    internal_message_id: int = 0  # numbered in time order by build_messages
    client_ip: str = ""
    client_hostname: str = ""
    original_client_ip: str = ""
    return_path: str = ""
    reference: str = ""
    agent_info: tuple[str, ...] = ()
    verdict: str = ""  # spam | bulk | phish | malware (Defender's ThreatTypes)
    sender_name: str = ""
    authentication: str = ""
    attachments: int = 0
    urls: int = 0
    mailbox_server: int = 0
    in_exchange_online: bool = True
    details: bool = False  # also in the Get-MessageTraceDetail export
    event_rows: list[dict[str, str]] = field(default_factory=list)
    event_ticks: list[int] = field(default_factory=list)

    @property
    def incoming(self) -> bool:
        return self.origin == "internet"

    @property
    def direction(self) -> str:
        """inbound, outbound (originating with an outside recipient) or internal."""
        if self.incoming:
            return "inbound"
        if any(not is_internal(r.address) for r in self.recipients):
            return "outbound"
        return "internal"

    @property
    def directionality(self) -> str:
        return "Incoming" if self.incoming else "Originating"


def cap_subject(subject: str) -> str:
    """The subject as exports keep it: at most its first 256 characters."""
    return subject[:SUBJECT_LIMIT]


def spam_verdict(
    sfv: str, scl: int, di: str, country: str, language: str, host: str, ip: str, srv: str = ""
) -> str:
    """custom_data of the spam filter agent (S:SFA=SUM|...)."""
    sfs = "(130005001)(9610025)(8096001)" if sfv == "SPM" else ""
    return (
        f"S:SFA=SUM|SFV={sfv}|IPV=NLI|SRV={srv}|SFS={sfs}|SCL={scl}|SCORE=-1|LIST=0|DI={di}"
        f"|RD={host}|H={host}|CIP={ip}|SFP=1501|ASF=1|CTRY={country}|CLTCTRY=|LANG={language}"
        "|LAT=0|LAT=0|LAT=0|FPR=|IPVD=|CSP=none"
    )


MALWARE_VERDICT = (
    "S:AMA=SUM|v=1|action=b|error=|atch=1;"
    "S:AMA=EV|engine=M|v=1|sig=1.421.118.0|name=Trojan:Win32/Sample|file=invoice.zip"
)
TRANSPORT_RULE_HIT = (
    f"S:TRA=ETR|ruleId={RULE_ID}|st=7/17/2026 12:31:25 AM|action=ApplyHtmlDisclaimer|sev=1"
    "|mode=Enforce"
)
AUTH_PASS = '{"SPF":"pass","DKIM":"pass","DMARC":"pass","CompAuth":"pass"}'
AUTH_NONE = '{"SPF":"pass","DKIM":"none","DMARC":"none","CompAuth":"fail"}'

# Background subjects; each special one is used at least once. They exercise quoting.
SPECIAL_SUBJECTS = (
    "Budget review, Q4 – final numbers, please check",
    'He said "ship it" – release notes for 4.2',
    "Meeting notes\nAction items for Thursday",
    "Отчёт о продажах за октябрь",
    "会議の議事録（11月16日）",
    "Team lunch 🍕 on Friday? 🎉",
    "Réunion du comité – ordre du jour",
    "Größenänderung der Lieferung, Angebot 2.450 €",
    "Über die Rechnung Nr. 5531",
    "Minutes of the steering committee: "
    + "; ".join(
        f"item {n} (budget, staffing, vendor review, risks and open questions)" for n in range(1, 9)
    ),
)
PLAIN_SUBJECTS = (
    "Project Falcon status update",
    "Contract renewal",
    "Lunch tomorrow?",
    "Updated org chart",
    "Shipping schedule for week 47",
    "RE: Purchase order 88213",
    "Invitation: Design review",
    "Expense report approved",
    "Server maintenance window Saturday",
    "Timesheet reminder",
    "RE: Samples for the trade fair",
    "Draft agenda for the offsite",
)


class _Ids:
    """Ids drawn from the one seeded random stream."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def hex(self, digits: int) -> str:
        return f"{self.rng.getrandbits(4 * digits):0{digits}X}"

    def network_message_id(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-08de{h[24:32]}"

    def internet_message_id(self, sender: str, received: int, server: int) -> str:
        domain = sender.rsplit("@", 1)[1]
        if is_internal(sender):
            host = MAILBOX_SERVERS[server][0]
            short = host.split(".", 1)[0]
            return f"<{short}{self.hex(16)}@{host}>"
        if domain == "gmail.com":
            return f"<CAF{self.hex(24)}@mail.gmail.com>"
        return f"<{_datetime(received):%Y%m%d%H%M%S}.{self.hex(16)}@{domain}>"


def build_messages() -> list[Message]:
    """Every message of the sample tenant, scenarios and background, in time order."""
    rng = random.Random(SEED)
    ids = _Ids(rng)
    messages = _scenario_messages(ids) + _burst_messages(ids) + _background_messages(ids)
    messages.sort(key=lambda m: (m.received, m.key))
    internal_id = 4_120_000
    for message in messages:
        internal_id += rng.randrange(3, 40)
        message.internal_message_id = internal_id
        _add_exchange_online_events(message, rng)
    return messages


def _fraction(ids: _Ids) -> int:
    return ids.rng.randrange(TICKS_PER_SECOND)


def _inbound(
    ids: _Ids,
    key: str,
    when: int,
    sender: Correspondent,
    recipients: list[Recipient],
    subject: str,
    *,
    scenario: Scenario | None = None,
    verdict: tuple[str, int, str] = ("NSPM", 1, "SN"),
    extra_agent_info: tuple[str, ...] = (),
    threat: str = "",
    size: int | None = None,
    details: bool = False,
    attachments: int = 0,
    urls: int = 1,
    authentication: str = AUTH_PASS,
    srv: str = "",
) -> Message:
    sfv, scl, di = verdict
    received = when + _fraction(ids)
    server = ids.rng.randrange(len(MAILBOX_SERVERS))
    return Message(
        key=key,
        network_message_id=scenario.network_message_id if scenario else ids.network_message_id(),
        message_id=scenario.message_id
        if scenario
        else ids.internet_message_id(sender.address, received, server),
        received=received,
        sender=sender.address,
        sender_name=sender.name,
        subject=cap_subject(subject),
        size=size or ids.rng.randrange(8_000, 90_000),
        origin="internet",
        recipients=recipients,
        client_ip=sender.ip,
        client_hostname=sender.host,
        original_client_ip=sender.ip,
        return_path=sender.address,
        agent_info=(
            spam_verdict(
                sfv, scl, di, sender.country, sender.language, sender.host, sender.ip, srv
            ),
            *extra_agent_info,
        ),
        verdict=threat,
        authentication=authentication,
        attachments=attachments,
        urls=urls,
        mailbox_server=server,
        details=details,
    )


def _originating(
    ids: _Ids,
    key: str,
    when: int,
    sender: Person,
    recipients: list[Recipient],
    subject: str,
    *,
    scenario: Scenario | None = None,
    client_ip: str | None = None,
    size: int | None = None,
    details: bool = False,
    origin: str = "mailbox",
) -> Message:
    received = when + _fraction(ids)
    server = ids.rng.randrange(len(MAILBOX_SERVERS))
    outbound_uk = sender.address.endswith("@contoso.co.uk") and any(
        not is_internal(r.address) for r in recipients
    )
    return Message(
        key=key,
        network_message_id=scenario.network_message_id if scenario else ids.network_message_id(),
        message_id=scenario.message_id
        if scenario
        else ids.internet_message_id(sender.address, received, server),
        received=received,
        sender=sender.address,
        sender_name=sender.name,
        subject=cap_subject(subject),
        size=size or ids.rng.randrange(6_000, 60_000),
        origin=origin,
        recipients=recipients,
        client_ip=MAILBOX_SERVERS[server][1],
        client_hostname=MAILBOX_SERVERS[server][0],
        original_client_ip=client_ip or sender.client_ip,
        return_path=sender.address,
        agent_info=(TRANSPORT_RULE_HIT,) if outbound_uk else (),
        authentication=AUTH_PASS,
        urls=ids.rng.randrange(0, 3),
        mailbox_server=server,
        details=details,
    )


def _scenario_messages(ids: _Ids) -> list[Message]:
    s = SCENARIO_BY_NAME
    fabrikam, northwind, adventure, lucerne = (
        CORRESPONDENTS[0],
        CORRESPONDENTS[1],
        CORRESPONDENTS[2],
        CORRESPONDENTS[3],
    )
    messages: list[Message] = []

    # Hybrid: an on-premises mailbox (EX01) mails an Exchange Online mailbox.
    facilities = Person("facilities@contoso.com", "Facilities Desk", "10.0.5.77")
    hybrid = _originating(
        ids,
        "hybrid_onprem_to_cloud",
        ticks(0, 8, 5, 12),
        facilities,
        [Recipient("alice.wong@contoso.com", "deliver")],
        "Parking garage closed on Saturday",
        scenario=s["hybrid_onprem_to_cloud"],
        origin="onprem",
    )
    hybrid.client_ip, hybrid.client_hostname = ONPREM_IP, ONPREM_HOST
    messages.append(hybrid)

    messages.append(
        _inbound(
            ids,
            "inbound_to_onprem",
            ticks(0, 8, 21, 40),
            fabrikam,
            [Recipient("facilities@contoso.com", "onprem")],
            "Delivery of office furniture, dock 3",
            scenario=s["inbound_to_onprem"],
        )
    )

    bob = PEOPLE["bob.smith@contoso.com"]
    failed = _originating(
        ids,
        "partial_failure",
        ticks(0, 10, 2, 7),
        bob,
        [
            Recipient("carol.jones@contoso.com", "deliver"),
            Recipient("mark.jonson@contoso.com", "fail"),
        ],
        "Quarterly vendor review, slides attached",
        scenario=s["partial_failure"],
        details=True,
    )
    messages.append(failed)
    dsn_scenario = s["partial_failure_dsn"]
    messages.append(
        Message(
            key="partial_failure_dsn",
            network_message_id=dsn_scenario.network_message_id,
            message_id=dsn_scenario.message_id,
            received=failed.received + seconds(0.9),
            sender=DSN_SENDER,
            sender_name="Microsoft Outlook",
            subject=cap_subject("Undeliverable: " + failed.subject),
            size=ids.rng.randrange(30_000, 40_000),
            origin="dsn",
            recipients=[Recipient(bob.address, "deliver")],
            return_path="<>",
            reference=failed.message_id,
            mailbox_server=failed.mailbox_server,
        )
    )

    members = ("dan.miller@contoso.com", "erin.garcia@contoso.com", "frank.lee@contoso.com")
    messages.append(
        _inbound(
            ids,
            "group_expansion",
            ticks(0, 11, 30, 0),
            northwind,
            [Recipient("sales@contoso.com", "expand", members=members)],
            "Price list 2027, confidential",
            scenario=s["group_expansion"],
            attachments=1,
        )
    )
    messages.append(
        _inbound(
            ids,
            "deferred_then_delivered",
            ticks(0, 13, 15, 0),
            adventure,
            [Recipient("grace.kim@contoso.com", "defer_deliver")],
            "Customs documents for shipment 7731",
            scenario=s["deferred_then_delivered"],
            details=True,
            attachments=2,
        )
    )
    messages.append(
        _originating(
            ids,
            "transport_rule_disclaimer",
            ticks(0, 15, 40, 3),
            PEOPLE["isla.taylor@contoso.co.uk"],
            [Recipient(lucerne.address, "send")],
            "Proposition de contrat – révision n° 3",
            scenario=s["transport_rule_disclaimer"],
            details=True,
        )
    )

    spammer = Correspondent(
        "promo@skidki-mega.example",
        "Скидки Мега",
        "mx.skidki-mega.example",
        "203.0.113.14",
        "RU",
        "ru",
    )
    messages.append(
        _inbound(
            ids,
            "spam_quarantined",
            ticks(1, 3, 14, 55),
            spammer,
            [Recipient("henry.patel@contoso.com", "quarantine")],
            "Скидки до 90% только сегодня! Успейте купить",
            scenario=s["spam_quarantined"],
            verdict=("SPM", 9, "SQ"),
            srv="BULK",
            threat="Spam",
            authentication=AUTH_NONE,
            urls=14,
        )
    )
    malware_sender = Correspondent(
        "billing@tailspin-billing.example", "Tailspin Billing", "mail.tailspin-billing.example",
        "203.0.113.25", "NL", "en",
    )  # fmt: skip
    messages.append(
        _inbound(
            ids,
            "malware_quarantined",
            ticks(1, 9, 47, 31),
            malware_sender,
            [Recipient("alice.wong@contoso.com", "quarantine")],
            "Invoice #INV-20931, due today",
            scenario=s["malware_quarantined"],
            verdict=("NSPM", 1, "SQ"),
            extra_agent_info=(MALWARE_VERDICT,),
            threat="Malware",
            size=212_344,
            details=True,
            attachments=1,
            urls=0,
            authentication=AUTH_NONE,
        )
    )
    newsletter = Correspondent(
        "news@news.woodgrovebank-offers.example", "Woodgrove Rewards",
        "out.woodgrovebank-offers.example", "198.51.100.150", "US", "en",
    )  # fmt: skip
    messages.append(
        _inbound(
            ids,
            "bulk_junked",
            ticks(1, 12, 0, 4),
            newsletter,
            [Recipient("carol.jones@contoso.com", "junk")],
            "🎉 Your November rewards are here – don't miss out! 💳",
            scenario=s["bulk_junked"],
            verdict=("SPM", 5, "SJ"),
            srv="BULK",
            threat="Spam",
            urls=22,
        )
    )
    docs = Correspondent(
        "no-reply@secure-docs.example",
        "Secure Docs",
        "mta.secure-docs.example",
        "203.0.113.40",
        "US",
        "en",
    )
    messages.append(
        _inbound(
            ids,
            "attacker_hyperlink",
            ticks(1, 22, 10, 9),
            docs,
            [Recipient("frank.lee@contoso.com", "deliver")],
            '=HYPERLINK("http://evil.example","x")',
            scenario=s["attacker_hyperlink"],
            urls=1,
        )
    )
    portal = Correspondent(
        "billing@invoices-portal.example", "Invoices Portal", "smtp.invoices-portal.example",
        "203.0.113.41", "US", "en",
    )  # fmt: skip
    messages.append(
        _inbound(
            ids,
            "attacker_markup",
            ticks(1, 23, 30, 44),
            portal,
            [Recipient("erin.garcia@contoso.com", "junk")],
            "Your invoice <img src=x onerror=alert(1)></script><script>alert(2)</script>",
            scenario=s["attacker_markup"],
            verdict=("SPM", 5, "SJ"),
            threat="Spam",
            authentication=AUTH_NONE,
        )
    )

    lookalike = Correspondent(
        f"it-support@{LOOKALIKE_DOMAIN}",
        "Contoso IT Support",
        f"mail.{LOOKALIKE_DOMAIN}",
        "203.0.113.88",
        "US",
        "en",
    )
    messages.append(
        _inbound(
            ids,
            "lookalike_phish",
            ticks(2, 9, 12, 4),
            lookalike,
            [
                Recipient(VICTIM, "deliver"),
                Recipient("henry.patel@contoso.com", "deliver"),
                Recipient("grace.kim@contoso.com", "deliver"),
            ],
            "Action required: your Contoso password expires today",
            scenario=s["lookalike_phish"],
            verdict=("SPM", 6, "SN"),
            threat="Phish",
            details=True,
            urls=2,
            authentication=AUTH_NONE,
        )
    )
    trigger = _inbound(
        ids,
        "forward_trigger",
        ticks(2, 10, 41, 0),
        fabrikam,
        [Recipient(VICTIM, "deliver")],
        "RE: Wire transfer details for invoice 4471",
        scenario=s["forward_trigger"],
        attachments=1,
    )
    messages.append(trigger)
    victim = PEOPLE[VICTIM]
    forward = _originating(
        ids,
        "inbox_rule_forward",
        ticks(2, 10, 41, 3),
        victim,
        [Recipient(ATTACKER_MAILBOX, "send")],
        "FW: " + trigger.subject,
        scenario=s["inbox_rule_forward"],
        origin="mailboxrule",
        details=True,
        size=trigger.size + 2_310,
    )
    # An inbox rule's message is made by the mailbox, not sent from a client: no client IP.
    forward.original_client_ip = ""
    forward.reference = trigger.message_id
    messages.append(forward)
    messages.append(
        _inbound(
            ids,
            "mailbox_redirect",
            ticks(2, 10, 55, 12),
            northwind,
            [Recipient(VICTIM, "redirect", redirect_to=ATTACKER_MAILBOX)],
            "Payment confirmation – remittance 2026-11-18",
            scenario=s["mailbox_redirect"],
            attachments=1,
        )
    )
    messages.append(
        _originating(
            ids,
            "pending_deferral",
            ticks(2, 23, 20, 1),
            PEOPLE["dan.miller@contoso.com"],
            [Recipient("orders@proseware.com", "defer_pending")],
            "Order 55120: revised quantities",
            scenario=s["pending_deferral"],
        )
    )
    return messages


def _burst_messages(ids: _Ids) -> list[Message]:
    """The compromised mailbox mails 33 outside recipients in 10 minutes from a new IP."""
    victim = PEOPLE[VICTIM]
    addresses = [f"{name}@{domain}" for name in BURST_NAMES for domain in BURST_DOMAINS]
    messages = []
    for number in range(11):
        when = ticks(2, 11, 2, 10) + seconds(number * 52.5)
        batch = addresses[number * 3 : number * 3 + 3]
        messages.append(
            _originating(
                ids,
                f"burst-{number + 1:02d}",
                when,
                victim,
                [Recipient(address, "send") for address in batch],
                "Please review: remittance advice, shared document",
                client_ip=ATTACKER_IP,
                size=41_877,
            )
        )
    return messages


def _background_messages(ids: _Ids) -> list[Message]:
    """Ordinary traffic: inbound, internal and outbound mail over the three days."""
    rng = ids.rng
    # Subjects from abroad: correspondent index -> SPECIAL_SUBJECTS indexes, used in turn
    # (French and German Latin text from Lucerne and Tailspin, Japanese, Cyrillic).
    from_abroad = {3: [6], 4: [7, 8], 5: [4], 6: [3]}
    # The other special subjects go on the first internal and outbound messages.
    special = [0, 1, 2, 5, 9]
    plan: list[tuple[str, int]] = []  # (kind, day)
    # Each correspondent first writes on Monday, so no ordinary domain is "first seen" late.
    plan += [("inbound", 0)] * len(CORRESPONDENTS)
    plan += [("internal", day) for day in (0, 0, 1, 1, 1, 2, 2)]
    plan += [("outbound", day) for day in (0, 1, 1, 2, 2)]
    plan += [("inbound", day) for day in (1, 1, 1, 2, 2, 2, 2, 0)]
    plan += [("uk_outbound", day) for day in (1, 2)]
    messages = []
    inbound_count = 0
    for number, (kind, day) in enumerate(plan, start=1):
        when = ticks(day, rng.randrange(7, 18), rng.randrange(60), rng.randrange(60))
        key = f"bg-{number:02d}"
        if kind == "inbound":
            index = inbound_count % len(CORRESPONDENTS)
            inbound_count += 1
            sender = CORRESPONDENTS[index]
            if from_abroad.get(index):
                subject = SPECIAL_SUBJECTS[from_abroad[index].pop(0)]
            else:
                subject = rng.choice(PLAIN_SUBJECTS)
            people = [p for p in INTERNAL if p.address != VICTIM]
            chosen = rng.sample(people, rng.randrange(1, 3))
            recipients = [Recipient(p.address, "deliver") for p in chosen]
            if inbound_count in (2, 9):  # the victim's ordinary mail, before the attack
                recipients = [Recipient(VICTIM, "deliver")]
            urls = rng.randrange(0, 4)
            messages.append(_inbound(ids, key, when, sender, recipients, subject, urls=urls))
            continue
        if kind == "uk_outbound":
            sender = PEOPLE["jack.evans@contoso.co.uk" if day == 1 else "isla.taylor@contoso.co.uk"]
            target = CORRESPONDENTS[3 if day == 1 else 4]
            subject = rng.choice(PLAIN_SUBJECTS)
            recipients = [Recipient(target.address, "send")]
            messages.append(_originating(ids, key, when, sender, recipients, subject))
            continue
        senders = [p for p in INTERNAL if not p.address.endswith(".co.uk")]
        sender = senders[rng.randrange(len(senders))]
        if kind == "internal":
            others = [p for p in INTERNAL if p.address != sender.address]
            chosen = rng.sample(others, rng.randrange(1, 4))
            recipients = [
                Recipient(p.address, "deliver", "To" if n == 0 else "Cc")
                for n, p in enumerate(chosen)
            ]
        else:
            target = CORRESPONDENTS[rng.randrange(len(CORRESPONDENTS))]
            recipients = [Recipient(target.address, "send")]
        subject = SPECIAL_SUBJECTS[special.pop(0)] if special else rng.choice(PLAIN_SUBJECTS)
        messages.append(_originating(ids, key, when, sender, recipients, subject))
    # The victim's own ordinary mail, from the office, on Monday and Tuesday.
    victim = PEOPLE[VICTIM]
    for number, (day, hour) in enumerate(((0, 9), (1, 14)), start=len(plan) + 1):
        target = CORRESPONDENTS[number % len(CORRESPONDENTS)]
        recipients = [
            Recipient(target.address, "send"),
            Recipient("alice.wong@contoso.com", "deliver", "Cc"),
        ]
        when = ticks(day, hour, rng.randrange(60), rng.randrange(60))
        subject = "Payment run for this week"
        messages.append(_originating(ids, f"bg-{number:02d}", when, victim, recipients, subject))
    return messages


# --------------------------------------------------------------------------------------------
# Exchange Online transport events (the extended report's rows)

EXTENDED_COLUMNS = (
    "date_time_utc", "client_ip", "client_hostname", "server_ip", "server_hostname",
    "source_context", "connector_id", "source", "event_id", "internal_message_id", "message_id",
    "network_message_id", "recipient_address", "recipient_status", "total_bytes",
    "recipient_count", "related_recipient_address", "reference", "message_subject",
    "sender_address", "return_path", "message_info", "directionality", "tenant_id",
    "original_client_ip", "original_server_ip", "custom_data",
)  # fmt: skip

DELIVERED = "250 2.1.5 Recipient OK"
NOT_FOUND = "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
# A shadow-redundancy deferral, the most common 451 4.4.0 in Exchange Online.
REDUNDANCY_DEFER = (
    "451 4.4.0 Message failed to be made redundant due to A shadow copy was required but "
    "failed to be made with an AckStatus of Fail"
)
CONNECTION_DEFER = (
    '451 4.4.0 Primary target IP address responded with: "421 4.4.2 Connection dropped due to '
    'SocketError." Attempted failover to alternate host, but that did not succeed. Either there '
    "are no alternate hosts, or delivery failed to all alternate hosts. The last endpoint "
    "attempted was 198.51.100.90:25"
)
STORE_DRIVER_DATA = "S:DeliveryPriority=Normal;S:AccountForest=NAMPR12A004.PROD.OUTLOOK.COM"


def _send_reply(style: str, message: Message, rng: random.Random) -> str:
    if style == "gsmtp":
        stamp = int(_datetime(message.received).timestamp())
        return (
            f"250 2.0.0 OK  {stamp} {rng.getrandbits(40):010x}si{rng.randrange(10**6):06d} - gsmtp"
        )
    if style == "exchange":
        inner = message.message_id.strip("<>")
        return f"250 2.6.0 <{inner}> [InternalId={rng.randrange(10**12)}] Queued mail for delivery"
    return f"250 2.0.0 Ok: queued as {rng.getrandbits(40):010X}"


def _add_exchange_online_events(message: Message, rng: random.Random) -> None:
    """Fill ``message.event_rows``: its transport events as Exchange Online tracks them."""
    mailbox_host, mailbox_ip = MAILBOX_SERVERS[message.mailbox_server]
    common = {
        "internal_message_id": str(message.internal_message_id),
        "message_id": message.message_id,
        "network_message_id": message.network_message_id,
        "total_bytes": str(message.size),
        "message_subject": message.subject,
        "sender_address": message.sender,
        "return_path": message.return_path,
        "directionality": message.directionality,
        "tenant_id": TENANT_ID,
        "original_client_ip": message.original_client_ip,
    }
    rows: list[tuple[int, dict[str, str]]] = []

    def add(
        t: int, event_id: str, source: str, recipients: list[str], statuses: list[str], **more: str
    ) -> None:
        row = dict.fromkeys(EXTENDED_COLUMNS, "")
        row.update(common)
        row.update(
            date_time_utc=iso7(t),
            event_id=event_id,
            source=source,
            recipient_address=";".join(recipients),
            recipient_status=";".join(statuses),
            recipient_count=str(len(recipients)),
        )
        row.update(more)
        rows.append((t, row))

    t = message.received
    top = [r.address for r in message.recipients]
    if message.origin == "dsn":
        add(t, "DSN", "DSN", top, [""], reference=message.reference, server_hostname=mailbox_host)
    else:
        receive: dict[str, str] = {}
        if message.origin in ("internet", "onprem"):
            receive = {
                "client_ip": message.client_ip,
                "client_hostname": message.client_hostname,
                "server_hostname": FRONTEND,
                "source_context": f"08DE{rng.getrandbits(48):012X};{iso3(t)};0",
                "connector_id": (
                    "Inbound from contoso on-premises"
                    if message.origin == "onprem"
                    else f"{FRONTEND_SHORT}\\Default {FRONTEND_SHORT}"
                ),
                "message_info": (
                    f"{iso3(t - seconds(0.4))};SRV={FRONTEND}:TOTAL-FE=0.0{rng.randrange(10, 99)}"
                ),
            }
        elif message.origin == "mailbox":
            receive = {
                "client_ip": mailbox_ip,
                "client_hostname": mailbox_host,
                "server_hostname": mailbox_host,
                "source_context": (
                    f"MDB:{_guid(rng)}, Mailbox:{_guid(rng)}, Event:{rng.randrange(10**8)}, "
                    f"MessageClass:IPM.Note, CreationTime:{iso3(t - seconds(1.3))}, ClientType:OWA"
                ),
                "message_info": "04I:",
            }
        else:  # mailboxrule: the mailbox's inbox rule makes a new message
            receive = {
                "client_hostname": mailbox_host,
                "server_hostname": mailbox_host,
                "source_context": f"Mailbox:{_guid(rng)}, RuleProcessing:InboxRule",
            }
        source = {
            "internet": "SMTP",
            "onprem": "SMTP",
            "mailbox": "STOREDRIVER",
            "mailboxrule": "MAILBOXRULE",
        }
        add(
            t,
            "RECEIVE",
            source[message.origin],
            top,
            [r.kind for r in message.recipients],
            reference=message.reference,
            **receive,
        )
    for n, data in enumerate(message.agent_info):
        add(t + seconds(0.31 + 0.07 * n), "AGENTINFO", "AGENT", top, [""], custom_data=data)

    later = t + seconds(1.2) + rng.randrange(TICKS_PER_SECOND)
    delivered: list[str] = []
    sends: dict[str, list[str]] = {}
    for r in message.recipients:
        if r.outcome in ("deliver", "junk"):
            delivered.append(r.address)
        elif r.outcome == "send":
            sends.setdefault(r.address.rsplit("@", 1)[1], []).append(r.address)
        elif r.outcome == "fail":
            add(
                t + seconds(0.2),
                "FAIL",
                "ROUTING",
                [r.address],
                [NOT_FOUND],
                server_hostname=mailbox_host,
            )
        elif r.outcome == "expand":
            add(
                t + seconds(0.5),
                "EXPAND",
                "ROUTING",
                list(r.members),
                [""],
                related_recipient_address=r.address,
                server_hostname=mailbox_host,
            )
            delivered.extend(r.members)
        elif r.outcome == "redirect":
            add(
                t + seconds(0.5),
                "REDIRECT",
                "ROUTING",
                [r.redirect_to],
                [""],
                related_recipient_address=r.address,
                server_hostname=mailbox_host,
            )
            delivered.append(r.address)
            sends.setdefault(r.redirect_to.rsplit("@", 1)[1], []).append(r.redirect_to)
        elif r.outcome == "defer_deliver":
            add(
                t + seconds(3.1),
                "DEFER",
                "SMTP",
                [r.address],
                [REDUNDANCY_DEFER],
                server_hostname=FRONTEND,
            )
            add(
                t + seconds(907.4),
                "DEFER",
                "SMTP",
                [r.address],
                [REDUNDANCY_DEFER],
                server_hostname=FRONTEND,
            )
            add(
                t + seconds(2719.8),
                "DELIVER",
                "STOREDRIVER",
                [r.address],
                [DELIVERED],
                client_ip=mailbox_ip,
                server_hostname=mailbox_host,
                custom_data=STORE_DRIVER_DATA,
            )
        elif r.outcome == "defer_pending":
            host, ip, _ = remote_server(r.address.rsplit("@", 1)[1])
            for offset in (4.2, 906.3, 1808.9):
                add(
                    t + seconds(offset),
                    "DEFER",
                    "SMTP",
                    [r.address],
                    [CONNECTION_DEFER],
                    server_ip=ip,
                    server_hostname=host,
                    connector_id="Internet",
                )
        elif r.outcome == "onprem":
            reply = (
                f"250 2.6.0 {message.message_id} [InternalId={rng.randrange(10**11)}, "
                f"Hostname={ONPREM_FQDN}] Queued mail for delivery"
            )
            add(
                t + seconds(1.9),
                "SEND",
                "SMTP",
                [r.address],
                [reply],
                server_ip=ONPREM_IP,
                server_hostname=ONPREM_HOST,
                connector_id="Outbound to contoso on-premises",
            )
        # quarantine: the verdict (DI=SQ / AMA action=b) is the last word; nothing follows.
    if delivered:
        add(
            later,
            "DELIVER",
            "STOREDRIVER",
            delivered,
            [DELIVERED] * len(delivered),
            client_ip=mailbox_ip,
            server_hostname=mailbox_host,
            custom_data=STORE_DRIVER_DATA,
        )
    for n, (domain, addresses) in enumerate(sends.items()):
        host, ip, style = remote_server(domain)
        redirected = message.incoming
        add(
            later + seconds(0.8 + 0.3 * n),
            "SEND",
            "SMTP",
            addresses,
            [_send_reply(style, message, rng) for _ in addresses],
            server_ip=ip,
            server_hostname=host,
            connector_id="Internet",
            # A redirected copy of outside mail leaves with a rewritten (SRS) return path.
            return_path=_srs(message.sender, rng) if redirected else message.return_path,
        )
    rows.sort(key=lambda item: item[0])
    message.event_ticks = [t for t, _ in rows]
    message.event_rows = [row for _, row in rows]


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _srs(sender: str, rng: random.Random) -> str:
    local, domain = sender.rsplit("@", 1)
    return f"bounces+SRS={rng.getrandbits(20):05x}={domain}={local}@contoso.com"


# --------------------------------------------------------------------------------------------
# Per-recipient facts shared by the summary-type exports


@dataclass(frozen=True)
class StatusRow:
    """One message x recipient with the final status a summary export reports."""

    message: Message
    recipient: str
    status: str
    events: tuple[str, ...]  # enhanced summary event words
    to_ip: str


_STATUS = {
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


def status_rows(message: Message) -> list[StatusRow]:
    """The message's rows in a summary export: one per recipient, group members included."""
    rows = []
    for r in message.recipients:
        status, events = _STATUS[r.outcome]
        to_ip = ""
        if r.outcome == "send":
            to_ip = remote_server(r.address.rsplit("@", 1)[1])[1]
        elif r.outcome == "onprem":
            to_ip = ONPREM_IP
        rows.append(StatusRow(message, r.address, status, events, to_ip))
        for member in r.members:
            rows.append(StatusRow(message, member, "Delivered", ("Receive", "Deliver"), ""))
        if r.redirect_to:
            domain = r.redirect_to.rsplit("@", 1)[1]
            rows.append(
                StatusRow(
                    message,
                    r.redirect_to,
                    "Delivered",
                    ("Receive", "Send"),
                    remote_server(domain)[1],
                )
            )
    return rows


def _online(messages: Iterable[Message]) -> list[Message]:
    return [m for m in messages if m.in_exchange_online]


def _newest_first(messages: Iterable[Message]) -> list[Message]:
    return sorted(messages, key=lambda m: (-m.received, m.key))


# --------------------------------------------------------------------------------------------
# Renderers: each returns the file's text; encodings are applied by write_samples


def _csv_text(rows: Iterable[Iterable[object]], quote_all: bool, newline: str = "\r\n") -> str:
    buffer = io.StringIO()
    writer = csv.writer(
        buffer, quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL, lineterminator=newline
    )
    writer.writerows(rows)
    return buffer.getvalue()


def render_extended(messages: list[Message], start: int, end: int) -> str:
    """Extended report (historical search): every transport event in [start, end), all quoted."""
    events = [
        (t, n, row)
        for n, m in enumerate(_online(messages))
        for t, row in zip(m.event_ticks, m.event_rows, strict=True)
        if start <= t < end
    ]
    events.sort(key=lambda item: (item[0], item[1]))
    return _csv_text(
        [EXTENDED_COLUMNS, *([row[c] for c in EXTENDED_COLUMNS] for _, _, row in events)], True
    )


ENHANCED_COLUMNS = (
    "origin_timestamp_utc", "sender_address", "recipient_status", "message_subject", "total_bytes",
    "message_id", "network_message_id", "original_client_ip", "directionality", "connector_id",
    "delivery_priority",
)  # fmt: skip


def render_enhanced_summary(messages: list[Message]) -> str:
    """Enhanced summary: one row per message, each recipient's events as ``addr##Event, ...``."""
    rows: list[list[object]] = [list(ENHANCED_COLUMNS)]
    for m in _newest_first(_online(messages)):
        statuses = ";".join(f"{r.recipient}##{', '.join(r.events)}" for r in status_rows(m))
        receive = m.event_rows[0]
        rows.append(
            [
                iso7(m.received), m.sender, statuses, m.subject, m.size, m.message_id,
                m.network_message_id, m.original_client_ip, m.directionality,
                receive["connector_id"], "Normal",
            ]
        )  # fmt: skip
    return _csv_text(rows, True)


SUMMARY_COLUMNS = (
    "Date (UTC)", "Sender", "Recipient", "Subject", "Status", "Message ID", "Message trace ID",
    "From IP", "To IP", "Size",
)  # fmt: skip


def render_summary(messages: list[Message], dayfirst: bool = False) -> str:
    """EAC summary download: one row per message x recipient, newest first."""
    stamp = day_first if dayfirst else month_first
    rows: list[list[object]] = [list(SUMMARY_COLUMNS)]
    for m in _newest_first(_online(messages)):
        for r in status_rows(m):
            rows.append(
                [
                    stamp(m.received), m.sender, r.recipient, m.subject, r.status, m.message_id,
                    m.network_message_id, m.original_client_ip, r.to_ip, m.size,
                ]
            )  # fmt: skip
    return _csv_text(rows, False)


def excel_latin_subset(messages: list[Message]) -> list[Message]:
    """Messages an analyst kept in an Excel-saved (cp1252) copy of the summary.

    Their subjects are Latin text cp1252 can hold. A formula-like subject is left out: Excel
    would have evaluated it on opening, not kept the text.
    """
    kept = []
    for m in _online(messages):
        try:
            m.subject.encode("cp1252")
        except UnicodeEncodeError:
            continue
        if not m.subject.startswith("="):
            kept.append(m)
    return kept


TRACE_TYPE_LINE = "#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace"
TRACE_COLUMNS = (
    "PSComputerName", "RunspaceId", "PSShowComputerName", "Organization", "MessageId", "Received",
    "SenderAddress", "RecipientAddress", "Subject", "Status", "ToIP", "FromIP", "Size",
    "MessageTraceId", "StartDate", "EndDate", "Index",
)  # fmt: skip
RUNSPACE_ID = "0b6e3c2a-91d4-4f7e-b1a5-6c2d8e4f9a10"


def _trace_status(row: StatusRow) -> str:
    # Get-MessageTrace reports a message still in transit as GettingStatus.
    return "GettingStatus" if row.status == "Pending" else row.status


def render_get_messagetrace(messages: list[Message]) -> str:
    """Get-MessageTrace | Export-Csv from a remote session (Windows PowerShell 5.1)."""
    start, end = month_first(0), month_first(ticks(DAYS, 0, 0, 0))
    rows: list[list[object]] = [list(TRACE_COLUMNS)]
    index = 0
    for m in _newest_first(_online(messages)):
        for r in status_rows(m):
            rows.append(
                [
                    "outlook.office365.com", RUNSPACE_ID, "False", ORGANIZATION, m.message_id,
                    month_first(m.received), m.sender, r.recipient, m.subject, _trace_status(r),
                    r.to_ip, m.original_client_ip, m.size, m.network_message_id, start, end, index,
                ]
            )  # fmt: skip
            index += 1
    return TRACE_TYPE_LINE + "\r\n" + _csv_text(rows, True)


DETAIL_COLUMNS = (
    "Organization", "MessageId", "MessageTraceId", "SenderAddress", "RecipientAddress", "Date",
    "Event", "Action", "Detail", "Data",
)  # fmt: skip


def _mep(**values: str) -> str:
    parts = "".join(f'<MEP Name="{name}" String="{value}"/>' for name, value in values.items())
    return f"<root>{parts}</root>"


def _detail_events(m: Message, recipient: str) -> list[tuple[int, str, str, str, str]]:
    """(time, Event, Action, Detail, Data) rows Get-MessageTraceDetail gives for a recipient."""
    mailbox_host = MAILBOX_SERVERS[m.mailbox_server][0]
    out = []
    for t, row in zip(m.event_ticks, m.event_rows, strict=True):
        if recipient not in row["recipient_address"].split(";"):
            continue
        event, data = row["event_id"], row["custom_data"]
        if event == "RECEIVE":
            if m.origin == "mailbox":
                submit = "The message was submitted."
                out.append(
                    (t - seconds(0.6), "Submit", "", submit, _mep(MailboxServer=mailbox_host))
                )
            receiver = row["server_hostname"] or mailbox_host
            detail = f"Message received by: {receiver} using TLS1.2 with AES256"
            out.append(
                (
                    t,
                    "Receive",
                    "",
                    detail,
                    _mep(Directionality=m.directionality, ClientIP=m.client_ip),
                )
            )
        elif event == "AGENTINFO" and data.startswith("S:SFA"):
            out.append((t, "Spam Diagnostics", "", "", _mep(CustomData=data)))
        elif event == "AGENTINFO" and data.startswith("S:AMA"):
            detail = "Malware: Trojan:Win32/Sample in invoice.zip. The message was quarantined."
            out.append((t, "Malware", "Quarantine", detail, _mep(CustomData=data)))
        elif event == "AGENTINFO" and data.startswith("S:TRA"):
            detail = (
                f"Transport rule: '{RULE_NAME}', ID: ({RULE_ID}), took the following action(s): "
                "Apply disclaimer."
            )
            out.append((t, "Transport rule", "", detail, _mep(RuleId=RULE_ID)))
        elif event == "DELIVER":
            out.append(
                (
                    t,
                    "Deliver",
                    "",
                    "The message was successfully delivered.",
                    _mep(MailboxServer=mailbox_host),
                )
            )
        elif event == "SEND":
            host, ip = row["server_hostname"], row["server_ip"]
            detail = f"Message sent to {host} at {ip} using TLS1.3 with AES256"
            out.append((t, "Send external", "", detail, _mep(ConnectorId="Internet")))
        elif event in ("FAIL", "DEFER"):
            status = row["recipient_status"]
            detail = f"Reason: [{{LED={status}}};{{MSG=}};{{FQDN=}};{{IP=}};{{LRT=}}]."
            out.append((t, event.title(), "", detail, _mep(Status=status.split(" ", 1)[0])))
    return out


def render_get_messagetrace_detail(messages: list[Message]) -> str:
    """Get-MessageTraceDetail | Export-Csv (PowerShell 7: no #TYPE line) for a few messages."""
    rows: list[list[object]] = [list(DETAIL_COLUMNS)]
    for m in _online(messages):
        if not m.details:
            continue
        for r in status_rows(m):
            for t, event, action, detail, data in _detail_events(m, r.recipient):
                rows.append(
                    [
                        ORGANIZATION, m.message_id, m.network_message_id, m.sender, r.recipient,
                        month_first(t), event, action, detail, data,
                    ]
                )  # fmt: skip
    return _csv_text(rows, True)


MSGTRK_FIELDS = (
    "date-time", "client-ip", "client-hostname", "server-ip", "server-hostname", "source-context",
    "connector-id", "source", "event-id", "internal-message-id", "message-id",
    "network-message-id", "recipient-address", "recipient-status", "total-bytes",
    "recipient-count", "related-recipient-address", "reference", "message-subject",
    "sender-address", "return-path", "message-info", "directionality", "tenant-id",
    "original-client-ip", "original-server-ip", "custom-data", "transport-traffic-type",
    "log-id", "schema-version",
)  # fmt: skip


def render_tracking_log(messages: list[Message]) -> str:
    """The on-premises server EX01's MSGTRK log for 08:00-09:00 on Monday (hybrid scenario)."""
    rng = random.Random(SEED + 1)  # a stream of its own: the log does not shift other files
    log_id = _guid(rng)
    by_key = {m.key: m for m in messages}
    facilities = "facilities@contoso.com"
    rows: list[tuple[int, list[str]]] = []

    def add(t: int, **values: str) -> None:
        row = dict.fromkeys(MSGTRK_FIELDS, "")
        row.update({k.replace("_", "-"): v for k, v in values.items()})
        row.update({"date-time": iso3(t), "transport-traffic-type": "Email", "log-id": log_id})
        row["schema-version"] = ONPREM_VERSION
        rows.append((t, [row[f] for f in MSGTRK_FIELDS]))

    def submitted(
        t: int, m_id: str, nmid: str, internal_id: int, subject: str, to: str, size: int
    ) -> None:
        mailbox = _guid(rng)
        context = (
            f"MDB:{_guid(rng)}, Mailbox:{mailbox}, Event:{rng.randrange(10**8)}, "
            "MessageClass:IPM.Note, "
            f"CreationTime:{iso3(t - seconds(0.2))}, ClientType:MOMT, "
            "SubmissionAssistant:MailboxTransportSubmissionEmailAssistant"
        )
        mapi = {
            "client_ip": ONPREM_SERVER_IP,
            "client_hostname": ONPREM_SERVER,
            "source_context": context,
        }
        add(
            t - seconds(0.13),
            **mapi,
            source="STOREDRIVER",
            event_id="NOTIFYMAPI",
            sender_address=facilities,
            message_info=(
                f"{iso3(t - seconds(0.2))};LSRV={ONPREM_FQDN}:"
                "TOTAL-SUB=0.128|SA=0.128|MTSS-PEN=0.000"
            ),
            custom_data=f"S:ItemEntryId=00-00-00-00-{rng.getrandbits(32):08X}",
        )
        shared = {
            "internal_message_id": str(internal_id),
            "message_id": m_id,
            "network_message_id": nmid,
            "recipient_address": to,
            "total_bytes": str(size),
            "recipient_count": "1",
            "message_subject": subject,
            "sender_address": facilities,
            "return_path": facilities,
            "directionality": "Originating",
            "original_client_ip": "10.0.5.77",
        }
        add(
            t,
            **mapi,
            **shared,
            source="STOREDRIVER",
            event_id="RECEIVE",
            recipient_status="To",
            message_info="04I:",
        )
        add(
            t + seconds(0.04),
            **shared,
            server_hostname=ONPREM_FQDN,
            source="STOREDRIVER",
            event_id="SUBMIT",
            source_context=f"MDB:{_guid(rng)}, Mailbox:{mailbox}, Event:{rng.randrange(10**8)}",
        )
        add(
            t + seconds(0.21),
            **shared,
            client_ip=ONPREM_SERVER_IP,
            client_hostname=ONPREM_FQDN,
            server_ip=ONPREM_SERVER_IP,
            server_hostname=ONPREM_SERVER,
            source_context=f"08DE{rng.getrandbits(48):012X};250 2.0.0 OK",
            connector_id=f"{ONPREM_SERVER}\\Default {ONPREM_SERVER}",
            source="SMTP",
            event_id="RECEIVE",
            recipient_status="To",
            custom_data=f"S:MailboxDatabaseGuid={_guid(rng)};S:DeliveryPriority=Normal;S:AccountForest=contoso.local",
        )

    # Scenario hybrid_onprem_to_cloud: submitted here, sent to Exchange Online.
    hybrid = by_key["hybrid_onprem_to_cloud"]
    t0 = hybrid.received - seconds(0.8)
    submitted(
        t0,
        hybrid.message_id,
        hybrid.network_message_id,
        36_817,
        hybrid.subject,
        "alice.wong@contoso.com",
        hybrid.size,
    )
    eop = "contoso-com.mail.protection.outlook.com"
    add(
        t0 + seconds(0.55),
        client_ip=ONPREM_SERVER_IP,
        client_hostname=ONPREM_SERVER,
        server_ip="198.51.100.201",
        server_hostname=eop,
        source_context=f"08DE{rng.getrandbits(48):012X};{iso3(t0)};ClientSubmitTime:",
        connector_id="Outbound to Office 365",
        source="SMTP",
        event_id="SEND",
        internal_message_id="36817",
        message_id=hybrid.message_id,
        network_message_id=hybrid.network_message_id,
        recipient_address="alice.wong@contoso.com",
        recipient_status=(
            f"250 2.6.0 {hybrid.message_id} [InternalId={rng.randrange(10**12)}, "
            f"Hostname={FRONTEND}] "
            f"{hybrid.size} bytes in 0.141, 73.512 KB/sec Queued mail for delivery"
        ),
        total_bytes=str(hybrid.size),
        recipient_count="1",
        message_subject=hybrid.subject,
        sender_address=facilities,
        return_path=facilities,
        message_info=(
            f"{iso3(t0 - seconds(0.2))};SRV={ONPREM_FQDN}:TOTAL-SUB=0.121|SA=0.118|MTSS-PEN=0.000"
        ),
        directionality="Originating",
        original_client_ip="10.0.5.77",
    )

    # Scenario inbound_to_onprem: Exchange Online hands it over; EX01 delivers it.
    inbound = by_key["inbound_to_onprem"]
    handed = inbound.event_ticks[-1] + seconds(0.3)
    arrival = {
        "internal_message_id": "36829",
        "message_id": inbound.message_id,
        "network_message_id": inbound.network_message_id,
        "recipient_address": facilities,
        "total_bytes": str(inbound.size + 3_914),  # Exchange Online's headers added
        "recipient_count": "1",
        "message_subject": inbound.subject,
        "sender_address": inbound.sender,
        "return_path": inbound.sender,
        "directionality": "Incoming",
        "original_client_ip": inbound.original_client_ip,
        "tenant_id": TENANT_ID,
    }
    add(
        handed,
        **arrival,
        client_ip="198.51.100.202",
        client_hostname="mail-bn8nam12on2110.outbound.protection.outlook.com",
        server_ip=ONPREM_SERVER_IP,
        server_hostname=ONPREM_SERVER,
        source_context=f"08DE{rng.getrandbits(48):012X};250 2.6.0 Queued mail for delivery",
        connector_id=f"{ONPREM_SERVER}\\Inbound from Office 365",
        source="SMTP",
        event_id="RECEIVE",
        recipient_status="To",
        message_info=f"{iso3(inbound.received)};SRV={FRONTEND}",
    )
    add(
        handed + seconds(0.62),
        **arrival,
        server_ip=ONPREM_SERVER_IP,
        server_hostname=ONPREM_FQDN,
        source="STOREDRIVER",
        event_id="DELIVER",
        recipient_status="250 2.1.5 Recipient OK",
        custom_data=f"S:MailboxDatabaseGuid={_guid(rng)};S:DeliveryPriority=Normal;S:AccountForest=contoso.local",
    )

    # On-premises only: mail between two mailboxes on EX01, never seen by Exchange Online.
    t1 = ticks(0, 8, 40, 51, 4_180_000)
    m_id = "<6A0F2C91E4B7D358.7C1A@EX01.contoso.local>"
    nmid = "0c5e9b13-7a42-4d1e-2b8f-08de6d2e41a9"
    submitted(
        t1, m_id, nmid, 36_851, "Fire drill on Thursday, 10:00", "records@contoso.com", 14_208
    )
    add(
        t1 + seconds(0.48),
        server_ip=ONPREM_SERVER_IP,
        server_hostname=ONPREM_FQDN,
        source="STOREDRIVER",
        event_id="DELIVER",
        internal_message_id="36851",
        message_id=m_id,
        network_message_id=nmid,
        recipient_address="records@contoso.com",
        recipient_status="250 2.1.5 Recipient OK",
        total_bytes="14208",
        recipient_count="1",
        message_subject="Fire drill on Thursday, 10:00",
        sender_address=facilities,
        return_path=facilities,
        directionality="Originating",
        original_client_ip="10.0.5.77",
        custom_data=f"S:MailboxDatabaseGuid={_guid(rng)};S:DeliveryPriority=Normal;S:AccountForest=contoso.local",
    )

    rows.sort(key=lambda item: item[0])
    header = [
        "#Software: Microsoft Exchange Server",
        f"#Version: {ONPREM_VERSION}",
        "#Log-type: Message Tracking Log",
        f"#Date: {iso3(ticks(0, 8, 0, 0, 1_070_000))}",
        "#Fields: " + ",".join(MSGTRK_FIELDS),
    ]
    return "\r\n".join(header) + "\r\n" + _csv_text([row for _, row in rows], False)


def _api_records(messages: list[Message], zulu: Callable[[int], bool]) -> list[dict[str, object]]:
    start, end = iso7(0), iso7(ticks(DAYS, 0, 0, 0))
    records: list[dict[str, object]] = []
    for m in _newest_first(messages):
        for r in status_rows(m):
            records.append(
                {
                    "Organization": ORGANIZATION,
                    "MessageId": m.message_id,
                    "Received": iso7(m.received, zulu(len(records))),
                    "SenderAddress": m.sender,
                    "RecipientAddress": r.recipient,
                    "Subject": m.subject,
                    "Status": r.status,
                    "ToIP": r.to_ip or None,
                    "FromIP": m.original_client_ip or None,
                    "Size": m.size,
                    "MessageTraceId": m.network_message_id,
                    "StartDate": start,
                    "EndDate": end,
                    "Index": len(records),
                }
            )
    return records


def render_api_odata(messages: list[Message]) -> str:
    """One OData page of the Reporting web service (Monday's mail); ``Received`` has no ``Z``."""
    monday = [m for m in _online(messages) if m.received < ticks(1, 0, 0, 0)]
    page = {
        "odata.metadata": "https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/$metadata#MessageTrace",
        "value": _api_records(monday, lambda n: False),
    }
    return json.dumps(page, ensure_ascii=False, separators=(",", ":")) + "\n"


def render_api_ndjson(messages: list[Message]) -> str:
    """NDJSON of message trace records (Tuesday and Wednesday), as a log shipper stores them.

    Keys are sorted and ``<``/``>``/``&`` escaped as a Go JSON encoder writes them; every third
    ``Received`` lacks the ``Z`` (still UTC).
    """
    later = [m for m in _online(messages) if m.received >= ticks(1, 0, 0, 0)]
    lines = []
    for record in _api_records(later, lambda n: n % 3 != 2):
        text = json.dumps(record, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
        lines.append(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    return "\n".join(lines) + "\n"


DEFENDER_EVENT_COLUMNS = (
    "Timestamp", "NetworkMessageId", "InternetMessageId", "SenderMailFromAddress",
    "SenderFromAddress", "SenderDisplayName", "SenderIPv4", "RecipientEmailAddress", "Subject",
    "EmailDirection", "DeliveryAction", "DeliveryLocation", "ThreatTypes", "DetectionMethods",
    "ConfidenceLevel", "BulkComplaintLevel", "AuthenticationDetails", "AttachmentCount",
    "UrlCount", "Connectors", "LatestDeliveryLocation", "LatestDeliveryAction",
)  # fmt: skip
DEFENDER_POST_DELIVERY_COLUMNS = (
    "Timestamp", "NetworkMessageId", "InternetMessageId", "Action", "ActionType", "ActionTrigger",
    "ActionResult", "RecipientEmailAddress", "DeliveryLocation", "ThreatTypes", "DetectionMethods",
)  # fmt: skip
_DEFENDER_DELIVERY = {
    "Delivered": ("Delivered", "Inbox/folder"),
    "Failed": ("Blocked", "Failed"),
    "Quarantined": ("Blocked", "Quarantine"),
    "FilteredAsSpam": ("Junked", "Junk folder"),
}
_DETECTION = {
    "Phish": ('{"Phish":["Impersonation domain","URL detonation reputation"]}', '{"Phish":"High"}'),
    "Malware": ('{"Malware":["Antimalware protection"]}', '{"Malware":"High"}'),
    "Spam": ('{"Spam":["Advanced filter","Mixed analysis detection"]}', '{"Spam":"High"}'),
}
ZAP_TIME = ticks(2, 9, 58, 17, 4_410_000)


def render_defender_email_events(messages: list[Message]) -> str:
    """Advanced hunting EmailEvents export: one row per message x recipient."""
    rows: list[list[object]] = [list(DEFENDER_EVENT_COLUMNS)]
    for m in sorted(_online(messages), key=lambda m: (m.received, m.key)):
        if m.origin == "dsn":  # system messages are not in EmailEvents
            continue
        direction = {"inbound": "Inbound", "outbound": "Outbound", "internal": "Intra-org"}[
            m.direction
        ]
        for r in status_rows(m):
            if r.status in ("Expanded", "Pending"):
                continue  # EmailEvents lists a group's members, and mail once it was filtered
            action, location = _DEFENDER_DELIVERY[r.status]
            if not is_internal(r.recipient) or r.to_ip == ONPREM_IP:
                location = "On-premises/external"
            methods, confidence = _DETECTION.get(m.verdict, ("", ""))
            latest = (location, action)
            if m.key == "lookalike_phish":
                latest = ("Quarantine", "Moved to quarantine")
            bulk = 7 if m.key == "bulk_junked" else (3 if m.verdict == "Spam" else 0)
            rows.append(
                [
                    iso3(m.received), m.network_message_id, m.message_id,
                    m.return_path.strip("<>"), m.sender, m.sender_name, m.original_client_ip,
                    r.recipient, m.subject, direction, action, location, m.verdict, methods,
                    confidence, bulk, m.authentication, m.attachments, m.urls,
                    "Outbound to contoso on-premises" if r.to_ip == ONPREM_IP else "",
                    *latest,
                ]
            )  # fmt: skip
    return _csv_text(rows, False)


def render_defender_post_delivery_events(messages: list[Message]) -> str:
    """Advanced hunting EmailPostDeliveryEvents export: the Phish ZAP of the look-alike phish."""
    rows: list[list[object]] = [list(DEFENDER_POST_DELIVERY_COLUMNS)]
    phish = next(m for m in messages if m.key == "lookalike_phish")
    methods = _DETECTION["Phish"][0]
    for n, r in enumerate(status_rows(phish)):
        rows.append(
            [
                iso3(ZAP_TIME + seconds(1.7 * n)), phish.network_message_id, phish.message_id,
                "Moved to quarantine", "Phish ZAP", "SpecialAction", "Success", r.recipient,
                "Quarantine", "Phish", methods,
            ]
        )  # fmt: skip
    return _csv_text(rows, False)


# --------------------------------------------------------------------------------------------
# The sample files


@dataclass(frozen=True)
class SampleFile:
    """One file of samples/: its name, export format, encoding and what it shows."""

    name: str
    format: str
    encoding: str  # Python codec name without BOM suffix: utf-16-le, utf-8, cp1252
    bom: bool
    shows: str
    render: Callable[[list[Message]], str]


_SPLIT = ticks(1, 18, 0, 0)  # first extended report: Monday 00:00 to Tuesday 18:00
_OVERLAP = ticks(1, 12, 0, 0)  # second: Tuesday 12:00 to the end; the 6 hours overlap

SAMPLE_FILES: tuple[SampleFile, ...] = (
    SampleFile(
        "extended_utf16le_bom.csv",
        "extended",
        "utf-16-le",
        True,
        "Extended report, Monday 00:00 to Tuesday 18:00: every transport event, several "
        "recipients per row (a;b with To;To), custom_data verdicts, the 5.1.1 failure, DSN, "
        "group expansion, deferrals, transport rule, spam and malware.",
        lambda ms: render_extended(ms, 0, _SPLIT),
    ),
    SampleFile(
        "extended_utf16le_nobom.csv",
        "extended",
        "utf-16-le",
        False,
        "Extended report, Tuesday 12:00 to the end (overlaps the first by six hours, so "
        "the same events appear in both): look-alike phish, inbox-rule forward, redirect, "
        "outbound burst, pending deferral.",
        lambda ms: render_extended(ms, _OVERLAP, ticks(DAYS, 0, 0, 0)),
    ),
    SampleFile(
        "enhanced_summary_utf16le_nobom.csv",
        "enhanced_summary",
        "utf-16-le",
        False,
        "Enhanced summary of all three days: one row per message, recipient_status as "
        "addr##Receive, Deliver;... (UTF-16 LE without BOM, as EAC downloads arrive).",
        render_enhanced_summary,
    ),
    SampleFile(
        "summary_utf8_bom.csv",
        "summary",
        "utf-8",
        True,
        "EAC summary download of all three days, month-first dates (11/16/2026 8:15:30 AM).",
        render_summary,
    ),
    SampleFile(
        "summary_dayfirst_cp1252.csv",
        "summary",
        "cp1252",
        False,
        "The summary re-saved by Excel on a UK machine: cp1252, day-first dates "
        "(16/11/2026 08:15:30), only messages with Latin subjects (é, ö, ß, €).",
        lambda ms: render_summary(excel_latin_subset(ms), dayfirst=True),
    ),
    SampleFile(
        "get_messagetrace_utf8_bom.csv",
        "get_messagetrace",
        "utf-8",
        True,
        "Get-MessageTrace | Export-Csv -Encoding UTF8 from a remote session (#TYPE line, "
        "PSComputerName/RunspaceId columns); the pending message shows as GettingStatus.",
        render_get_messagetrace,
    ),
    SampleFile(
        "get_messagetrace_detail_utf8.csv",
        "get_messagetrace_detail",
        "utf-8",
        False,
        "Get-MessageTraceDetail | Export-Csv (PowerShell 7) for six messages: Submit, Receive, "
        "Spam Diagnostics, Malware, Transport rule, Defer, Deliver, Send external, Fail; Data XML.",
        render_get_messagetrace_detail,
    ),
    SampleFile(
        "MSGTRK2026111608-1.LOG",
        "exchange_tracking_log",
        "utf-8",
        True,
        "Exchange 2019 message tracking log of the on-premises server EX01 (hybrid), Monday "
        "08:00-09:00: NOTIFYMAPI, RECEIVE, SUBMIT, SEND to Office 365, DELIVER.",
        render_tracking_log,
    ),
    SampleFile(
        "reporting_api_odata_utf8.json",
        "reporting_api_json",
        "utf-8",
        False,
        "One OData page of the Reporting web service MessageTrace (Monday); Received without Z.",
        render_api_odata,
    ),
    SampleFile(
        "reporting_api_utf8.ndjson",
        "reporting_api_json",
        "utf-8",
        False,
        "NDJSON message trace records (Tuesday and Wednesday); some Received values lack the Z.",
        render_api_ndjson,
    ),
    SampleFile(
        "defender_email_events_utf8.csv",
        "defender_email_events",
        "utf-8",
        False,
        "Advanced hunting EmailEvents: verdicts, delivery actions and locations, JSON cells.",
        render_defender_email_events,
    ),
    SampleFile(
        "defender_email_post_delivery_events_utf8.csv",
        "defender_email_post_delivery_events",
        "utf-8",
        False,
        "Advanced hunting EmailPostDeliveryEvents: the Phish ZAP of the look-alike phish.",
        render_defender_post_delivery_events,
    ),
)
SAMPLE_BY_NAME: dict[str, SampleFile] = {s.name: s for s in SAMPLE_FILES}
README = "README.md"


def encode_sample(text: str, spec: SampleFile) -> bytes:
    """The bytes of a sample file: ``text`` in its encoding, with a BOM if it has one."""
    data = text.encode(spec.encoding)
    if not spec.bom:
        return data
    return ("\ufeff".encode(spec.encoding)) + data


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a pipe would end the cell."""
    return text.replace("|", "\\|")


def render_readme(messages: list[Message], contents: dict[str, bytes]) -> str:
    """samples/README.md: each file with its format, encoding and what it shows."""
    lines = [
        "# Sample exports",
        "",
        "Realistic, fictional message trace exports of one tenant (Contoso: contoso.com and",
        "contoso.co.uk) from Monday 16 to Wednesday 18 November 2026, UTC. The same messages",
        "appear in several files, so ids, times and addresses agree across formats.",
        "",
        "Generated by `python -m analyzer.samples` (analyzer/samples.py, whose docstring lists",
        "every scenario and its ids); do not edit by hand: tests/test_samples.py checks these",
        "files equal a fresh run.",
        "",
        "| file | format | encoding | BOM | bytes | what it shows |",
        "|---|---|---|---|---|---|",
    ]
    for spec in SAMPLE_FILES:
        bom = "yes" if spec.bom else "no"
        size = len(contents[spec.name])
        lines.append(
            f"| `{spec.name}` | `{spec.format}` | {spec.encoding} | {bom} | {size:,} "
            f"| {_cell(spec.shows)} |"
        )
    lines += [
        "",
        "## Scenarios",
        "",
        "| scenario | network message id | what happens |",
        "|---|---|---|",
    ]
    for s in SCENARIOS:
        lines.append(f"| `{s.name}` | `{s.network_message_id}` | {_cell(s.summary)} |")
    burst = [m for m in messages if m.key.startswith("burst-")]
    lines.append(
        f"| `outbound_burst` | {len(burst)} messages | {VICTIM} mails "
        f"{sum(len(m.recipients) for m in burst)} outside recipients in 10 minutes "
        f"from {ATTACKER_IP} |"
    )
    lines.append("")
    return "\n".join(lines)


def write_samples(folder: Path) -> list[Path]:
    """Write every sample export and samples/README.md into ``folder``.

    Args:
        folder: where to write; created if missing. Files of the same names are replaced;
            other files are left alone.

    Returns:
        The paths written, in ``SAMPLE_FILES`` order, README.md last.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    messages = build_messages()
    contents = {spec.name: encode_sample(spec.render(messages), spec) for spec in SAMPLE_FILES}
    contents[README] = render_readme(messages, contents).encode("utf-8")
    written = []
    for name, data in contents.items():
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written


def default_folder() -> Path:
    """The repository's samples/ folder (next to the analyzer package)."""
    return Path(__file__).resolve().parent.parent / "samples"


def main(argv: list[str] | None = None) -> int:
    """``python -m analyzer.samples [FOLDER]``: regenerate the samples, print what was written."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        print("usage: python -m analyzer.samples [FOLDER]   (default: the repository's samples/)")
        return 2
    folder = Path(args[0]) if args else default_folder()
    for path in write_samples(folder):
        print(f"{path}  {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
