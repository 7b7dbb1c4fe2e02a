"""The Office 365 Reporting web service's MessageTrace records: an OData page, a verbose
OData page, and NDJSON as a log shipper stores them."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

from ..clock import iso7, ticks_of
from ..model import World
from ..transport import status_rows
from . import writer

SERVICE = "https://reports.office365.com/ecp/ReportingWebService/Reporting.svc"
ODATA_METADATA = f"{SERVICE}/$metadata#MessageTrace"


def _records(
    world: World,
    since: datetime | None,
    until: datetime | None,
    stamp: Callable[[int, int], str],
    bound: Callable[[int], str] = iso7,
) -> list[dict[str, object]]:
    """A record per message x recipient received in [since, until), newest first; the n-th
    ``Received`` is ``stamp(ticks, n)``, StartDate and EndDate ``bound(ticks)``."""
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
                    "Received": stamp(m.received, len(records)),
                    "SenderAddress": m.sender,
                    "RecipientAddress": r.recipient,
                    "Subject": m.subject,
                    "Status": r.status,
                    "ToIP": r.to_ip or None,
                    "FromIP": m.original_client_ip or None,
                    "Size": m.size,
                    "MessageTraceId": m.network_message_id,
                    "StartDate": bound(scenario.start),
                    "EndDate": bound(scenario.end),
                    "Index": len(records),
                }
            )
    return records


@writer("reporting_api_odata")
def reporting_api_odata(
    world: World, since: datetime | None = None, until: datetime | None = None
) -> str:
    """One OData page of the records received in [since, until); ``Received`` has no ``Z``."""
    records = _records(world, since, until, lambda t, n: iso7(t, zulu=False))
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
    for record in _records(world, since, until, lambda t, n: iso7(t, zulu=n % 3 != 2)):
        text = json.dumps(record, ensure_ascii=True, sort_keys=True, separators=(",", ":"))
        lines.append(text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026"))
    return "\n".join(lines) + "\n"


def _json_date(t: int, offset: bool) -> str:
    """``/Date(1795424324011)/``: UTC milliseconds since 1970, as OData verbose JSON writes
    times (``/Date(...+0000)/`` with the offset some services add)."""
    milliseconds = t // 10_000
    return f"/Date({milliseconds}+0000)/" if offset else f"/Date({milliseconds})/"


@writer("reporting_api_odata_verbose")
def reporting_api_odata_verbose(
    world: World, since: datetime | None = None, until: datetime | None = None
) -> str:
    """One verbose OData page (``{"d": {"results": [...]}}``, as an older client or SIEM
    collector asks for with ``Accept: application/json;odata=verbose``) of the records
    received in [since, until): each with its ``__metadata``, its times as ``/Date(ms)/``
    (to the millisecond; every third one with ``+0000``)."""
    records = _records(
        world,
        since,
        until,
        lambda t, n: _json_date(t, offset=n % 3 == 2),
        lambda t: _json_date(t, offset=False),
    )
    results = []
    for n, record in enumerate(records):
        entry = f"{SERVICE}/MessageTrace({n})"
        metadata = {"id": entry, "uri": entry, "type": "TenantReporting.MessageTrace"}
        results.append({"__metadata": metadata, **record})
    return json.dumps({"d": {"results": results}}, ensure_ascii=False, separators=(",", ":")) + "\n"
