"""The canonical event table: defined once, referred to by name everywhere else.

One row is one transport event for one recipient. Every export format is normalized to
these columns (see ``analyzer.formats`` for which format fills which column); columns a
format does not map are kept verbatim in ``extras``. Provenance (``input_id``, ``line``,
``report_type``) is on every row, so every figure can be traced back to an input row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa

TIMESTAMP = pa.timestamp("ns", tz="UTC")  # ns keeps all 7 fractional digits (100 ns ticks)
STRING_MAP = pa.map_(pa.string(), pa.string())


@dataclass(frozen=True)
class Column:
    """One canonical column: its name, Arrow type and what it means to a user."""

    name: str
    type: pa.DataType
    meaning: str
    filled_by: str = "all formats that carry it"


COLUMNS: tuple[Column, ...] = (
    # When
    Column(
        "event_time",
        TIMESTAMP,
        "When the event happened, in UTC. For rows whose export has no per-event time "
        "(enhanced summary, summary, PowerShell, API) this is the time the message was "
        "received, and time_basis says so.",
    ),
    Column(
        "time_basis",
        pa.string(),
        "'event': event_time is this event's own time; 'message': event_time is the time "
        "the message was received (the export has no per-event time).",
    ),
    Column(
        "event_seq",
        pa.int16(),
        "Position of the event in an enhanced summary event list (0 = first); null elsewhere.",
        "enhanced_summary",
    ),
    # What
    Column(
        "event_id",
        pa.string(),
        "Transport event in upper case: RECEIVE, DELIVER, SEND, FAIL, DEFER, EXPAND, ... "
        "Unknown ids are kept verbatim. Null on final-status rows (summary, PowerShell, API).",
    ),
    Column("source", pa.string(), "Transport component that logged it (SMTP, STOREDRIVER, ...)."),
    Column(
        "reported_status",
        pa.string(),
        "Final status as a summary-type export reports it, verbatim: Delivered, Failed, "
        "Pending, Expanded, Quarantined, FilteredAsSpam, GettingStatus (Graph writes them in "
        "camelCase: filteredAsSpam, gettingStatus, unknownFutureValue); Get-MessageTraceV2's "
        "None means no delivery status, because the message was rejected or redirected to "
        "another recipient (the row does not say which).",
        "summary, get_messagetrace, reporting_api_json, defender_email_events",
    ),
    Column("recipient_address", pa.string(), "The one recipient this row is about."),
    Column(
        "recipient_status",
        pa.string(),
        "This recipient's status text: To/Cc/Bcc on RECEIVE, the SMTP reply on "
        "DELIVER/SEND/FAIL/DEFER.",
    ),
    Column("smtp_reply_code", pa.int16(), "Three-digit SMTP reply code (250, 550, 451, ...)."),
    Column("status_code", pa.string(), "Enhanced status code x.y.z parsed from recipient_status."),
    # The message
    Column("sender_address", pa.string(), "Envelope or header sender as the export has it."),
    Column("return_path", pa.string(), "Return path (envelope MAIL FROM)."),
    Column("message_subject", pa.string(), "Subject (exports keep at most 256 characters)."),
    Column("message_id", pa.string(), "Internet message id, as exported (usually with <>)."),
    Column("network_message_id", pa.string(), "Exchange Online network message id (a GUID)."),
    Column("internal_message_id", pa.string(), "Server-local message id of tracking logs."),
    Column(
        "message_trace_id",
        pa.string(),
        "MessageTraceId of PowerShell / Reporting web service exports, the id of Graph "
        "records. A file without a network message id column fills network_message_id with "
        "it: in practice they are the same GUID.",
        "summary, get_messagetrace, get_messagetrace_detail, reporting_api_json",
    ),
    Column(
        "organization",
        pa.string(),
        "The tenant the export was made for, as Get-MessageTrace, the Reporting web service "
        "and Graph name it (contoso.onmicrosoft.com, contoso.com): its domains are the "
        "tenant's.",
        "get_messagetrace, get_messagetrace_detail, reporting_api_json",
    ),
    Column(
        "related_recipient_address",
        pa.string(),
        "Related recipient on EXPAND/REDIRECT/RESOLVE rows: as Exchange logs them, the "
        "distribution group on EXPAND (recipient_address holds its members) and the original "
        "address on REDIRECT/RESOLVE (recipient_address holds the new one).",
    ),
    Column("reference", pa.string(), "Reference to another message (DSN, inbox-rule forward)."),
    Column("total_bytes", pa.int64(), "Message size in bytes."),
    Column("recipient_count", pa.int32(), "Number of recipients of the original event row."),
    Column(
        "directionality", pa.string(), "Direction as exported (Incoming, Originating, 1, 2...)."
    ),
    Column(
        "direction",
        pa.string(),
        "Direction normalized: inbound, outbound, internal, or originating (sent from inside "
        "the organization; outbound or internal depends on the recipient).",
    ),
    # Where
    Column("client_ip", pa.string(), "IP of the client or server that submitted to this hop."),
    Column("client_hostname", pa.string(), "Host name of that client or server."),
    Column("server_ip", pa.string(), "IP of the server this hop sent to or received on."),
    Column("server_hostname", pa.string(), "Host name of that server."),
    Column("original_client_ip", pa.string(), "IP of the original sending client."),
    Column("original_server_ip", pa.string(), "IP of the original receiving server."),
    Column("from_ip", pa.string(), "FromIP / SenderIPv4: IP the message came from.", "summaries"),
    Column("to_ip", pa.string(), "ToIP: IP the message was sent to.", "summaries"),
    Column("source_context", pa.string(), "Source context of tracking rows."),
    Column("connector_id", pa.string(), "Connector that received or sent the message."),
    Column(
        "tenant_id",
        pa.string(),
        "Id (a GUID) of the Microsoft 365 tenant, as tracking rows and Defender records carry it.",
    ),
    # Details
    Column("message_info", pa.string(), "message_info text (origination time for some events)."),
    Column("custom_data", pa.string(), "custom_data, verbatim (S:KEY=value|k=v;S:... sections)."),
    Column(
        "custom_data_fields",
        STRING_MAP,
        "custom_data parsed into key/values on AGENTINFO rows (where the spam filter, malware "
        "and transport rule agents write their verdicts) and SMTP RECEIVE rows (S:MimeParts: "
        "attachments, embedded parts, MIME parts); other rows keep custom_data verbatim only. "
        "A section S:A=x|b=y gives A=x and A.b=y (so SFA.SFV, SFA.SCL, SFA.DI, AMA.name, "
        "TRA.ruleId, TRA.action); a one-pair section S:K=v gives K=v. A key may repeat (one "
        "TRA.ruleId per transport rule).",
    ),
    Column(
        "event_detail",
        pa.string(),
        "Detail text of the event: Detail of Get-MessageTraceDetail, description of Graph "
        "details, Action of Defender post-delivery events.",
    ),
    Column(
        "event_action",
        pa.string(),
        "Action of a Get-MessageTraceDetail or Graph detail event (what was done to the "
        "message, e.g. by a transport rule), verbatim.",
        "get_messagetrace_detail",
    ),
    Column(
        "event_data",
        pa.string(),
        "Data of Get-MessageTraceDetail rows and Graph details (XML), verbatim.",
        "get_messagetrace_detail",
    ),
    Column("delivery_action", pa.string(), "Defender DeliveryAction.", "defender_email_events"),
    Column("delivery_location", pa.string(), "Defender DeliveryLocation.", "defender_*"),
    Column("threat_types", pa.string(), "Defender ThreatTypes (Phish, Malware, Spam).", "defender"),
    Column(
        "threat_names",
        pa.string(),
        "Defender ThreatNames: the malware or phish family detected, verbatim.",
        "defender_email_events, defender_email_attachment_info",
    ),
    Column(
        "detection_methods",
        pa.string(),
        "Defender DetectionMethods (JSON text: which technology found which threat).",
        "defender_*",
    ),
    Column(
        "original_threat_types",
        pa.string(),
        "Defender OriginalThreatTypes: the threats found at delivery, before a later "
        "verdict (ZAP) changed threat_types.",
        "defender_email_events",
    ),
    Column(
        "original_detection_methods",
        pa.string(),
        "Defender OriginalDetectionMethods: detection_methods at delivery, before ZAP.",
        "defender_email_events",
    ),
    Column(
        "confidence_level",
        pa.string(),
        'Defender ConfidenceLevel (JSON text, e.g. {"Phish":"High","Spam":null}).',
        "defender_email_events",
    ),
    Column(
        "bulk_complaint_level",
        pa.int16(),
        "Defender BulkComplaintLevel (BCL 0-9: how likely the sender sends bulk mail that "
        "people complain about).",
        "defender_email_events",
    ),
    Column(
        "authentication_details",
        pa.string(),
        'Defender AuthenticationDetails (JSON text: {"SPF":"pass","DKIM":"fail",'
        '"DMARC":"fail","CompAuth":"fail"}), verbatim.',
        "defender_email_events",
    ),
    Column(
        "forwarding_info",
        pa.string(),
        "Defender ForwardingInformation (JSON text: who forwarded the message, and how), verbatim.",
        "defender_email_events",
    ),
    Column(
        "is_first_contact",
        pa.string(),
        "Defender IsFirstContact as exported (true/false, 1/0): the recipient had not "
        "received mail from this sender before.",
        "defender_email_events",
    ),
    Column(
        "transport_rules",
        pa.string(),
        "Defender ExchangeTransportRule: the transport (mail flow) rules that acted, verbatim.",
        "defender_email_events",
    ),
    Column(
        "distribution_list",
        pa.string(),
        "Defender DistributionList: the group through which the recipient got the message.",
        "defender_email_events",
    ),
    Column("attachment_count", pa.int32(), "Defender AttachmentCount.", "defender_email_events"),
    Column("url_count", pa.int32(), "Defender UrlCount.", "defender_email_events"),
    # Attachments, links and clicks of a message (Defender), each an event of the message
    Column(
        "file_name",
        pa.string(),
        "Name of an attached file (event_id ATTACHMENT).",
        "defender_email_attachment_info",
    ),
    Column("file_type", pa.string(), "Type of that file.", "defender_email_attachment_info"),
    Column("file_sha256", pa.string(), "SHA-256 of that file.", "defender_email_attachment_info"),
    Column(
        "file_size", pa.int64(), "Size of that file in bytes.", "defender_email_attachment_info"
    ),
    Column(
        "url",
        pa.string(),
        "A URL in the message (event_id URL) or clicked through Safe Links (event_id "
        "URLCLICK), verbatim.",
        "defender_email_url_info, defender_url_click_events",
    ),
    Column("url_domain", pa.string(), "Domain of that URL.", "defender_email_url_info"),
    Column(
        "url_location",
        pa.string(),
        "Where the URL was found (Body, Header, Attachment, QRCode...).",
        "defender_email_url_info",
    ),
    Column(
        "click_action",
        pa.string(),
        "What Safe Links did with a click (ClickAllowed, ClickBlocked, UrlErrorPage, ...).",
        "defender_url_click_events",
    ),
    Column(
        "clicked_through",
        pa.string(),
        "Whether the user clicked through a warning to the URL, as exported (true/false).",
        "defender_url_click_events",
    ),
    Column(
        "extras",
        STRING_MAP,
        "Every input column the format does not map, by its original header name: nothing "
        "in an export is lost.",
    ),
    # Provenance
    Column("input_id", pa.string(), "Id of the input file in its case (in-001, in-002, ...)."),
    Column("line", pa.int64(), "Line in the input file where this row starts (1 = first line)."),
    Column("report_type", pa.string(), "Format of the input file (extended, summary, ...)."),
    Column(
        "event_key",
        pa.string(),
        "Content hash of the event: 128 bits (32 hex digits) over every column but "
        "provenance and extras, long text in full. Two rows with the same key are the same "
        "event seen twice and are merged once; the duplicate's provenance and extras are kept "
        "in the case's duplicates.",
    ),
)

EVENT_SCHEMA = pa.schema([pa.field(c.name, c.type) for c in COLUMNS])
COLUMN_NAMES: tuple[str, ...] = tuple(c.name for c in COLUMNS)
BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}

#: Columns that make up an event's identity for duplicate detection.
PROVENANCE_COLUMNS = ("input_id", "line", "report_type", "event_key")
KEY_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in COLUMNS if c.name not in PROVENANCE_COLUMNS and c.name != "extras"
)

#: Rows that were merged into an event already in the case: the event they duplicate, where
#: the duplicate stood, and its extras. The event key covers every other content column in
#: full, so extras are the one part of a duplicate row that can differ from the kept event
#: (two exports of one event with different unmapped columns): keeping them loses nothing.
DUPLICATE_SCHEMA = pa.schema(
    [
        pa.field("event_key", pa.string()),
        pa.field("input_id", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("extras", STRING_MAP),
    ]
)


def empty_events() -> pa.Table:
    """An event table with no rows and the canonical schema."""
    return EVENT_SCHEMA.empty_table()


def conform(table: pa.Table) -> pa.Table:
    """Return ``table`` with exactly the canonical columns, in order, cast to their types.

    Missing columns are added as nulls; columns not in the schema are an error (they belong in
    ``extras``).
    """
    unknown = set(table.column_names) - set(COLUMN_NAMES)
    if unknown:
        raise ValueError(f"not canonical columns: {sorted(unknown)}")
    arrays = []
    for field in EVENT_SCHEMA:
        if field.name in table.column_names:
            column = table.column(field.name)
            arrays.append(column if column.type == field.type else column.cast(field.type))
        else:
            arrays.append(pa.nulls(table.num_rows, field.type))
    return pa.Table.from_arrays(arrays, schema=EVENT_SCHEMA)


def events_table(records: list[dict[str, Any]]) -> pa.Table:
    """Build a canonical event table from dicts (tests and small JSON inputs).

    Missing keys are null; ``event_time`` may be a ``datetime`` (naive means UTC) or an ISO
    string; maps may be given as dicts.
    """
    import pandas as pd

    columns: dict[str, list[Any]] = {name: [] for name in COLUMN_NAMES}
    for record in records:
        unknown = set(record) - set(COLUMN_NAMES)
        if unknown:
            raise ValueError(f"not canonical columns: {sorted(unknown)}")
        for name in COLUMN_NAMES:
            value = record.get(name)
            if name == "event_time" and value is not None:
                stamp = pd.Timestamp(value)
                value = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
            elif BY_NAME[name].type == STRING_MAP and isinstance(value, dict):
                value = list(value.items())
            columns[name].append(value)
    return pa.Table.from_pydict(columns, schema=EVENT_SCHEMA)


def schema_markdown() -> str:
    """The schema as a Markdown table (the README's schema section is generated from it)."""
    lines = ["| column | type | meaning | filled by |", "|---|---|---|---|"]
    for c in COLUMNS:
        lines.append(f"| `{c.name}` | `{c.type}` | {c.meaning} | {c.filled_by} |")
    return "\n".join(lines)
