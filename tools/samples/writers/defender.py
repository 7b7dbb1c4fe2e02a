"""Microsoft Defender advanced hunting exports: EmailEvents and EmailPostDeliveryEvents."""

from __future__ import annotations

import json

from ..clock import iso3, seconds
from ..model import Message, World
from ..transport import status_rows
from . import csv_text, writer

EMAIL_EVENT_COLUMNS = (
    "Timestamp", "NetworkMessageId", "InternetMessageId", "SenderMailFromAddress",
    "SenderFromAddress", "SenderDisplayName", "SenderIPv4", "RecipientEmailAddress", "Subject",
    "EmailDirection", "DeliveryAction", "DeliveryLocation", "ThreatTypes", "DetectionMethods",
    "ConfidenceLevel", "BulkComplaintLevel", "AuthenticationDetails", "AttachmentCount",
    "UrlCount", "Connectors", "LatestDeliveryLocation", "LatestDeliveryAction",
)  # fmt: skip
POST_DELIVERY_COLUMNS = (
    "Timestamp", "NetworkMessageId", "InternetMessageId", "Action", "ActionType", "ActionTrigger",
    "ActionResult", "RecipientEmailAddress", "DeliveryLocation", "ThreatTypes", "DetectionMethods",
)  # fmt: skip
#: A trace status as Defender's (DeliveryAction, DeliveryLocation).
DELIVERY = {
    "Delivered": ("Delivered", "Inbox/folder"),
    "Failed": ("Blocked", "Failed"),
    "Quarantined": ("Blocked", "Quarantine"),
    "FilteredAsSpam": ("Junked", "Junk folder"),
}
#: A threat type's (DetectionMethods, ConfidenceLevel).
DETECTION = {
    "Phish": ('{"Phish":["Impersonation domain","URL detonation reputation"]}', '{"Phish":"High"}'),
    "Malware": ('{"Malware":["Antimalware protection"]}', '{"Malware":"High"}'),
    "Spam": ('{"Spam":["Advanced filter","Mixed analysis detection"]}', '{"Spam":"High"}'),
}
ZAP_EVERY = 1.7  # seconds between the mailboxes ZAP acts on, one after another


def _direction(world: World, m: Message) -> str:
    if m.incoming:
        return "Inbound"
    if any(not world.scenario.is_internal(r.address) for r in m.recipients):
        return "Outbound"
    return "Intra-org"


def email_events(world: World) -> list[list[object]]:
    """EmailEvents rows (a value per ``EMAIL_EVENT_COLUMNS``): one per message x recipient, in
    time order; ZAPped mail's latest location is the quarantine."""
    return [row for _, row in email_event_rows(world)]


def email_event_rows(world: World) -> list[tuple[Message, list[object]]]:
    """Each EmailEvents row (as ``email_events``) with its message."""
    onprem = world.scenario.onprem
    rows: list[tuple[Message, list[object]]] = []
    for m in world.messages:
        if m.origin == "dsn":  # system messages are not in EmailEvents
            continue
        direction = _direction(world, m)
        methods, confidence = DETECTION.get(m.threat, ("", ""))
        authentication = json.dumps(m.authentication, separators=(",", ":"))
        for r in status_rows(world.scenario, m):
            if r.status in ("Expanded", "Pending"):
                continue  # EmailEvents lists a group's members, and mail once it was filtered
            action, location = DELIVERY[r.status]
            to_onprem = r.to_ip == onprem.public_ip
            if not world.scenario.is_internal(r.recipient) or to_onprem:
                location = "On-premises/external"
            latest = ("Quarantine", "Moved to quarantine") if m.zapped else (location, action)
            rows.append(
                (
                    m,
                    [
                        iso3(m.received), m.network_message_id, m.message_id,
                        m.return_path.strip("<>"), m.sender, m.sender_name, m.original_client_ip,
                        r.recipient, m.subject, direction, action, location, m.threat, methods,
                        confidence, m.bulk_complaint_level, authentication, m.attachments,
                        m.urls, onprem.online_outbound_connector if to_onprem else "", *latest,
                    ],
                )
            )  # fmt: skip
    return rows


@writer("defender_email_events")
def defender_email_events(world: World) -> str:
    """An advanced hunting EmailEvents export as CSV."""
    return csv_text([EMAIL_EVENT_COLUMNS, *email_events(world)], quote_all=False)


def post_delivery_rows(world: World) -> list[tuple[int, list[object]]]:
    """EmailPostDeliveryEvents rows (a value per ``POST_DELIVERY_COLUMNS``) with their time:
    the ZAP of every message whose record gives ``zapped``, one row per recipient."""
    rows: list[tuple[int, list[object]]] = []
    for m in world.messages:
        if m.zapped is None:
            continue
        for n, r in enumerate(status_rows(world.scenario, m)):
            t = m.zapped + seconds(ZAP_EVERY * n)
            rows.append(
                (
                    t,
                    [
                        iso3(t), m.network_message_id, m.message_id, "Moved to quarantine",
                        f"{m.threat} ZAP", "SpecialAction", "Success", r.recipient, "Quarantine",
                        m.threat, DETECTION[m.threat][0],
                    ],
                )
            )  # fmt: skip
    return rows


@writer("defender_email_post_delivery_events")
def defender_email_post_delivery_events(world: World) -> str:
    """The ZAP of every message whose record gives ``zapped``, one row per recipient."""
    rows = [row for _, row in post_delivery_rows(world)]
    return csv_text([POST_DELIVERY_COLUMNS, *rows], quote_all=False)
