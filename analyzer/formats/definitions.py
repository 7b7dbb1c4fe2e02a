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

#: The field lists of Exchange Server tracking rows by their count, for rows that arrive without
#: their ``#Fields:`` block (cut files, rows forwarded to a SIEM): Exchange 2010 (#Version 14.x)
#: lacks network-message-id; 2016/2019 add transport-traffic-type, log-id, schema-version.
TRACKING_FIELDS_2013 = (
    "date-time",
    "client-ip",
    "client-hostname",
    "server-ip",
    "server-hostname",
    "source-context",
    "connector-id",
    "source",
    "event-id",
    "internal-message-id",
    "message-id",
    "network-message-id",
    "recipient-address",
    "recipient-status",
    "total-bytes",
    "recipient-count",
    "related-recipient-address",
    "reference",
    "message-subject",
    "sender-address",
    "return-path",
    "message-info",
    "directionality",
    "tenant-id",
    "original-client-ip",
    "original-server-ip",
    "custom-data",
)
TRACKING_FIELD_LISTS: dict[int, tuple[str, tuple[str, ...]]] = {
    26: ("Exchange 2010", tuple(f for f in TRACKING_FIELDS_2013 if f != "network-message-id")),
    27: ("Exchange 2013", TRACKING_FIELDS_2013),
    30: (
        "Exchange 2016/2019",
        (*TRACKING_FIELDS_2013, "transport-traffic-type", "log-id", "schema-version"),
    ),
}
#: Where the event id sits in every one of those lists.
TRACKING_EVENT_FIELD = 8
#: The documented tracking event ids, and undocumented ones Exchange Online is seen to log: a
#: header-less row is told by one of these in its event-id field.
TRACKING_EVENT_IDS = frozenset(
    (
        "AGENTINFO",
        "BADMAIL",
        "CLIENTSUBMISSION",
        "DEFER",
        "DELIVER",
        "DELIVERFAIL",
        "DROP",
        "DSN",
        "DUPLICATEDELIVER",
        "DUPLICATEEXPAND",
        "DUPLICATEREDIRECT",
        "EXPAND",
        "FAIL",
        "HADISCARD",
        "HARECEIVE",
        "HAREDIRECT",
        "HAREDIRECTFAIL",
        "INITMESSAGECREATED",
        "LOAD",
        "MODERATIONEXPIRE",
        "MODERATORAPPROVE",
        "MODERATORREJECT",
        "MODERATORSALLNDR",
        "NOTIFYMAPI",
        "NOTIFYSHADOW",
        "POISONMESSAGE",
        "PROCESS",
        "PROCESSMEETINGMESSAGE",
        "RECEIVE",
        "REDIRECT",
        "RESOLVE",
        "RESUBMIT",
        "RESUBMITDEFER",
        "RESUBMITFAIL",
        "SEND",
        "SUBMIT",
        "SUBMITDEFER",
        "SUBMITFAIL",
        "SUPPRESSED",
        "THROTTLE",
        "TRANSFER",
        "SENDEXTERNAL",
        "SETROUTE",
        "RECIPIENTINFO",
    )
)

#: Where a message trace id is the network message id: MessageTraceId (PowerShell, Reporting
#: web service) and the Graph ``id`` are, in practice, the same GUID as the network message id
#: (Get-MessageTraceV2's documentation calls its -MessageTraceId value the "Exchange Network
#: Message ID"), and Defender's NetworkMessageId joins on it.
TRACE_ID_IS_NETWORK_ID = {"network_message_id": "message_trace_id"}

# Get-MessageTrace / Get-MessageTraceV2 | Export-Csv, and the Reporting web service / Graph
# records, share these property names (Graph spells them in camelCase, which normalizes the
# same; its receivedDateTime and id are its own).
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
    "organization": ("Organization",),
}

# Defender advanced hunting: the envelope of the streaming API / Event Hub records is time,
# tenantId, category, operationName; the table's own columns (Timestamp, TenantId...) win.
DEFENDER_COMMON: dict[str, tuple[str, ...]] = {
    "event_time": ("Timestamp", "time"),
    "network_message_id": ("NetworkMessageId",),
    "tenant_id": ("TenantId",),
}
STREAMING_CATEGORY = "AdvancedHunting-"

