"""The Office 365 Reporting web service's MessageTrace records: an OData page, and NDJSON as a
log shipper stores them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from ..clock import iso7, ticks_of
from ..model import World
from ..transport import status_rows
from . import writer

ODATA_METADATA = (
    "https://reports.office365.com/ecp/ReportingWebService/Reporting.svc/$metadata#MessageTrace"
)


def _records(
    world: World, since: datetime | None, until: datetime | None, zulu: Callable[[int], bool]
) -> list[dict[str, object]]:
    """A record per message x recipient received in [since, until), newest first; the n-th
    ``Received`` ends in Z where ``zulu(n)``."""
    scenario = world.scenario
    first = ticks_of(since) if since else scenario.start
    end = ticks_of(until) if until else scenario.end
    records: list[dict[str, object]] = []
    for m in world.newest_first():
        if not first <= m.received < end:
            continue
        for r in status_rows(scenario, m):
            records.append(
                {
                    "Organization": scenario.tenant.organization,
                    "MessageId": m.message_id,
                    "Received": iso7(m.received, zulu(len(records))),
                    "SenderAddress": m.sender,
                    "RecipientAddress": r.recipient,
                    "Subject": m.subject,
                    "Status": r.status,
                    "ToIP": r.to_ip or None,
                    "FromIP": m.original_client_ip or None,
                    "Size": m.size,
                    "MessageTraceId": m.network_message_id,
                    "StartDate": iso7(scenario.start),
                    "EndDate": iso7(scenario.end),
                    "Index": len(records),
                }
            )
    return records


@writer("reporting_api_odata")
def reporting_api_odata(
    world: World, since: datetime | None = None, until: datetime | None = None
) -> str:
    """One OData page of the records received in [since, until); ``Received`` has no ``Z``."""
    records = _records(world, since, until, lambda n: False)
    page = {"odata.metadata": ODATA_METADATA, "value": records}
    return json.dumps(page, ensure_ascii=False, separators=(",", ":")) + "\n"


@writer("reporting_api_ndjson")
def reporting_api_ndjson(
    world: World, since: datetime | None = None, until: datetime | None = None
) -> str:
    """NDJSON of the records received in [since, until).

    Keys are sorted and ``<``/``>``/``&`` escaped as a Go JSON encoder writes them; every third
    ``Received`` lacks the ``Z`` (still UTC).
    """
    lines = []
    for record in _records(world, since, until, lambda n: n % 3 != 2):
        text = json.dumps(record, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
        lines.append(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    return "\n".join(lines) + "\n"
