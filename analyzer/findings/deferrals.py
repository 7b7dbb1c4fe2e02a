"""Mail that is slow or stuck: long deferrals, recipients still pending, and mail loops.

Deferrals come from ``Chains.recipients`` (``deferral_count``, ``deferral_seconds``,
``final_status``). A loop shows as the same Internet message id received over and over for the
same recipient (each pass through Exchange Online gets a new network message id, so loops are
counted by ``message_id``), or as an NDR that says so: 5.4.14 (hop count exceeded, possible mail
loop), 5.4.6 and 4.4.6 (routing loop detected).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.findings.base import (
    RULE_EVENT_COLUMNS,
    Context,
    domain_series,
    listing,
    pair_keys,
    plural,
)
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import TRACE_MESSAGE_DETAIL, Moment, Story
from analyzer.timestamps import duration_text

DEFERRAL_RULE = "long-deferral"
PENDING_RULE = "pending-at-end"
LOOP_RULE = "mail-loop"
LOOP_STATUS_CODES = ("5.4.14", "5.4.6", "4.4.6")

_COLUMNS = (
    "message_key",
    "network_message_id",
    "message_id",
    "sender_address",
    "recipient_address",
    "final_status",
    "first_time",
    "final_time",
    "deferral_count",
    "deferral_seconds",
    "status_code",
    "smtp_reply",
)


def _by_domain(frame: pd.DataFrame) -> pd.Series:
    return domain_series(frame["recipient_address"]).fillna("(no recipient domain)")


@rule(
    id=DEFERRAL_RULE,
    severity="low",
    summary="Recipients whose delivery was deferred for long, by recipient domain",
    thresholds=("long_deferral_minutes",),
    story=Story(
        moments=(Moment("{title}: first deferral cited", about="none"),),
        steps=(TRACE_MESSAGE_DETAIL,),
    ),
)
def long_deferrals(ctx: Context) -> list[Finding]:
    """Recipients whose delivery was deferred for long, one finding per recipient domain."""
    t = ctx.thresholds
    r = ctx.recipients
    if r.num_rows == 0 or "deferral_seconds" not in r.column_names:
        return []
    mask = fill_false(pc.greater_equal(r["deferral_seconds"], t.long_deferral_minutes * 60))
    frame = ctx.recipient_frame(mask, _COLUMNS)
    if frame.empty:
        return []
    frame["domain"] = _by_domain(frame)
    findings = []
    for key, group in frame.groupby("domain", sort=True):
        domain = str(key)
        longest = float(group["deferral_seconds"].max())
        shown = ctx.earliest(group, "first_time_ns")
        evidence = ctx.pair_event_frame(
            shown[["message_key", "recipient_address"]], prefer_events=("DEFER",)
        )
        statuses = dict(
            zip(
                pair_keys(shown["message_key"], shown["recipient_address"]),
                "deferred " + shown["deferral_seconds"].map(duration_text) + " in all, final "
                "status " + shown["final_status"].fillna("Unknown"),
                strict=True,
            )
        )
        evidence["detail"] = pair_keys(evidence["message_key"], evidence["recipient_key"]).map(
            statuses
        )
        still = int((group["final_status"] == "Pending").sum())
        finding = ctx.finding(
            DEFERRAL_RULE,
            "low",
            f"Delivery to {domain} deferred for up to {duration_text(longest)} "
            f"({plural(len(group), 'recipient')})",
            f"Delivery to {plural(len(group), 'recipient')} at {domain} was deferred for "
            f"{t.long_deferral_minutes} minutes or more (longest {duration_text(longest)}); "
            f"{still:,} of them are still pending. Long deferrals come from a receiving server "
            "that is down or refuses the organization's mail (greylisting, a blocklisting "
            "of the sending IPs), or from a broken connector. Read the DEFER replies in the "
            "evidence.",
            ctx.entities(domain=[domain], mailbox=group["recipient_address"].str.lower()),
            evidence,
            total=len(group),
        )
        if finding:
            findings.append(finding)
    return findings


@rule(
    id=PENDING_RULE,
    severity="low",
    summary="Recipients still pending at the end of the data, by recipient domain",
    thresholds=("pending_min_age_minutes",),
    story=Story(
        moments=(Moment("{title}: last event of the oldest", about="none"),),
        steps=(TRACE_MESSAGE_DETAIL,),
    ),
)
def pending_at_end(ctx: Context) -> list[Finding]:
    """Recipients still pending at the end of the data, one finding per recipient domain."""
    t = ctx.thresholds
    r = ctx.recipients
    end = ctx.data_end_ns
    if r.num_rows == 0 or end is None:
        return []
    cutoff = pa.scalar(end - t.pending_min_age_minutes * 60 * 1_000_000_000, pa.int64())
    received_ns = r["first_time"].cast(pa.int64())
    has_recipient = fill_false(pc.greater(pc.utf8_length(r["recipient_address"]), 0))
    mask = pc.and_(
        pc.and_(fill_false(pc.equal(r["final_status"], "Pending")), has_recipient),
        fill_false(pc.less_equal(received_ns, cutoff)),
    )
    frame = ctx.recipient_frame(mask, _COLUMNS)
    if frame.empty:
        return []
    frame["domain"] = _by_domain(frame)
    findings = []
    for key, group in frame.groupby("domain", sort=True):
        domain = str(key)
        since = group["first_time_ns"].min()
        evidence = ctx.pair_event_frame(
            ctx.earliest(group, "first_time_ns")[["message_key", "recipient_address"]],
            prefer_events=("DEFER",),
            prefer_statuses=("pending", "gettingstatus"),
        )
        evidence["detail"] = "last event; still pending at the end of the data"
        total = len(group)
        finding = ctx.finding(
            PENDING_RULE,
            "low",
            f"{plural(len(group), 'recipient')} at {domain} still pending at the end of the data",
            f"{plural(len(group), 'recipient')} at {domain} had no final delivery event by the "
            f"end of the data ({ctx.time_text(end)}); the oldest was received at "
            f"{ctx.time_text(since)}. Either the mail is still queued (the receiving side is "
            "unreachable or refusing it) or the export stopped before the outcome. Trace these "
            "messages again, or export a later time range.",
            ctx.entities(domain=[domain], mailbox=group["recipient_address"].str.lower()),
            evidence,
            total=total,
        )
        if finding:
            findings.append(finding)
    return findings


@rule(
    id=LOOP_RULE,
    severity="medium",
    summary="The same Internet message id received many times for one recipient, or a loop "
    "NDR (5.4.14, 5.4.6, 4.4.6)",
    thresholds=("loop_min_receives",),
    story=Story(
        moments=(
            Moment("{title}: first row", about="none"),
            Moment("Last row of the possible loop", rows="last", about="none"),
        ),
        steps=(TRACE_MESSAGE_DETAIL,),
    ),
)
def mail_loops(ctx: Context) -> list[Finding]:
    """The same Internet message id received many times for one recipient, or loop NDRs."""
    t = ctx.thresholds
    events = ctx.events
    if events.num_rows == 0:
        return []
    is_receive = fill_false(pc.equal(events["event_id"], "RECEIVE"))
    if "in_timeline" in events.column_names:  # the same RECEIVE seen in two exports counts once
        is_receive = pc.and_(is_receive, fill_false(events["in_timeline"]))
    loop_ndr = fill_false(pc.is_in(events["status_code"], value_set=pa.array(LOOP_STATUS_CODES)))
    table = pa.table(
        {
            "raw_id": events["message_id"],
            "recipient_key": events["recipient_key"],
            "ndr": loop_ndr,
        }
    ).filter(pc.and_(pc.or_(is_receive, loop_ndr), pc.is_valid(events["message_id"])))
    # the same id with or without <> and in any case is the same message
    table = table.append_column("message_id", pc.utf8_lower(pc.utf8_trim(table["raw_id"], " <>")))
    receives = table.filter(pc.invert(table["ndr"]))
    counts = receives.group_by(["message_id", "recipient_key"]).aggregate([("raw_id", "count")])
    counts = counts.filter(pc.greater_equal(counts["raw_id_count"], t.loop_min_receives))
    looping = pc.unique(
        pa.chunked_array(
            [counts["message_id"], table.filter(table["ndr"])["message_id"]], pa.string()
        )
    )
    if len(looping) == 0:
        return []
    raw_ids = pc.unique(table.filter(pc.is_in(table["message_id"], value_set=looping))["raw_id"])
    wanted = pc.and_(
        fill_false(pc.is_in(events["message_id"], value_set=raw_ids)),
        pc.or_(is_receive, loop_ndr),
    )
    rows = ctx.event_frame(wanted, RULE_EVENT_COLUMNS)
    rows["loop_id"] = rows["message_id"].str.strip(" <>").str.lower()
    rows["ndr"] = rows["status_code"].isin(LOOP_STATUS_CODES)
    findings = []
    for _, group in rows.groupby("loop_id", sort=True):
        receives = group[~group["ndr"]]
        per_recipient = receives.groupby("recipient_key").size()
        most = int(per_recipient.max()) if not per_recipient.empty else 0
        recipients = sorted(per_recipient[per_recipient == most].index) if most else []
        ndr_codes = sorted(set(group.loc[group["ndr"], "status_code"]))
        group = group.assign(
            detail=np.where(
                group["ndr"], "NDR " + group["status_code"].fillna("") + ": loop", "received again"
            )
        )
        shown_id = group["message_id"].iloc[0]
        what = f"received {most} times for {listing(recipients)}" if most >= 2 else ""
        if ndr_codes:
            what = (what + "; " if what else "") + f"rejected with {', '.join(ndr_codes)}"
        finding = ctx.finding(
            LOOP_RULE,
            "medium",
            f"Possible mail loop: {shown_id} {what}",
            f"The message {shown_id} was seen between {ctx.time_text(group['time_ns'].min())} "
            f"and {ctx.time_text(group['time_ns'].max())} under "
            f"{plural(group['message_key'].nunique(), 'network message id')}: {what}. "
            "A mail loop (two forwarding rules or connectors sending mail back and forth) "
            "floods mailboxes and queues. "
            "Find the forwarding or routing that sends it back: compare the servers and "
            "connectors of successive RECEIVE events.",
            ctx.entities(mailbox=[*recipients, *group["sender_address"].dropna().str.lower()]),
            group,
        )
        if finding:
            findings.append(finding)
    return findings


__all__ = ["long_deferrals", "mail_loops", "pending_at_end"]
