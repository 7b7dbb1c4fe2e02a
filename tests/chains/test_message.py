"""One message: resolve_message and the message_chain model (analyzer.chains.message)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from analyzer import schema
from analyzer.chains import FINAL_STATUSES, build_chains, message_chain, resolve_message
from analyzer.errors import NotFoundError
from analyzer.ingest import IngestOptions, load_sources
from chains.helpers import event, make_case


def test_resolve_message_by_either_id():
    rows = [event("RECEIVE", "bob@contoso.com", 0, nmid="5C0FFEE0-AAAA")]
    chains = build_chains(make_case(rows))
    assert resolve_message(chains, "5c0ffee0-aaaa") == "5c0ffee0-aaaa"
    assert resolve_message(chains, "<M1@contoso.com>") == "5c0ffee0-aaaa"
    assert resolve_message(chains, " m1@contoso.com ") == "5c0ffee0-aaaa"
    with pytest.raises(NotFoundError, match="no message with id 'nope'"):
        resolve_message(chains, "nope")


def test_an_id_shared_by_two_messages_asks_which_one():
    # two summary rows, no network message id: the same Internet id from two senders
    rows = [
        event(None, "bob@contoso.com", 0, nmid=None, reported_status="Delivered"),
        event(
            None,
            "bob@contoso.com",
            0,
            nmid=None,
            reported_status="Failed",
            sender_address="mallory@fabrikam.example",
        ),
    ]
    chains = build_chains(make_case(rows))
    with pytest.raises(NotFoundError, match=r"names 2 messages .*one of these keys"):
        resolve_message(chains, "<m1@contoso.com>")
    # a key the message lists is accepted as the id
    key = "m1@contoso.com|mallory@fabrikam.example"
    assert resolve_message(chains, key) == key


def test_message_chain_json_names_inputs_and_lines():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0, recipient_status="To", line=12),
        event("DELIVER", "bob@contoso.com", recipient_status="250 2.1.5 OK", line=13),
    ]
    rows[1]["event_time"] = "2024-03-01T10:00:01.2345678Z"  # 100 ns ticks, as exports have
    case = make_case(rows)
    data = message_chain(build_chains(case), case, "n1")
    assert (data["network_message_id"], data["message_id"], data["sender"], data["subject"]) == (
        "N1",
        "<m1@contoso.com>",
        "alice@contoso.com",
        "Quarterly report",
    )
    (bob,) = data["recipients"]
    assert (bob["address"], bob["final_status"], bob["parent"]) == (
        "bob@contoso.com",
        "Delivered",
        None,
    )
    assert [
        (e["time"], e["event_id"], e["status"], e["input"], e["line"]) for e in bob["events"]
    ] == [
        ("2024-03-01T10:00:00.0000000Z", "RECEIVE", "To", "exports/extended.csv", 12),
        ("2024-03-01T10:00:01.2345678Z", "DELIVER", "250 2.1.5 OK", "exports/extended.csv", 13),
    ]
    assert data["related_messages"] == []


def test_message_chain_lists_where_else_an_event_was_seen():
    rows = [event("RECEIVE", "bob@contoso.com", 0, line=12, event_key="k1")]
    case = make_case(rows, {"ext": "exports/a.csv", "ext2": "exports/b.csv"})
    case.duplicates = pa.table(
        {"event_key": ["k1"], "input_id": ["ext2"], "line": [40], "extras": [[]]},
        schema=schema.DUPLICATE_SCHEMA,
    )
    data = message_chain(build_chains(case), case, "n1")
    (received,) = data["recipients"][0]["events"]
    assert (received["input"], received["line"]) == ("exports/a.csv", 12)
    assert received["also_in"] == [{"input": "exports/b.csv", "line": 40}]


# --------------------------------------------------------------------------------------------
# the chain model: order, depth, gaps and words computed once for every renderer


def test_the_model_gives_lineage_order_depth_and_relation_words():
    rows = [
        event("RECEIVE", "sales@contoso.com", 0, direction="inbound"),
        event("EXPAND", "team@contoso.com", 0.5, related_recipient_address="sales@contoso.com"),
        event("EXPAND", "anne@contoso.com", 0.6, related_recipient_address="team@contoso.com"),
        event("REDIRECT", "x@gmail.example", 0.7, related_recipient_address="anne@contoso.com"),
        event("DELIVER", "anne@contoso.com", 1),
        event("SEND", "x@gmail.example", 2),
    ]
    case = make_case(rows)
    data = message_chain(build_chains(case), case, "n1")
    got = [
        (r["address"], r["order"], r["depth"], r["relation_words"], r["parent"])
        for r in data["recipients"]
    ]
    # listed by address, as Chains.recipients; the model says where each one goes
    assert got == [
        ("anne@contoso.com", 2, 2, "expanded from", "team@contoso.com"),
        ("sales@contoso.com", 0, 0, None, None),
        ("team@contoso.com", 1, 1, "expanded from", "sales@contoso.com"),
        ("x@gmail.example", 3, 3, "redirected from", "anne@contoso.com"),
    ]


def test_the_model_gives_each_timeline_event_its_gap_and_level():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("DEFER", "bob@contoso.com", 0.5, recipient_status="451 4.4.0 timeout"),
        event("DEFER", "bob@contoso.com", 400.5, recipient_status="451 4.4.0 timeout"),
        event("DELIVER", "bob@contoso.com", 4000.5),
    ]
    case = make_case(rows)
    (bob,) = message_chain(build_chains(case), case, "n1")["recipients"]
    assert [(e["event_id"], e["gap_seconds"], e["gap_level"]) for e in bob["events"]] == [
        ("RECEIVE", None, ""),
        ("DEFER", 0.5, ""),
        ("DEFER", 400.0, "gap"),
        ("DELIVER", 3600.0, "long-gap"),
    ]


def test_the_model_gives_related_messages_their_words_from_both_sides():
    original = dict(nmid="O1", message_id="<orig@contoso.com>")
    dsn = dict(nmid="D1", message_id="<dsn@contoso.com>", sender_address="postmaster@contoso.com")
    rows = [
        event("RECEIVE", "mark@contoso.com", 0, **original),
        event("FAIL", "mark@contoso.com", 0.4, status_code="5.1.1", **original),
        event(
            "RECEIVE", "alice@contoso.com", 1, source="DSN", reference="<orig@contoso.com>", **dsn
        ),
        event("DELIVER", "alice@contoso.com", 2, **dsn),
    ]
    case = make_case(rows)
    chains = build_chains(case)
    ((from_dsn,),) = [message_chain(chains, case, "d1")["related_messages"]]
    ((from_original,),) = [message_chain(chains, case, "o1")["related_messages"]]
    assert (from_dsn["direction"], from_dsn["words"], from_dsn["network_message_id"]) == (
        "this_is_related_to",
        "this message is a DSN about",
        "O1",
    )
    assert (from_original["direction"], from_original["words"]) == (
        "related_is_about_this",
        "delivery status notification (DSN):",
    )


# --------------------------------------------------------------------------------------------
# every message of the bundled samples gives a valid, time-ordered chain

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"


@pytest.fixture(scope="module")
def samples():
    case = load_sources([SAMPLES], IngestOptions())
    return case, build_chains(case)


def _time_key(event: dict) -> tuple:
    return (event["time"] is None, event["time"] or "")


def test_every_message_of_the_samples_gives_a_valid_time_ordered_chain(samples):
    case, chains = samples
    keys = chains.messages.column("message_key").to_pylist()
    assert len(keys) > 50
    paths = set(case.input_paths().values())
    for key in keys:
        data = message_chain(chains, case, key)
        json.dumps(data)  # JSON as it is: no value needs a converter
        assert data["message_key"] == key
        for name in ("network_message_id", "message_id"):
            if data[name]:
                assert resolve_message(chains, data[name]) == key
        recipients = data["recipients"]
        assert sorted(r["order"] for r in recipients) == list(range(len(recipients)))
        by_order = sorted(recipients, key=lambda r: r["order"])
        placed = {r["address"]: r["order"] for r in recipients}
        shown = 0
        for r in by_order:
            assert r["final_status"] in FINAL_STATUSES
            if r["parent"] and r["parent"] in placed:
                assert placed[r["parent"]] < r["order"] and r["depth"] >= 1
                assert r["relation_words"] == r["relation"].replace("_", " ")
            else:
                assert r["depth"] == 0
            events = r["events"]
            shown += len(events)
            assert [_time_key(e) for e in events] == sorted(_time_key(e) for e in events)
            for e in events:
                assert e["input"] in paths and e["line"] >= 1
                assert (e["gap_seconds"] is None) or e["gap_seconds"] >= 0
                if e["gap_level"]:
                    assert e["in_timeline"] and e["gap_seconds"] >= 300
        shown += len(data["message_events"])
        in_message = pc.sum(pc.equal(chains.events["message_key"], key)).as_py()
        assert shown <= in_message
        for related in data["related_messages"]:
            assert related["words"]
