"""Rare sending IPs of internal senders.

The IP a message was submitted from (``original_client_ip``; ``from_ip`` in summary-type
exports) is where the sender's mail client was. A mailbox that always sends from the office
and the user's home, and once from an address nobody in the organization uses, was probably
used by someone else. One unusual IP from which several internal mailboxes send is the
attacker's machine working through a list of compromised accounts.

Counted in messages (distinct chains), per internal sender and IP.
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
    listing,
    plural,
)
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import (
    IP_SIGNINS,
    MAILBOX_VIEW,
    TRACE_FROM_IP,
    USER_SIGNINS,
    Moment,
    Role,
    Story,
)
from analyzer.identifiers import address_key

RARE_RULE = "rare-client-ip"
SHARED_RULE = "shared-unusual-ip"


def _sending_ips(ctx: Context) -> pa.ChunkedArray:
    events = ctx.events
    ip = pc.utf8_trim_whitespace(events["original_client_ip"])
    if "from_ip" in events.column_names:
        ip = pc.coalesce(ip, pc.utf8_trim_whitespace(events["from_ip"]))
    return pc.if_else(pc.equal(ip, ""), None, ip)


@dataclass(frozen=True)
class UnusualIps:
    """The (internal sender, IP) pairs that are rare, and the event rows behind them.

    Attributes:
        lonely: rare pairs whose IP no other internal sender uses (rare-client-ip).
        shared: rare pairs whose IP is rare for ``shared_ip_min_senders`` senders or more
            (shared-unusual-ip).
        rows: one event row per message and recipient of those pairs, with ``sender`` and
            ``ip``, in time order.
    """

    lonely: pd.DataFrame
    shared: pd.DataFrame
    rows: pd.DataFrame


class SendingIps(Topic):
    """Where internal senders send from: both IP rules read the same pairs and evidence."""

    @cached_property
    def unusual(self) -> UnusualIps | None:
        """The rare pairs and their rows, or None when there are none."""
        return _unusual_ips(self.ctx)


def _pairs(ctx: Context) -> tuple[pd.DataFrame, pa.ChunkedArray, pa.ChunkedArray, pa.ChunkedArray]:
    """Per (internal sender, IP): messages, first and last time from that IP, and the
    sender's messages and time span from its other IPs."""
    ip = _sending_ips(ctx)
    sender = address_key(ctx.events["sender_address"])
    mask = fill_false(pc.and_(ctx.event_sender_internal, pc.is_valid(ip)))
    table = pa.table(
        {
            "sender": sender,
            "ip": ip,
            "message_key": ctx.events["message_key"],
            "time_ns": ctx.event_time_ns,
        }
    ).filter(mask)
    pairs = (
        table.group_by(["sender", "ip"])
        .aggregate([("message_key", "count_distinct"), ("time_ns", "min"), ("time_ns", "max")])
        .rename_columns(["sender", "ip", "pair_messages", "first_ns", "last_ns"])
        .to_pandas()
    )
    per_sender = table.group_by("sender").aggregate([("message_key", "count_distinct")]).to_pandas()
    pairs = pairs.merge(
        per_sender.rename(columns={"message_key_count_distinct": "sender_messages"}), on="sender"
    )
    pairs = pairs.sort_values(["sender", "ip"], kind="stable").reset_index(drop=True)
    pairs["other_messages"] = pairs["sender_messages"] - pairs["pair_messages"]
    # the sender's time span from its other IPs: the extreme over the other pairs
    pairs["other_first_ns"] = _other_extreme(pairs, "first_ns", smallest=True)
    pairs["other_last_ns"] = _other_extreme(pairs, "last_ns", smallest=False)
    return pairs, sender, ip, mask


def _other_extreme(pairs: pd.DataFrame, column: str, smallest: bool) -> pd.Series:
    """Per pair, the min (or max) of ``column`` over the same sender's other pairs."""
    values = pairs[column].astype("float64") * (1 if smallest else -1)
    rank = values.groupby(pairs["sender"]).rank(method="first")
    best = values.groupby(pairs["sender"]).transform("min")
    second = values.where(rank == 2).groupby(pairs["sender"]).transform("max")
    other = second.where(rank == 1, best)
    return other * (1 if smallest else -1)


def _evidence(
    ctx: Context,
    sender: pa.ChunkedArray,
    ip: pa.ChunkedArray,
    mask: pa.ChunkedArray,
    wanted: set[str],
) -> pd.DataFrame:
    """Event rows of the wanted (sender, IP) pairs, one per message and recipient."""
    key = pc.binary_join_element_wise(sender, ip, "\x1f")
    selected = pc.and_(mask, fill_false(pc.is_in(key, value_set=pa.array(sorted(wanted)))))
    rows = ctx.event_frame(selected, RULE_EVENT_COLUMNS)
    rows["sender"] = rows["sender_address"].str.strip("<> ").str.lower()
    sending_ip = rows["original_client_ip"]
    if "from_ip" in rows:
        sending_ip = sending_ip.fillna(rows["from_ip"])
    rows["ip"] = sending_ip.str.strip()
    rows = rows.sort_values(["time_ns", "row"], kind="stable")
    return rows.drop_duplicates(["message_key", "recipient_key"])


