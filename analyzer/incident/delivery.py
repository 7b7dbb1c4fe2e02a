"""Delivered, then removed: when a copy of a message reached each mailbox and when it left.

Per message x recipient of the messages asked for:

- delivered: the earliest DELIVER on the recipient's timeline (``in_timeline``). An enhanced
  summary lists a quarantined message as ``Receive, Deliver, Quarantined`` in one row: that
  DELIVER is the hand-over to quarantine, so a DELIVER whose row also says QUARANTINED does
  not count;
- removed: the first Defender post-delivery action at or after the delivery that takes the
  copy out of the inbox (EmailPostDeliveryEvents: Phish ZAP, Malware ZAP, Spam ZAP, manual
  remediation...; an action whose delivery location is the inbox, a release, is none), and by
  what (``removed_by``);
- dwell: removed - delivered, in seconds; null while the copy is still delivered.

When the chains give these per recipient (``delivered_at``, ``removed_at``, ``removed_by``,
``dwell_seconds`` in ``Chains.recipients``), their values are used, and the rows cited are
the recipient's timeline rows at those times. Either way every time comes with the input row
that shows it; a copy without such a row is left out, never assumed.

Vectorized: one filter of the events by message key, then pandas group-bys.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.chains import Chains
from analyzer.findings.base import POST_DELIVERY_REPORTS

#: Words for the post-delivery actions, keyed by the event id ingest makes of Defender's
#: ActionType (spaces removed, upper case: "Phish ZAP" -> PHISHZAP).
REMOVAL_WORDS = {
    "PHISHZAP": "Phish ZAP",
    "HIGHCONFIDENCEPHISHZAP": "High confidence phish ZAP",
    "MALWAREZAP": "Malware ZAP",
    "SPAMZAP": "Spam ZAP",
    "ZAP": "ZAP",
    "MANUALREMEDIATION": "Manual remediation",
}

#: Columns of ``delivery_facts``.
FACT_COLUMNS = (
    "message_key",
    "recipient_key",
    "delivered_ns",
    "deliver_input_id",
    "deliver_line",
    "removed_ns",
    "removed_by",
    "removal_input_id",
    "removal_line",
    "dwell_seconds",
)

_CHAIN_COLUMNS = ("delivered_at", "removed_at", "removed_by", "dwell_seconds")
_EVENT_COLUMNS = (
    "event_time",
    "event_id",
    "event_detail",
    "report_type",
    "delivery_location",
    "in_timeline",
    "input_id",
    "line",
    "message_key",
    "recipient_key",
)


def _events_of(chains: Chains, message_keys: list[str]) -> pd.DataFrame:
    events = chains.events
    present = [c for c in _EVENT_COLUMNS if c in events.column_names]
    wanted = pa.array(message_keys, pa.string())
    mask = fill_false(pc.is_in(events["message_key"], value_set=wanted))
    frame = events.select(present).filter(mask).to_pandas()
    for name in _EVENT_COLUMNS:
        if name not in frame:
            frame[name] = None
    frame["time_ns"] = pd.Series(
        events["event_time"]
        .filter(mask)
        .cast(pa.int64())
        .to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    ).array
    frame["event_id"] = frame["event_id"].fillna("").str.upper()
    return frame[frame["recipient_key"].fillna("") != ""]


def _deliveries(events: pd.DataFrame) -> pd.DataFrame:
    """The earliest real delivery per pair: (pair, delivered_ns, input_id, line)."""
    row_key = events["input_id"].astype(str) + "\x1f" + events["line"].astype(str)
    pair = events["message_key"] + "\x1f" + events["recipient_key"]
    quarantined = set((row_key + "\x1f" + pair)[events["event_id"] == "QUARANTINED"])
    deliver = events[
        (events["event_id"] == "DELIVER")
        & events["in_timeline"].fillna(False).astype(bool)
        & ~(row_key + "\x1f" + pair).isin(quarantined)
        & events["time_ns"].notna()
    ]
    deliver = deliver.sort_values(["message_key", "recipient_key", "time_ns", "input_id", "line"])
    first = deliver.drop_duplicates(["message_key", "recipient_key"])
    return pd.DataFrame(
        {
            "message_key": first["message_key"],
            "recipient_key": first["recipient_key"],
            "delivered_ns": first["time_ns"],
            "deliver_input_id": first["input_id"],
            "deliver_line": first["line"],
        }
    )


def _removals(events: pd.DataFrame, delivered: pd.DataFrame) -> pd.DataFrame:
    """The first post-delivery action that took each delivered copy out of the inbox."""
    location = events["delivery_location"].fillna("").str.strip().str.lower()
    actions = events[
        events["report_type"].isin(POST_DELIVERY_REPORTS)
        & ~location.str.startswith("inbox")
        & events["time_ns"].notna()
    ]
    actions = actions.merge(delivered[["message_key", "recipient_key", "delivered_ns"]])
    actions = actions[actions["time_ns"] >= actions["delivered_ns"]]
    actions = actions.sort_values(["message_key", "recipient_key", "time_ns", "input_id", "line"])
    first = actions.drop_duplicates(["message_key", "recipient_key"])
    words = first["event_id"].map(REMOVAL_WORDS)
    fallback = first["event_detail"].where(first["event_detail"].notna(), first["event_id"])
    return pd.DataFrame(
        {
            "message_key": first["message_key"],
            "recipient_key": first["recipient_key"],
            "removed_ns": first["time_ns"],
            "removed_by": words.where(words.notna(), fallback),
            "removal_input_id": first["input_id"],
            "removal_line": first["line"],
        }
    )


def _row_at(events: pd.DataFrame, facts: pd.DataFrame, time_column: str, prefix: str) -> None:
    """Set ``prefix_input_id`` / ``prefix_line`` to the pair's timeline row at the time given
    in ``time_column`` (a DELIVER or post-delivery row first), or null when none is there."""
    rows = events[events["in_timeline"].fillna(False).astype(bool)].copy()
    rows["preferred"] = ~rows["event_id"].isin(("DELIVER",)) & ~rows["report_type"].isin(
        POST_DELIVERY_REPORTS
    )
    rows = rows.sort_values(["preferred", "input_id", "line"])
    wanted = facts[["message_key", "recipient_key", time_column]].dropna()
    found = wanted.merge(
        rows[["message_key", "recipient_key", "time_ns", "input_id", "line"]],
        left_on=["message_key", "recipient_key", time_column],
        right_on=["message_key", "recipient_key", "time_ns"],
    ).drop_duplicates(["message_key", "recipient_key"])
    found = found.set_index(["message_key", "recipient_key"])
    index = pd.MultiIndex.from_frame(facts[["message_key", "recipient_key"]])
    facts[prefix + "_input_id"] = found["input_id"].reindex(index).to_numpy()
    facts[prefix + "_line"] = found["line"].reindex(index).to_numpy()


def _from_chains(chains: Chains, events: pd.DataFrame, message_keys: list[str]) -> pd.DataFrame:
    """Delivery facts from the chains' own per-recipient columns, with the rows they rest on."""
    recipients = chains.recipients
    mask = fill_false(
        pc.is_in(recipients["message_key"], value_set=pa.array(message_keys, pa.string()))
    )
    table = recipients.select(["message_key", "recipient_address", *_CHAIN_COLUMNS]).filter(mask)
    facts = pd.DataFrame(
        {
            "message_key": table["message_key"].to_pandas(),
            "recipient_key": table["recipient_address"].to_pandas().str.strip().str.lower(),
            "delivered_ns": _ns(table["delivered_at"]),
            "removed_ns": _ns(table["removed_at"]),
            "removed_by": table["removed_by"].to_pandas(),
            "dwell_seconds": table["dwell_seconds"].to_pandas(),
        }
    )
    facts = facts[facts["delivered_ns"].notna()].reset_index(drop=True)
    _row_at(events, facts, "delivered_ns", "deliver")
    _row_at(events, facts, "removed_ns", "removal")
    # a time no input row shows is not cited: the copy is left out, the removal unknown
    facts = facts[facts["deliver_input_id"].notna()].copy()
    unseen = facts["removal_input_id"].isna()
    facts.loc[unseen, ["removed_ns", "removed_by", "dwell_seconds"]] = None
    return facts


