"""One message: finding it by id, and its chain as one model (the ``chain --json`` contract).

``message_chain`` computes once what every renderer of a message needs: the terminal text
(``analyzer.text``), the focused HTML and the report's script only format it. Besides the
facts of the chains it gives each recipient its place in lineage order and its depth, each
timeline event its gap from the previous one and that gap's level, and the words of each
relation (``RELATION_WORDS``, ``RELATED_MESSAGE_WORDS``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import one_array
from analyzer.case import Case
from analyzer.chains.build import build_chains
from analyzer.chains.columns import Chains
from analyzer.chains.lineage import RELATION_WORDS, lineage_order
from analyzer.chains.timeline import GAP_LEVELS, timeline_gaps
from analyzer.errors import NotFoundError
from analyzer.identifiers import id_key, message_id_key, message_id_text
from analyzer.timestamps import iso_utc

#: How a related message reads, by relation and by ``direction``: from the message that has
#: the link (``this_is_related_to``: this message is the DSN, the forward) and from the one
#: it is about (``related_is_about_this``). The related message's id follows the words.
RELATED_MESSAGE_WORDS: dict[str, dict[str, str]] = {
    "dsn_for": {
        "this_is_related_to": "this message is a DSN about",
        "related_is_about_this": "delivery status notification (DSN):",
    },
    "inbox_rule_forward_of": {
        "this_is_related_to": "forwarded by an inbox rule from",
        "related_is_about_this": "forwarded by an inbox rule as",
    },
}
#: How the second address of an EXPAND/REDIRECT/RESOLVE event reads. No arrow: as Exchange
#: logs these rows the related address is the parent (the group, the original address), but
#: some exports write it the other way round (see ``analyzer.chains.lineage``).
RELATED_RECIPIENT_WORDS = "related recipient"


def resolve_message(chains: Chains, message_id: str) -> str:
    """The message_key of a message named by its network or Internet message id.

    Args:
        chains: the chains of the case.
        message_id: a network message id, an Internet message id (with or without ``<>``,
            any case) or a message_key.

    Returns:
        The message_key.

    Raises:
        NotFoundError: no message, or several messages (from different senders), carry it.
    """
    wanted = message_id_text(message_id)
    if not wanted:
        raise NotFoundError("no message id given: pass --message with a network or Internet id")
    messages = chains.messages
    keys = messages.column("message_key")
    for column, clean in (
        (keys, id_key),
        (messages.column("network_message_id"), id_key),
        (messages.column("message_id"), message_id_key),
    ):
        hits = pc.fill_null(pc.equal(clean(one_array(column)), wanted), False)
        found = keys.filter(hits).to_pylist()
        if len(found) == 1:
            return str(found[0])
        if len(found) > 1:
            listed = ", ".join(found[:5])
            raise NotFoundError(
                f"message id {message_id!r} names {len(found)} messages ({listed}); "
                "pass the network message id, or one of these keys, to choose one"
            )
    raise NotFoundError(
        f"no message with id {message_id!r} in the data (looked for it as network message id "
        f"and Internet message id in {messages.num_rows:,} message(s)); check the id, or run "
        "`msgtrace search` to find the message"
    )


def _event_json(
    row: dict[str, Any],
    paths: dict[str, str],
    duplicates: dict[str, list[dict[str, Any]]],
    gap: float,
    level: int,
) -> dict[str, Any]:
    status = row["recipient_status"] if row["event_id"] else row["reported_status"]
    return {
        "time": iso_utc(row["event_time"]),
        "time_basis": row["time_basis"],
        "event_id": row["event_id"],
        "source": row["source"],
        "status": status,
        "status_code": row["status_code"],
        "smtp_reply_code": row["smtp_reply_code"],
        "related_recipient": row["related_recipient_address"],
        "reference": row["reference"],
        "detail": row["event_detail"],
        "custom_data": row["custom_data"],
        "in_timeline": row["in_timeline"],
        "report_type": row["report_type"],
        "input": paths.get(row["input_id"], row["input_id"]),
        "line": row["line"],
        "also_in": duplicates.get(row["event_key"], []) if row["event_key"] else [],
        "gap_seconds": None if np.isnan(gap) else float(gap),
        "gap_level": GAP_LEVELS[level],
    }


def _duplicates(case: Case, events: pa.Table, paths: dict[str, str]) -> dict[str, list]:
    """Where else each event of ``events`` was seen: event_key -> [{input, line}]."""
    keys = {k for k in events.column("event_key").to_pylist() if k}
    found: dict[str, list] = {}
    if keys and case.duplicates.num_rows:
        dup = case.duplicates.filter(
            pc.is_in(case.duplicates["event_key"], value_set=pa.array(sorted(keys)))
        )
        for row in dup.to_pylist():
            found.setdefault(row["event_key"], []).append(
                {"input": paths.get(row["input_id"], row["input_id"]), "line": row["line"]}
            )
    return found


def _recipient_json(
    r: dict[str, Any], order: int, depth: int, paths: dict[str, str], events: list[dict]
) -> dict[str, Any]:
    return {
        "address": r["recipient_address"],
        "final_status": r["final_status"],
        "status_code": r["status_code"],
        "status_meaning": r["status_meaning"],
        "smtp_reply": r["smtp_reply"],
        "parent": r["parent_recipient"],
        "relation": r["recipient_relation"],
        "direction": r["direction"],
        "join_key": r["join_key"],
        "first_time": iso_utc(r["first_time"]),
        "final_time": iso_utc(r["final_time"]),
        "duration_seconds": r["duration_seconds"],
        "deferral_count": r["deferral_count"],
        "deferral_seconds": r["deferral_seconds"],
        "from_ip": r["from_ip"],
        "to_ip": r["to_ip"],
        "total_bytes": r["total_bytes"],
        "verdicts": {
            "sfv": r["sfv"],
            "scl": r["scl"],
            "pcl": r["pcl"],
            "di": r["di"],
            "country": r["country"],
            "malware_name": r["malware_name"],
            "transport_rules": r["transport_rules"] or [],
        },
        "conflict": r["conflict"],
        "evidence": {
            "input": paths.get(r["decided_input_id"], r["decided_input_id"]),
            "line": r["decided_line"],
        },
        "events": events,
        "order": order,
        "depth": depth,
        "relation_words": (
            RELATION_WORDS.get(r["recipient_relation"] or "", "from")
            if r["parent_recipient"]
            else None
        ),
    }


def _related_json(chains: Chains, message_key: str, paths: dict[str, str]) -> list[dict]:
    """The messages linked to this one, either way."""
    links = chains.links
    outgoing = links.filter(pc.equal(links["message_key"], message_key)).to_pylist()
    incoming = links.filter(
        pc.fill_null(pc.equal(links["related_message_key"], message_key), False)
    ).to_pylist()
    others = chains.messages
    related = []
    for link, other_key, direction in [
        *[(link, link["related_message_key"], "this_is_related_to") for link in outgoing],
        *[(link, link["message_key"], "related_is_about_this") for link in incoming],
    ]:
        other = (
            others.filter(pc.equal(others["message_key"], other_key)).to_pylist()
            if other_key
            else []
        )
        other_info = other[0] if other else {}
        related.append(
            {
                "relation": link["relation"],
                "direction": direction,
                "message_key": other_key,
                "network_message_id": other_info.get("network_message_id"),
                "message_id": other_info.get("message_id"),
                "sender": other_info.get("sender_address"),
                "subject": other_info.get("message_subject"),
                "reference": link["reference"],
                "evidence": {
                    "input": paths.get(link["input_id"], link["input_id"]),
                    "line": link["line"],
                },
                "words": RELATED_MESSAGE_WORDS.get(link["relation"], {}).get(
                    direction, link["relation"]
                ),
            }
        )
    return related


def message_chain(chains: Chains, case: Case, message_key: str) -> dict[str, Any]:
    """The documented JSON of one message (the contract of ``msgtrace chain --json``).

    Shape::

        {"message_key", "network_message_id", "message_id", "sender", "subject",
         "first_time", "last_time", "direction", "statuses",
         "recipients": [{"address", "final_status", "status_code", "status_meaning",
                         "smtp_reply", "parent", "relation", "direction", "join_key",
                         "first_time", "final_time", "duration_seconds", "deferral_count",
                         "deferral_seconds", "from_ip", "to_ip", "total_bytes",
                         "verdicts": {"sfv", "scl", "pcl", "di", "country", "malware_name",
                                      "transport_rules"},
                         "conflict", "evidence": {"input", "line"},
                         "events": [EVENT, ...],
                         "order", "depth", "relation_words"}, ...],
         "message_events": [EVENT, ...],      # rows about no recipient
         "related_messages": [{"relation", "direction", "message_key",
                               "network_message_id", "message_id", "sender", "subject",
                               "reference", "evidence": {"input", "line"}, "words"}, ...]}

    EVENT is ``{"time", "time_basis", "event_id", "source", "status", "status_code",
    "smtp_reply_code", "related_recipient", "reference", "detail", "custom_data",
    "in_timeline", "report_type", "input", "line", "also_in": [{"input", "line"}],
    "gap_seconds", "gap_level"}``.

    Times are ISO 8601 UTC with 7 fractional digits and ``Z``. ``status`` is the SMTP reply
    (or To/Cc on RECEIVE) for events and the reported status for summary rows. ``input`` is
    the input file's path. Recipients are listed by address (as ``Chains.recipients``).
    Related ``direction`` is ``"this_is_related_to"`` when this message is the DSN or
    forward, ``"related_is_about_this"`` when the other one is.

    The model fields, computed here so that no renderer derives them again:

    - ``order``: the recipient's 0-based position in lineage order (each parent followed by
      its children, EXPAND/REDIRECT/RESOLVE; ``analyzer.chains.lineage``), ``depth``: 0 for
      an original recipient, 1 for a member of a group it names, ...;
    - ``relation_words``: ``"expanded from"``, ``"redirected from"``, ``"resolved from"``
      (the parent's address follows), null for an original recipient;
    - ``gap_seconds``: for a timeline event with its own time, the seconds since the
      previous such event of its recipient (null for the first, for rows off the timeline,
      timed by the message or without a time); ``gap_level``: ``""``, ``"gap"`` from 300 s,
      ``"long-gap"`` from 3,600 s (renderers show gaps from 1 s);
    - related ``words``: how the link reads from this message (``RELATED_MESSAGE_WORDS``),
      followed by the other message's id.

    An EXPAND/REDIRECT/RESOLVE event's ``related_recipient`` reads "related recipient X",
    without an arrow (``RELATED_RECIPIENT_WORDS``).

    Args:
        chains: the chains of the case.
        case: the case (for input paths and duplicate provenance).
        message_key: from ``resolve_message``.

    Raises:
        NotFoundError: the key is not a message of these chains.
    """
    message = chains.messages.filter(pc.equal(chains.messages["message_key"], message_key))
    if message.num_rows == 0:
        raise NotFoundError(f"no message {message_key!r} in the data")
    info = message.to_pylist()[0]
    paths = case.input_paths()
    events = chains.events.filter(pc.equal(chains.events["message_key"], message_key))
    duplicates = _duplicates(case, events, paths)
    gaps, levels = timeline_gaps(events)
    by_recipient: dict[str, list[dict[str, Any]]] = {}
    for row, gap, level in zip(events.to_pylist(), gaps, levels, strict=True):
        by_recipient.setdefault(row["recipient_key"], []).append(
            _event_json(row, paths, duplicates, gap, int(level))
        )
    table = chains.recipients.filter(pc.equal(chains.recipients["message_key"], message_key))
    order, depth = lineage_order(table)
    recipients = table.to_pylist()
    recipient_json = []
    for r, place, level in zip(recipients, order, depth, strict=True):
        key = r["recipient_address"] or ""
        shown = by_recipient.get(key, []) if key or len(recipients) == 1 else []
        recipient_json.append(_recipient_json(r, int(place), int(level), paths, shown))
    has_blank_recipient = any(not r["recipient_address"] for r in recipients)
    return {
        "message_key": message_key,
        "network_message_id": info["network_message_id"],
        "message_id": info["message_id"],
        "sender": info["sender_address"],
        "subject": info["message_subject"],
        "first_time": iso_utc(info["first_time"]),
        "last_time": iso_utc(info["last_time"]),
        "direction": info["direction"],
        "statuses": info["statuses"],
        "recipients": recipient_json,
        "message_events": [] if has_blank_recipient else by_recipient.get("", []),
        "related_messages": _related_json(chains, message_key, paths),
    }


def chain_report(case: Case, message_id: str) -> dict[str, Any]:
    """Build the chains of a case and return the JSON of the message named by ``message_id``.

    Args:
        case: the loaded case.
        message_id: network or Internet message id (with or without ``<>``).

    Raises:
        NotFoundError: unknown or ambiguous id.
    """
    chains = build_chains(case)
    return message_chain(chains, case, resolve_message(chains, message_id))