def _unusual_ips(ctx: Context) -> UnusualIps | None:
    t = ctx.thresholds
    if not ctx.tenant_domains or ctx.events.num_rows == 0:
        return None
    if "original_client_ip" not in ctx.events.column_names:
        return None
    pairs, sender, ip, mask = _pairs(ctx)
    if pairs.empty:
        return None
    span_ns = t.rare_ip_max_span_hours * 3600 * 1_000_000_000
    # used in one short episode, by a sender who otherwise sends from elsewhere over a
    # longer time: not a second place the user works from
    pairs["rare"] = (
        (pairs["last_ns"] - pairs["first_ns"] <= span_ns)
        & (pairs["other_messages"] >= t.rare_ip_min_history)
        & ((pairs["other_last_ns"] - pairs["other_first_ns"]) > span_ns)
    )
    senders_per_ip = pairs.groupby("ip")["sender"].transform("size")
    rare_senders_per_ip = pairs.groupby("ip")["rare"].transform("sum")
    lonely = pairs[pairs["rare"] & (senders_per_ip == 1)]
    shared = pairs[pairs["rare"] & (rare_senders_per_ip >= t.shared_ip_min_senders)]
    wanted = set(lonely["sender"] + "\x1f" + lonely["ip"]) | set(
        shared["sender"] + "\x1f" + shared["ip"]
    )
    if not wanted:
        return None
    return UnusualIps(lonely, shared, _evidence(ctx, sender, ip, mask, wanted))


@rule(
    id=RARE_RULE,
    severity="medium",
    summary="An internal sender seen from an IP that it, and every other internal sender, "
    "otherwise never uses",
    thresholds=("rare_ip_max_span_hours", "rare_ip_min_history"),
    story=Story(
        roles=(Role("sent from an unusual IP", acts=True),),
        moments=(
            Moment("{mailboxes} sends from the unusual IP {ips} (first of {total:send})"),
            Moment("Last send of {mailboxes} from {ips}", rows="last"),
        ),
        steps=(IP_SIGNINS, USER_SIGNINS, TRACE_FROM_IP, MAILBOX_VIEW),
        indicators=("ip",),
    ),
)
def rare_client_ip(ctx: Context) -> list[Finding]:
    """Internal senders seen from an IP they (and everyone else) otherwise never use."""
    unusual = ctx.topic(SendingIps).unusual
    if unusual is None:
        return []
    rows = unusual.rows
    findings = []
    for pair in unusual.lonely.to_dict("records"):
        sender, address = str(pair["sender"]), str(pair["ip"])
        evidence = rows[(rows["sender"] == sender) & (rows["ip"] == address)].copy()
        evidence["detail"] = "sent from " + address
        finding = ctx.finding(
            RARE_RULE,
            "medium",
            f"{sender} sent from unusual IP {address} "
            f"({pair['pair_messages']} of {plural(int(pair['sender_messages']), 'message')})",
            f"The internal mailbox {sender} sent {plural(int(pair['pair_messages']), 'message')}"
            f" from {address} between {ctx.time_text(pair['first_ns'])} and "
            f"{ctx.time_text(pair['last_ns'])}, and {int(pair['other_messages']):,} from other "
            f"IPs between {ctx.time_text(pair['other_first_ns'])} and "
            f"{ctx.time_text(pair['other_last_ns'])}; no other internal sender used this IP. "
            "Someone else may have used the account: check the mailbox's sign-ins from this "
            "IP, where the IP is, and what these messages were.",
            ctx.entities(mailbox=[sender], ip=[address]),
            evidence,
        )
        if finding:
            findings.append(finding)
    return findings


@rule(
    id=SHARED_RULE,
    severity="high",
    summary="Several internal senders each sending a few messages from one IP that is rare "
    "for each of them",
    thresholds=("rare_ip_max_span_hours", "rare_ip_min_history", "shared_ip_min_senders"),
    story=Story(
        roles=(Role("sent from an unusual IP other mailboxes used too", acts=True),),
        moments=(
            Moment("{mailboxes} send from the shared unusual IP {ips} (first of {total:send})"),
            Moment("Last send from the shared unusual IP {ips}", rows="last"),
        ),
        steps=(IP_SIGNINS, USER_SIGNINS, TRACE_FROM_IP, MAILBOX_VIEW),
        indicators=("ip",),
    ),
)
def shared_unusual_ip(ctx: Context) -> list[Finding]:
    """One IP, rare for each of them, from which several internal senders sent mail."""
    t = ctx.thresholds
    unusual = ctx.topic(SendingIps).unusual
    if unusual is None:
        return []
    rows = unusual.rows
    findings = []
    for key, group in unusual.shared.groupby("ip", sort=True):
        address = str(key)
        senders = sorted(group["sender"])
        evidence = rows[(rows["ip"] == address) & rows["sender"].isin(senders)].copy()
        evidence["detail"] = "sent by " + evidence["sender"] + " from " + address
        finding = ctx.finding(
            SHARED_RULE,
            "high",
            f"{plural(len(senders), 'internal sender')} used the unusual IP {address}",
            f"{plural(len(senders), 'internal mailbox', 'internal mailboxes')} "
            f"({listing(senders)}) each sent mail from {address} within "
            f"{t.rare_ip_max_span_hours:g} hours, and otherwise from elsewhere. One machine "
            "sending as several accounts it does not normally "
            "use is how attackers work through compromised mailboxes. Check the sign-ins of "
            "these accounts from this IP, reset their credentials, and review what was sent.",
            ctx.entities(mailbox=senders, ip=[address]),
            evidence,
        )
        if finding:
            findings.append(finding)
    return findings


__all__ = ["rare_client_ip", "shared_unusual_ip"]