def _ns(column: pa.ChunkedArray) -> pd.Series:
    values = column.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
    return pd.Series(values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))


def delivery_facts(chains: Chains, message_keys: Iterable[str]) -> pd.DataFrame:
    """When each recipient of these messages had a copy delivered, and when it was removed.

    Args:
        chains: the case's chains.
        message_keys: the messages (``message_key``).

    Returns:
        One row per delivered message x recipient (``FACT_COLUMNS``), sorted by message and
        recipient; ``removed_*`` and ``dwell_seconds`` are null while the copy stays.
    """
    keys = sorted({k for k in message_keys if isinstance(k, str) and k})
    empty = pd.DataFrame({name: pd.Series(dtype=object) for name in FACT_COLUMNS})
    if not keys or chains.events.num_rows == 0:
        return empty
    events = _events_of(chains, keys)
    if set(_CHAIN_COLUMNS) <= set(chains.recipients.column_names):
        facts = _from_chains(chains, events, keys)
    else:
        delivered = _deliveries(events)
        facts = delivered.merge(_removals(events, delivered), how="left")
        dwell = facts["removed_ns"].astype("Float64") - facts["delivered_ns"].astype("Float64")
        facts["dwell_seconds"] = dwell / 1e9
    if facts.empty:
        return empty
    facts = facts.sort_values(["message_key", "recipient_key"], kind="stable")
    facts = facts.reset_index(drop=True)[list(FACT_COLUMNS)]
    for name in ("delivered_ns", "removed_ns", "deliver_line", "removal_line"):
        facts[name] = facts[name].astype("Int64")
    facts["dwell_seconds"] = facts["dwell_seconds"].astype("Float64")
    return facts


__all__ = ["FACT_COLUMNS", "REMOVAL_WORDS", "delivery_facts"]
