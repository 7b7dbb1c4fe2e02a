"""Helpers shared by the ingest tests: paths, and hand-written exports in any encoding.

Kept small and general: any test that needs an export file in some encoding builds its text
and calls ``write_export``; ``extended_csv`` / ``extended_row`` build extended reports (the
27 message-tracking columns) from a few values.
"""

from __future__ import annotations

import codecs
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
#: Real public sample files (see their SOURCES.md), in ../shared relative to the repository.
REAL_SAMPLES = REPO.parent / "shared" / "real-samples"

BOMS = {
    "utf-8": codecs.BOM_UTF8,
    "utf-16-le": codecs.BOM_UTF16_LE,
    "utf-16-be": codecs.BOM_UTF16_BE,
    "utf-32-le": codecs.BOM_UTF32_LE,
    "utf-32-be": codecs.BOM_UTF32_BE,
}

#: The 27 columns of an extended report, in the order the EAC writes them.
EXTENDED_COLUMNS = (
    "date_time_utc",
    "client_ip",
    "client_hostname",
    "server_ip",
    "server_hostname",
    "source_context",
    "connector_id",
    "source",
    "event_id",
    "internal_message_id",
    "message_id",
    "network_message_id",
    "recipient_address",
    "recipient_status",
    "total_bytes",
    "recipient_count",
    "related_recipient_address",
    "reference",
    "message_subject",
    "sender_address",
    "return_path",
    "message_info",
    "directionality",
    "tenant_id",
    "original_client_ip",
    "original_server_ip",
    "custom_data",
)


def write_export(
    folder: Path, name: str, text: str | bytes, encoding: str = "utf-8", bom: bool = False
) -> Path:
    """Write ``text`` to ``folder/name`` in ``encoding`` (a codec name without BOM suffix),
    preceded by that encoding's byte order mark when ``bom`` is true. Bytes are written as
    given. Returns the path."""
    data = text if isinstance(text, bytes) else text.encode(encoding)
    if bom:
        data = BOMS[encoding] + data
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(data)
    return path


def csv_field(value: object) -> str:
    """One CSV field, quoted as the EAC quotes every field (None is an empty field)."""
    text = "" if value is None else str(value)
    return '"' + text.replace('"', '""') + '"'


def extended_row(**values: object) -> str:
    """One extended report row: a plausible RECEIVE event, with ``values`` overriding columns."""
    row: dict[str, object] = {
        "date_time_utc": "2022-09-19T15:02:29.3390123Z",
        "source": "SMTP",
        "event_id": "RECEIVE",
        "message_id": "<m1@contoso.com>",
        "network_message_id": "6ae1af81-00dd-369e-a0c5-08de7f3ddff2",
        "recipient_address": "alice@contoso.com",
        "recipient_status": "To",
        "total_bytes": "1200",
        "recipient_count": "1",
        "message_subject": "Quarterly report",
        "sender_address": "bob@fabrikam.com",
        "directionality": "Incoming",
    }
    unknown = set(values) - set(EXTENDED_COLUMNS)
    assert not unknown, f"not extended report columns: {sorted(unknown)}"
    row.update(values)
    return ",".join(csv_field(row.get(column)) for column in EXTENDED_COLUMNS)


def extended_csv(*rows: str, newline: str = "\r\n", header: str | None = None) -> str:
    """An extended report's text: the quoted header and ``rows``, each ended by ``newline``."""
    if header is None:
        header = ",".join(csv_field(c) for c in EXTENDED_COLUMNS)
    return header + newline + "".join(row + newline for row in rows)
