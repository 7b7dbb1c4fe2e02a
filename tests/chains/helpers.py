"""Hand-built events for the chains tests: extended-report rows with provenance, and cases."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pyarrow.compute as pc

from analyzer import schema
from analyzer.case import Case, InputRecord
from analyzer.chains import Chains

T0 = dt.datetime(2024, 3, 1, 10, 0, 0)
_lines = itertools.count(2)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def event(
    event_id: str | None,
    recipient: str | None,
    seconds: float = 0,
    *,
    nmid: str | None = "N1",
    **fields: Any,
) -> dict:
    """One extended-report row (own event time), with provenance."""
    row = {
        "event_time": at(seconds),
        "time_basis": "event",
        "event_id": event_id,
        "recipient_address": recipient,
        "network_message_id": nmid,
        "message_id": fields.pop("message_id", "<m1@contoso.com>"),
        "sender_address": fields.pop("sender_address", "alice@contoso.com"),
        "message_subject": fields.pop("message_subject", "Quarterly report"),
        "input_id": fields.pop("input_id", "ext"),
        "line": fields.pop("line", next(_lines)),
        "report_type": fields.pop("report_type", "extended"),
    }
    row.update(fields)
    return row


def make_case(rows: list[dict], paths: dict[str, str] | None = None) -> Case:
    paths = paths or {"ext": "exports/extended.csv", "sum": "exports/summary.csv"}
    inputs = [
        InputRecord(path=path, size=1, sha256=input_id * 4, input_id=input_id)
        for input_id, path in paths.items()
    ]
    return Case(schema.events_table(rows), schema.DUPLICATE_SCHEMA.empty_table(), inputs)


def recipients_of(chains: Chains, message_key: str = "n1") -> dict[str, dict]:
    rows = chains.recipients.filter(pc.equal(chains.recipients["message_key"], message_key))
    return {r["recipient_address"]: r for r in rows.to_pylist()}


def timeline(chains: Chains, recipient: str, message_key: str = "n1") -> list[str]:
    rows = chains.events.filter(
        pc.and_(
            pc.equal(chains.events["message_key"], message_key),
            pc.equal(chains.events["recipient_key"], recipient),
        )
    ).to_pylist()
    return [r["event_id"] or "STATUS" for r in rows if r["in_timeline"]]
