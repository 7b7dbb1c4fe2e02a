"""Chains: what happened to each message, for each recipient, from every export in the case.

``build_chains`` groups the case's canonical events into messages, orders each recipient's
events into a timeline, links recipients (group expansion, redirects) and messages (a DSN to
its original, an inbox-rule forward to its trigger), and decides one final status per
recipient, with the event that decided it as evidence.

How events are grouped into messages (``message_key``):

1. by ``network_message_id`` (lower-cased): Exchange Online's own id of one message;
2. a row without one (summary downloads, Get-MessageTrace, tracking logs of Exchange 2010)
   joins the message whose rows carry the same Internet ``message_id`` (compared without
   ``<>``, case-insensitively) and the same sender, when exactly one network message id goes
   with that pair; otherwise the pair itself (``<message id>|<sender>``) is the key;
3. rows with neither id are keyed by ``message_trace_id`` (``trace:<id>``), and rows with
   nothing at all stand alone (``row:<input_id>:<line>``).
``join_key`` on each recipient says which of these joined its rows.

Order of events (``events`` is sorted this way): message, recipient, ``event_time``, then the
lifecycle order below for events logged in the same tick, then ``event_seq`` (the position in
an enhanced summary's event list), input and line. Missing times and sequence numbers sort
last.

The same fact is often in two exports: an enhanced summary says ``Receive, Deliver`` with the
message's receive time, the extended report logs RECEIVE and DELIVER with their own times.
All rows are kept as evidence, but a recipient's timeline (``in_timeline``) holds the rows
with their own event time when there are any (Get-MessageTraceDetail rows, which repeat the
tracking events with whole-second times, only when no tracking row exists; Defender
post-delivery actions always); rows timed by the message (``time_basis`` ``message``) only make
the timeline when nothing better exists, and summary status rows only when there are no
events at all. Deferrals are counted on the timeline only, so no fact is counted twice; facts
that disagree are kept and described in ``conflict``. Rows that name no message at all (no id
of any kind, e.g. NOTIFYMAPI rows of tracking logs) stand alone with status Unknown.

Final status of a recipient (vocabulary ``FINAL_STATUSES``), decided in this order:

1. the last terminal event of the timeline: DELIVER -> Delivered; SEND -> Delivered (handed to
   the next, usually outside, server); FAIL/DELIVERFAIL or a DSN with a 5.x.x code -> Failed;
   DROP -> Dropped; EXPAND -> Expanded; REDIRECT/RESOLVE -> Redirected; the enhanced summary
   words QUARANTINED / FILTEREDASSPAM -> Quarantined / FilteredAsSpam. A spam or malware
   verdict of quarantine (custom_data ``DI=SQ``, a QUARANTINED word, a Defender delivery
   location of Quarantine) turns Delivered or Pending into Quarantined; a junk verdict
   (``DI=SJ``, FILTEREDASSPAM, location Junk) into FilteredAsSpam;
2. a recipient whose address was expanded or rewritten into others (see lineage) and that
   has no terminal event of its own: Expanded or Redirected;
3. the status an export reports for it (summary, Get-MessageTrace, API, Defender), when it is
   final (GettingStatus counts as Pending);
4. events without a terminal one (last event DEFER, or no final event yet): Pending;
5. a reported Pending; otherwise Unknown.

Recipient lineage: an EXPAND, REDIRECT or RESOLVE row names two addresses. As Exchange logs
them, ``related_recipient_address`` is the parent (the distribution group, the original
address) and ``recipient_address`` the child (a member, the new address). An export written
the other way round is recognised: when the row's recipient has a RECEIVE of its own and the
related address has none, the row's recipient is the parent. A child that has no row of its
own still gets a recipient row (status Unknown). Children without verdicts of their own
inherit their parent's (the spam filter runs before the expansion); a parent keeps its
Expanded / Redirected status.

Direction of a recipient: the export's ``direction`` when it says inbound, outbound or
internal; ``originating`` becomes internal when the recipient's domain is one of the tenant's
domains and outbound otherwise; when the export says nothing, it is inferred from the sender
and recipient domains against ``tenant_domains`` (unknown when neither is a tenant domain).
``tenant_domains`` are the recipient domains of DELIVER events (mailbox deliveries happen only
inside the tenant) and of internal mail, the sender domains of originating, outbound and
internal mail and of SUBMIT events, and the recipient domains of inbound mail except domains
the data shows mail being sent out to (a redirect or forward of inbound mail keeps the inbound
direction but goes outside).

Everything is computed column-wise (pyarrow, numpy on rows sorted by recipient, reductions
over contiguous groups): no Python loop runs per event.
"""

from __future__ import annotations

import re
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import schema, smtp
from analyzer.arrays import NULL_STRING, one_array, per_distinct
from analyzer.case import Case
from analyzer.errors import NotFoundError
from analyzer.identifiers import (
    address_key,
    domain_of,
    id_key,
    in_domains,
    message_id_key,
    message_id_text,
)
from analyzer.timestamps import iso_utc

TIMESTAMP = schema.TIMESTAMP

#: Final statuses of a recipient, in the order used for lists and counts.
FINAL_STATUSES: tuple[str, ...] = (
    "Delivered",
    "Failed",
    "Pending",
    "Expanded",
    "Redirected",
    "Quarantined",
    "FilteredAsSpam",
    "Dropped",
    "Unknown",
)
(DELIVERED, FAILED, PENDING, EXPANDED, REDIRECTED, QUARANTINED, FILTERED, DROPPED, UNKNOWN) = range(
    len(FINAL_STATUSES)
)

#: What each final status means, in words (used when no status code says more).
STATUS_WORDS: dict[str, str] = {
    "Delivered": "delivered",
    "Failed": "not delivered",
    "Pending": "not delivered yet: no final event in the data",
    "Expanded": "a distribution group, expanded to its members",
    "Redirected": "redirected to another address",
    "Quarantined": "held in quarantine",
    "FilteredAsSpam": "filtered as spam (delivered to the Junk Email folder)",
    "Dropped": "dropped without a delivery report",
    "Unknown": "no event or status in the data says what happened",
}

#: Directions of a recipient (``direction`` column).
DIRECTIONS: tuple[str, ...] = ("inbound", "outbound", "internal", "unknown")

# Event kinds (internal codes) and the lifecycle rank of each kind.
(
    K_RECEIVE,
    K_AGENT,
    K_OTHER,
    K_EXPAND,
    K_REDIRECT,
    K_RESOLVE,
    K_TRANSFER,
    K_DEFER,
    K_DELIVER,
    K_SEND,
    K_FAIL,
    K_DROP,
    K_QUARANTINE,
    K_JUNK,
    K_DSN,
    K_STATUS,
) = range(16)

_KIND_RANK = np.array([0, 1, 2, 3, 3, 3, 4, 5, 6, 6, 6, 6, 6, 6, 7, 8], dtype=np.int8)

#: Transport event ids by kind. Event ids not listed (PROCESS, NOTIFYMAPI, SETROUTE, Defender
#: action types, ...) are "other" events.
EVENT_KINDS: dict[str, int] = {
    **dict.fromkeys(
        ("RECEIVE", "SUBMIT", "HARECEIVE", "CLIENTSUBMISSION", "INITMESSAGECREATED", "RESUBMIT"),
        K_RECEIVE,
    ),
    "AGENTINFO": K_AGENT,
    "EXPAND": K_EXPAND,
    "REDIRECT": K_REDIRECT,
    "RESOLVE": K_RESOLVE,
    "TRANSFER": K_TRANSFER,
    **dict.fromkeys(("DEFER", "SUBMITDEFER", "RESUBMITDEFER"), K_DEFER),
    **dict.fromkeys(("DELIVER", "DUPLICATEDELIVER"), K_DELIVER),
    **dict.fromkeys(("SEND", "SENDEXTERNAL"), K_SEND),
    **dict.fromkeys(
        (
            "FAIL",
            "DELIVERFAIL",
            "SUBMITFAIL",
            "RESUBMITFAIL",
            "HAREDIRECTFAIL",
            "BADMAIL",
            "POISONMESSAGE",
            "MODERATORREJECT",
            "MODERATORSALLNDR",
            "MODERATIONEXPIRE",
        ),
        K_FAIL,
    ),
    **dict.fromkeys(("DROP", "SUPPRESSED"), K_DROP),
    **dict.fromkeys(("QUARANTINED", "QUARANTINE"), K_QUARANTINE),
    **dict.fromkeys(("FILTEREDASSPAM", "FILTEREDASJUNK"), K_JUNK),
    "DSN": K_DSN,
}

#: The documented tie-break order of events logged at the same time (``lifecycle_rank``).
LIFECYCLE_ORDER: tuple[tuple[int, str], ...] = (
    (0, "RECEIVE, SUBMIT (and HARECEIVE, CLIENTSUBMISSION, INITMESSAGECREATED, RESUBMIT)"),
    (1, "AGENTINFO"),
    (2, "any other event id (PROCESS, NOTIFYMAPI, SETROUTE, unknown ids, ...)"),
    (3, "EXPAND, REDIRECT, RESOLVE"),
    (4, "TRANSFER"),
    (5, "DEFER (and SUBMITDEFER, RESUBMITDEFER)"),
    (6, "SEND, DELIVER, FAIL, DROP (and their variants, QUARANTINED, FILTEREDASSPAM)"),
    (7, "DSN"),
    (8, "status rows of summary exports (no event id)"),
)

# Final status decided by a terminal event of each kind.
_KIND_STATUS = np.full(16, -1, dtype=np.int8)
_KIND_STATUS[[K_DELIVER, K_SEND]] = DELIVERED
_KIND_STATUS[[K_FAIL, K_DSN]] = FAILED
_KIND_STATUS[K_DROP] = DROPPED
_KIND_STATUS[K_QUARANTINE] = QUARANTINED
_KIND_STATUS[K_JUNK] = FILTERED
_KIND_STATUS[K_EXPAND] = EXPANDED
_KIND_STATUS[[K_REDIRECT, K_RESOLVE]] = REDIRECTED

#: Reported statuses of summary-type exports, normalized (lower case, no spaces).
REPORTED_STATUSES: dict[str, int] = {
    "delivered": DELIVERED,
    "failed": FAILED,
    "pending": PENDING,
    "gettingstatus": PENDING,
    "expanded": EXPANDED,
    "redirected": REDIRECTED,
    "resolved": REDIRECTED,
    "quarantined": QUARANTINED,
    "filteredasspam": FILTERED,
    "dropped": DROPPED,
    "none": UNKNOWN,
    "unknown": UNKNOWN,
}

#: How a report type is named in conflict sentences.
REPORT_LABELS: dict[str, str] = {
    "summary": "summary",
    "enhanced_summary": "enhanced summary",
    "get_messagetrace": "Get-MessageTrace",
    "reporting_api_json": "message trace API",
    "defender_email_events": "Defender",
    "defender_email_post_delivery_events": "Defender",
}

#: custom_data keys (lower case) of the verdict columns; the first listed that is present wins.
VERDICT_KEYS: dict[str, tuple[str, ...]] = {
    "sfv": ("sfa.sfv", "sfv"),
    "scl": ("sfa.scl", "scl"),
    "pcl": ("sfa.pcl", "pcl"),
    "di": ("sfa.di", "di"),
    "country": ("sfa.ctry", "ctry"),
    "malware_name": ("ama.name",),
}
_RULE_ID_KEY = "tra.ruleid"
_RULE_ACTION_KEY = "tra.action"

#: Which rows of a recipient make its timeline when several exports hold the same facts:
#: tier 0, full tracking rows (extended report, Exchange tracking logs, unknown formats);
#: tier 1, Get-MessageTraceDetail rows, which repeat tracking events with whole-second
#: times and are left out of the timeline when tracking rows exist; tier 2, Defender
#: post-delivery actions (ZAP), facts no other export has.
TIMELINE_TIERS = {"GET_MESSAGETRACE_DETAIL": 1, "DEFENDER_EMAIL_POST_DELIVERY_EVENTS": 2}

