"""The export formats msgtrace reads, as data (see ../shared/FORMATS.md for the sources).

Aliases are compared after ``normalize_header`` (case, spaces, quotes, ``-``, ``_`` and a
trailing ``(UTC)`` ignored), so ``date_time_utc`` also matches ``date-time-utc``.
"""

from __future__ import annotations

from analyzer.formats import ExportFormat

#: Row counts at which Microsoft's exports stop (EAC: summary 20,000, enhanced summary
#: 50,000, extended 1,000 messages, historical search CSVs 100,000 lines; PowerShell pages of
#: 1,000 / 5,000; API pages of 10,000). A file with exactly this many rows is probably cut.
EXPORT_LIMITS = (1_000, 5_000, 10_000, 20_000, 50_000, 100_000)

# The 27 message-tracking columns of the extended report (snake_case) and of Exchange Server
# MSGTRK logs (hyphenated; the same after normalization). Exchange 2010 logs lack
# network-message-id; 2016/2019 add transport-traffic-type, log-id, schema-version (kept in
# extras).
TRACKING_COLUMNS: dict[str, tuple[str, ...]] = {
    "event_time": ("date_time_utc", "date-time", "date_time"),
    "client_ip": ("client_ip",),
    "client_hostname": ("client_hostname",),
    "server_ip": ("server_ip",),
    "server_hostname": ("server_hostname",),
    "source_context": ("source_context",),
    "connector_id": ("connector_id",),
    "source": ("source",),
    "event_id": ("event_id",),
    "internal_message_id": ("internal_message_id",),
    "message_id": ("message_id",),
    "network_message_id": ("network_message_id",),
    "recipient_address": ("recipient_address",),
    "recipient_status": ("recipient_status",),
    "total_bytes": ("total_bytes",),
    "recipient_count": ("recipient_count",),
    "related_recipient_address": ("related_recipient_address",),
    "reference": ("reference",),
    "message_subject": ("message_subject",),
    "sender_address": ("sender_address",),
    "return_path": ("return_path",),
    "message_info": ("message_info",),
    "directionality": ("directionality",),
    "tenant_id": ("tenant_id",),
    "original_client_ip": ("original_client_ip",),
    "original_server_ip": ("original_server_ip",),
    "custom_data": ("custom_data",),
}

# Get-MessageTrace / Get-MessageTraceV2 | Export-Csv, and the Reporting web service / Graph
# records, share these property names (Graph spells them in camelCase, which normalizes the
# same).
TRACE_COLUMNS: dict[str, tuple[str, ...]] = {
    "event_time": ("Received", "ReceivedDateTime"),
    "sender_address": ("SenderAddress",),
    "recipient_address": ("RecipientAddress",),
    "message_subject": ("Subject",),
    "reported_status": ("Status",),
    "to_ip": ("ToIP",),
    "from_ip": ("FromIP",),
    "total_bytes": ("Size",),
    "message_id": ("MessageId",),
    "message_trace_id": ("MessageTraceId",),
}

