"""Message keys, join keys and chain order (analyzer.chains.keys)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer import schema
from analyzer.case import Case
from analyzer.chains import FINAL_STATUSES, build_chains
from chains.helpers import at, event, make_case, recipients_of, timeline


def test_enhanced_summary_and_extended_report_make_one_chain():
    enhanced = dict(time_basis="message", input_id="enh", report_type="enhanced_summary", line=3)
    rows = [
        event("RECEIVE", "bob@contoso.com", 0, event_seq=0, **enhanced),
        event("DELIVER", "bob@contoso.com", 0, event_seq=1, **enhanced),
        event("RECEIVE", "bob@contoso.com", 0.1, recipient_status="To"),
        event("DELIVER", "bob@contoso.com", 1.9, recipient_status="250 2.1.5 OK"),
        # the summary download has no network message id: joined by message id + sender
        {
            **event(
                None,
                "bob@contoso.com",
                0,
                nmid=None,
                reported_status="Delivered",
                time_basis="message",
                input_id="sum",
                report_type="summary",
            ),
            "message_id": "<M1@CONTOSO.COM>",
        },
    ]
    chains = build_chains(make_case(rows))
    assert chains.messages.num_rows == 1
    bob = recipients_of(chains)["bob@contoso.com"]
    assert bob["final_status"] == "Delivered"
    assert bob["conflict"] is None
    assert bob["event_count"] == 5
    assert bob["join_key"] == "message_id+sender"
    # the facts the enhanced summary and the summary repeat are evidence, not timeline
    assert timeline(chains, "bob@contoso.com") == ["RECEIVE", "DELIVER"]
    assert bob["first_time"] == dt.datetime(2024, 3, 1, 10, 0, 0, 100000, tzinfo=dt.UTC)


def test_get_messagetrace_with_day_first_local_dates(tmp_path: Path):
    from analyzer.ingest import IngestOptions, load_sources

    export = tmp_path / "MessageTrace.csv"
    header = (
        '"PSComputerName","RunspaceId","PSShowComputerName","Organization","MessageId",'
        '"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP",'
        '"Size","MessageTraceId","StartDate","EndDate","Index"'
    )
    rows = [
        ("<a@fabrikam.example>", "27/09/2022 10:15:30", "b@contoso.com", "Delivered", "0"),
        ("<b@fabrikam.example>", "05/10/2022 08:00:00", "c@contoso.com", "GettingStatus", "1"),
        ("<b@fabrikam.example>", "05/10/2022 08:00:00", "d@contoso.com", "Failed", "2"),
    ]
    lines = ["#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace", header]
    for mid, received, recipient, status, index in rows:
        lines.append(
            f'"outlook.office365.com","0b6e","False","contoso.onmicrosoft.com","{mid}",'
            f'"{received}","sender@fabrikam.example","{recipient}","Hello","{status}","",'
            f'"203.0.113.5","1234","","01/09/2022 00:00:00","10/10/2022 00:00:00","{index}"'
        )
    export.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    chains = build_chains(load_sources([export], IngestOptions()))
    got = {
        r["recipient_address"]: (r["first_time"], r["final_status"], r["join_key"], r["from_ip"])
        for r in chains.recipients.to_pylist()
    }
    utc = dt.UTC
    assert got == {
        "b@contoso.com": (
            dt.datetime(2022, 9, 27, 10, 15, 30, tzinfo=utc),
            "Delivered",
            "message_id+sender",
            "203.0.113.5",
        ),
        "c@contoso.com": (
            dt.datetime(2022, 10, 5, 8, 0, tzinfo=utc),
            "Pending",
            "message_id+sender",
            "203.0.113.5",
        ),
        "d@contoso.com": (
            dt.datetime(2022, 10, 5, 8, 0, tzinfo=utc),
            "Failed",
            "message_id+sender",
            "203.0.113.5",
        ),
    }
    assert chains.messages.num_rows == 2


def test_rows_without_any_message_id_stand_alone():
    rows = [event("NOTIFYMAPI", None, 0, nmid=None, message_id=None, input_id="log", line=6)]
    chains = build_chains(make_case(rows))
    (only,) = chains.recipients.to_pylist()
    assert only["message_key"] == "row:log:6"
    assert only["final_status"] == "Unknown"
    assert only["join_key"] == "row"


def test_events_logged_in_the_same_tick_follow_the_lifecycle_order():
    rows = [
        event("DSN", "bob@contoso.com", 0, line=2),
        event("FAIL", "bob@contoso.com", 0, line=3),
        event("DEFER", "bob@contoso.com", 0, line=4),
        event("TRANSFER", "bob@contoso.com", 0, line=5),
        event("EXPAND", "bob@contoso.com", 0, line=6),
        event("AGENTINFO", "bob@contoso.com", 0, line=7),
        event("RECEIVE", "bob@contoso.com", 0, line=8),
        event("RECEIVE", "bob@contoso.com", -1, line=9),
    ]
    chains = build_chains(make_case(rows))
    order = chains.events.column("event_id").to_pylist()
    assert order == [
        "RECEIVE",
        "RECEIVE",
        "AGENTINFO",
        "EXPAND",
        "TRANSFER",
        "DEFER",
        "FAIL",
        "DSN",
    ]
    assert chains.events.column("line").to_pylist()[:2] == [9, 8]


# property: every chain is time-ordered and holds exactly its message's events

# the documented lifecycle order of events logged in the same tick (issue 3)
_EXPECTED_RANK = {
    "RECEIVE": 0,
    "SUBMIT": 0,
    "AGENTINFO": 1,
    "NOTIFYMAPI": 2,
    "SETROUTE": 2,
    "EXPAND": 3,
    "REDIRECT": 3,
    "RESOLVE": 3,
    "TRANSFER": 4,
    "DEFER": 5,
    "SEND": 6,
    "DELIVER": 6,
    "FAIL": 6,
    "DROP": 6,
    "DSN": 7,
    None: 8,
}
_EVENT_IDS = list(_EXPECTED_RANK)


_rows = st.lists(
    st.fixed_dictionaries(
        {
            "nmid": st.sampled_from(["A", "b", "B", None]),
            "message_id": st.sampled_from(["<x@y>", "<X@Y>", "<z@y>", None]),
            "sender_address": st.sampled_from(["s@contoso.com", "S@contoso.com", "t@f.example"]),
            "recipient_address": st.sampled_from(
                ["r@contoso.com", "R@contoso.com ", "q@f.example", None]
            ),
            "event_id": st.sampled_from(_EVENT_IDS),
            "seconds": st.sampled_from([None, 0, 0, 1, 2.5]),
            "time_basis": st.sampled_from(["event", "message"]),
            "event_seq": st.sampled_from([None, 0, 1, 2]),
            "input_id": st.sampled_from(["in-1", "in-2"]),
            "related": st.sampled_from([None, "r@contoso.com", "g@contoso.com"]),
        }
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_rows)
def test_every_chain_is_time_ordered_and_holds_exactly_its_messages_events(drawn):
    rows = []
    for line, d in enumerate(drawn, start=2):
        rows.append(
            {
                "event_time": None if d["seconds"] is None else at(d["seconds"]),
                "time_basis": d["time_basis"],
                "event_id": d["event_id"],
                "reported_status": "Delivered" if d["event_id"] is None else None,
                "network_message_id": d["nmid"],
                "message_id": d["message_id"],
                "sender_address": d["sender_address"],
                "recipient_address": d["recipient_address"],
                "related_recipient_address": d["related"],
                "event_seq": d["event_seq"],
                "input_id": d["input_id"],
                "line": line,
            }
        )
    case = Case(schema.events_table(rows), schema.DUPLICATE_SCHEMA.empty_table(), [])
    chains = build_chains(case)
    events = chains.events.to_pylist()

    # exactly the case's rows, each once
    assert sorted((e["input_id"], e["line"]) for e in events) == sorted(
        (r["input_id"], r["line"]) for r in rows
    )
    # each row is in the message its ids name
    by_line = {(r["input_id"], r["line"]): r for r in rows}
    for e in events:
        source = by_line[(e["input_id"], e["line"])]
        if source["network_message_id"]:
            assert e["message_key"] == source["network_message_id"].lower()
        recipient = (source["recipient_address"] or "").strip().lower()
        assert e["recipient_key"] == recipient
        assert e["lifecycle_rank"] == _EXPECTED_RANK[source["event_id"]]
    # rows sharing a message id and sender and no network message id stay together
    fallback = {}
    for e in events:
        source = by_line[(e["input_id"], e["line"])]
        if not source["network_message_id"] and source["message_id"]:
            pair = (source["message_id"].lower(), source["sender_address"].lower())
            fallback.setdefault(pair, set()).add(e["message_key"])
    assert all(len(keys) == 1 for keys in fallback.values())

    # sorted by message, recipient, then time order with the documented tie-breaks
    def sort_key(e):
        time = e["event_time"]
        return (
            e["message_key"],
            e["recipient_key"],
            (1, 0) if time is None else (0, time.timestamp()),
            e["lifecycle_rank"],
            32767 if e["event_seq"] is None else e["event_seq"],
            e["input_id"],
            e["line"],
        )

    keys = [sort_key(e) for e in events]
    assert keys == sorted(keys)
    # one recipient row per (message, recipient) seen, and its rows counted
    counted = {}
    for e in events:
        counted[(e["message_key"], e["recipient_key"])] = (
            counted.get((e["message_key"], e["recipient_key"]), 0) + 1
        )
    listed = {
        (r["message_key"], r["recipient_address"] or ""): r["event_count"]
        for r in chains.recipients.to_pylist()
        if r["event_count"]
    }
    for (message, recipient), count in counted.items():
        if recipient or not any(m == message and r for m, r in counted):
            assert listed[(message, recipient)] == count
    assert set(chains.recipients.column("final_status").to_pylist()) <= set(FINAL_STATUSES)
    assert chains.messages.num_rows == len({e["message_key"] for e in events})
    assert pa.types.is_timestamp(chains.recipients.schema.field("first_time").type)