_JOIN_KEYS = ("network_message_id", "message_id+sender", "message_trace_id", "row")


@dataclass(frozen=True)
class Column:
    """One column of a chains table: its name, Arrow type and meaning."""

    name: str
    type: pa.DataType
    meaning: str


#: Columns added to the canonical events in ``Chains.events``.
EVENT_EXTRA_COLUMNS: tuple[Column, ...] = (
    Column("message_key", pa.string(), "The message this row belongs to (see module doc)."),
    Column(
        "recipient_key",
        pa.string(),
        "recipient_address lower-cased and trimmed; empty for rows about no recipient.",
    ),
    Column("lifecycle_rank", pa.int8(), "Tie-break rank of the event id (LIFECYCLE_ORDER)."),
    Column(
        "in_timeline",
        pa.bool_(),
        "True when the row is part of its recipient's timeline; False for rows that "
        "repeat a fact already timed better by another export (kept as evidence).",
    ),
)

RECIPIENT_COLUMNS: tuple[Column, ...] = (
    Column("message_key", pa.string(), "The message (see the module doc for how it is built)."),
    Column(
        "join_key",
        pa.string(),
        "What joined this recipient's rows into the message: 'network_message_id' when every "
        "row carried it, 'message_id+sender' when some were matched by Internet message id "
        "and sender, 'message_trace_id' or 'row' for rows with neither id.",
    ),
    Column("network_message_id", pa.string(), "Network message id, as exported."),
    Column("message_id", pa.string(), "Internet message id, as exported (usually with <>)."),
    Column("sender_address", pa.string(), "Sender, as exported."),
    Column("message_subject", pa.string(), "Subject, as exported."),
    Column("recipient_address", pa.string(), "The recipient (lower case); null if none known."),
    Column(
        "parent_recipient",
        pa.string(),
        "The address this recipient came from (the group it was expanded from, the address "
        "it was redirected or resolved from); null for original recipients.",
    ),
    Column(
        "recipient_relation",
        pa.string(),
        "How it came from its parent: 'expanded_from', 'redirected_from', 'resolved_from'; "
        "null for original recipients.",
    ),
    Column("final_status", pa.string(), f"One of {', '.join(FINAL_STATUSES)}."),
    Column("status_code", pa.string(), "Enhanced status code x.y.z of the deciding event."),
    Column("smtp_reply", pa.string(), "The deciding event's recipient_status (SMTP reply)."),
    Column(
        "status_meaning",
        pa.string(),
        "The final status in plain words: the meaning of the status code for failures and "
        "deferrals, otherwise what the deciding event says.",
    ),
    Column("direction", pa.string(), "inbound, outbound, internal or unknown."),
    Column(
        "first_time",
        TIMESTAMP,
        "When the message was first received for this recipient (UTC): the first "
        "RECEIVE/SUBMIT, else the first event or reported time.",
    ),
    Column(
        "final_time",
        TIMESTAMP,
        "Time of the deciding event (UTC); null when the deciding row has no time of its "
        "own (summary-type rows, which carry the receive time).",
    ),
    Column("duration_seconds", pa.float64(), "final_time - first_time, in seconds."),
    Column("deferral_count", pa.int64(), "Number of DEFER events in the timeline."),
    Column(
        "deferral_seconds",
        pa.float64(),
        "Total length of the deferrals: for each DEFER, the time until the next event.",
    ),
    Column(
        "from_ip",
        pa.string(),
        "IP the message came from: from_ip, else original_client_ip, else the client_ip of "
        "the first RECEIVE.",
    ),
    Column(
        "to_ip", pa.string(), "IP the message was sent to: to_ip, else server_ip of the last SEND."
    ),
    Column("total_bytes", pa.int64(), "Message size in bytes (largest value seen)."),
    Column("sfv", pa.string(), "Spam filter verdict SFV (SPM spam, NSPM not spam, BLK, SKS...)."),
    Column("scl", pa.int64(), "Spam confidence level SCL (-1..9)."),
    Column("pcl", pa.int64(), "Phishing confidence level PCL."),
    Column("di", pa.string(), "Disposition DI (SQ quarantined, SJ junk, SN normal, SD, SB, SO)."),
    Column("country", pa.string(), "Country of the sending IP (SFA CTRY)."),
    Column("malware_name", pa.string(), "Malware name from the anti-malware agent (AMA name)."),
    Column(
        "transport_rules",
        pa.list_(pa.string()),
        "Transport rules that acted, each '<ruleId> <action>', in order of first appearance.",
    ),
    Column(
        "conflict",
        pa.string(),
        "Null, or the facts that disagree with the final status, e.g. 'summary says "
        "Delivered; events end in FAIL'. Conflicts are flagged, never resolved silently.",
    ),
    Column("event_count", pa.int64(), "Rows about this recipient (all exports)."),
    Column("decided_input_id", pa.string(), "input_id of the deciding row (evidence)."),
    Column("decided_line", pa.int64(), "line of the deciding row in that input (evidence)."),
)
RECIPIENT_SCHEMA = pa.schema([pa.field(c.name, c.type) for c in RECIPIENT_COLUMNS])

MESSAGE_COLUMNS: tuple[Column, ...] = (
    Column("message_key", pa.string(), "The message."),
    Column("network_message_id", pa.string(), "Network message id, as exported."),
    Column("message_id", pa.string(), "Internet message id, as exported."),
    Column("sender_address", pa.string(), "Sender, as exported."),
    Column("message_subject", pa.string(), "Subject, as exported."),
    Column("first_time", TIMESTAMP, "Earliest first_time of its recipients (UTC)."),
    Column("last_time", TIMESTAMP, "Latest event time of any of its rows (UTC)."),
    Column(
        "direction",
        pa.string(),
        "outbound if any recipient is outbound, else inbound if any is, else internal if "
        "any is, else unknown.",
    ),
    Column("recipient_count", pa.int64(), "Number of its recipient rows."),
    Column("total_bytes", pa.int64(), "Message size in bytes (largest value seen)."),
    Column(
        "statuses",
        pa.string(),
        "Distinct final statuses of its recipients, comma-separated in FINAL_STATUSES order.",
    ),
    Column("related_count", pa.int64(), "Number of other messages linked to it (links)."),
)
MESSAGE_SCHEMA = pa.schema([pa.field(c.name, c.type) for c in MESSAGE_COLUMNS])

LINK_COLUMNS: tuple[Column, ...] = (
    Column("message_key", pa.string(), "The later message: the DSN, or the forwarded copy."),
    Column(
        "related_message_key",
        pa.string(),
        "The message it relates to (the original); null when that message is not in the data.",
    ),
    Column(
        "relation",
        pa.string(),
        "'dsn_for': message_key is a delivery status notification about the related "
        "message; 'inbox_rule_forward_of': message_key was created by an inbox rule "
        "(MAILBOXRULE) from the related inbound message.",
    ),
    Column("reference", pa.string(), "The reference text the link was read from."),
    Column("input_id", pa.string(), "Input of the row that gave the link (evidence)."),
    Column("line", pa.int64(), "Line of that row."),
)
LINK_SCHEMA = pa.schema([pa.field(c.name, c.type) for c in LINK_COLUMNS])

EVENTS_SCHEMA = pa.schema(
    list(schema.EVENT_SCHEMA) + [pa.field(c.name, c.type) for c in EVENT_EXTRA_COLUMNS]
)


@dataclass
class Chains:
    """Every message of a case as per-recipient chains.

    Attributes:
        events: the case's canonical events plus ``EVENT_EXTRA_COLUMNS`` (message_key,
            recipient_key, lifecycle_rank, in_timeline), sorted by message_key,
            recipient_key, event_time, lifecycle_rank, event_seq, input_id, line.
        recipients: one row per message x recipient (``RECIPIENT_SCHEMA``), sorted by
            message_key then recipient_address.
        messages: one row per message (``MESSAGE_SCHEMA``), sorted by message_key.
        links: message lineage (``LINK_SCHEMA``), sorted by message_key, related key,
            relation.
        tenant_domains: the tenant's accepted domains as inferred from the data, sorted.
    """

    events: pa.Table
    recipients: pa.Table
    messages: pa.Table
    links: pa.Table
    tenant_domains: tuple[str, ...]


# --------------------------------------------------------------------------------------------
# small column helpers


def _cleaned_codes(values: pa.Array | pa.ChunkedArray, function) -> tuple[np.ndarray, pa.Array]:
    """``function`` applied once per distinct value; returns each row's code (-1 for null) in
    the byte order of the cleaned values, and those values sorted (``values[code]``)."""
    encoded = pc.dictionary_encode(one_array(values))
    inner = pc.dictionary_encode(function(encoded.dictionary))  # case variants become one
    order = pc.array_sort_indices(inner.dictionary).to_numpy()
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order))
    rank[-1] = -1  # null
    per_raw = rank[inner.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
    per_raw = np.append(per_raw, -1)  # null rows
    codes = per_raw[encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)]
    return codes, inner.dictionary.take(pa.array(order))


def _strings(values: pa.Array, codes: np.ndarray) -> pa.Array:
    """values[code] for every code, null for -1."""
    return values.take(pa.array(codes, mask=codes < 0))


def _codes(values: pa.Array, mapping: dict[str, int], default: int, null: int) -> np.ndarray:
    """Map each distinct string (upper-cased, trimmed) to a code: one lookup per distinct value."""
    encoded = pc.dictionary_encode(one_array(values))
    dictionary = encoded.dictionary.to_pylist()
    table = np.array(
        [mapping.get(str(v).strip().upper().replace(" ", ""), default) for v in dictionary]
        + [null],
        dtype=np.int64,
    )
    indices = encoded.indices.fill_null(len(dictionary)).to_numpy(zero_copy_only=False)
    return table[indices]


def _sorted_codes(values: pa.Array) -> np.ndarray:
    """Dense integer codes whose order is the byte order of the (non-null) strings."""
    encoded = pc.dictionary_encode(one_array(values))
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[encoded.indices.to_numpy(zero_copy_only=False)]


def _times(values: pa.Array) -> np.ndarray:
    """Timestamps as int64 nanoseconds; missing ones as the largest int64 (they sort last)."""
    return (
        one_array(values)
        .cast(pa.int64())
        .fill_null(np.iinfo(np.int64).max)
        .to_numpy(zero_copy_only=False)
    )


_NO_TIME = np.iinfo(np.int64).max