REGISTRY: tuple[ExportFormat, ...] = (
    ExportFormat(
        name="extended",
        title="EAC extended report (historical search, one row per transport event)",
        container="csv",
        columns=TRACKING_COLUMNS,
        signature=("event_time", "event_id", "recipient_address", "sender_address"),
        row_shape="event",
        # historical search stops at 1,000 messages (about 16 rows each) or 100,000 lines
        limits=(100_000,),
        message_limits=(1_000,),
    ),
    ExportFormat(
        name="enhanced_summary",
        title="EAC enhanced summary report (one row per message, events per recipient)",
        container="csv",
        columns={
            # the docs write origin_timestamp; downloads say origin_timestamp_utc
            "event_time": ("origin_timestamp_utc", "origin_timestamp"),
            "sender_address": ("sender_address",),
            "recipient_status": ("recipient_status",),
            "message_subject": ("message_subject",),
            "total_bytes": ("total_bytes",),
            "message_id": ("message_id",),
            "network_message_id": ("network_message_id",),
            "original_client_ip": ("original_client_ip",),
            "directionality": ("directionality",),
            "connector_id": ("connector_id",),
        },
        signature=("event_time", "sender_address", "recipient_status"),
        row_shape="recipient_events",
        time_basis="message",
        limits=EXPORT_LIMITS,
    ),
    ExportFormat(
        name="get_messagetrace_detail",
        title="Get-MessageTraceDetail(V2) | Export-Csv (one row per event of one message)",
        container="csv",
        columns={
            "event_time": ("Date",),
            "event_id": ("Event",),
            "event_detail": ("Detail",),
            "event_data": ("Data",),
            "message_id": ("MessageId",),
            "message_trace_id": ("MessageTraceId",),
            "recipient_address": ("RecipientAddress",),
            "sender_address": ("SenderAddress",),
        },
        signature=("event_time", "event_id", "event_detail"),
        row_shape="event",
        preamble=r"^#TYPE\b",
        limits=EXPORT_LIMITS,
    ),
    ExportFormat(
        name="get_messagetrace",
        title="Get-MessageTrace(V2) | Export-Csv (one row per message x recipient)",
        container="csv",
        columns=TRACE_COLUMNS,
        signature=(
            "event_time",
            "sender_address",
            "recipient_address",
            "reported_status",
            "message_trace_id",
        ),
        row_shape="status",
        time_basis="message",
        preamble=r"^#TYPE\b",
        limits=EXPORT_LIMITS,
    ),
    ExportFormat(
        name="summary",
        title="EAC summary report (one row per message x recipient, final status)",
        container="csv",
        columns={
            "event_time": ("Date", "Received", "Date time", "Date/Time", "Timestamp"),
            "sender_address": ("Sender", "Sender address", "From"),
            "recipient_address": ("Recipient", "Recipient address", "Recipients", "To"),
            "message_subject": ("Subject",),
            "reported_status": ("Status", "Delivery status"),
            "to_ip": ("To IP", "ToIP"),
            "from_ip": ("From IP", "FromIP"),
            "total_bytes": ("Size", "Message size"),
            "message_id": ("Message ID", "MessageId"),
            "message_trace_id": ("Message trace ID", "MessageTraceId"),
            "network_message_id": ("Network message ID",),
            "directionality": ("Direction",),
        },
        signature=("event_time", "sender_address", "recipient_address", "reported_status"),
        row_shape="status",
        time_basis="message",
        preamble=r"^#TYPE\b",
        limits=EXPORT_LIMITS,
    ),
    ExportFormat(
        name="exchange_tracking_log",
        title="Exchange Server message tracking log (MSGTRK*.LOG)",
        container="tracking_log",
        columns=TRACKING_COLUMNS,
        signature=("event_time", "event_id"),
        row_shape="event",
    ),
    ExportFormat(
        name="reporting_api_json",
        title="Reporting web service / Graph message trace JSON (OData pages or NDJSON)",
        container="json",
        columns=TRACE_COLUMNS,
        signature=("event_time", "sender_address", "recipient_address"),
        row_shape="status",
        time_basis="message",
        limits=EXPORT_LIMITS,
    ),
    ExportFormat(
        name="defender_email_post_delivery_events",
        title="Defender advanced hunting EmailPostDeliveryEvents (ZAP, remediation)",
        container="csv",
        columns={
            "event_time": ("Timestamp",),
            "network_message_id": ("NetworkMessageId",),
            "message_id": ("InternetMessageId",),
            "event_id": ("ActionType",),
            "event_detail": ("Action",),
            "recipient_address": ("RecipientEmailAddress",),
            "delivery_location": ("DeliveryLocation",),
            "threat_types": ("ThreatTypes",),
        },
        signature=("event_time", "network_message_id", "event_id", "recipient_address"),
        row_shape="event",
        limits=EXPORT_LIMITS,
    ),
    ExportFormat(
        name="defender_email_events",
        title="Defender advanced hunting EmailEvents (one row per message x recipient)",
        container="csv",
        columns={
            "event_time": ("Timestamp",),
            "network_message_id": ("NetworkMessageId",),
            "message_id": ("InternetMessageId",),
            "sender_address": ("SenderFromAddress", "SenderMailFromAddress"),
            "return_path": ("SenderMailFromAddress",),
            "recipient_address": ("RecipientEmailAddress",),
            "message_subject": ("Subject",),
            "directionality": ("EmailDirection",),
            "delivery_action": ("LatestDeliveryAction", "DeliveryAction"),
            "delivery_location": ("LatestDeliveryLocation", "DeliveryLocation"),
            "threat_types": ("ThreatTypes",),
            "from_ip": ("SenderIPv4", "SenderIPv6"),
            "connector_id": ("Connectors",),
        },
        signature=("event_time", "network_message_id", "recipient_address", "delivery_action"),
        row_shape="status",
        time_basis="message",
        # DeliveryAction says Delivered / Junked / Blocked / Replaced; the (latest) delivery
        # location says where it ended: Inbox/folder, Junk folder, Quarantine, Failed, Dropped.
        status_rules=(
            ("delivery_location", "quarantine", "Quarantined"),
            ("delivery_location", "junk", "FilteredAsSpam"),
            ("delivery_location", "dropped", "Dropped"),
            ("delivery_location", "failed", "Failed"),
            ("delivery_action", "junked", "FilteredAsSpam"),
            ("delivery_action", "blocked", "Failed"),
            ("delivery_action", "delivered", "Delivered"),
            ("delivery_action", "replaced", "Delivered"),
        ),
        limits=EXPORT_LIMITS,
    ),
)