REGISTRY: tuple[ExportFormat, ...] = (
    ExportFormat(
        name="extended",
        title="EAC extended report (historical search, one row per transport event)",
        containers=("csv",),
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
        containers=("csv",),
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
        title="Get-MessageTraceDetail(V2) Export-Csv, or Graph getDetailsByRecipient JSON "
        "(one row per event of one message)",
        containers=("csv", "json"),
        columns={
            # Graph: dateTime, event, action, description, data, id, messageId (camelCase)
            "event_time": ("Date", "DateTime"),
            "event_id": ("Event",),
            "event_action": ("Action",),
            "event_detail": ("Detail", "Description"),
            "event_data": ("Data",),
            "message_id": ("MessageId",),
            "message_trace_id": ("MessageTraceId", "Id"),
            "recipient_address": ("RecipientAddress",),
            "sender_address": ("SenderAddress",),
            "organization": ("Organization",),
        },
        signature=("event_time", "event_id", "event_detail"),
        row_shape="event",
        preamble=r"^#TYPE\b",
        limits=EXPORT_LIMITS,
        fallbacks=TRACE_ID_IS_NETWORK_ID,
        # Microsoft documents a Graph detail record's id as "the unique identifier for the
        # message trace detail record": it is the trace's id only where records share it
        record_id_aliases=("Id",),
    ),
    ExportFormat(
        name="get_messagetrace",
        title="Get-MessageTrace or Get-MessageTraceV2 Export-Csv (one row per message x recipient)",
        containers=("csv",),
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
        fallbacks=TRACE_ID_IS_NETWORK_ID,
    ),
    ExportFormat(
        name="summary",
        title="EAC summary report (one row per message x recipient, final status)",
        containers=("csv",),
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
        fallbacks=TRACE_ID_IS_NETWORK_ID,
    ),
    ExportFormat(
        name="exchange_tracking_log",
        title="Exchange Server message tracking log (MSGTRK*.LOG; rows without their #Fields: "
        "block too)",
        containers=("tracking_log",),
        columns=TRACKING_COLUMNS,
        signature=("event_time", "event_id"),
        row_shape="event",
    ),
    ExportFormat(
        name="reporting_api_json",
        title="Message trace JSON: Graph messageTraces, Reporting web service (OData pages, "
        "verbose OData, NDJSON)",
        containers=("json",),
        # Graph: id (the message trace id), messageId, receivedDateTime, senderAddress,
        # recipientAddress, subject, status, size, fromIP, toIP
        columns={**TRACE_COLUMNS, "message_trace_id": ("MessageTraceId", "Id")},
        signature=("event_time", "sender_address", "recipient_address"),
        row_shape="status",
        time_basis="message",
        limits=EXPORT_LIMITS,
        fallbacks=TRACE_ID_IS_NETWORK_ID,
        record_id_aliases=("Id",),
    ),
    ExportFormat(
        name="defender_email_post_delivery_events",
        title="Defender EmailPostDeliveryEvents (ZAP, remediation): advanced hunting CSV, or "
        "streaming API / Event Hub JSON",
        containers=("csv", "json"),
        columns={
            **DEFENDER_COMMON,
            "message_id": ("InternetMessageId",),
            "event_id": ("ActionType",),
            "event_detail": ("Action",),
            "recipient_address": ("RecipientEmailAddress",),
            "delivery_location": ("DeliveryLocation",),
            "threat_types": ("ThreatTypes",),
            "detection_methods": ("DetectionMethods",),
        },
        signature=("event_time", "network_message_id", "event_id", "recipient_address"),
        row_shape="event",
        limits=EXPORT_LIMITS,
        category=STREAMING_CATEGORY + "EmailPostDeliveryEvents",
    ),
    ExportFormat(
        name="defender_email_events",
        title="Defender EmailEvents (one row per message x recipient): advanced hunting CSV, "
        "or streaming API / Event Hub JSON",
        containers=("csv", "json"),
        columns={
            **DEFENDER_COMMON,
            "message_id": ("InternetMessageId",),
            "sender_address": ("SenderFromAddress", "SenderMailFromAddress"),
            "return_path": ("SenderMailFromAddress",),
            "recipient_address": ("RecipientEmailAddress",),
            "message_subject": ("Subject",),
            "directionality": ("EmailDirection",),
            # streaming records have no Latest* columns: their DeliveryAction / Location are
            # the verdict of that record (a message x recipient repeats when they change)
            "delivery_action": ("LatestDeliveryAction", "DeliveryAction"),
            "delivery_location": ("LatestDeliveryLocation", "DeliveryLocation"),
            "threat_types": ("ThreatTypes",),
            "threat_names": ("ThreatNames",),
            "detection_methods": ("DetectionMethods",),
            "original_threat_types": ("OriginalThreatTypes",),
            "original_detection_methods": ("OriginalDetectionMethods",),
            "confidence_level": ("ConfidenceLevel",),
            "bulk_complaint_level": ("BulkComplaintLevel",),
            "authentication_details": ("AuthenticationDetails",),
            "forwarding_info": ("ForwardingInformation",),
            "is_first_contact": ("IsFirstContact",),
            "transport_rules": ("ExchangeTransportRule",),
            "distribution_list": ("DistributionList",),
            "attachment_count": ("AttachmentCount",),
            "url_count": ("UrlCount",),
            "total_bytes": ("EmailSize",),
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
        category=STREAMING_CATEGORY + "EmailEvents",
    ),
    ExportFormat(
        name="defender_email_attachment_info",
        title="Defender EmailAttachmentInfo (one ATTACHMENT event per file of a message x "
        "recipient): advanced hunting CSV, or streaming JSON",
        containers=("csv", "json"),
        columns={
            **DEFENDER_COMMON,
            "sender_address": ("SenderFromAddress",),
            "recipient_address": ("RecipientEmailAddress",),
            "file_name": ("FileName",),
            "file_type": ("FileType",),
            "file_sha256": ("SHA256",),
            "file_size": ("FileSize",),
            "threat_types": ("ThreatTypes",),
            "threat_names": ("ThreatNames",),
            "detection_methods": ("DetectionMethods",),
        },
        signature=("event_time", "network_message_id", "file_name", "file_sha256"),
        row_shape="event",
        time_basis="message",
        constants={"event_id": "ATTACHMENT"},
        limits=EXPORT_LIMITS,
        category=STREAMING_CATEGORY + "EmailAttachmentInfo",
    ),
    ExportFormat(
        name="defender_email_url_info",
        title="Defender EmailUrlInfo (one URL event per link in a message): advanced hunting "
        "CSV, or streaming JSON",
        containers=("csv", "json"),
        columns={
            **DEFENDER_COMMON,
            "url": ("Url",),
            "url_domain": ("UrlDomain",),
            "url_location": ("UrlLocation",),
        },
        signature=("event_time", "network_message_id", "url"),
        row_shape="event",
        time_basis="message",
        constants={"event_id": "URL"},
        limits=EXPORT_LIMITS,
        category=STREAMING_CATEGORY + "EmailUrlInfo",
    ),
    ExportFormat(
        name="defender_url_click_events",
        title="Defender UrlClickEvents (one URLCLICK event per Safe Links click, by the "
        "clicking account): advanced hunting CSV, or streaming JSON",
        containers=("csv", "json"),
        columns={
            **DEFENDER_COMMON,
            "url": ("Url",),
            "click_action": ("ActionType",),
            "clicked_through": ("IsClickedThrough",),
            # the account that clicked: a recipient of the message (or who it reached)
            "recipient_address": ("AccountUpn",),
            "threat_types": ("ThreatTypes",),
            "detection_methods": ("DetectionMethods",),
        },
        signature=("event_time", "url", "click_action"),
        row_shape="event",
        constants={"event_id": "URLCLICK"},
        limits=EXPORT_LIMITS,
        category=STREAMING_CATEGORY + "UrlClickEvents",
    ),
)
