"""Threat verdicts: malware, phish, spam and bulk verdicts, quarantines, and spam let through.

Exchange Online Protection writes its verdicts into ``custom_data`` (``S:SFA=...|SFV=SPM|SCL=9|
DI=SQ|...``; ``S:AMA=...|name=<malware>``), which ``analyzer.chains`` parses per recipient
(``sfv``, ``scl``, ``di``, ``malware_name``); Defender exports say it in ``threat_types``.
SFV values: SPM spam, SKS marked as spam before filtering, SKB/BLK blocked sender;
SCL -1..9 (5-6 spam, 9 high confidence spam); DI: SB blocked, SQ quarantined, SD deleted,
SJ junk folder, SN normal (inbox). Phish is read from the spam filter's category
(``SFA.CAT``: PHSH, HPHSH, SPOOF, ...) or Defender's threat types; bulk from ``SFA.SRV=BULK``
or ``SFA.CAT=BULK``.

One finding per verdict kind (not per message), naming the senders and recipients; each kind
is a rule of its own, all reading the verdicts computed once (``Verdicts``).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false, isin
from analyzer.findings.base import Context, Topic, arrow_strings, listing, pair_keys, plural
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import (
    DELIVERED_SIGNINS,
    MAILBOX_VIEW,
    QUARANTINE,
    SENDER_RESTRICTED,
    TRACE_FROM_SENDER,
    TRACE_MESSAGE_DETAIL,
    TRACE_SENT,
    USER_SIGNINS,
    Moment,
    Role,
    Step,
    Story,
)

#: What an inbound threat's findings tell: who had a copy delivered, when, and when it was
#: taken out again (malware and phish alike).
_INBOUND_INDICATORS = ("sender", "sender_domain", "subject", "message_id", "sender_ip", "url")


def _threat_story(name: str, role: str) -> Story:
    return Story(
        roles=(Role(role, acts=False, of="delivered"),),
        moments=(
            Moment(
                name + " from {domains} received ({total:copy/copies} in all)", about="recipients"
            ),
            Moment(
                name + " delivered to {count:mailbox/mailboxes}: {mailboxes}",
                rows="delivered",
                about="delivered",
            ),
            Moment(
                "{removed_by} removed the " + name.lower() + " from "
                "{count:mailbox/mailboxes} after {dwell}",
                rows="removed",
                about="delivered",
            ),
        ),
        steps=(DELIVERED_SIGNINS, TRACE_MESSAGE_DETAIL, TRACE_FROM_SENDER, QUARANTINE),
        indicators=_INBOUND_INDICATORS,
        needs_delivery=True,
        malicious_mail=True,
    )


def _context_story(what: str, steps: tuple[Step, ...] = (QUARANTINE,)) -> Story:
    """The story of a verdict that is usually protection working: its first row, who got it."""
    return Story(
        moments=(Moment(what + " ({total:copy/copies} in all)", about="recipients"),),
        steps=steps,
        indicators=("sender", "sender_domain", "subject", "message_id"),
    )


SPAM_SFV = ("SPM", "SKS", "SKB", "BLK")
PHISH_CATEGORIES = ("PHSH", "HPHSH", "HPHISH", "PHISH", "SPOOF", "GIMP", "UIMP", "DIMP")
NOT_INBOX = ("SJ", "SQ", "SD", "SB")

_COLUMNS = (
    "message_key",
    "network_message_id",
    "message_id",
    "sender_address",
    "recipient_address",
    "message_subject",
    "final_status",
    "sfv",
    "scl",
    "di",
    "malware_name",
    "first_time",
    "decided_input_id",
    "decided_line",
)


def _lookup(ctx: Context, key: str) -> pa.ChunkedArray:
    return pc.utf8_upper(pc.utf8_trim_whitespace(ctx.custom_value(key)))


def _threat_type(ctx: Context, word: str) -> pa.ChunkedArray:
    if "threat_types" not in ctx.events.column_names:
        return pa.chunked_array([pa.array(np.zeros(ctx.events.num_rows, dtype=bool))])
    return fill_false(pc.match_substring(ctx.events["threat_types"], word, ignore_case=True))


def _message_keys(ctx: Context, mask: pa.ChunkedArray) -> pa.Array:
    keys = ctx.events["message_key"].filter(fill_false(mask)).drop_null()
    return pc.unique(keys) if len(keys) else pa.array([], pa.string())


def _scl(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """SCL as integers, whatever type chains gave it (non-numbers are null)."""
    if pa.types.is_integer(column.type):
        return column.cast(pa.int64())
    text = pc.utf8_trim_whitespace(column.cast(pa.string()))
    numeric = pc.if_else(pc.match_substring_regex(text, r"^-?\d+$"), text, None)
    return numeric.cast(pa.int64())


class Verdicts(Topic):
    """The verdicts of every message x recipient: each verdict rule reports its own kind."""

    @cached_property
    def frame(self) -> pd.DataFrame:
        """Recipients rows with any verdict, one boolean column per verdict (``malware``,
        ``phish``, ``outbound_spam``, ``spam``, ``bulk``, ``quarantined``, ``let_through``),
        ``scl_value``, and ``delivered`` (a copy reached the mailbox at some point); empty
        when no message has a verdict."""
        return _verdict_frame(self.ctx)


def _verdict_frame(ctx: Context) -> pd.DataFrame:
    if ctx.recipients.num_rows == 0 or ctx.events.num_rows == 0:
        return pd.DataFrame()
    t = ctx.thresholds
    r = ctx.recipients
    category = _lookup(ctx, "SFA.CAT")
    phish_keys = _message_keys(
        ctx,
        pc.or_(
            fill_false(pc.is_in(category, value_set=pa.array(PHISH_CATEGORIES))),
            _threat_type(ctx, "phish"),
        ),
    )
    malware_keys = _message_keys(ctx, _threat_type(ctx, "malware"))
    spam_keys = _message_keys(ctx, _threat_type(ctx, "spam"))
    bulk_keys = _message_keys(
        ctx,
        pc.or_(
            fill_false(pc.equal(_lookup(ctx, "SFA.SRV"), "BULK")),
            fill_false(pc.equal(category, "BULK")),
        ),
    )
    key = r["message_key"]
    scl = _scl(r["scl"])
    sfv = pc.utf8_upper(r["sfv"].cast(pa.string()))
    di = pc.utf8_upper(r["di"].cast(pa.string()))
    status = r["final_status"]
    high_scl = fill_false(pc.greater_equal(scl, t.high_scl))
    malware = pc.or_(
        fill_false(pc.greater(pc.utf8_length(pc.utf8_trim_whitespace(r["malware_name"])), 0)),
        fill_false(pc.is_in(key, value_set=malware_keys)),
    )
    phish = pc.and_(fill_false(pc.is_in(key, value_set=phish_keys)), pc.invert(malware))
    recipient_internal = ctx.internal_mask(ctx.recipient_domain)
    sender_internal = ctx.internal_mask(ctx.recipient_sender_domain)
    outbound = pc.and_(sender_internal, pc.invert(recipient_internal))
    # spam in an internal inbox: reported on its own, not again as a spam verdict
    let_through = pc.and_(
        pc.and_(fill_false(pc.equal(status, "Delivered")), high_scl),
        pc.and_(
            pc.invert(fill_false(pc.is_in(di, value_set=pa.array(NOT_INBOX)))),
            pc.and_(recipient_internal, pc.invert(pc.or_(malware, phish))),
        ),
    )
    spam = pc.and_(
        pc.or_(
            pc.or_(fill_false(pc.is_in(sfv, value_set=pa.array(SPAM_SFV))), high_scl),
            pc.or_(
                fill_false(pc.equal(status, "FilteredAsSpam")),
                fill_false(pc.is_in(key, value_set=spam_keys)),
            ),
        ),
        pc.invert(pc.or_(pc.or_(malware, phish), let_through)),
    )
    bulk = pc.and_(
        fill_false(pc.is_in(key, value_set=bulk_keys)),
        pc.invert(pc.or_(malware, pc.or_(phish, spam))),
    )
    quarantined = pc.or_(
        fill_false(pc.equal(status, "Quarantined")), fill_false(pc.equal(di, "SQ"))
    )
    any_flag = pc.or_(
        pc.or_(pc.or_(malware, phish), pc.or_(spam, bulk)), pc.or_(quarantined, let_through)
    )
    if not pc.any(any_flag).as_py():
        return pd.DataFrame()
    flags = pa.table(
        {
            "malware": malware,
            "phish": phish,
            # outbound-spam and spam-verdict split the spam verdicts by direction
            "outbound_spam": pc.and_(spam, outbound),
            "spam": pc.and_(spam, pc.invert(outbound)),
            "bulk": bulk,
            "quarantined": quarantined,
            "let_through": let_through,
            "scl_value": scl,
        }
    ).filter(any_flag)
    frame = ctx.recipient_frame(any_flag, _COLUMNS)
    flag_frame = flags.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for name in flags.column_names:
        frame[name] = flag_frame[name].array
    # delivered at some point, even if moved to quarantine later (ZAP): a user may have read it
    frame["delivered"] = (frame["final_status"] == "Delivered").to_numpy(dtype=bool) | isin(
        arrow_strings(pair_keys(frame["message_key"], frame["recipient_address"])),
        _delivered_pairs(ctx, frame["message_key"].unique()),
    )
    return frame


@rule(
    id="malware-detected",
    severity="high/medium",
    summary="Messages with a malware verdict (high when a copy was delivered)",
    story=_threat_story("Malware", "received delivered malware"),
)
def malware_detected(ctx: Context) -> list[Finding]:
    """Messages with a malware verdict, named by the malware found."""
    return _verdict_findings(
        ctx,
        "malware-detected",
        "malware",
        "Malware in",
        "The malware filter found malware in these messages. Check whether any copy was "
        "delivered (evidence shows the final status), whether a recipient opened it, and "
        "block the senders; search the recipients' devices for the named malware.",
        severity=None,
    )


@rule(
    id="phish-detected",
    severity="high/medium",
    summary="Messages classified as phish or spoofing (high when a copy was delivered)",
    story=_threat_story("Phish", "received a delivered phish"),
)
def phish_detected(ctx: Context) -> list[Finding]:
    """Messages the spam filter or Defender classified as phish or spoofing."""
    return _verdict_findings(
        ctx,
        "phish-detected",
        "phish",
        "Phish verdict on",
        "The spam filter or Defender classified these messages as phishing or spoofing. "
        "Delivered copies are the dangerous ones: ask the recipients whether they clicked a "
        "link or entered a password, and check their sign-ins after delivery.",
        severity=None,
    )


@rule(
    id="outbound-spam",
    severity="high",
    summary="Mail from internal senders to outside recipients with a spam verdict",
    thresholds=("high_scl",),
    story=Story(
        roles=(Role("sent spam out", acts=True),),
        moments=(
            Moment("Spam sent out by {mailboxes} ({total:copy/copies} in all)"),
            Moment("Last outbound spam of {mailboxes} cited", rows="last"),
        ),
        steps=(USER_SIGNINS, SENDER_RESTRICTED, TRACE_SENT, MAILBOX_VIEW),
        indicators=("subject",),
    ),
)
def outbound_spam(ctx: Context) -> list[Finding]:
    """Mail from internal senders to outside recipients with a spam verdict."""
    return _verdict_findings(
        ctx,
        "outbound-spam",
        "outbound_spam",
        "Outbound spam verdict on",
        "Mail sent from inside the organization was classified as spam: the usual sign "
        "of a compromised mailbox sending spam. Check the senders' sign-ins and whether "
        "outbound spam protection restricted them.",
        severity="high",
    )


@rule(
    id="spam-verdict",
    severity="low",
    summary="Inbound and internal messages with a spam verdict (SFV, SCL)",
    thresholds=("high_scl",),
    story=_context_story("Spam from {domains} received"),
)
def spam_verdict(ctx: Context) -> list[Finding]:
    """Inbound and internal messages with a spam verdict."""
    return _verdict_findings(
        ctx,
        "spam-verdict",
        "spam",
        "Spam verdict on",
        "The spam filter classified these messages as spam (SFV/SCL). Usually this is "
        "protection working; look at any that were delivered and at senders that target "
        "many mailboxes.",
        severity="low",
    )


@rule(
    id="bulk-mail",
    severity="info",
    summary="Messages with a bulk verdict",
    # a bulk message that is also spam (by its SCL) is reported as spam
    thresholds=("high_scl",),
    story=_context_story("Bulk mail from {domains} received", steps=()),
)
def bulk_mail(ctx: Context) -> list[Finding]:
    """Messages with a bulk verdict (and no other)."""
    return _verdict_findings(
        ctx,
        "bulk-mail",
        "bulk",
        "Bulk mail verdict on",
        "These messages were classified as bulk (marketing) mail. Listed for context; a "
        "sudden bulk campaign to many mailboxes can hide phishing.",
        severity="info",
    )


@rule(
    id="quarantined",
    severity="low",
    summary="Messages held in quarantine",
    story=_context_story("Mail from {domains} held in quarantine"),
)
def quarantined(ctx: Context) -> list[Finding]:
    """Messages held in quarantine."""
    return _verdict_findings(
        ctx,
        "quarantined",
        "quarantined",
        "Quarantined:",
        "These messages were held in quarantine. Check whether any were released (a "
        "released phish is delivered later) and whether users asked for their release.",
        severity="low",
    )


@rule(
    id="delivered-despite-high-scl",
    severity="medium",
    summary="Messages delivered to an internal inbox although their SCL says spam",
    thresholds=("high_scl",),
    story=Story(
        roles=(Role("received spam let through to the inbox", acts=False, of="recipients"),),
        moments=(
            Moment(
                "Spam from {domains} delivered to the inbox despite its SCL "
                "({total:copy/copies} in all)",
                about="recipients",
            ),
        ),
        steps=(
            Step(
                "Find the mail flow rules that set the SCL to -1 (bypass spam filtering)",
                "Get-TransportRule | Where-Object {{ $_.SetSCL -eq -1 }} | Format-List "
                "Name,State,Priority,Conditions,WhenChanged",
            ),
            Step(
                "Check the tenant allow list for the senders",
                "Get-TenantAllowBlockListItems -ListType Sender -Allow",
            ),
            TRACE_MESSAGE_DETAIL,
        ),
        indicators=("sender", "sender_domain", "subject", "message_id"),
    ),
)
def delivered_despite_high_scl(ctx: Context) -> list[Finding]:
    """Messages delivered to an internal inbox although their SCL says spam."""
    return _verdict_findings(
        ctx,
        "delivered-despite-high-scl",
        "let_through",
        f"Delivered to the inbox with SCL >= {ctx.thresholds.high_scl}:",
        "These messages reached internal mailboxes although the spam filter scored them as "
        "spam, which happens when an allow list, a mail flow rule setting SCL -1 or a "
        "connector bypasses filtering. Find which rule or allow entry let them through "
        "and whether the senders are trusted.",
        severity="medium",
    )


def _verdict_findings(
    ctx: Context, rule_id: str, flag: str, verb: str, advice: str, severity: str | None
) -> list[Finding]:
    """The finding of one verdict kind: the recipients rows whose ``flag`` column is set.

    ``severity`` None (malware, phish): high when a copy was delivered, else medium, and the
    explanation says how many recipients had it delivered.
    """
    frame = ctx.topic(Verdicts).frame
    if frame.empty:
        return []
    selected = frame[frame[flag].to_numpy(dtype=bool)]
    if selected.empty:
        return []
    delivered = selected["delivered"]
    reached = int(delivered.sum())
    reached_text = ""
    if severity is None:
        severity = "high" if delivered.any() else "medium"
        if reached:
            reached_text = (
                f" {plural(reached, 'recipient')} had it delivered to the mailbox (some perhaps "
                "moved to quarantine later)."
            )
    messages = selected["message_key"].nunique()
    senders = sorted(selected["sender_address"].dropna().str.lower().unique())
    sender_domains = sorted({s.rsplit("@", 1)[-1] for s in senders if "@" in s})
    names = sorted(set(selected["malware_name"].dropna())) if flag == "malware" else []
    title = f"{verb} {plural(messages, 'message')}"
    title += f" ({listing(names)})" if names else ""
    title += f" from {listing(sender_domains or senders)}" if senders else ""
    counts = selected["final_status"].fillna("Unknown").value_counts()
    outcome = ", ".join(
        f"{status} {count:,}"
        for status, count in sorted(counts.items(), key=lambda i: (-i[1], str(i[0])))
    )
    shown = ctx.earliest(selected, "first_time_ns")
    evidence = ctx.pair_event_frame(
        shown[["message_key", "recipient_address"]],
        prefer_events=("AGENTINFO",),
        prefer_statuses=("quarantined", "filteredasspam", "delivered", "failed"),
        last=False,
    )
    details = dict(
        zip(
            pair_keys(shown["message_key"], shown["recipient_address"]),
            _verdict_text(shown),
            strict=True,
        )
    )
    evidence["detail"] = pair_keys(evidence["message_key"], evidence["recipient_key"]).map(details)
    finding = ctx.finding(
        rule_id,
        severity,
        title,
        f"{plural(len(selected), 'recipient')} of {plural(messages, 'message')} from "
        f"{plural(len(senders), 'sender')} ({listing(senders)}); final status: {outcome}."
        + reached_text
        + " "
        + advice,
        ctx.entities(
            mailbox=[*senders, *selected["recipient_address"].str.lower().unique()],
            domain=sender_domains,
        ),
        evidence,
        total=len(selected),
    )
    return [finding] if finding else []


def _delivered_pairs(ctx: Context, message_keys) -> np.ndarray:
    """Pair keys (message_key US recipient_key) of these messages that have a DELIVER event
    into the mailbox.

    An enhanced summary lists a quarantined message's events as ``Receive, Deliver,
    Quarantined`` in one row: that DELIVER is the hand-over to quarantine, not to the mailbox,
    so a DELIVER whose row also says QUARANTINED does not count.
    """
    events = ctx.events
    ours = fill_false(
        pc.is_in(events["message_key"], value_set=pa.array(message_keys, pa.string()))
    )
    event_id = pc.utf8_upper(events["event_id"])
    row_key = pc.binary_join_element_wise(
        pc.fill_null(events["input_id"], ""),
        pc.fill_null(events["line"].cast(pa.string()), ""),
        ctx.event_pair_key,
        "\x1f",
    )
    quarantined_rows = row_key.filter(pc.and_(ours, fill_false(pc.equal(event_id, "QUARANTINED"))))
    mask = pc.and_(
        pc.and_(ours, fill_false(pc.equal(event_id, "DELIVER"))),
        pc.invert(fill_false(pc.is_in(row_key, value_set=pc.unique(quarantined_rows)))),
    )
    return pc.unique(ctx.event_pair_key.filter(mask)).to_numpy(zero_copy_only=False)


def _verdict_text(frame: pd.DataFrame) -> pd.Series:
    """``SFV=SPM SCL=9 DI=SQ malware=X; final status Quarantined`` per row (vectorized)."""
    text = pd.Series("", index=frame.index, dtype=object)
    labels = (("SFV", "sfv"), ("SCL", "scl_value"), ("DI", "di"), ("malware", "malware_name"))
    for label, column in labels:
        values = frame[column]
        present = values.notna() & (values.astype(str) != "")
        rendered = values.astype("string").fillna("")
        text = text.where(~present, text + label + "=" + rendered + " ")
    return text + "final status " + frame["final_status"].fillna("Unknown")


__all__ = [
    "bulk_mail",
    "delivered_despite_high_scl",
    "malware_detected",
    "outbound_spam",
    "phish_detected",
    "quarantined",
    "spam_verdict",
]
