"""The tables of ``Chains``: every column with its Arrow type and meaning, and ``Chains`` itself.

``RECIPIENT_COLUMNS``, ``MESSAGE_COLUMNS`` and ``LINK_COLUMNS`` document the three tables
``build_chains`` returns besides the events; ``EVENT_EXTRA_COLUMNS`` the columns it adds to the
canonical events (``analyzer.schema``). The schemas are built from these tables, so the
documentation and the data cannot drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from analyzer import schema
from analyzer.chains.vocabulary import FINAL_STATUSES

TIMESTAMP = schema.TIMESTAMP


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
        tenant_domains: the tenant's accepted domains as inferred from the data, sorted
            (``analyzer.chains.direction``): the one answer every stage uses.
    """

    events: pa.Table
    recipients: pa.Table
    messages: pa.Table
    links: pa.Table
    tenant_domains: tuple[str, ...]

    @classmethod
    def empty(cls) -> Chains:
        """The chains of a case without events: empty tables, no tenant domain."""
        return cls(
            EVENTS_SCHEMA.empty_table(),
            RECIPIENT_SCHEMA.empty_table(),
            MESSAGE_SCHEMA.empty_table(),
            LINK_SCHEMA.empty_table(),
            (),
        )
