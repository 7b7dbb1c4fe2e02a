"""External forwarding: inbox rules and redirects that send internal mail outside, and relays.

Exchange logs an inbox-rule forward or redirect as a new message whose RECEIVE event has the
source MAILBOXRULE and whose ``reference`` points back to the message that triggered the rule
(``Chains.links``, relation ``inbox_rule_forward_of``). Mailbox forwarding
(ForwardingSmtpAddress) and redirecting mail flow rules show as a REDIRECT event whose
``related_recipient_address`` is the new recipient. When Exchange Online relays an outside
message on to another outside address it rewrites the envelope sender (Sender Rewriting Scheme),
so the relayed copy has a ``return_path`` that differs from its sender.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.findings.base import (
    RULE_EVENT_COLUMNS,
    Context,
    Topic,
    domain_series,
    listing,
    pair_keys,
    plural,
)
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import (
    INBOX_RULE_AUDIT,
    INBOX_RULES,
    MAILBOX_AUDIT,
    MAILBOX_FORWARDING,
    MAILBOX_VIEW,
    TRACE_SENT,
    TRACE_TO_TARGET,
    USER_SIGNINS,
    Moment,
    Role,
    Step,
    Story,
)
from analyzer.identifiers import address_key, domain_of, domain_text

RULE = "external-forwarding"
RELAY_RULE = "sender-rewritten-relay"
_UNKNOWN_MAILBOX = "(unknown mailbox)"


@dataclass(frozen=True)
class InboxRuleCopies:
    """Copies an inbox rule (MAILBOXRULE) sent to outside addresses, and what triggered them.

    Attributes:
        rule_rows: the MAILBOXRULE event rows.
        outside: recipients rows of the copies' outside recipients, with ``domain`` and
            ``mailbox`` (the list of mailboxes whose rule fired).
        triggers: per forwarded copy's message_key, the message_keys that triggered it.
        trigger_recipients: the triggering messages' internal recipients.
    """

    rule_rows: pd.DataFrame
    outside: pd.DataFrame
    triggers: dict[str, list[str]]
    trigger_recipients: pd.DataFrame


class Forwarding(Topic):
    """Mail an internal mailbox forwards or redirects outside: external-forwarding reports it,
    sender-rewritten-relay leaves out the relayed copies it explains."""

    @cached_property
    def inbox_rule_copies(self) -> InboxRuleCopies | None:
        """The inbox-rule copies to outside addresses, or None when there are none."""
        ctx = self.ctx
        if not ctx.tenant_domains or ctx.events.num_rows == 0:
            return None
        return _inbox_rule_copies(ctx)

    @cached_property
    def redirects(self) -> pd.DataFrame:
        """REDIRECT rows between an internal mailbox and an outside address, with ``mailbox``,
        ``target`` and ``detail``; empty when there are none."""
        ctx = self.ctx
        if not ctx.tenant_domains or ctx.events.num_rows == 0:
            return pd.DataFrame()
        return _redirect_rows(ctx)

    @cached_property
    def forwarded_pairs(self) -> list[str]:
        """``message_key US outside address`` of every copy an inbox rule or a redirect sent
        outside, sorted."""
        found: set[str] = set()
        copies = self.inbox_rule_copies
        if copies is not None:
            outside = copies.outside
            found.update(pair_keys(outside["message_key"], outside["recipient_address"]))
        if not self.redirects.empty:
            found.update(pair_keys(self.redirects["message_key"], self.redirects["target"]))
        return sorted(found)


@rule(
    id=RULE,
    severity="high",
    summary="Inbox rules (MAILBOXRULE) and redirects (REDIRECT) sending an internal mailbox's "
    "mail to outside addresses, with the inbound messages that triggered them",
    # the inbox-rule kind cites the RECEIVE that created each forwarded copy (source
    # MAILBOXRULE); the redirect kind cites REDIRECT rows: each kind's moments and role
    story=Story(
        roles=(
            Role("forwards mail out with an inbox rule", acts=True, events=("RECEIVE",)),
            Role("redirects mail out", acts=True, events=("REDIRECT",)),
        ),
        moments=(
            Moment(
                "Inbox rule of {mailboxes} forwards a message outside to {targets}",
                events=("RECEIVE",),
            ),
            Moment(
                "Last inbox-rule forward of {mailboxes}, to {targets}",
                rows="last",
                events=("RECEIVE",),
            ),
            Moment("Mail to {mailboxes} is redirected outside to {targets}", events=("REDIRECT",)),
            Moment(
                "Last redirect of mail to {mailboxes}, to {targets}",
                rows="last",
                events=("REDIRECT",),
            ),
        ),
        steps=(
            INBOX_RULES,
            MAILBOX_FORWARDING,
            INBOX_RULE_AUDIT,
            MAILBOX_AUDIT,
            USER_SIGNINS,
            TRACE_TO_TARGET,
            TRACE_SENT,
            MAILBOX_VIEW,
        ),
        indicators=("target",),
    ),
)
def external_forwarding(ctx: Context) -> list[Finding]:
    """Inbox-rule forwards and redirects from internal mailboxes to outside addresses."""
    forwarding = ctx.topic(Forwarding)
    copies = forwarding.inbox_rule_copies
    found = _inbox_rule_findings(ctx, copies) if copies is not None else []
    return found + _redirect_findings(ctx, forwarding.redirects)


def _inbox_rule_copies(ctx: Context) -> InboxRuleCopies | None:
    source = pc.utf8_upper(ctx.events["source"])
    rule_rows = ctx.event_frame(pc.equal(source, "MAILBOXRULE"), RULE_EVENT_COLUMNS)
    if rule_rows.empty:
        return None
    forwarded_keys = sorted(set(rule_rows["message_key"].dropna()))
    # the forwarded copies' recipients outside the organization
    recipients = ctx.recipient_frame(
        pc.is_in(ctx.recipients["message_key"], value_set=pa.array(forwarded_keys)),
        (
            "message_key",
            "recipient_address",
            "sender_address",
            "network_message_id",
            "message_id",
            "first_time",
            "decided_input_id",
            "decided_line",
        ),
    )
    recipients["domain"] = domain_series(recipients["recipient_address"])
    inside = recipients["domain"].map(ctx.is_internal, na_action="ignore").fillna(False)
    outside = recipients[(recipients["domain"].notna() & ~inside.astype(bool)).to_numpy()].copy()
    if outside.empty:
        return None
    # the mailbox whose rule fired: the forwarded copy's sender when internal, else the
    # internal recipient of the message that triggered it
    links = ctx.chains.links
    links = links.filter(
        pc.and_(
            pc.equal(links["relation"], "inbox_rule_forward_of"),
            pc.is_in(links["message_key"], value_set=pa.array(forwarded_keys)),
        )
    ).to_pandas()
    links = links.dropna(subset=["related_message_key"])
    triggers = {  # one entry per forwarded copy
        key: sorted(set(group))
        for key, group in links.groupby("message_key")["related_message_key"]
    }
    trigger_keys = sorted({k for keys in triggers.values() for k in keys})
    trigger_recipients = ctx.recipient_frame(
        pc.is_in(ctx.recipients["message_key"], value_set=pa.array(trigger_keys, pa.string())),
        ("message_key", "recipient_address", "sender_address", "message_subject"),
    )
    trigger_inside = domain_series(trigger_recipients["recipient_address"]).map(
        ctx.is_internal, na_action="ignore"
    )
    trigger_recipients = trigger_recipients[trigger_inside.fillna(False).astype(bool).to_numpy()]
    rule_senders = (
        rule_rows.assign(sender=rule_rows["sender_address"].str.lower())
        .groupby("message_key")["sender"]
        .first()
    )

    def mailboxes_of(message_key: str) -> list[str]:
        sender = rule_senders.get(message_key)
        if isinstance(sender, str) and ctx.is_internal(domain_text(sender)):
            return [sender.strip("<>")]
        keys = triggers.get(message_key, [])
        found = trigger_recipients[trigger_recipients["message_key"].isin(keys)]
        return sorted(set(found["recipient_address"].str.lower())) or [_UNKNOWN_MAILBOX]

    outside["mailbox"] = outside["message_key"].map(mailboxes_of)
    return InboxRuleCopies(rule_rows, outside, triggers, trigger_recipients)


def _inbox_rule_findings(ctx: Context, copies: InboxRuleCopies) -> list[Finding]:
    rule_rows, triggers = copies.rule_rows, copies.triggers
    trigger_recipients = copies.trigger_recipients
    outside = copies.outside.explode("mailbox")
    # the copies' sends and the triggers' deliveries, looked up once for all mailboxes
    all_sends = ctx.pair_event_frame(
        outside[["message_key", "recipient_address"]], prefer_events=("SEND", "DELIVER")
    )
    all_sends["detail"] = "forwarded copy to " + all_sends["recipient_address"].fillna("?")
    all_triggers = ctx.pair_event_frame(
        trigger_recipients[["message_key", "recipient_address"]], prefer_events=("DELIVER",)
    )
    all_triggers["detail"] = "triggering message from " + all_triggers["sender_address"].fillna("?")
    findings = []
    for key, group in outside.groupby("mailbox", sort=True):
        mailbox = str(key)
        keys = sorted(set(group["message_key"]))
        targets = sorted(set(group["recipient_address"].str.lower()))
        rows = rule_rows[rule_rows["message_key"].isin(keys)].copy()
        rows["detail"] = "inbox rule (MAILBOXRULE) created the forwarded copy"
        sends = all_sends[
            pair_keys(all_sends["message_key"], all_sends["recipient_key"]).isin(
                pair_keys(group["message_key"], group["recipient_address"])
            )
        ]
        my_triggers = sorted({t for k in keys for t in triggers.get(k, [])})
        trigger_rows = all_triggers[all_triggers["message_key"].isin(my_triggers)]
        if mailbox != _UNKNOWN_MAILBOX:
            trigger_rows = trigger_rows[trigger_rows["recipient_key"] == mailbox]
        first = rows["time_ns"].min()
        untriggered = len(keys) - len({k for k in keys if triggers.get(k)})
        if my_triggers:
            linked = (
                f"the evidence lists the {plural(len(my_triggers), 'inbound message')} that "
                "triggered it"
            )
            if untriggered:
                linked += f" ({plural(untriggered, 'forwarded copy', 'forwarded copies')} "
                linked += "have no trigger in the data)"
        else:
            linked = "the messages that triggered it are not in the data"
        finding = ctx.finding(
            RULE,
            "high",
            f"Inbox rule of {mailbox} forwards mail outside to {listing(targets)} "
            f"({plural(len(keys), 'message')})",
            f"An inbox rule in the internal mailbox {mailbox} sent copies of "
            f"{plural(len(keys), 'message')} to addresses outside the organization, the first "
            f"at {ctx.time_text(first)}; {linked}. Attackers who take over a mailbox often add "
            "such a rule to keep reading its mail after the password is reset. Check the "
            "mailbox's inbox rules (Get-InboxRule) and when they were created, the sign-ins to "
            "the mailbox around the first forward, and what the forwarded messages contained.",
            ctx.entities(
                mailbox=[mailbox, *targets] if mailbox != _UNKNOWN_MAILBOX else targets,
                domain=group["domain"],
            ),
            [rows, sends, trigger_rows],
        )
        if finding:
            findings.append(finding)
    return findings


def _redirect_rows(ctx: Context) -> pd.DataFrame:
    # Exchange's REDIRECT rows name the two addresses in either order (the original in
    # recipient_address and the new one in related_recipient_address, or the other way
    # round): the internal one is the mailbox, the outside one the target.
    events = ctx.events
    related_domain = domain_of(events["related_recipient_address"])
    related_internal = ctx.internal_mask(related_domain)
    recipient_internal = ctx.event_recipient_internal
    one_inside_one_out = pc.or_(
        pc.and_(
            recipient_internal,
            pc.and_(pc.invert(related_internal), pc.is_valid(related_domain)),
        ),
        pc.and_(
            related_internal,
            pc.and_(pc.invert(recipient_internal), pc.is_valid(ctx.event_recipient_domain)),
        ),
    )
    mask = pc.and_(
        fill_false(pc.equal(pc.utf8_upper(events["event_id"]), "REDIRECT")), one_inside_one_out
    )
    rows = ctx.event_frame(fill_false(mask), RULE_EVENT_COLUMNS)
    if rows.empty:
        return rows
    recipient = rows["recipient_address"].str.strip().str.lower()
    related = rows["related_recipient_address"].str.strip().str.lower()
    inside = recipient.map(domain_text).map(ctx.is_internal).astype(bool)
    rows["mailbox"] = recipient.where(inside, related)
    rows["target"] = related.where(inside, recipient)
    rows["detail"] = "redirected to " + rows["target"]
    return rows


def _redirect_findings(ctx: Context, rows: pd.DataFrame) -> list[Finding]:
    if rows.empty:
        return []
    findings = []
    for key, group in rows.groupby("mailbox", sort=True):
        mailbox = str(key)
        targets = sorted(set(group["target"]))
        count = group["message_key"].nunique()
        finding = ctx.finding(
            RULE,
            "high",
            f"Mail to {mailbox} is redirected to outside {listing(targets)} "
            f"({plural(count, 'message')})",
            f"Exchange redirected {plural(count, 'message')} addressed to the internal mailbox "
            f"{mailbox} to addresses outside the organization, the first at "
            f"{ctx.time_text(group['time_ns'].min())}. Mailbox forwarding (ForwardingSmtpAddress), "
            "a redirecting inbox rule or a mail flow rule does this; attackers use each to "
            "siphon mail. Check the mailbox's forwarding settings and inbox rules, mail flow "
            "rules that redirect, and who changed them and when.",
            ctx.entities(mailbox=[mailbox, *targets], domain=[domain_text(t) for t in targets]),
            group,
        )
        if finding:
            findings.append(finding)
    return findings


@rule(
    id=RELAY_RULE,
    severity="medium",
    summary="Outside mail relayed on to an outside address with a return path that differs "
    "from the sender (how Exchange Online rewrites the sender of mail it forwards)",
    story=Story(
        moments=(
            Moment(
                "Outside mail is relayed on to {targets} with a rewritten sender "
                "({total:message} in all)",
                about="none",
            ),
        ),
        steps=(
            TRACE_TO_TARGET,
            Step(
                "Find the mailbox that forwards to {target} (mailbox forwarding; inbox rules "
                "and mail flow rules can do it too)",
                "Get-Mailbox -ResultSize Unlimited | Where-Object {{ [string]"
                "$_.ForwardingSmtpAddress -eq ('smtp:' + {target}) }} | Format-List "
                "Name,ForwardingSmtpAddress,DeliverToMailboxAndForward",
                each="target",
            ),
        ),
        indicators=("target",),
    ),
)
def sender_rewritten_relay(ctx: Context) -> list[Finding]:
    """Outside mail relayed on to outside addresses with a rewritten envelope sender."""
    if not ctx.tenant_domains or ctx.events.num_rows == 0:
        return []
    events = ctx.events
    return_path = address_key(events["return_path"])
    sender = address_key(events["sender_address"])
    mask = pc.and_(
        pc.and_(
            pc.and_(pc.is_valid(return_path), pc.not_equal(return_path, "")),
            pc.not_equal(return_path, sender),
        ),
        pc.and_(
            pc.and_(pc.is_valid(ctx.event_sender_domain), pc.invert(ctx.event_sender_internal)),
            pc.and_(
                pc.is_valid(ctx.event_recipient_domain), pc.invert(ctx.event_recipient_internal)
            ),
        ),
    )
    rows = ctx.event_frame(fill_false(mask), RULE_EVENT_COLUMNS)
    if rows.empty:
        return []
    # one row per relayed message and destination: the first
    rows = rows.sort_values(["time_ns", "row"], kind="stable").drop_duplicates(
        ["message_key", "recipient_key"]
    )
    rows["destination"] = rows["recipient_address"].str.strip().str.lower()
    # copies an inbox rule or a redirect already explains are reported there
    forwarded = ctx.topic(Forwarding).forwarded_pairs
    rows = rows[~pair_keys(rows["message_key"], rows["destination"]).isin(forwarded)]
    if rows.empty:
        return []
    rows["detail"] = (
        "from " + rows["sender_address"].fillna("?") + ", return path " + rows["return_path"]
    )
    findings = []
    for key, group in rows.groupby("destination", sort=True):
        destination = str(key)
        count = group["message_key"].nunique()
        senders = sorted(set(group["sender_address"].str.lower()))
        finding = ctx.finding(
            RELAY_RULE,
            "medium",
            f"Outside mail relayed to {destination} with a rewritten sender "
            f"({plural(count, 'message')})",
            f"{plural(count, 'message')} from outside senders ({listing(senders)}) went on to "
            f"the outside address {destination} with an envelope sender (return path) that "
            "differs from the sender: the signature of a mailbox or rule in the organization "
            "forwarding its mail outside (Exchange Online rewrites the sender of what it "
            "relays). Find which mailbox forwards to this address (ForwardingSmtpAddress, "
            "inbox rules, mail flow rules), using the messages' network message ids.",
            ctx.entities(
                mailbox=[destination],
                domain=[domain_text(destination), *group["return_path"].map(domain_text)],
            ),
            group,
        )
        if finding:
            findings.append(finding)
    return findings


__all__ = ["external_forwarding", "sender_rewritten_relay"]
