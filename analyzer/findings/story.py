"""What a rule's findings tell in the story of an incident, declared with the rule.

Each rule declares, in its ``@rule(..., story=Story(...))``, how its findings enter the
incident summary (``analyzer.incident``): the role they give the mailboxes they name, which
of their evidence rows are the incident's key moments and how each reads, what to do next,
and which of the values behind them are indicators. The incident stage only reads these
declarations, so a new rule tells its story where it is defined, and nothing elsewhere can
drift from it. Declarations are plain data: nothing here looks at a case.

Words used below:

- a finding's *actor* mailboxes are the internal mailboxes among its ``entities["mailbox"]``
  (internal: of one of ``Chains.tenant_domains``);
- its *recipients* are the internal recipients of its evidence rows;
- its *delivered* mailboxes are the internal recipients who had a copy of one of the messages
  its evidence cites delivered into the mailbox (from the chains: a DELIVER into the mailbox,
  not the hand-over to quarantine); *removed* copies are those a post-delivery action (Phish
  ZAP, Malware ZAP, manual remediation, ...) took out again.

Templates: ``Moment.what`` and ``Step.text`` / ``Step.command`` name values in braces. A count
takes the word to count as its format, singular or ``singular/plural``: ``{total:send}`` reads
``34 sends``, ``{count:mailbox/mailboxes}`` ``1 mailbox``. In a command every value is quoted
for its shell by the incident stage (an address from an export is attacker-written): a
template never quotes, and never holds a value of its own.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

#: Whose mailboxes a role or a moment is about.
ABOUT = ("actor", "recipients", "delivered", "none")

#: Which rows make a moment: ``first``/``last``: the matching evidence rows at the earliest
#: (latest) time, the latest including ``Finding.evidence_last``; ``delivered``: the rows that
#: delivered copies of the cited messages into mailboxes; ``removed``: the rows that removed
#: delivered copies again (one moment per way of removal).
PICKS = ("first", "last", "delivered", "removed")

#: What a step is repeated for: once per finding, or once per value of a kind: ``mailbox``
#: (actor mailboxes), ``delivered`` (delivered mailboxes), ``ip``, ``rule`` (entities),
#: ``target`` (outside addresses: recipients of evidence rows and outside mailboxes the
#: finding names), ``sender`` (outside senders of the cited
#: messages), ``message_id`` and ``subject`` (of the cited messages), ``input`` (the inputs of
#: evidence rows).
EACH = (
    "finding",
    "mailbox",
    "delivered",
    "ip",
    "rule",
    "target",
    "sender",
    "message_id",
    "subject",
    "input",
)

#: Kinds of indicator a rule's findings may stand behind, and where each value comes from:
#: ``sender`` / ``sender_domain`` / ``subject`` / ``message_id`` / ``sender_ip``: the outside
#: senders, their domains, the subjects, Internet message ids and sending IPs of the cited
#: messages; ``target``: the outside addresses a finding points at (its rows' outside
#: recipients and the outside mailboxes it names: forwarding addresses); ``ip``:
#: ``entities["ip"]``; ``domain``: outside domains of ``entities["domain"]`` that cited rows
#: send from or to; ``url``: URLs of the cited messages where the events carry a ``url`` column.
INDICATORS = (
    "sender",
    "sender_domain",
    "domain",
    "subject",
    "message_id",
    "sender_ip",
    "ip",
    "target",
    "url",
)

#: Values a moment's text may name: the moment's mailboxes and their number, the outside
#: recipients of its rows, the finding's outside domains, IPs, rule ids, title and evidence
#: total, and for ``removed`` moments how and after how long.
MOMENT_FIELDS = (
    "mailboxes",
    "count",
    "targets",
    "domains",
    "ips",
    "rules",
    "title",
    "total",
    "removed_by",
    "dwell",
)

#: Values a step's text may name: its ``each`` value, under that kind's name (the time range
#: is shown with the step, in the zone times are displayed in).
STEP_TEXT_FIELDS = EACH[1:]

#: Values a step's command may name besides those of its text: the time range of the
#: finding's rows (``start``, ``end``: whole UTC days unless ``exact``), the sources the user
#: gave (``sources``), and Entra sign-in log filters for the step's mailbox
#: (``user_signins``) or IP (``ip_signins``) over that range.
STEP_COMMAND_FIELDS = (*STEP_TEXT_FIELDS, "start", "end", "sources", "user_signins", "ip_signins")

SHELLS = ("powershell", "sh")


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def _check(what: str, template: str, allowed: tuple[str, ...]) -> None:
    unknown = _fields(template) - set(allowed)
    if unknown:
        raise ValueError(f"{what} {template!r} names unknown values: {', '.join(sorted(unknown))}")


def _check_choice(what: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{what} {value!r}: use one of {', '.join(allowed)}")


@dataclass(frozen=True)
class Role:
    """The role a rule's findings give mailboxes.

    Attributes:
        text: the role in words, e.g. ``sent the burst``.
        acts: whether it is something the mailbox did (sent, forwarded, redirected) rather than
            something done to it (received): acting mailboxes rank first.
        of: whose mailboxes get it (``actor``, ``recipients`` or ``delivered``, see the module
            documentation).
        events: only findings with an evidence row of one of these event ids give it (empty:
            every finding of the rule); how one rule tells two kinds of finding apart.
    """

    text: str
    acts: bool
    of: str = "actor"
    events: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_choice("role of", self.of, ABOUT[:3])


@dataclass(frozen=True)
class Moment:
    """One key moment of a rule's findings, made of evidence rows.

    Attributes:
        what: how it reads (a template over ``MOMENT_FIELDS``).
        rows: which rows make it (``PICKS``).
        events: for ``first``/``last``, only evidence rows of these event ids (empty: any).
        about: whose mailboxes it is about (``ABOUT``; ``delivered`` and ``removed`` moments
            are about the delivered mailboxes).
    """

    what: str
    rows: str = "first"
    events: tuple[str, ...] = ()
    about: str = "actor"

    def __post_init__(self) -> None:
        _check("moment", self.what, MOMENT_FIELDS)
        _check_choice("moment rows", self.rows, PICKS)
        _check_choice("moment about", self.about, ABOUT)


@dataclass(frozen=True)
class Step:
    """One next step a rule's findings ask for: a check, with the read-only command that makes
    it or pulls the data that is missing.

    Attributes:
        text: what to do, in words (a template over ``STEP_TEXT_FIELDS``).
        command: the command, or None (a template over ``STEP_COMMAND_FIELDS``).
        each: what it is repeated for (``EACH``).
        shell: where the command runs: ``powershell`` (Exchange Online or Microsoft Graph
            PowerShell) or ``sh`` (msgtrace itself).
        lookback_days: start the time range this many days before the finding's first row
            (an inbox rule is created before it first fires).
        until_end: end the time range at the end of the data rather than at the finding's
            last row (sign-ins after a phish was delivered).
        exact: the time range is exactly the span of the finding's rows, to the second (a
            coverage gap), rather than whole UTC days.
        max_days: the longest range the command takes in one query (Get-MessageTraceV2: 10
            days), or None; a longer one is flagged in the step's text.
    """

    text: str
    command: str | None = None
    each: str = "finding"
    shell: str = "powershell"
    lookback_days: int = 0
    until_end: bool = False
    exact: bool = False
    max_days: int | None = None

    def __post_init__(self) -> None:
        _check("step", self.text, STEP_TEXT_FIELDS)
        if self.command is not None:
            _check("command", self.command, STEP_COMMAND_FIELDS)
        _check_choice("step each", self.each, EACH)
        _check_choice("step shell", self.shell, SHELLS)
        named = _fields(self.text) | _fields(self.command or "")
        if self.each != "finding" and self.each not in named:
            raise ValueError(f"step {self.text!r} is repeated for each {self.each}, never named")
        others = (named & set(EACH)) - {self.each}
        if others:
            raise ValueError(
                f"step {self.text!r} names {', '.join(sorted(others))}, which it is "
                f"not repeated for (each={self.each!r})"
            )


@dataclass(frozen=True)
class Story:
    """How a rule's findings enter the incident summary.

    Attributes:
        roles: the roles its findings give mailboxes.
        moments: its key moments, in the order they are declared.
        steps: the next steps it asks for.
        indicators: the kinds of indicator behind it (``INDICATORS``).
        needs_delivery: its findings give roles and moments only when a copy of a cited
            message was delivered (a threat held before delivery reached no mailbox).
        malicious_mail: the messages it cites are malicious: the recipients who had one
            delivered are to be told (``msgtrace iocs``, who to notify).
    """

    roles: tuple[Role, ...] = ()
    moments: tuple[Moment, ...] = ()
    steps: tuple[Step, ...] = ()
    indicators: tuple[str, ...] = ()
    needs_delivery: bool = False
    malicious_mail: bool = False

    def __post_init__(self) -> None:
        for kind in self.indicators:
            _check_choice("indicator", kind, INDICATORS)


# ----- steps several rules ask for (one object each, so the checklist merges them) ----------

_MESSAGE_TRACE_DAYS = 10  # Get-MessageTraceV2 returns at most 10 days per query

TRACE_SENT = Step(
    "Trace everything {mailbox} sent",
    "Get-MessageTraceV2 -SenderAddress {mailbox} -StartDate {start} -EndDate {end} "
    "-ResultSize 5000",
    each="mailbox",
    max_days=_MESSAGE_TRACE_DAYS,
)
TRACE_TO_TARGET = Step(
    "Trace everything sent to the outside address {target}",
    "Get-MessageTraceV2 -RecipientAddress {target} -StartDate {start} -EndDate {end} "
    "-ResultSize 5000",
    each="target",
    max_days=_MESSAGE_TRACE_DAYS,
)
TRACE_FROM_SENDER = Step(
    "Trace everything the outside sender {sender} sent into the organization",
    "Get-MessageTraceV2 -SenderAddress {sender} -StartDate {start} -EndDate {end} -ResultSize 5000",
    each="sender",
    max_days=_MESSAGE_TRACE_DAYS,
)
TRACE_MESSAGE_DETAIL = Step(
    "Pull every event of message {message_id} for each recipient",
    "Get-MessageTraceV2 -MessageId {message_id} -StartDate {start} -EndDate {end} | "
    "Get-MessageTraceDetailV2",
    each="message_id",
    max_days=_MESSAGE_TRACE_DAYS,
)
TRACE_FROM_IP = Step(
    "Trace all mail submitted from {ip}",
    "Get-MessageTraceV2 -FromIP {ip} -StartDate {start} -EndDate {end} -ResultSize 5000",
    each="ip",
    max_days=_MESSAGE_TRACE_DAYS,
)
INBOX_RULES = Step(
    "List the inbox rules of {mailbox}, hidden ones too, and look for any that forwards, "
    "redirects, deletes or moves mail",
    "Get-InboxRule -Mailbox {mailbox} -IncludeHidden | Format-List Name,Enabled,From,"
    "SubjectContainsWords,ForwardTo,ForwardAsAttachmentTo,RedirectTo,DeleteMessage,"
    "MoveToFolder,Description",
    each="mailbox",
)
INBOX_RULE_AUDIT = Step(
    "Find who created or changed inbox rules of {mailbox}, and when (unified audit log, "
    "from a week before the first forward)",
    "Search-UnifiedAuditLog -StartDate {start} -EndDate {end} -Operations "
    "New-InboxRule,Set-InboxRule,UpdateInboxRules -UserIds {mailbox} -ResultSize 5000",
    each="mailbox",
    lookback_days=7,
)
MAILBOX_FORWARDING = Step(
    "Check the mailbox forwarding settings of {mailbox}",
    "Get-Mailbox -Identity {mailbox} | Format-List ForwardingSmtpAddress,ForwardingAddress,"
    "DeliverToMailboxAndForward",
    each="mailbox",
)
MAILBOX_AUDIT = Step(
    "Find who changed the forwarding of {mailbox}, and when (unified audit log, from a week "
    "before the first redirect)",
    "Search-UnifiedAuditLog -StartDate {start} -EndDate {end} -Operations Set-Mailbox "
    "-FreeText {mailbox} -ResultSize 5000",
    each="mailbox",
    lookback_days=7,
)
USER_SIGNINS = Step(
    "Check the sign-ins of {mailbox} from a week before to the end of the data (Entra "
    "sign-in log; needs Connect-MgGraph -Scopes AuditLog.Read.All, and the user principal "
    "name may differ from the address)",
    "Get-MgAuditLogSignIn -Filter {user_signins} -All | Format-Table CreatedDateTime,"
    "IpAddress,AppDisplayName,ClientAppUsed,Status",
    each="mailbox",
    lookback_days=7,
    until_end=True,
)
DELIVERED_SIGNINS = Step(
    "Ask {delivered} whether they opened the message, clicked a link or entered a password, "
    "and check their sign-ins since it was delivered (Entra sign-in log)",
    "Get-MgAuditLogSignIn -Filter {user_signins} -All | Format-Table CreatedDateTime,"
    "IpAddress,AppDisplayName,ClientAppUsed,Status",
    each="delivered",
    until_end=True,
)
IP_SIGNINS = Step(
    "Find every sign-in from {ip}, to any account (Entra sign-in log)",
    "Get-MgAuditLogSignIn -Filter {ip_signins} -All | Format-Table CreatedDateTime,"
    "UserPrincipalName,AppDisplayName,ClientAppUsed,Status",
    each="ip",
    lookback_days=7,
    until_end=True,
)
SENDER_RESTRICTED = Step(
    "Check whether outbound spam protection restricted {mailbox}",
    "Get-BlockedSenderAddress -SenderAddress {mailbox}",
    each="mailbox",
)
QUARANTINE = Step(
    "Check whether message {message_id} is still in quarantine or was released",
    "Get-QuarantineMessage -MessageId {message_id} | Format-List ReceivedTime,RecipientAddress,"
    "QuarantineTypes,Released,ReleasedUser",
    each="message_id",
)
MAILBOX_VIEW = Step(
    "Look at {mailbox} in msgtrace: what it sent and received, new correspondents, IPs, forwards",
    "msgtrace mailbox {mailbox} {sources}",
    each="mailbox",
    shell="sh",
)
INSPECT_INPUT = Step(
    "Fix or export again {input}; see what msgtrace read of it",
    "msgtrace inspect {input}",
    each="input",
    shell="sh",
)


__all__ = [
    "ABOUT",
    "EACH",
    "INDICATORS",
    "MOMENT_FIELDS",
    "PICKS",
    "SHELLS",
    "STEP_COMMAND_FIELDS",
    "STEP_TEXT_FIELDS",
    "Moment",
    "Role",
    "Step",
    "Story",
]