def _last(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group (rows ``starts[g]`` up to the next start), the last row where ``mask`` holds,
    or -1."""
    hits = np.flatnonzero(mask)
    if len(hits) == 0:
        return np.full(len(starts), -1, dtype=np.int64)
    ends = np.append(starts[1:], len(mask))
    at = np.searchsorted(hits, ends, side="left") - 1
    found = hits[np.maximum(at, 0)]
    return np.where((at >= 0) & (found >= starts), found, -1)


def _first(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group, the first row where ``mask`` holds, or -1."""
    hits = np.flatnonzero(mask)
    if len(hits) == 0:
        return np.full(len(starts), -1, dtype=np.int64)
    ends = np.append(starts[1:], len(mask))
    at = np.searchsorted(hits, starts, side="left")
    found = hits[np.minimum(at, len(hits) - 1)]
    return np.where((at < len(hits)) & (found < ends), found, -1)


def _count(mask: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(mask.astype(np.int64), starts)


def _take(values: pa.Array, index: np.ndarray) -> pa.Array:
    """values[index], null where index is -1."""
    return one_array(values).take(pa.array(index, mask=index < 0))


def _valid(values: pa.Array) -> np.ndarray:
    return pc.is_valid(values).to_numpy(zero_copy_only=False)


def _first_valid(values: pa.Array, starts: np.ndarray) -> pa.Array:
    return _take(values, _first(_valid(values), starts))


def _timestamps(nanoseconds: np.ndarray) -> pa.Array:
    return pa.array(nanoseconds, mask=nanoseconds == _NO_TIME, type=pa.int64()).cast(TIMESTAMP)


# --------------------------------------------------------------------------------------------
# building chains


def _message_codes(events: pa.Table) -> tuple[np.ndarray, pa.Array, np.ndarray]:
    """Each row's message code (in the byte order of its message_key), the message keys
    (``keys[code]``), and each row's join code (index into ``_JOIN_KEYS``)."""
    codes, keys = _cleaned_codes(events.column("network_message_id"), id_key)
    if (codes >= 0).all():  # every row carries a network message id: the common case
        return codes, keys, np.zeros(len(codes), dtype=np.int64)
    message_key, join = _message_keys(events)
    encoded = pc.dictionary_encode(one_array(message_key))
    order = pc.array_sort_indices(encoded.dictionary).to_numpy()
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    codes = rank[encoded.indices.to_numpy(zero_copy_only=False)]
    return codes, encoded.dictionary.take(pa.array(order)), join


def _message_keys(events: pa.Table) -> tuple[pa.Array, np.ndarray]:
    """message_key and join code of every row, for data where some rows lack a network
    message id."""
    nmid = per_distinct(events.column("network_message_id"), id_key)
    nmid_valid = _valid(nmid)
    mid = per_distinct(events.column("message_id"), message_id_key)
    sender = per_distinct(events.column("sender_address"), address_key)
    pair = pc.binary_join_element_wise(mid, pc.fill_null(sender, ""), "|")
    # only the pairs of rows that lack a network message id need a lookup
    wanted = pc.unique(pair.filter(pa.array(~nmid_valid)).drop_null())
    has_both = pc.and_(
        pc.and_(pc.is_valid(nmid), pc.is_valid(pair)), pc.is_in(pair, value_set=wanted)
    )
    known = (
        pa.table({"pair": pair.filter(has_both), "nmid": nmid.filter(has_both)})
        .group_by(["pair", "nmid"])
        .aggregate([])
    )
    per_pair = known.group_by("pair").aggregate([("nmid", "count"), ("nmid", "min")])
    unique = per_pair.filter(pc.equal(per_pair["nmid_count"], 1))
    mapped = pc.take(unique["nmid_min"], pc.index_in(pair, value_set=unique["pair"]))
    trace = id_key(one_array(events.column("message_trace_id")))
    trace_key = pc.binary_join_element_wise("trace:", trace, "")
    row_key = pc.binary_join_element_wise(
        "row:",
        pc.fill_null(one_array(events.column("input_id")), ""),
        pc.fill_null(one_array(events.column("line")).cast(pa.string()), ""),
        ":",
    )
    row_key = pc.replace_substring(row_key, "row::", "row:", max_replacements=1)
    message_key = pc.coalesce(nmid, mapped, pair, trace_key, row_key)
    join = np.select(
        [_valid(nmid), _valid(pair), _valid(trace)],
        [0, 1, 2],
        default=3,
    )
    return message_key, join


def build_chains(case: Case) -> Chains:
    """Group a case's events into per-message, per-recipient chains with final statuses.

    Args:
        case: the loaded case (its ``events`` in the canonical schema).

    Returns:
        The chains: sorted events, one row per recipient, one per message, and the links
        between messages (see the module documentation for every rule applied).
    """
    events = (
        schema.conform(case.events) if case.events.schema != schema.EVENT_SCHEMA else case.events
    )
    n = events.num_rows
    if n == 0:
        return Chains(
            EVENTS_SCHEMA.empty_table(),
            RECIPIENT_SCHEMA.empty_table(),
            MESSAGE_SCHEMA.empty_table(),
            LINK_SCHEMA.empty_table(),
            (),
        )

    message_code, message_values, join_code = _message_codes(events)
    # recipient code -1 (no recipient) sorts first, as the empty recipient_key does
    recipient_code, recipient_values = _cleaned_codes(
        events.column("recipient_address"), address_key
    )
    kind = _codes(events.column("event_id"), EVENT_KINDS, K_OTHER, K_STATUS)
    rank = _KIND_RANK[kind]

    # Sort: message, recipient, time, lifecycle rank, event_seq, input, line.
    times = _times(events.column("event_time"))
    seq = (
        one_array(events.column("event_seq"))
        .cast(pa.int32())
        .fill_null(np.iinfo(np.int32).max)
        .to_numpy(zero_copy_only=False)
    )
    input_code = _sorted_codes(pc.fill_null(one_array(events.column("input_id")), ""))
    lines = (
        one_array(events.column("line"))
        .fill_null(np.iinfo(np.int64).max)
        .to_numpy(zero_copy_only=False)
    )
    order = np.lexsort((lines, input_code, seq, rank, times, recipient_code, message_code))
    take = pa.array(order)

    # The columns the rules read are put in order first; the others (extras, custom_data,
    # ...) only travel along into Chains.events, so a second thread puts them in order while
    # the rules run (pyarrow's take releases the GIL).
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        passengers = pool.submit(lambda: events.select(list(_PASSENGER_COLUMNS)).take(take))
        return _chains_in_order(
            events.select(list(_RULE_COLUMNS)).take(take),
            passengers,
            kind=kind[order],
            rank=rank[order],
            times=times[order],
            join_code=join_code[order],
            message_code=message_code[order],
            recipient_code=recipient_code[order],
            message_values=message_values,
            recipient_values=recipient_values,
        )
    finally:
        pool.shutdown(wait=True)


#: Event columns the chain rules read (put in order first); the other, passenger columns are
#: put in order on a second thread and only join them in ``Chains.events``.
_RULE_COLUMNS: tuple[str, ...] = (
    "time_basis",
    "event_id",
    "source",
    "reported_status",
    "recipient_status",
    "smtp_reply_code",
    "status_code",
    "sender_address",
    "message_subject",
    "message_id",
    "network_message_id",
    "related_recipient_address",
    "reference",
    "total_bytes",
    "direction",
    "client_ip",
    "server_ip",
    "original_client_ip",
    "from_ip",
    "to_ip",
    "custom_data_fields",
    "delivery_location",
    "input_id",
    "line",
    "report_type",
)
_PASSENGER_COLUMNS: tuple[str, ...] = tuple(
    name for name in schema.COLUMN_NAMES if name not in _RULE_COLUMNS
)


def _chains_in_order(
    sorted_events: pa.Table,
    passengers: Future,
    *,
    kind: np.ndarray,
    rank: np.ndarray,
    times: np.ndarray,
    join_code: np.ndarray,
    message_code: np.ndarray,
    recipient_code: np.ndarray,
    message_values: pa.Array,
    recipient_values: pa.Array,
) -> Chains:
    """``build_chains`` on rows sorted by message, recipient and time: ``sorted_events`` holds
    the ``_RULE_COLUMNS`` in that order, ``passengers`` will give the other columns."""
    n = len(kind)
    message_key = _strings(message_values, message_code)
    recipient_key = pc.fill_null(_strings(recipient_values, recipient_code), "")
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = (message_code[1:] != message_code[:-1]) | (
        recipient_code[1:] != recipient_code[:-1]
    )
    starts = np.flatnonzero(new_group)
    gs = np.cumsum(new_group) - 1  # group of each row, 0..G-1 in sorted order
    group_count = len(starts)
    group_of_row = gs
    group_message = message_code[starts]
    message_starts = np.flatnonzero(np.diff(group_message, prepend=-1))
    message_of_group = np.cumsum(np.diff(group_message, prepend=-1) != 0) - 1

    def col(name: str) -> pa.Array:
        return one_array(sorted_events.column(name))

    time_basis = _codes(col("time_basis"), {"MESSAGE": 1}, 0, 0)
    source = _codes(col("source"), {"MAILBOXRULE": 1, "DSN": 2, "STOREDRIVER": 3}, 0, 0)
    event_id_upper = pc.utf8_upper(pc.utf8_trim_whitespace(col("event_id")))
    is_submit = pc.fill_null(pc.equal(event_id_upper, "SUBMIT"), False).to_numpy(
        zero_copy_only=False
    )

    is_event = kind != K_STATUS
    event_basis = is_event & (time_basis == 0)
    tier = _codes(col("report_type"), TIMELINE_TIERS, 0, 0)
    tracking = event_basis & (tier == 0)
    has_tracking = (_count(tracking, starts) > 0)[group_of_row]
    has_event_basis = (_count(event_basis, starts) > 0)[group_of_row]
    has_event = (_count(is_event, starts) > 0)[group_of_row]
    in_timeline = (
        tracking
        | (event_basis & (tier == 2))
        | (event_basis & (tier == 1) & ~has_tracking)
        | (is_event & ~has_event_basis)
        | (~is_event & ~has_event)
    )

    # Recipient lineage (EXPAND / REDIRECT / RESOLVE).
    related_key = per_distinct(col("related_recipient_address"), address_key)
    relation_row = (
        np.isin(kind, [K_EXPAND, K_REDIRECT, K_RESOLVE])
        & _valid(related_key)
        & pc.fill_null(pc.not_equal(related_key, recipient_key), False).to_numpy(
            zero_copy_only=False
        )
    )

    def groups_of(rows: np.ndarray) -> pa.Array:
        mask = pa.array(rows)
        return pc.unique(
            pc.binary_join_element_wise(
                message_key.filter(mask), recipient_key.filter(mask), "\x00"
            )
        )

    relation_candidates = relation_row.any()
    received_groups = groups_of((rank == 0) & relation_candidates)
    received_own_time_groups = groups_of((rank == 0) & event_basis & relation_candidates)
    relation_index = np.flatnonzero(relation_row)
    group_text = pc.binary_join_element_wise(
        message_key.take(pa.array(starts)), recipient_key.take(pa.array(starts)), "\x00"
    )
    related_group = pc.binary_join_element_wise(
        message_key.take(pa.array(relation_index)),
        related_key.take(pa.array(relation_index)),
        "\x00",
    )
    recipient_received = pc.is_in(
        pc.binary_join_element_wise(
            message_key.take(pa.array(relation_index)),
            recipient_key.take(pa.array(relation_index)),
            "\x00",
        ),
        value_set=received_own_time_groups,
    ).to_numpy(zero_copy_only=False)
    related_received = pc.is_in(related_group, value_set=received_groups).to_numpy(
        zero_copy_only=False
    )
    # Exchange logs the parent in related_recipient_address (the group on EXPAND, the original
    # address on REDIRECT/RESOLVE); an export that wrote them the other way round shows it by
    # a RECEIVE for the row's recipient and none for the related address.
    parent_is_related = ~(recipient_received & ~related_received)
    # When the row's recipient is the parent, or the row names no related address (enhanced
    # summary words "Expand", "Redirect"), the row is a terminal event of its recipient.
    own_relation = np.isin(kind, [K_EXPAND, K_REDIRECT, K_RESOLVE]) & ~_valid(related_key)
    own_relation[relation_index[~parent_is_related]] = True

    # Lineage of children.
    parent_recipient, recipient_relation, parent_group = _children(
        relation_index,
        parent_is_related,
        related_key,
        recipient_key,
        message_key,
        kind,
        group_text,
        group_count,
    )

    # Verdicts from custom_data_fields.
    verdict_values, verdict_rows, rules = _verdicts(col("custom_data_fields"), gs, starts)
    blank_group = np.where(
        pc.equal(recipient_key.take(pa.array(starts)), "").to_numpy(zero_copy_only=False)
    )[0]
    # message-level rows (no recipient) give verdicts to recipients that have none of their
    # own; group members and redirected addresses inherit their parent's (the spam filter
    # ran before the expansion), through up to three levels of nesting
    blank_of_message = np.full(len(message_starts), -1, dtype=np.int64)
    blank_of_message[message_of_group[blank_group]] = blank_group
    blank_of_group = blank_of_message[message_of_group]
    for source_group in (blank_of_group, parent_group, parent_group, parent_group):
        if (source_group >= 0).any():
            rules = _inherit(verdict_values, verdict_rows, rules, source_group)
    di_group = pc.utf8_upper(pc.fill_null(verdict_values["di"], "")).to_numpy(zero_copy_only=False)

    # Quarantine / junk evidence on rows: event words and Defender delivery locations.
    location = pc.utf8_lower(pc.fill_null(col("delivery_location"), ""))
    quarantine_row = (kind == K_QUARANTINE) | pc.match_substring(location, "quarantine").to_numpy(
        zero_copy_only=False
    )
    junk_row = (kind == K_JUNK) | pc.match_substring(location, "junk").to_numpy(
        zero_copy_only=False
    )

    # Terminal events of the timeline.
    status_code_col = col("status_code")
    reply_code = col("smtp_reply_code")
    dsn_failure = (kind == K_DSN) & (
        pc.fill_null(pc.starts_with(pc.utf8_trim_whitespace(status_code_col), "5"), False).to_numpy(
            zero_copy_only=False
        )
        | (pc.fill_null(reply_code, 0).to_numpy(zero_copy_only=False) >= 500)
    )
    terminal_kind = np.isin(kind, [K_DELIVER, K_SEND, K_FAIL, K_DROP, K_QUARANTINE, K_JUNK])
    terminal = terminal_kind | dsn_failure | own_relation
    row_status = _KIND_STATUS[kind]

    event_decider = _last(in_timeline & terminal & is_event, starts)
    event_status = np.where(event_decider >= 0, row_status[event_decider], -1)

    # Verdict overlay: quarantine beats junk; both only on Delivered / Pending / undecided.
    quarantine_any = _last(quarantine_row, starts)
    junk_any = _last(junk_row, starts)
    quarantine_flag = (quarantine_any >= 0) | (di_group == "SQ")
    junk_flag = (junk_any >= 0) | (di_group == "SJ")
    overlay_ok = np.isin(event_status, [DELIVERED, -1, PENDING])
    di_row = verdict_rows["di"]
    # the evidence: the spam filter's own verdict row first, else the word or location row
    quarantine_by = np.where((di_group == "SQ") & (di_row >= 0), di_row, quarantine_any)
    junk_by = np.where((di_group == "SJ") & (di_row >= 0), di_row, junk_any)
    overlay = np.full(group_count, -1, dtype=np.int64)
    overlay_by = np.full(group_count, -1, dtype=np.int64)
    use_junk = overlay_ok & junk_flag & ~quarantine_flag
    use_quarantine = overlay_ok & quarantine_flag
    overlay[use_junk] = FILTERED
    overlay_by[use_junk] = junk_by[use_junk]
    overlay[use_quarantine] = QUARANTINED
    overlay_by[use_quarantine] = quarantine_by[use_quarantine]

    # Statuses reported by summary-type exports.
    reported = _codes(
        col("reported_status"), {k.upper(): v for k, v in REPORTED_STATUSES.items()}, UNKNOWN, -1
    )
    reported = np.where(is_event, -1, reported)
    reported_final = ~np.isin(reported, [-1, PENDING, UNKNOWN])
    reported_decider = _last(reported_final, starts)
    reported_any = _last(reported >= 0, starts)
    reported_low = np.minimum.reduceat(np.where(reported_final, reported, 99), starts)
    reported_high = np.maximum.reduceat(np.where(reported_final, reported, -1), starts)

    # Enhanced summary words that repeat (message-timed) what event-timed rows say.
    corroborating = is_event & (time_basis == 1) & has_event_basis & (terminal_kind | dsn_failure)
    corroborating_decider = _last(corroborating, starts)

    # Parents of lineage relations.
    parent_status, parent_by = _parent_statuses(
        relation_index,
        parent_is_related,
        related_key,
        recipient_key,
        message_key,
        kind,
        group_text,
        group_count,
    )

    # a group that was expanded (or an address redirected) keeps that status: the verdict
    # applies to the copies of its members
    overlay[(parent_status >= 0) & (event_decider < 0)] = -1
    last_timeline_event = _last(in_timeline & is_event, starts)

    # Decide.
    final = np.full(group_count, UNKNOWN, dtype=np.int64)
    decider = np.full(group_count, -1, dtype=np.int64)
    strong_events = (event_decider >= 0) | (overlay >= 0)
    final = np.where(overlay >= 0, overlay, np.where(event_decider >= 0, event_status, final))
    decider = np.where(overlay >= 0, overlay_by, np.where(event_decider >= 0, event_decider, -1))
    decided = strong_events.copy()
    step = ~decided & (parent_status >= 0)
    final[step], decider[step] = parent_status[step], parent_by[step]
    decided |= step
    step = ~decided & (reported_decider >= 0)
    final[step], decider[step] = reported[reported_decider[step]], reported_decider[step]
    decided |= step
    step = ~decided & (last_timeline_event >= 0)
    final[step], decider[step] = PENDING, last_timeline_event[step]
    decided |= step
    step = ~decided & (reported_any >= 0)
    final[step], decider[step] = reported[reported_any[step]], reported_any[step]
    # rows that name no message at all (no id of any kind) cannot be followed
    join_group = np.maximum.reduceat(join_code, starts)
    no_message = join_group == 3
    final[no_message] = UNKNOWN

    # Conflicts.
    report_type = col("report_type")
    conflict = _conflicts(
        final=final,
        decider=decider,
        strong=strong_events | (parent_status >= 0),
        overlay=overlay,
        reported=reported,
        reported_decider=reported_decider,
        reported_low=reported_low,
        reported_high=reported_high,
        corroborating_decider=corroborating_decider,
        row_status=row_status,
        event_ids=event_id_upper,
        report_type=report_type,
        di=di_group,
        kind=kind,
        locations=col("delivery_location"),
    )

    # Times and deferrals.
    timeline_index = np.flatnonzero(in_timeline)
    # received: the timeline's RECEIVE, else any RECEIVE row of the recipient (an enhanced
    # summary's is the message's receive time), else the message's first RECEIVE (group
    # members and redirected addresses are received as their parent), else the first row
    first_receive = _first(in_timeline & (rank == 0) & is_event, starts)
    any_receive = _first((rank == 0) & is_event, starts)
    message_receive = _first((rank == 0) & is_event, starts[message_starts])[message_of_group]
    first_timeline = _first(in_timeline, starts)
    first_row = np.select(
        [first_receive >= 0, any_receive >= 0, message_receive >= 0],
        [first_receive, any_receive, message_receive],
        default=first_timeline,
    )
    first_time = np.where(first_row >= 0, times[np.maximum(first_row, 0)], _NO_TIME)

    # the deciding row's own time; a verdict timed by the message falls back to the event
    # it was laid over (the DELIVER into the Junk folder)
    def own_time(rows: np.ndarray) -> np.ndarray:
        safe = np.maximum(rows, 0)
        ok = (rows >= 0) & (time_basis[safe] == 0) & (kind[safe] != K_STATUS)
        return np.where(ok, times[safe], _NO_TIME)

    final_time = own_time(decider)
    final_time = np.where(final_time == _NO_TIME, own_time(event_decider), final_time)
    duration = np.where(
        (first_time != _NO_TIME) & (final_time != _NO_TIME),
        (final_time.astype(np.float64) - first_time.astype(np.float64)) / 1e9,
        np.nan,
    )
    defer_rows = in_timeline & (kind == K_DEFER)
    deferral_count = _count(defer_rows, starts)
    deferral_seconds = np.zeros(group_count)
    if len(timeline_index) > 1:
        current, following = timeline_index[:-1], timeline_index[1:]
        ok = (
            (gs[current] == gs[following])
            & (kind[current] == K_DEFER)
            & (times[current] != _NO_TIME)
            & (times[following] != _NO_TIME)
        )
        lengths = (times[following[ok]] - times[current[ok]]) / 1e9
        deferral_seconds = np.bincount(gs[current[ok]], weights=lengths, minlength=group_count)

    # Addresses, ids and IPs: the group's own first value, else the message's.
    def first_of(name: str, rows: np.ndarray | None = None) -> pa.Array:
        values = col(name)
        valid = _valid(values)
        if rows is not None:
            valid &= rows
        own = _first(valid, starts)
        whole = _first(valid, starts[message_starts])
        return _take(values, np.where(own >= 0, own, whole[message_of_group]))

    sender = first_of("sender_address")
    last_send = _last((kind == K_SEND) & _valid(col("server_ip")), starts)
    first_receive_ip = _first((rank == 0) & _valid(col("client_ip")), starts)
    from_ip = pc.coalesce(
        first_of("from_ip"),
        first_of("original_client_ip"),
        _take(col("client_ip"), first_receive_ip),
    )
    to_ip = pc.coalesce(first_of("to_ip"), _take(col("server_ip"), last_send))
    total_bytes_rows = pc.fill_null(col("total_bytes"), -1).to_numpy(zero_copy_only=False)
    total_bytes = np.maximum.reduceat(total_bytes_rows, starts)
    message_bytes = np.maximum.reduceat(total_bytes, message_starts)
    total_bytes = np.where(total_bytes >= 0, total_bytes, message_bytes[message_of_group])

    # Direction and tenant domains.
    direction_rows = _codes(
        col("direction"), {"INBOUND": 1, "OUTBOUND": 2, "INTERNAL": 3, "ORIGINATING": 4}, 0, 0
    )
    sender_code, sender_values = _cleaned_codes(col("sender_address"), address_key)
    tenant_domains = _tenant_domains(
        (recipient_code, recipient_values),
        (sender_code, sender_values),
        direction_rows,
        kind,
        is_submit,
    )
    group_recipient = recipient_key.take(pa.array(starts))
    own_direction = _first(direction_rows > 0, starts)
    message_direction = _first(direction_rows > 0, starts[message_starts])[message_of_group]
    direction_row = np.where(own_direction >= 0, own_direction, message_direction)
    group_direction = np.where(direction_row >= 0, direction_rows[np.maximum(direction_row, 0)], 0)
    direction = _resolve_direction(
        group_direction, group_recipient, address_key(sender), tenant_domains
    )

    # Status words.
    decider_code = _take(status_code_col, decider)
    decider_reply = _take(col("recipient_status"), decider)
    decider_reply_code = _take(reply_code, decider)
    decider_kind = np.where(decider >= 0, kind[np.maximum(decider, 0)], -1)
    status_meaning = _status_meaning(
        final,
        decider_kind,
        decider_code,
        decider_reply_code,
        di_group,
        report_type.take(pa.array(decider, mask=decider < 0)),
        has_events=_count(is_event, starts) > 0,
        malware=_valid(verdict_values["malware_name"]),
    )

    status_meaning = pc.if_else(
        pa.array(no_message),
        pa.scalar("the row names no message (the export gives it no message id)"),
        status_meaning,
    )
    event_count = np.diff(np.append(starts, n))
    recipient_address = pc.if_else(pc.equal(group_recipient, ""), NULL_STRING, group_recipient)
    scl = _to_int(verdict_values["scl"])
    pcl = _to_int(verdict_values["pcl"])

    recipients = pa.table(
        {
            "message_key": message_key.take(pa.array(starts)),
            "join_key": pa.array(np.array(_JOIN_KEYS, dtype=object)[join_group], pa.string()),
            "network_message_id": first_of("network_message_id"),
            "message_id": first_of("message_id"),
            "sender_address": sender,
            "message_subject": first_of("message_subject"),
            "recipient_address": recipient_address,
            "parent_recipient": parent_recipient,
            "recipient_relation": recipient_relation,
            "final_status": pa.array(np.array(FINAL_STATUSES, dtype=object)[final], pa.string()),
            "status_code": decider_code,
            "smtp_reply": decider_reply,
            "status_meaning": status_meaning,
            "direction": direction,
            "first_time": _timestamps(first_time),
            "final_time": _timestamps(final_time),
            "duration_seconds": pa.array(duration, mask=np.isnan(duration)),
            "deferral_count": pa.array(deferral_count, pa.int64()),
            "deferral_seconds": pa.array(deferral_seconds, pa.float64()),
            "from_ip": from_ip,
            "to_ip": to_ip,
            "total_bytes": pa.array(total_bytes, mask=total_bytes < 0, type=pa.int64()),
            "sfv": verdict_values["sfv"],
            "scl": scl,
            "pcl": pcl,
            "di": verdict_values["di"],
            "country": verdict_values["country"],
            "malware_name": verdict_values["malware_name"],
            "transport_rules": rules,
            "conflict": conflict,
            "event_count": pa.array(event_count, pa.int64()),
            "decided_input_id": _take(col("input_id"), decider),
            "decided_line": _take(col("line"), decider),
        },
        schema=RECIPIENT_SCHEMA,
    )

    # Rows about no recipient stand for the message only when it has no recipient at all.
    group_sizes = np.diff(np.append(message_starts, group_count))
    keep = np.ones(group_count, dtype=bool)
    keep[blank_group] = group_sizes[message_of_group[blank_group]] == 1
    recipients = recipients.filter(pa.array(keep))
    recipients = _add_unseen_children(
        recipients,
        relation_index,
        parent_is_related,
        related_key,
        recipient_key,
        message_key,
        kind,
        times,
        sorted_events,
        tenant_domains,
    )

    passenger_events = passengers.result()
    chain_events = pa.Table.from_arrays(
        [
            (sorted_events if name in _RULE_COLUMNS else passenger_events).column(name)
            for name in schema.COLUMN_NAMES
        ],
        schema=schema.EVENT_SCHEMA,
    )
    for extra, values in (
        ("message_key", message_key),
        ("recipient_key", recipient_key),
        ("lifecycle_rank", pa.array(rank, pa.int8())),
        ("in_timeline", pa.array(in_timeline)),
    ):
        chain_events = chain_events.append_column(extra, values)

    links = _links(sorted_events, message_key, kind, source, recipients)
    message_row_starts = starts[message_starts]
    last_time = np.maximum.reduceat(np.where(times == _NO_TIME, -1, times), message_row_starts)
    messages = _messages(recipients, np.where(last_time < 0, _NO_TIME, last_time), links)
    return Chains(chain_events, recipients, messages, links, tenant_domains)


def _to_int(values: pa.Array) -> pa.Array:
    """Whole numbers written as text (SCL, PCL); anything else is null."""
    text = pc.utf8_trim_whitespace(one_array(values))
    numeric = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?\d{1,9}$"), False)
    return pc.if_else(numeric, text, NULL_STRING).cast(pa.int64())


def _verdicts(
    custom_data_fields: pa.Array, group_of_row: np.ndarray, starts: np.ndarray
) -> tuple[dict[str, pa.Array], dict[str, np.ndarray], pa.Array]:
    """Per group: the last value of each verdict key, the row it came from, the rule list."""
    group_count = len(starts)
    maps = one_array(custom_data_fields)
    offsets = maps.offsets.to_numpy()
    begin, end = int(offsets[0]), int(offsets[-1])
    entry_row = np.repeat(np.arange(len(maps)), np.diff(offsets))
    items = maps.items.slice(begin, end - begin)
    # key names are few: compare their codes, not the text of every entry
    encoded = pc.dictionary_encode(maps.keys.slice(begin, end - begin))
    names = [str(k).lower() for k in encoded.dictionary.to_pylist()]
    key_code = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    key_code = np.where(_valid(items), key_code, -1)

    def entries_of(key: str) -> np.ndarray:
        codes = [i for i, name in enumerate(names) if name == key]
        return np.flatnonzero(np.isin(key_code, codes)) if codes else np.empty(0, np.int64)

    values: dict[str, pa.Array] = {}
    rows: dict[str, np.ndarray] = {}
    for name, wanted in VERDICT_KEYS.items():
        best = np.full(group_count, -1, dtype=np.int64)
        best_entry = np.full(group_count, -1, dtype=np.int64)
        for key in reversed(wanted):  # earlier keys override later ones
            hits = entries_of(key)
            if len(hits) == 0:
                continue
            groups = group_of_row[entry_row[hits]]  # non-decreasing: rows are sorted by group
            last = np.ones(len(hits), dtype=bool)
            last[:-1] = groups[1:] != groups[:-1]
            best_entry[groups[last]] = hits[last]
            best[groups[last]] = entry_row[hits[last]]
        values[name] = _take(items, best_entry)
        rows[name] = best
    rules = _rule_lists(
        entries_of(_RULE_ID_KEY),
        entries_of(_RULE_ACTION_KEY),
        items,
        entry_row,
        group_of_row,
        group_count,
    )
    return values, rows, rules


def _rule_lists(
    rule_entries: np.ndarray,
    action_entries: np.ndarray,
    items: pa.Array,
    entry_row: np.ndarray,
    group_of_row: np.ndarray,
    group_count: int,
) -> pa.Array:
    """'<ruleId> <action>' per transport rule, per group, in order of first appearance."""
    if len(rule_entries) == 0:
        return pa.ListArray.from_arrays(
            pa.array(np.zeros(group_count + 1, dtype=np.int32)), pa.array([], pa.string())
        )
    rule_frame = pd.DataFrame(
        {
            "row": entry_row[rule_entries],
            "rule": items.take(pa.array(rule_entries)).to_numpy(zero_copy_only=False),
        }
    )
    rule_frame["nth"] = rule_frame.groupby("row").cumcount()
    action_frame = pd.DataFrame(
        {
            "row": entry_row[action_entries],
            "action": items.take(pa.array(action_entries)).to_numpy(zero_copy_only=False),
        }
    )
    action_frame["nth"] = action_frame.groupby("row").cumcount()
    merged = rule_frame.merge(action_frame, on=["row", "nth"], how="left", sort=False)
    text = merged["rule"].astype(object).str.strip()
    has_action = merged["action"].notna()
    text = text.where(~has_action, text + " " + merged["action"].astype(object).str.strip())
    frame = pd.DataFrame({"group": group_of_row[merged["row"].to_numpy()], "text": text})
    frame["row"] = merged["row"].to_numpy()
    frame = frame.sort_values(["group", "row"], kind="stable").drop_duplicates(
        ["group", "text"], keep="first"
    )
    counts = np.bincount(frame["group"].to_numpy(), minlength=group_count)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(frame["text"].to_numpy(dtype=object), pa.string())
    )


def _inherit(
    values: dict[str, pa.Array],
    rows: dict[str, np.ndarray],
    rules: pa.Array,
    source_group: np.ndarray,
) -> pa.Array:
    """Fill each group's missing verdicts from ``source_group`` (-1: none), in place; returns
    the transport rule lists filled the same way."""
    safe = np.maximum(source_group, 0)
    for name in values:
        values[name] = pc.coalesce(values[name], _take(values[name], source_group))
        inherited = np.where(source_group >= 0, rows[name][safe], -1)
        rows[name] = np.where(rows[name] >= 0, rows[name], inherited)
    return _fallback_lists(rules, source_group)


def _fallback_lists(lists: pa.Array, fallback_group: np.ndarray) -> pa.Array:
    """Each group's list, or (when empty) the list of its fallback group (-1: none)."""
    lengths = pc.list_value_length(lists).to_numpy(zero_copy_only=False)
    use = (lengths == 0) & (fallback_group >= 0)
    if not use.any():
        return lists
    source = np.where(use, fallback_group, np.arange(len(lengths)))
    return lists.take(pa.array(source))


def _parent_statuses(
    relation_index: np.ndarray,
    parent_is_related: np.ndarray,
    related_key: pa.Array,
    recipient_key: pa.Array,
    message_key: pa.Array,
    kind: np.ndarray,
    group_text: pa.Array,
    group_count: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Expanded / Redirected for recipients that are parents only through the related column."""
    status = np.full(group_count, -1, dtype=np.int64)
    by = np.full(group_count, -1, dtype=np.int64)
    rows = relation_index[parent_is_related]
    if len(rows) == 0:
        return status, by
    take = pa.array(rows)
    parent_group = pc.binary_join_element_wise(
        message_key.take(take), related_key.take(take), "\x00"
    )
    position = pc.index_in(parent_group, value_set=group_text)
    position = pc.fill_null(position, -1).to_numpy(zero_copy_only=False)
    valid = position >= 0
    # the last relation row of each parent decides
    np.maximum.at(by, position[valid], rows[valid])
    decided = by >= 0
    status[decided] = _KIND_STATUS[kind[by[decided]]]
    return status, by


_RELATION_NAMES = {
    K_EXPAND: "expanded_from",
    K_REDIRECT: "redirected_from",
    K_RESOLVE: "resolved_from",
}


def _relations_frame(
    relation_index: np.ndarray,
    parent_is_related: np.ndarray,
    related_key: pa.Array,
    recipient_key: pa.Array,
    message_key: pa.Array,
    kind: np.ndarray,
) -> pd.DataFrame:
    take = pa.array(relation_index)
    row_recipient = recipient_key.take(take).to_numpy(zero_copy_only=False)
    related = related_key.take(take).to_numpy(zero_copy_only=False)
    return pd.DataFrame(
        {
            "message_key": message_key.take(take).to_numpy(zero_copy_only=False),
            "parent": np.where(parent_is_related, related, row_recipient),
            "child": np.where(parent_is_related, row_recipient, related),
            "relation": pd.Series(kind[relation_index]).map(_RELATION_NAMES).to_numpy(),
            "row": relation_index,
        }
    )


def _children(
    relation_index: np.ndarray,
    parent_is_related: np.ndarray,
    related_key: pa.Array,
    recipient_key: pa.Array,
    message_key: pa.Array,
    kind: np.ndarray,
    group_text: pa.Array,
    group_count: int,
) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """parent_recipient, recipient_relation and the parent's group of every group (-1: none);
    the first relation of a child wins."""
    parent_group = np.full(group_count, -1, dtype=np.int64)
    if len(relation_index) == 0:
        nulls = pa.nulls(group_count, pa.string())
        return nulls, nulls, parent_group
    frame = _relations_frame(
        relation_index, parent_is_related, related_key, recipient_key, message_key, kind
    ).drop_duplicates(["message_key", "child"], keep="first")
    child_group = pc.binary_join_element_wise(
        pa.array(frame["message_key"].to_numpy(dtype=object), pa.string()),
        pa.array(frame["child"].to_numpy(dtype=object), pa.string()),
        "\x00",
    )
    position = pc.index_in(child_group, value_set=group_text)
    position = pc.fill_null(position, -1).to_numpy(zero_copy_only=False)
    found = position >= 0
    parents = np.full(group_count, None, dtype=object)
    relations = np.full(group_count, None, dtype=object)
    parents[position[found]] = frame["parent"].to_numpy(dtype=object)[found]
    relations[position[found]] = frame["relation"].to_numpy(dtype=object)[found]
    parent_texts = pc.binary_join_element_wise(
        pa.array(frame["message_key"].to_numpy(dtype=object), pa.string()),
        pa.array(frame["parent"].to_numpy(dtype=object), pa.string()),
        "\x00",
    )
    parent_position = pc.fill_null(pc.index_in(parent_texts, value_set=group_text), -1)
    parent_position = parent_position.to_numpy(zero_copy_only=False)
    parent_group[position[found]] = parent_position[found]
    parent_group[parent_group == np.arange(group_count)] = -1  # never its own parent
    return pa.array(parents, pa.string()), pa.array(relations, pa.string()), parent_group


def _add_unseen_children(
    recipients: pa.Table,
    relation_index: np.ndarray,
    parent_is_related: np.ndarray,
    related_key: pa.Array,
    recipient_key: pa.Array,
    message_key: pa.Array,
    kind: np.ndarray,
    times: np.ndarray,
    sorted_events: pa.Table,
    tenant_domains: tuple[str, ...],
) -> pa.Table:
    """Recipient rows for group members and new addresses that have no events of their own."""
    if len(relation_index) == 0:
        return recipients
    frame = _relations_frame(
        relation_index, parent_is_related, related_key, recipient_key, message_key, kind
    ).drop_duplicates(["message_key", "child"], keep="first")
    seen = pd.MultiIndex.from_arrays(
        [
            recipients.column("message_key").to_numpy(zero_copy_only=False),
            pc.fill_null(recipients.column("recipient_address"), "").to_numpy(zero_copy_only=False),
        ]
    )
    unseen = frame[~pd.MultiIndex.from_frame(frame[["message_key", "child"]]).isin(seen)]
    if unseen.empty:
        return recipients
    # copy the message-level facts from the parent's row
    parents = pd.MultiIndex.from_frame(unseen[["message_key", "parent"]])
    parent_position = seen.get_indexer(parents)
    base = recipients.take(pa.array(np.maximum(parent_position, 0)))
    rows = unseen["row"].to_numpy()
    count = len(unseen)
    message_columns = ("message_key", "join_key", "network_message_id", "message_id")
    message_columns += ("sender_address", "message_subject", "total_bytes")
    columns: dict[str, pa.Array] = {}
    for field in RECIPIENT_SCHEMA:
        if field.name in message_columns:
            columns[field.name] = one_array(base.column(field.name))
            if field.name == "message_key":
                columns[field.name] = pa.array(
                    unseen["message_key"].to_numpy(dtype=object), pa.string()
                )
        else:
            columns[field.name] = pa.nulls(count, field.type)
    columns["recipient_address"] = pa.array(unseen["child"].to_numpy(dtype=object), pa.string())
    columns["parent_recipient"] = pa.array(unseen["parent"].to_numpy(dtype=object), pa.string())
    columns["recipient_relation"] = pa.array(unseen["relation"].to_numpy(dtype=object), pa.string())
    columns["final_status"] = pa.array(["Unknown"] * count, pa.string())
    columns["status_meaning"] = pa.array(
        ["no event for this recipient in the data after it was added"] * count, pa.string()
    )
    columns["first_time"] = _timestamps(times[rows])
    columns["deferral_count"] = pa.array(np.zeros(count, dtype=np.int64))
    columns["deferral_seconds"] = pa.array(np.zeros(count))
    columns["event_count"] = pa.array(np.zeros(count, dtype=np.int64))
    columns["transport_rules"] = pa.array([[]] * count, pa.list_(pa.string()))
    columns["decided_input_id"] = one_array(sorted_events.column("input_id")).take(pa.array(rows))
    columns["decided_line"] = one_array(sorted_events.column("line")).take(pa.array(rows))
    parent_direction = one_array(base.column("direction"))
    columns["direction"] = _resolve_direction(
        np.zeros(count, dtype=np.int64),
        columns["recipient_address"],
        address_key(columns["sender_address"]),
        tenant_domains,
    )
    columns["direction"] = pc.if_else(
        pc.equal(columns["direction"], "unknown"), parent_direction, columns["direction"]
    )
    extra = pa.table(columns, schema=RECIPIENT_SCHEMA)
    combined = pa.concat_tables([recipients, extra])
    order = pc.sort_indices(
        combined,
        sort_keys=[
            ("message_key", "ascending", "at_start"),
            ("recipient_address", "ascending", "at_start"),
        ],
    )
    return combined.take(order)


def _tenant_domains(
    recipient_key: tuple[np.ndarray, pa.Array],
    sender: tuple[np.ndarray, pa.Array],
    direction: np.ndarray,
    kind: np.ndarray,
    is_submit: np.ndarray,
) -> tuple[str, ...]:
    """The tenant's domains as the data shows them (see the module documentation).

    Addresses come as (code of each row, the distinct cleaned addresses)."""

    def domains(addresses: tuple[np.ndarray, pa.Array], rows: np.ndarray) -> set[str]:
        codes, values = addresses
        distinct = np.unique(codes[rows & (codes >= 0)])
        found = domain_of(values.take(pa.array(distinct))).drop_null()
        return {d for d in found.to_pylist() if d}

    # DELIVER puts mail into a mailbox of the tenant
    mailboxes = domains(recipient_key, kind == K_DELIVER)
    # originating, outbound and internal mail and mailbox submissions come from inside
    senders = domains(sender, np.isin(direction, [2, 3, 4]) | is_submit)
    internal = domains(recipient_key, direction == 3)
    # recipients of inbound mail, unless the mail was sent on to them outside (a redirect or
    # forward of inbound mail keeps the inbound direction)
    sent_out = domains(recipient_key, (kind == K_SEND) | (direction == 2)) - mailboxes
    inbound = domains(recipient_key, direction == 1) - sent_out
    return tuple(sorted(mailboxes | senders | internal | inbound))


def _resolve_direction(
    exported: np.ndarray,
    recipient: pa.Array,
    sender: pa.Array,
    tenant_domains: tuple[str, ...],
) -> pa.Array:
    """inbound / outbound / internal / unknown from the exported code and the domains."""
    recipient_in = in_domains(per_distinct(recipient, domain_of), tenant_domains)
    sender_in = in_domains(per_distinct(sender, domain_of), tenant_domains)
    recipient_in = recipient_in.to_numpy(zero_copy_only=False)
    sender_in = sender_in.to_numpy(zero_copy_only=False)
    has_recipient = pc.fill_null(pc.not_equal(recipient, ""), False).to_numpy(zero_copy_only=False)
    inferred = np.select(
        [
            sender_in & recipient_in,
            sender_in & has_recipient & ~recipient_in,
            ~sender_in & recipient_in,
        ],
        ["internal", "outbound", "inbound"],
        default="unknown",
    )
    originating = np.where(
        ~has_recipient, "unknown", np.where(recipient_in, "internal", "outbound")
    )
    result = np.select(
        [exported == 1, exported == 2, exported == 3, exported == 4],
        ["inbound", "outbound", "internal", originating],
        default=inferred,
    )
    return pa.array(result.astype(object), pa.string())


def _label(report_types: np.ndarray) -> np.ndarray:
    return np.array([REPORT_LABELS.get(r, r or "an export") for r in report_types], dtype=object)


def _conflicts(
    *,
    final: np.ndarray,
    decider: np.ndarray,
    strong: np.ndarray,
    overlay: np.ndarray,
    reported: np.ndarray,
    reported_decider: np.ndarray,
    reported_low: np.ndarray,
    reported_high: np.ndarray,
    corroborating_decider: np.ndarray,
    row_status: np.ndarray,
    event_ids: pa.Array,
    report_type: pa.Array,
    di: np.ndarray,
    kind: np.ndarray,
    locations: pa.Array,
) -> pa.Array:
    """A sentence per recipient naming the facts that disagree with the final status."""
    count = len(final)
    statuses = np.array(FINAL_STATUSES, dtype=object)
    reported_value = np.where(reported_decider >= 0, reported[np.maximum(reported_decider, 0)], -1)
    report_disagrees = strong & (reported_decider >= 0) & (reported_value != final)
    corroborating_status = np.where(
        corroborating_decider >= 0, row_status[np.maximum(corroborating_decider, 0)], -1
    )
    enhanced_disagrees = (
        strong & (corroborating_decider >= 0) & (corroborating_status != final) & (overlay < 0)
    )
    reports_differ = (reported_low != 99) & (reported_low != reported_high)
    any_conflict = report_disagrees | enhanced_disagrees | reports_differ
    sentences = np.full(count, None, dtype=object)
    if not any_conflict.any():
        return pa.array(sentences, pa.string())
    idx = np.flatnonzero(any_conflict)
    deciding = pa.array(decider[idx], mask=decider[idx] < 0)
    event_text = event_ids.take(deciding).to_numpy(zero_copy_only=False)
    location_text = locations.take(deciding).to_numpy(zero_copy_only=False)
    deciding_label = _label(report_type.take(deciding).to_numpy(zero_copy_only=False))
    deciding_kind = np.where(decider[idx] >= 0, kind[np.maximum(decider[idx], 0)], -1)

    def event_words(over: int, status: str, k: int, event: Any, where: Any, label: str, d: str):
        if over < 0:
            return f"events end in {event}"
        if k in (K_QUARANTINE, K_JUNK):
            return f"events say {status} ({label}: {event})"
        if where:
            return f"events say {status} ({event or label}: delivery location {where})"
        return f"events say {status} (spam filter DI={d})"

    event_side = np.array(
        [
            event_words(*values)
            for values in zip(
                overlay[idx],
                statuses[final[idx]],
                deciding_kind,
                event_text,
                location_text,
                deciding_label,
                di[idx],
                strict=True,
            )
        ],
        dtype=object,
    )
    reporter = _label(
        report_type.take(pa.array(reported_decider[idx], mask=reported_decider[idx] < 0)).to_numpy(
            zero_copy_only=False
        )
    )
    enhanced_reporter = _label(
        report_type.take(
            pa.array(corroborating_decider[idx], mask=corroborating_decider[idx] < 0)
        ).to_numpy(zero_copy_only=False)
    )
    parts: list[np.ndarray] = []
    parts.append(
        np.where(
            report_disagrees[idx],
            [
                f"{who} says {statuses[v]}; {side}"
                for who, v, side in zip(reporter, reported_value[idx], event_side, strict=True)
            ],
            None,
        )
    )
    parts.append(
        np.where(
            enhanced_disagrees[idx],
            [
                f"{who} says {statuses[v]}; {side}"
                for who, v, side in zip(
                    enhanced_reporter, corroborating_status[idx], event_side, strict=True
                )
            ],
            None,
        )
    )
    parts.append(
        np.where(
            reports_differ[idx],
            [
                f"exports disagree: one says {statuses[lo]}, another {statuses[hi]}"
                if lo != 99 and hi >= 0
                else None
                for lo, hi in zip(reported_low[idx], reported_high[idx], strict=True)
            ],
            None,
        )
    )
    joined = ["; ".join(p for p in row if p) for row in zip(*parts, strict=True)]
    sentences[idx] = joined
    return pa.array(sentences, pa.string())


_KIND_WORDS = {
    K_DELIVER: "delivered to the recipient's mailbox",
    K_SEND: "sent to the next mail server (outside the organization or the next hop)",
    K_DROP: "dropped without a delivery report",
    K_QUARANTINE: "held in quarantine",
    K_JUNK: "filtered as spam (delivered to the Junk Email folder)",
    K_EXPAND: "a distribution group, expanded to its members",
    K_REDIRECT: "redirected to another address",
    K_RESOLVE: "address rewritten to another address",
    K_DEFER: "delivery deferred, no final event yet",
}


def _dictionary_codes(values: pa.Array) -> tuple[np.ndarray, list]:
    """Integer code of each value (-1 for null) and the distinct values."""
    encoded = pc.dictionary_encode(one_array(values))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def _distinct_combinations(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For integer columns (each >= -1): one row index per distinct combination, and the
    number of each row's combination."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for column in codes:
        combined = combined * (int(column.max(initial=-1)) + 2) + (column + 1)
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return first, inverse


def _status_meaning(
    final: np.ndarray,
    decider_kind: np.ndarray,
    code: pa.Array,
    reply_code: pa.Array,
    di: np.ndarray,
    report_type: pa.Array,
    *,
    has_events: np.ndarray,
    malware: np.ndarray,
) -> pa.Array:
    """The final status in plain words (computed once per distinct combination).

    ``has_events``: the recipient has transport events (not only reported statuses);
    ``malware``: the anti-malware agent named a malware.
    """
    code_codes, code_values = _dictionary_codes(code)
    reply = pc.fill_null(one_array(reply_code).cast(pa.int64()), -1).to_numpy(zero_copy_only=False)
    di_codes, di_values = _dictionary_codes(pa.array(di, pa.string()))
    report_codes, report_values = _dictionary_codes(report_type)
    flags = has_events.astype(np.int64) + 2 * malware.astype(np.int64)
    first, inverse = _distinct_combinations(
        final, decider_kind + 1, code_codes, reply, di_codes, report_codes, flags
    )

    def value(values: list, index: int) -> Any:
        return values[index] if index >= 0 else None

    words = np.array(
        [
            _one_meaning(
                int(final[i]),
                int(decider_kind[i]),
                value(code_values, code_codes[i]),
                None if reply[i] < 0 else int(reply[i]),
                value(di_values, di_codes[i]) or "",
                value(report_values, report_codes[i]),
                has_events=bool(flags[i] & 1),
                malware=bool(flags[i] & 2),
            )
            for i in first
        ],
        dtype=object,
    )
    return pa.array(words[inverse], pa.string())


def _one_meaning(
    final: int,
    kind: int,
    code: Any,
    reply: Any,
    di: str,
    report: Any,
    *,
    has_events: bool = False,
    malware: bool = False,
) -> str:
    status = FINAL_STATUSES[final]
    code = code if isinstance(code, str) and code else None
    reply = int(reply) if reply is not None and not pd.isna(reply) else None
    explained = smtp.meaning(code, reply)
    if final in (FAILED, PENDING) and explained and (code or reply):
        first = (code or str(reply))[:1]
        if first in ("4", "5"):
            return f"{STATUS_WORDS[status] if final == FAILED else 'deferred'}: {explained}" + (
                f" ({code})" if code else ""
            )
    if kind == K_STATUS:
        label = REPORT_LABELS.get(report, report or "an export")
        events = (
            "the events in the data stop before a final one"
            if has_events
            else "no events in the data"
        )
        return f"{STATUS_WORDS[status]} (as the {label} reports it; {events})"
    if final == QUARANTINED and malware:
        # the anti-malware agent's verdict says why, whichever row put it in quarantine
        return "held in quarantine: the anti-malware agent found malware" + (
            " (DI=SQ)" if di == "SQ" else ""
        )
    if final == QUARANTINED and kind not in (K_QUARANTINE,) and di == "SQ":
        return "held in quarantine by the spam filter (DI=SQ)"
    if final == FILTERED and kind not in (K_JUNK,) and di == "SJ":
        return "filtered as spam: delivered to the Junk Email folder (DI=SJ)"
    if final == FAILED and kind == K_DSN:
        return "not delivered: a non-delivery report was sent"
    if kind in _KIND_WORDS and final != PENDING:
        return _KIND_WORDS[kind]
    if final == PENDING and kind == K_DEFER:
        return _KIND_WORDS[K_DEFER]
    return STATUS_WORDS[status]


def _links(
    sorted_events: pa.Table,
    message_key: pa.Array,
    kind: np.ndarray,
    source: np.ndarray,
    recipients: pa.Table,
) -> pa.Table:
    """Message lineage read from ``reference``: DSNs and inbox-rule forwards."""
    reference = one_array(sorted_events.column("reference"))
    has_reference = _valid(reference)
    forward = has_reference & (kind == K_RECEIVE) & (source == 1)
    dsn_receive = has_reference & (kind == K_RECEIVE) & (source == 2)
    dsn_event = has_reference & (kind == K_DSN)
    rows = np.flatnonzero(forward | dsn_receive | dsn_event)
    if len(rows) == 0:
        return LINK_SCHEMA.empty_table()
    take = pa.array(rows)
    # one reference cell may name several messages
    parts = pc.split_pattern_regex(reference.take(take), r"[;,\s]+")
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    part_rows = np.repeat(rows, lengths)
    wanted = message_id_key(pc.list_flatten(parts))
    non_empty = _valid(wanted)
    part_rows, wanted = part_rows[non_empty], wanted.filter(pa.array(non_empty))
    raw = reference.take(pa.array(part_rows))

    # reference -> message key, by network message id first, then by Internet message id
    ids = pa.table(
        {
            "message_key": recipients.column("message_key"),
            "nmid": id_key(one_array(recipients.column("network_message_id"))),
            "mid": message_id_key(one_array(recipients.column("message_id"))),
        }
    )
    by_nmid = (
        ids.filter(pc.is_valid(ids["nmid"])).group_by("nmid").aggregate([("message_key", "min")])
    )
    by_mid = ids.filter(pc.is_valid(ids["mid"])).group_by("mid").aggregate([("message_key", "min")])
    target = pc.coalesce(
        pc.take(by_nmid["message_key_min"], pc.index_in(wanted, value_set=by_nmid["nmid"])),
        pc.take(by_mid["message_key_min"], pc.index_in(wanted, value_set=by_mid["mid"])),
    ).to_numpy(zero_copy_only=False)
    this = message_key.take(pa.array(part_rows)).to_numpy(zero_copy_only=False)

    failed = recipients.filter(pc.equal(recipients["final_status"], "Failed"))
    failed_messages = set(failed.column("message_key").unique().to_pylist())
    this_failed = pd.Series(this, dtype=object).isin(failed_messages).to_numpy()
    target_failed = pd.Series(target, dtype=object).isin(failed_messages).to_numpy()
    row_kind = kind[part_rows]
    row_source = source[part_rows]
    # A DSN event is logged on the original message (reference: the DSN's id) in Exchange,
    # but some exports log it on the DSN; the message with failed recipients is the original.
    dsn_on_original = (row_kind == K_DSN) & ~(target_failed & ~this_failed)
    child = np.where(dsn_on_original, target, this)
    parent = np.where(dsn_on_original, this, target)
    relation = np.where(
        (row_kind == K_RECEIVE) & (row_source == 1), "inbox_rule_forward_of", "dsn_for"
    )
    frame = pd.DataFrame(
        {
            "message_key": child,
            "related_message_key": parent,
            "relation": relation,
            "reference": raw.to_numpy(zero_copy_only=False),
            "input_id": one_array(sorted_events.column("input_id"))
            .take(pa.array(part_rows))
            .to_numpy(zero_copy_only=False),
            "line": one_array(sorted_events.column("line")).take(pa.array(part_rows)).to_pylist(),
        }
    )
    # a link needs the later message; the original may be missing from the data
    frame = frame[frame["message_key"].notna()]
    frame = frame[frame["message_key"] != frame["related_message_key"]]
    frame = frame.drop_duplicates(["message_key", "related_message_key", "relation"])
    frame = frame.sort_values(
        ["message_key", "related_message_key", "relation"], kind="stable", na_position="last"
    )
    return pa.Table.from_pandas(frame, schema=LINK_SCHEMA, preserve_index=False)


def _messages(recipients: pa.Table, last_time: np.ndarray, links: pa.Table) -> pa.Table:
    """One row per message, from its recipients; ``last_time`` per message, in key order."""
    keys = recipients.column("message_key")
    key_codes = _sorted_codes(keys)
    starts = np.flatnonzero(np.diff(key_codes, prepend=-1))

    def first(name: str) -> pa.Array:
        return _first_valid(one_array(recipients.column(name)), starts)

    first_times = _times(recipients.column("first_time"))
    first_time = np.minimum.reduceat(first_times, starts)

    direction_rank = {"outbound": 4, "inbound": 3, "internal": 2, "unknown": 1}
    direction_code = _codes(
        recipients.column("direction"), {k.upper(): v for k, v in direction_rank.items()}, 1, 1
    )
    best = np.maximum.reduceat(direction_code, starts)
    names = np.array(["", "unknown", "internal", "inbound", "outbound"], dtype=object)

    status_bit = _codes(
        recipients.column("final_status"),
        {s.upper(): 1 << i for i, s in enumerate(FINAL_STATUSES)},
        1 << UNKNOWN,
        1 << UNKNOWN,
    )
    masks = np.bitwise_or.reduceat(status_bit, starts)
    distinct_masks, inverse = np.unique(masks, return_inverse=True)
    mask_text = np.array(
        [
            ", ".join(s for i, s in enumerate(FINAL_STATUSES) if m & (1 << i))
            for m in distinct_masks
        ],
        dtype=object,
    )
    bytes_ = pc.fill_null(recipients.column("total_bytes"), -1).to_numpy(zero_copy_only=False)
    total_bytes = np.maximum.reduceat(bytes_, starts)

    message_keys = keys.take(pa.array(starts))
    related = pd.concat(
        [
            links.select(["message_key", "related_message_key"]).to_pandas(),
            links.select(["related_message_key", "message_key"])
            .rename_columns(["message_key", "related_message_key"])
            .to_pandas(),
        ]
    ).dropna()
    related_counts = (
        related.drop_duplicates().groupby("message_key").size()
        if len(related)
        else pd.Series(dtype=np.int64)
    )
    related_count = (
        pd.Series(message_keys.to_numpy(zero_copy_only=False), dtype=object)
        .map(related_counts)
        .fillna(0)
        .to_numpy(dtype=np.int64)
    )
    return pa.table(
        {
            "message_key": message_keys,
            "network_message_id": first("network_message_id"),
            "message_id": first("message_id"),
            "sender_address": first("sender_address"),
            "message_subject": first("message_subject"),
            "first_time": _timestamps(first_time),
            "last_time": _timestamps(last_time),
            "direction": pa.array(names[best], pa.string()),
            "recipient_count": pa.array(np.diff(np.append(starts, len(keys))), pa.int64()),
            "total_bytes": pa.array(total_bytes, mask=total_bytes < 0, type=pa.int64()),
            "statuses": pa.array(mask_text[inverse], pa.string()),
            "related_count": pa.array(related_count, pa.int64()),
        },
        schema=MESSAGE_SCHEMA,
    )


# --------------------------------------------------------------------------------------------
# one message


def resolve_message(chains: Chains, message_id: str) -> str:
    """The message_key of a message named by its network or Internet message id.

    Args:
        chains: the chains of the case.
        message_id: a network message id, an Internet message id (with or without ``<>``,
            any case) or a message_key.

    Returns:
        The message_key.

    Raises:
        NotFoundError: no message, or several messages (from different senders), carry it.
    """
    wanted = message_id_text(message_id)
    if not wanted:
        raise NotFoundError("no message id given: pass --message with a network or Internet id")
    messages = chains.messages
    keys = messages.column("message_key")
    for column, clean in (
        (keys, id_key),
        (messages.column("network_message_id"), id_key),
        (messages.column("message_id"), message_id_key),
    ):
        hits = pc.fill_null(pc.equal(clean(one_array(column)), wanted), False)
        found = keys.filter(hits).to_pylist()
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            listed = ", ".join(found[:5])
            raise NotFoundError(
                f"message id {message_id!r} names {len(found)} messages ({listed}); "
                "pass the network message id, or one of these keys, to choose one"
            )
    raise NotFoundError(
        f"no message with id {message_id!r} in the data (looked for it as network message id "
        f"and Internet message id in {messages.num_rows:,} message(s)); check the id, or run "
        "`msgtrace search` to find the message"
    )


format_time = iso_utc  # the JSON contract's time format: ISO 8601 UTC, 7 digits, Z


def _event_json(row: dict[str, Any], paths: dict[str, str], duplicates: dict[str, list]) -> dict:
    status = row["recipient_status"] if row["event_id"] else row["reported_status"]
    return {
        "time": format_time(row["event_time"]),
        "time_basis": row["time_basis"],
        "event_id": row["event_id"],
        "source": row["source"],
        "status": status,
        "status_code": row["status_code"],
        "smtp_reply_code": row["smtp_reply_code"],
        "related_recipient": row["related_recipient_address"],
        "reference": row["reference"],
        "detail": row["event_detail"],
        "custom_data": row["custom_data"],
        "in_timeline": row["in_timeline"],
        "report_type": row["report_type"],
        "input": paths.get(row["input_id"], row["input_id"]),
        "line": row["line"],
        "also_in": duplicates.get(row["event_key"], []) if row["event_key"] else [],
    }


def message_chain(chains: Chains, case: Case, message_key: str) -> dict[str, Any]:
    """The documented JSON of one message (the contract of ``msgtrace chain --json``).

    Shape::

        {"message_key", "network_message_id", "message_id", "sender", "subject",
         "first_time", "last_time", "direction", "statuses",
         "recipients": [{"address", "final_status", "status_code", "status_meaning",
                         "smtp_reply", "parent", "relation", "direction", "join_key",
                         "first_time", "final_time", "duration_seconds", "deferral_count",
                         "deferral_seconds", "from_ip", "to_ip", "total_bytes",
                         "verdicts": {"sfv", "scl", "pcl", "di", "country", "malware_name",
                                      "transport_rules"},
                         "conflict", "evidence": {"input", "line"},
                         "events": [EVENT, ...]}, ...],
         "message_events": [EVENT, ...],      # rows about no recipient
         "related_messages": [{"relation", "direction", "message_key",
                               "network_message_id", "message_id", "sender", "subject",
                               "evidence": {"input", "line"}}, ...]}

    EVENT is ``{"time", "time_basis", "event_id", "source", "status", "status_code",
    "smtp_reply_code", "related_recipient", "reference", "detail", "custom_data",
    "in_timeline", "report_type", "input", "line", "also_in": [{"input", "line"}]}``.
    Times are ISO 8601 UTC with 7 fractional digits and ``Z``. ``status`` is the SMTP reply
    (or To/Cc on RECEIVE) for events and the reported status for summary rows. ``input`` is
    the input file's path. Related ``direction`` is ``"this_is_related_to"`` when this message
    is the DSN or forward, ``"related_is_about_this"`` when the other one is.

    Args:
        chains: the chains of the case.
        case: the case (for input paths and duplicate provenance).
        message_key: from ``resolve_message``.

    Raises:
        NotFoundError: the key is not a message of these chains.
    """
    message = chains.messages.filter(pc.equal(chains.messages["message_key"], message_key))
    if message.num_rows == 0:
        raise NotFoundError(f"no message {message_key!r} in the data")
    info = message.to_pylist()[0]
    paths = case.input_paths()
    events = chains.events.filter(pc.equal(chains.events["message_key"], message_key))
    keys = set(k for k in events.column("event_key").to_pylist() if k)
    duplicates: dict[str, list] = {}
    if keys and case.duplicates.num_rows:
        dup = case.duplicates.filter(
            pc.is_in(case.duplicates["event_key"], value_set=pa.array(sorted(keys)))
        )
        for row in dup.to_pylist():
            duplicates.setdefault(row["event_key"], []).append(
                {"input": paths.get(row["input_id"], row["input_id"]), "line": row["line"]}
            )
    by_recipient: dict[str, list[dict]] = {}
    for row in events.to_pylist():
        by_recipient.setdefault(row["recipient_key"], []).append(
            _event_json(row, paths, duplicates)
        )
    recipients = chains.recipients.filter(
        pc.equal(chains.recipients["message_key"], message_key)
    ).to_pylist()
    recipient_json = []
    for r in recipients:
        key = r["recipient_address"] or ""
        recipient_json.append(
            {
                "address": r["recipient_address"],
                "final_status": r["final_status"],
                "status_code": r["status_code"],
                "status_meaning": r["status_meaning"],
                "smtp_reply": r["smtp_reply"],
                "parent": r["parent_recipient"],
                "relation": r["recipient_relation"],
                "direction": r["direction"],
                "join_key": r["join_key"],
                "first_time": format_time(r["first_time"]),
                "final_time": format_time(r["final_time"]),
                "duration_seconds": r["duration_seconds"],
                "deferral_count": r["deferral_count"],
                "deferral_seconds": r["deferral_seconds"],
                "from_ip": r["from_ip"],
                "to_ip": r["to_ip"],
                "total_bytes": r["total_bytes"],
                "verdicts": {
                    "sfv": r["sfv"],
                    "scl": r["scl"],
                    "pcl": r["pcl"],
                    "di": r["di"],
                    "country": r["country"],
                    "malware_name": r["malware_name"],
                    "transport_rules": r["transport_rules"] or [],
                },
                "conflict": r["conflict"],
                "evidence": {
                    "input": paths.get(r["decided_input_id"], r["decided_input_id"]),
                    "line": r["decided_line"],
                },
                "events": by_recipient.get(key, []) if key or len(recipients) == 1 else [],
            }
        )
    has_blank_recipient = any(not r["recipient_address"] for r in recipients)
    related = []
    links = chains.links
    outgoing = links.filter(pc.equal(links["message_key"], message_key)).to_pylist()
    incoming = links.filter(
        pc.fill_null(pc.equal(links["related_message_key"], message_key), False)
    ).to_pylist()
    others = chains.messages
    for link, other_key, direction in [
        *[(link, link["related_message_key"], "this_is_related_to") for link in outgoing],
        *[(link, link["message_key"], "related_is_about_this") for link in incoming],
    ]:
        other = (
            others.filter(pc.equal(others["message_key"], other_key)).to_pylist()
            if other_key
            else []
        )
        other_info = other[0] if other else {}
        related.append(
            {
                "relation": link["relation"],
                "direction": direction,
                "message_key": other_key,
                "network_message_id": other_info.get("network_message_id"),
                "message_id": other_info.get("message_id"),
                "sender": other_info.get("sender_address"),
                "subject": other_info.get("message_subject"),
                "reference": link["reference"],
                "evidence": {
                    "input": paths.get(link["input_id"], link["input_id"]),
                    "line": link["line"],
                },
            }
        )
    return {
        "message_key": message_key,
        "network_message_id": info["network_message_id"],
        "message_id": info["message_id"],
        "sender": info["sender_address"],
        "subject": info["message_subject"],
        "first_time": format_time(info["first_time"]),
        "last_time": format_time(info["last_time"]),
        "direction": info["direction"],
        "statuses": info["statuses"],
        "recipients": recipient_json,
        "message_events": [] if has_blank_recipient else by_recipient.get("", []),
        "related_messages": related,
    }


def chain_report(case: Case, message_id: str) -> dict[str, Any]:
    """Build the chains of a case and return the JSON of the message named by ``message_id``.

    Args:
        case: the loaded case.
        message_id: network or Internet message id (with or without ``<>``).

    Raises:
        NotFoundError: unknown or ambiguous id.
    """
    chains = build_chains(case)
    return message_chain(chains, case, resolve_message(chains, message_id))


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    """Text from an export made safe to print on one line of a terminal.

    Export values are untrusted: a subject may hold line breaks that would break the layout,
    or escape sequences (ESC ``[2J``...) that a terminal would obey. Tabs and line breaks
    become spaces; other control characters are shown as ``\\xNN``.

    Args:
        text: any text.

    Returns:
        The text without control characters.
    """

    def visible(match: re.Match[str]) -> str:
        character = match.group()
        return " " if character in "\t\n\r" else f"\\x{ord(character):02x}"

    return _CONTROL_CHARACTERS.sub(visible, text)


def _short_time(text: str | None) -> str:
    if not text:
        return "(no time)".ljust(27)
    return text[:10] + " " + text[11:23] + " UTC"


def format_chain_text(chain: dict[str, Any]) -> str:
    """The text of ``msgtrace chain``: the message, then one block per recipient."""
    lines = [
        f"Message {chain['network_message_id'] or chain['message_key']}",
        f"  Internet message id: {chain['message_id'] or '-'}",
        f"  Sender:              {chain['sender'] or '-'}",
        f"  Subject:             {chain['subject'] or '-'}",
        f"  First seen:          {_short_time(chain['first_time'])}",
        f"  Direction:           {chain['direction']}",
        f"  Final statuses:      {chain['statuses']}",
    ]
    for recipient in chain["recipients"]:
        lines.append("")
        lineage = ""
        if recipient["parent"]:
            lineage = f" ({recipient['relation'].replace('_', ' ')} {recipient['parent']})"
        lines.append(
            f"Recipient {recipient['address'] or '(none)'}{lineage}: {recipient['final_status']}"
            f" - {recipient['status_meaning']}"
        )
        if recipient["smtp_reply"]:
            lines.append(f"  SMTP reply: {recipient['smtp_reply']}")
        facts = [f"direction {recipient['direction']}"]
        if recipient["duration_seconds"] is not None:
            facts.append(f"{recipient['duration_seconds']:.1f} s from receipt to final event")
        if recipient["deferral_count"]:
            facts.append(
                f"{recipient['deferral_count']} deferral(s), "
                f"{recipient['deferral_seconds']:.0f} s in all"
            )
        if recipient["join_key"] != "network_message_id":
            facts.append(f"joined by {recipient['join_key']}")
        lines.append("  " + "; ".join(facts))
        verdicts = recipient["verdicts"]
        shown = [
            f"{name.upper() if name != 'malware_name' else 'malware'}={verdicts[name]}"
            for name in ("sfv", "scl", "pcl", "di", "country", "malware_name")
            if verdicts[name] is not None
        ]
        if shown:
            lines.append("  Verdicts: " + " ".join(shown))
        for rule in verdicts["transport_rules"]:
            lines.append(f"  Transport rule: {rule}")
        if recipient["conflict"]:
            lines.append(f"  CONFLICT: {recipient['conflict']}")
        lines.append("  Timeline (UTC):")
        for event in recipient["events"]:
            lines.append("    " + _event_line(event))
        if not recipient["events"]:
            lines.append("    (no events for this recipient in the data)")
    if chain["message_events"]:
        lines.append("")
        lines.append("Rows about no recipient:")
        for event in chain["message_events"]:
            lines.append("    " + _event_line(event))
    if chain["related_messages"]:
        lines.append("")
        lines.append("Related messages:")
        for related in chain["related_messages"]:
            what = {
                ("dsn_for", "this_is_related_to"): "this message is a DSN about",
                ("dsn_for", "related_is_about_this"): "delivery status notification (DSN):",
                ("inbox_rule_forward_of", "this_is_related_to"): "forwarded by an inbox rule from",
                ("inbox_rule_forward_of", "related_is_about_this"): "forwarded by an inbox rule as",
            }[(related["relation"], related["direction"])]
            name = related["network_message_id"] or related["message_key"] or related["reference"]
            subject = f' "{related["subject"]}"' if related["subject"] else ""
            lines.append(f"  {what} {name}{subject}")
    return "\n".join(terminal_safe(line) for line in lines) + "\n"


def _event_line(event: dict[str, Any]) -> str:
    what = event["event_id"] or "STATUS"
    marker = " " if event["in_timeline"] else "~"
    basis = "*" if event["time_basis"] == "message" else " "
    status = event["status"] or ""
    if event["related_recipient"]:
        # no arrow: as Exchange logs EXPAND/REDIRECT the related address is the parent (the
        # group, the original address), but some exports write it the other way round
        status = f"{status} (related recipient {event['related_recipient']})".strip()
    where = f"{event['input']}:{event['line']}" if event["line"] is not None else event["input"]
    return (
        f"{marker}{_short_time(event['time'])}{basis} {what:<11} {event['source'] or '':<12}"
        f" {status}  [{event['report_type']}, {where}]"
    ).rstrip()


CHAIN_TEXT_LEGEND = (
    "Legend: * time is the message's receive time (the export has no time per event); "
    "~ repeats a fact another export gives with its own time (kept as evidence)."
)
