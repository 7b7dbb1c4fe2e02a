"""Chains: hand-built events with known answers for every case of issue 3."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer import schema
from analyzer.case import Case, InputRecord
from analyzer.chains import (
    FINAL_STATUSES,
    MESSAGE_SCHEMA,
    RECIPIENT_SCHEMA,
    build_chains,
    message_chain,
    resolve_message,
)
from analyzer.errors import NotFoundError
from analyzer.text import format_chain_text

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
    **fields,
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


def recipients_of(chains, message_key: str = "n1") -> dict[str, dict]:
    rows = chains.recipients.filter(pc.equal(chains.recipients["message_key"], message_key))
    return {r["recipient_address"]: r for r in rows.to_pylist()}


def timeline(chains, recipient: str, message_key: str = "n1") -> list[str]:
    rows = chains.events.filter(
        pc.and_(
            pc.equal(chains.events["message_key"], message_key),
            pc.equal(chains.events["recipient_key"], recipient),
        )
    ).to_pylist()
    return [r["event_id"] or "STATUS" for r in rows if r["in_timeline"]]


def test_partial_failure_to_two_recipients():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0, recipient_status="To", direction="originating"),
        event("RECEIVE", "mark@contoso.com", 0, recipient_status="To", direction="originating"),
        event(
            "DELIVER",
            "bob@contoso.com",
            1.5,
            source="STOREDRIVER",
            recipient_status="250 2.1.5 Recipient OK",
            status_code="2.1.5",
            smtp_reply_code=250,
        ),
        event(
            "FAIL",
            "mark@contoso.com",
            0.4,
            source="ROUTING",
            recipient_status="550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            status_code="5.1.1",
            smtp_reply_code=550,
            line=99,
        ),
    ]
    chains = build_chains(make_case(rows))
    got = recipients_of(chains)
    assert got["bob@contoso.com"]["final_status"] == "Delivered"
    mark = got["mark@contoso.com"]
    assert mark["final_status"] == "Failed"
    assert mark["status_code"] == "5.1.1"
    assert mark["smtp_reply"] == "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found"
    assert "unknown recipient" in mark["status_meaning"]
    assert (mark["decided_input_id"], mark["decided_line"]) == ("ext", 99)
    assert mark["duration_seconds"] == pytest.approx(0.4)
    assert mark["direction"] == "internal"
    assert chains.messages.to_pylist()[0]["statuses"] == "Delivered, Failed"
    assert chains.tenant_domains == ("contoso.com",)
    assert chains.recipients.schema == RECIPIENT_SCHEMA
    assert chains.messages.schema == MESSAGE_SCHEMA


def test_distribution_group_expansion_gives_members_that_point_to_the_group():
    # as Exchange logs it: the members in recipient_address, the group in related
    rows = [
        event(
            "RECEIVE",
            "sales@contoso.com",
            0,
            recipient_status="To",
            direction="inbound",
            sender_address="orders@northwind.example",
        ),
        event("EXPAND", "dan@contoso.com", 0.5, related_recipient_address="sales@contoso.com"),
        event("EXPAND", "erin@contoso.com", 0.5, related_recipient_address="Sales@Contoso.com"),
        event("EXPAND", "frank@contoso.com", 0.5, related_recipient_address="sales@contoso.com"),
        event("DELIVER", "dan@contoso.com", 2, recipient_status="250 2.1.5 OK"),
        event("DELIVER", "erin@contoso.com", 2, recipient_status="250 2.1.5 OK"),
    ]
    chains = build_chains(make_case(rows))
    got = recipients_of(chains)
    assert sorted(got) == [
        "dan@contoso.com",
        "erin@contoso.com",
        "frank@contoso.com",
        "sales@contoso.com",
    ]
    group = got["sales@contoso.com"]
    assert group["final_status"] == "Expanded"
    assert group["parent_recipient"] is None
    for member in ("dan@contoso.com", "erin@contoso.com"):
        assert got[member]["final_status"] == "Delivered"
        assert got[member]["parent_recipient"] == "sales@contoso.com"
        assert got[member]["recipient_relation"] == "expanded_from"
        # a member is received when its group is
        assert got[member]["first_time"] == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    # a member with no event after the expansion is listed, Pending: its EXPAND row is
    # its only event, and nothing final follows it
    frank = got["frank@contoso.com"]
    assert frank["parent_recipient"] == "sales@contoso.com"
    assert frank["final_status"] == "Pending"


def test_group_members_inherit_the_verdict_given_before_the_expansion():
    verdict = {"SFA.SFV": "SPM", "SFA.SCL": "6", "SFA.DI": "SJ"}
    rows = [
        event("RECEIVE", "sales@contoso.com", 0, direction="inbound"),
        event("AGENTINFO", "sales@contoso.com", 0.2, custom_data_fields=verdict),
        event("EXPAND", "dan@contoso.com", 0.5, related_recipient_address="sales@contoso.com"),
        event("DELIVER", "dan@contoso.com", 2),
    ]
    got = recipients_of(build_chains(make_case(rows)))
    assert got["sales@contoso.com"]["final_status"] == "Expanded"
    dan = got["dan@contoso.com"]
    assert (dan["final_status"], dan["scl"], dan["sfv"]) == ("FilteredAsSpam", 6, "SPM")


def test_expansion_written_the_other_way_round_is_recognised():
    # an export that puts the group in recipient_address: the group was received, the
    # member was not
    rows = [
        event("RECEIVE", "sales@contoso.com", 0, recipient_status="To", direction="inbound"),
        event("EXPAND", "sales@contoso.com", 0.5, related_recipient_address="dan@contoso.com"),
        event("EXPAND", "sales@contoso.com", 0.5, related_recipient_address="erin@contoso.com"),
        event("DELIVER", "dan@contoso.com", 2),
    ]
    got = recipients_of(build_chains(make_case(rows)))
    assert got["sales@contoso.com"]["final_status"] == "Expanded"
    assert got["dan@contoso.com"]["parent_recipient"] == "sales@contoso.com"
    assert got["dan@contoso.com"]["final_status"] == "Delivered"
    # erin has no row of her own: listed with her parent, status Unknown
    assert got["erin@contoso.com"]["parent_recipient"] == "sales@contoso.com"
    assert got["erin@contoso.com"]["final_status"] == "Unknown"
    assert got["erin@contoso.com"]["event_count"] == 0


def test_redirect_and_resolve_give_children_that_point_to_the_original_address():
    rows = [
        event("RECEIVE", "victim@contoso.com", 0, direction="inbound"),
        event("RECEIVE", "sales.alias@contoso.com", 0, direction="inbound"),
        # mailbox forwarding: a copy redirected to an outside address, the mailbox keeps its own
        event(
            "REDIRECT",
            "x.collector@gmail.example",
            0.5,
            related_recipient_address="victim@contoso.com",
        ),
        event("DELIVER", "victim@contoso.com", 1, recipient_status="250 2.1.5 OK"),
        event("SEND", "x.collector@gmail.example", 2, recipient_status="250 2.0.0 OK"),
        # an alias rewritten to the primary address
        event(
            "RESOLVE",
            "bob@contoso.com",
            0.5,
            related_recipient_address="sales.alias@contoso.com",
        ),
        event("DELIVER", "bob@contoso.com", 1.5, recipient_status="250 2.1.5 OK"),
    ]
    got = recipients_of(build_chains(make_case(rows)))
    lineage = {
        address: (r["parent_recipient"], r["recipient_relation"], r["final_status"])
        for address, r in got.items()
    }
    assert lineage == {
        "victim@contoso.com": (None, None, "Delivered"),
        "x.collector@gmail.example": ("victim@contoso.com", "redirected_from", "Delivered"),
        "sales.alias@contoso.com": (None, None, "Redirected"),
        "bob@contoso.com": ("sales.alias@contoso.com", "resolved_from", "Delivered"),
    }


def test_outbound_send_is_delivered_to_the_outside_server():
    rows = [
        event("RECEIVE", "x@fabrikam.com", 0, direction="originating", client_ip="10.0.0.5"),
        event(
            "SEND",
            "x@fabrikam.com",
            2.5,
            direction="originating",
            recipient_status="250 2.6.0 Queued mail for delivery",
            status_code="2.6.0",
            server_ip="198.51.100.7",
        ),
    ]
    got = recipients_of(build_chains(make_case(rows)))["x@fabrikam.com"]
    assert got["final_status"] == "Delivered"
    assert got["direction"] == "outbound"
    assert got["to_ip"] == "198.51.100.7"
    assert got["from_ip"] == "10.0.0.5"
    assert "sent to the next mail server" in got["status_meaning"]


def test_deferral_then_delivery_counts_the_deferrals_and_their_length():
    reply = "451 4.4.0 DNS query failed"
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("DEFER", "bob@contoso.com", 10, recipient_status=reply, status_code="4.4.0"),
        event("DEFER", "bob@contoso.com", 610, recipient_status=reply, status_code="4.4.0"),
        event("DELIVER", "bob@contoso.com", 1210, recipient_status="250 2.1.5 OK"),
    ]
    got = recipients_of(build_chains(make_case(rows)))["bob@contoso.com"]
    assert got["final_status"] == "Delivered"
    assert got["deferral_count"] == 2
    assert got["deferral_seconds"] == pytest.approx(1200)
    assert got["duration_seconds"] == pytest.approx(1210)


def test_deferral_without_an_end_is_pending():
    reply = "451 4.4.0 Primary target IP address responded with: 421 4.4.2 timeout"
    rows = [
        event("RECEIVE", "orders@proseware.com", 0, direction="originating"),
        event("DEFER", "orders@proseware.com", 5, recipient_status=reply, status_code="4.4.0"),
        event("DEFER", "orders@proseware.com", 905, recipient_status=reply, status_code="4.4.0"),
    ]
    got = recipients_of(build_chains(make_case(rows)))["orders@proseware.com"]
    assert got["final_status"] == "Pending"
    assert got["status_code"] == "4.4.0"
    assert got["status_meaning"].startswith("deferred: the receiving server could not be reached")
    assert got["deferral_count"] == 2
    assert got["deferral_seconds"] == pytest.approx(900)  # the last one has no end yet
    assert got["final_time"] == dt.datetime(2024, 3, 1, 10, 15, 5, tzinfo=dt.UTC)


def test_quarantine_by_spam_verdict():
    verdict = {
        "SFA": "SUM",
        "SFA.SFV": "SPM",
        "SFA.SCL": "9",
        "SFA.PCL": "0",
        "SFA.DI": "SQ",
        "SFA.CTRY": "RU",
    }
    rows = [
        event("RECEIVE", "henry@contoso.com", 0, direction="inbound"),
        event("AGENTINFO", "henry@contoso.com", 0.3, custom_data_fields=verdict, line=50),
        event("DELIVER", "henry@contoso.com", 1),
    ]
    got = recipients_of(build_chains(make_case(rows)))["henry@contoso.com"]
    assert got["final_status"] == "Quarantined"
    assert (got["sfv"], got["scl"], got["pcl"], got["di"], got["country"]) == (
        "SPM",
        9,
        0,
        "SQ",
        "RU",
    )
    assert got["status_meaning"] == "held in quarantine by the spam filter (DI=SQ)"
    assert got["decided_line"] == 50  # the verdict row is the evidence


def test_quarantine_by_malware_verdict_says_malware():
    fields = {"AMA": "EV", "AMA.name": "Trojan:Win32/Sample", "SFA.SFV": "NSPM", "SFA.DI": "SQ"}
    rows = [
        event("RECEIVE", "alice@contoso.com", 0, direction="inbound"),
        event("AGENTINFO", "alice@contoso.com", 0.3, custom_data_fields=fields),
    ]
    alice = recipients_of(build_chains(make_case(rows)))["alice@contoso.com"]
    assert alice["final_status"] == "Quarantined"
    # the spam filter said not spam: the malware, not the spam filter, is the reason shown
    assert alice["status_meaning"] == (
        "held in quarantine: the anti-malware agent found malware (DI=SQ)"
    )


def test_malware_and_transport_rules_are_read_from_custom_data():
    fields = {"AMA": "EV", "AMA.name": "Trojan:Win32/Sample", "SFA.DI": "SN"}
    rules = [
        ("TRA", "ETR"),
        ("TRA.ruleId", "rule-1"),
        ("TRA.action", "ApplyHtmlDisclaimer"),
        ("TRA", "ETR"),
        ("TRA.ruleId", "rule-2"),
        ("TRA.action", "SetSCL"),
    ]
    rows = [
        event("RECEIVE", "alice@contoso.com", 0),
        event("AGENTINFO", "alice@contoso.com", 0.2, custom_data_fields=fields),
        event("AGENTINFO", "alice@contoso.com", 0.3, custom_data_fields=rules),
        event("DELIVER", "alice@contoso.com", 1),
    ]
    got = recipients_of(build_chains(make_case(rows)))["alice@contoso.com"]
    assert got["malware_name"] == "Trojan:Win32/Sample"
    assert got["transport_rules"] == ["rule-1 ApplyHtmlDisclaimer", "rule-2 SetSCL"]
    assert got["final_status"] == "Delivered"


def test_junk_verdict_from_enhanced_summary_words():
    rows = [
        event(
            w,
            "carol@contoso.com",
            0,
            time_basis="message",
            event_seq=i,
            input_id="enh",
            report_type="enhanced_summary",
            line=7,
        )
        for i, w in enumerate(["RECEIVE", "DELIVER", "FILTEREDASSPAM"])
    ]
    got = recipients_of(build_chains(make_case(rows)))["carol@contoso.com"]
    assert got["final_status"] == "FilteredAsSpam"
    assert got["final_time"] is None  # the export gives no time of its own to that event


def test_inbox_rule_forward_to_an_outside_address_is_linked_to_its_trigger():
    trigger = dict(
        nmid="T1", message_id="<trigger@fabrikam.example>", sender_address="ceo@fabrikam.example"
    )
    forward = dict(nmid="F1", message_id="<fw@contoso.com>", sender_address="victim@contoso.com")
    rows = [
        event("RECEIVE", "victim@contoso.com", 0, direction="inbound", **trigger),
        event("DELIVER", "victim@contoso.com", 1, **trigger),
        event(
            "RECEIVE",
            "collector@gmail.example",
            3,
            source="MAILBOXRULE",
            reference="<Trigger@fabrikam.example>",
            direction="originating",
            line=40,
            **forward,
        ),
        event(
            "SEND",
            "collector@gmail.example",
            5,
            recipient_status="250 2.0.0 OK",
            direction="originating",
            **forward,
        ),
    ]
    chains = build_chains(make_case(rows))
    links = chains.links.to_pylist()
    assert [
        (x["message_key"], x["related_message_key"], x["relation"], x["line"]) for x in links
    ] == [("f1", "t1", "inbox_rule_forward_of", 40)]
    out = recipients_of(chains, "f1")["collector@gmail.example"]
    assert (out["final_status"], out["direction"]) == ("Delivered", "outbound")
    counts = {m["message_key"]: m["related_count"] for m in chains.messages.to_pylist()}
    assert counts == {"f1": 1, "t1": 1}
    case = make_case(rows)
    trigger_json = message_chain(chains, case, "t1")
    assert trigger_json["related_messages"][0]["relation"] == "inbox_rule_forward_of"
    assert trigger_json["related_messages"][0]["message_id"] == "<fw@contoso.com>"
    text = format_chain_text(message_chain(chains, case, "f1"))
    assert "forwarded by an inbox rule from T1" in text


@pytest.mark.parametrize("logged_on", ["dsn", "original", "both"])
def test_dsn_is_linked_to_its_original(logged_on):
    original = dict(nmid="O1", message_id="<orig@contoso.com>")
    dsn = dict(
        nmid="D1",
        message_id="<dsn@contoso.com>",
        sender_address="postmaster@contoso.com",
        message_subject="Undeliverable: Quarterly report",
    )
    rows = [
        event("RECEIVE", "mark@contoso.com", 0, **original),
        event("FAIL", "mark@contoso.com", 0.4, status_code="5.1.1", **original),
        event("RECEIVE", "alice@contoso.com", 1, **dsn),
        event("DELIVER", "alice@contoso.com", 2, **dsn),
    ]
    if logged_on in ("dsn", "both"):
        rows.append(
            event(
                "RECEIVE",
                "alice@contoso.com",
                1,
                source="DSN",
                reference="<orig@contoso.com>",
                **dsn,
            )
        )
    if logged_on in ("original", "both"):
        rows.append(
            event(
                "DSN",
                "mark@contoso.com",
                0.5,
                source="DSN",
                reference="<dsn@contoso.com>",
                **original,
            )
        )
    chains = build_chains(make_case(rows))
    links = [
        (x["message_key"], x["related_message_key"], x["relation"])
        for x in chains.links.to_pylist()
    ]
    assert links == [("d1", "o1", "dsn_for")]
    assert recipients_of(chains, "o1")["mark@contoso.com"]["final_status"] == "Failed"


def test_dsn_event_with_failure_code_fails_the_recipient():
    rows = [
        event("RECEIVE", "mark@contoso.com", 0),
        event(
            "DSN",
            "mark@contoso.com",
            1,
            status_code="5.4.1",
            recipient_status="550 5.4.1 Recipient address rejected: Access denied",
        ),
    ]
    got = recipients_of(build_chains(make_case(rows)))["mark@contoso.com"]
    assert got["final_status"] == "Failed"
    assert "access denied" in got["status_meaning"]


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


def test_conflicting_exports_are_flagged_not_resolved():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("FAIL", "bob@contoso.com", 1, status_code="5.7.1"),
        event(
            None,
            "bob@contoso.com",
            0,
            reported_status="Delivered",
            time_basis="message",
            input_id="sum",
            report_type="summary",
        ),
        event(
            "RECEIVE",
            "bob@contoso.com",
            0,
            time_basis="message",
            event_seq=0,
            input_id="enh",
            report_type="enhanced_summary",
        ),
        event(
            "DELIVER",
            "bob@contoso.com",
            0,
            time_basis="message",
            event_seq=1,
            input_id="enh",
            report_type="enhanced_summary",
        ),
    ]
    bob = recipients_of(build_chains(make_case(rows)))["bob@contoso.com"]
    assert bob["final_status"] == "Failed"
    assert bob["conflict"] == (
        "summary says Delivered; events end in FAIL; "
        "enhanced summary says Delivered; events end in FAIL"
    )


@pytest.mark.parametrize(
    ("reported", "expected"),
    [
        ("Delivered", "Delivered"),
        ("Failed", "Failed"),
        ("GettingStatus", "Pending"),
        ("Pending", "Pending"),
        ("Expanded", "Expanded"),
        ("Quarantined", "Quarantined"),
        ("FilteredAsSpam", "FilteredAsSpam"),
        ("Something new", "Unknown"),
    ],
)
def test_summary_only_rows_keep_their_own_status(reported, expected):
    rows = [
        event(
            None,
            "bob@contoso.com",
            0,
            reported_status=reported,
            time_basis="message",
            input_id="sum",
            report_type="summary",
        )
    ]
    bob = recipients_of(build_chains(make_case(rows)))["bob@contoso.com"]
    assert bob["final_status"] == expected
    assert bob["final_time"] is None
    assert bob["decided_input_id"] == "sum"


def test_reported_status_over_unfinished_events_does_not_claim_there_are_none():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event(
            None,
            "bob@contoso.com",
            0,
            reported_status="Delivered",
            time_basis="message",
            input_id="sum",
            report_type="summary",
        ),
    ]
    bob = recipients_of(build_chains(make_case(rows)))["bob@contoso.com"]
    assert bob["final_status"] == "Delivered"
    assert bob["status_meaning"] == (
        "delivered (as the summary reports it; the events in the data stop before a final one)"
    )
    only_summary = recipients_of(build_chains(make_case(rows[1:])))["bob@contoso.com"]
    assert only_summary["status_meaning"] == (
        "delivered (as the summary reports it; no events in the data)"
    )


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


def test_chain_text_prints_no_control_characters_from_an_export():
    rows = [
        event(
            "RECEIVE",
            "bob@contoso.com",
            0,
            message_subject="Invoice\x1b[2J\r\nDelivered: all fine",
            recipient_status="To",
        ),
        event("EXPAND", "dan@contoso.com", 1, related_recipient_address="bob@contoso.com"),
    ]
    case = make_case(rows)
    text = format_chain_text(message_chain(build_chains(case), case, "n1"))
    assert "  Subject:             Invoice\\x1b[2J  Delivered: all fine\n" in text
    assert "\x1b" not in text and "\r" not in text
    assert "EXPAND" in text and "(related recipient bob@contoso.com)" in text


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
        {"event_key": ["k1"], "input_id": ["ext2"], "line": [40]},
        schema=schema.DUPLICATE_SCHEMA,
    )
    data = message_chain(build_chains(case), case, "n1")
    (received,) = data["recipients"][0]["events"]
    assert (received["input"], received["line"]) == ("exports/a.csv", 12)
    assert received["also_in"] == [{"input": "exports/b.csv", "line": 40}]


def test_rows_without_any_message_id_stand_alone():
    rows = [event("NOTIFYMAPI", None, 0, nmid=None, message_id=None, input_id="log", line=6)]
    chains = build_chains(make_case(rows))
    (only,) = chains.recipients.to_pylist()
    assert only["message_key"] == "row:log:6"
    assert only["final_status"] == "Unknown"
    assert only["join_key"] == "row"


def test_no_events_gives_empty_tables():
    chains = build_chains(Case.empty())
    assert chains.recipients.num_rows == chains.messages.num_rows == chains.links.num_rows == 0
    assert chains.tenant_domains == ()


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


# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# the bundled samples: every format of the same tenant, scenarios with known outcomes
# (samples/README.md lists them)

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


@pytest.fixture(scope="module")
def sample_chains():
    from analyzer.ingest import IngestOptions, load_sources

    return build_chains(load_sources([SAMPLES], IngestOptions()))


def _sample_recipients(chains, prefix: str) -> dict[str, tuple]:
    return {
        r["recipient_address"]: (
            r["final_status"],
            r["status_code"],
            r["parent_recipient"],
            r["recipient_relation"],
            r["deferral_count"],
        )
        for r in chains.recipients.to_pylist()
        if r["message_key"].startswith(prefix)
    }


@pytest.mark.parametrize(
    ("scenario", "prefix", "expected"),
    [
        (
            "partial_failure",
            "b006c93f",
            {
                "carol.jones@contoso.com": ("Delivered", "2.1.5", None, None, 0),
                "mark.jonson@contoso.com": ("Failed", "5.1.1", None, None, 0),
            },
        ),
        (
            "group_expansion",
            "904023d8",
            {
                "sales@contoso.com": ("Expanded", None, None, None, 0),
                **{
                    member: ("Delivered", "2.1.5", "sales@contoso.com", "expanded_from", 0)
                    for member in (
                        "dan.miller@contoso.com",
                        "erin.garcia@contoso.com",
                        "frank.lee@contoso.com",
                    )
                },
            },
        ),
        (
            "deferred_then_delivered",
            "41dec90c",
            {"grace.kim@contoso.com": ("Delivered", "2.1.5", None, None, 2)},
        ),
        (
            "pending_deferral",
            "8d5dfa7c",
            {"orders@proseware.com": ("Pending", "4.4.0", None, None, 3)},
        ),
        (
            "spam_quarantined",
            "c80b16d3",
            {"henry.patel@contoso.com": ("Quarantined", None, None, None, 0)},
        ),
        (
            "bulk_junked",
            "65419878",
            {"carol.jones@contoso.com": ("FilteredAsSpam", None, None, None, 0)},
        ),
        (
            "mailbox_redirect",
            "3e7b00e0",
            {
                "victim@contoso.com": ("Delivered", "2.1.5", None, None, 0),
                "x.collector.4471@gmail.com": (
                    "Delivered",
                    "2.0.0",
                    "victim@contoso.com",
                    "redirected_from",
                    0,
                ),
            },
        ),
    ],
)
def test_sample_scenarios_end_as_the_samples_readme_says(sample_chains, scenario, prefix, expected):
    assert _sample_recipients(sample_chains, prefix) == expected, scenario


def test_samples_in_every_format_make_one_chain_per_message(sample_chains):
    keys = sample_chains.messages.column("message_key").to_pylist()
    # the partial failure is in the extended report, enhanced summary, both summaries,
    # Get-MessageTrace(Detail), the API and Defender: one message
    assert sum(key.startswith("b006c93f") for key in keys) == 1
    # summary rows without a network message id all found their message
    assert not [key for key in keys if "|" in key]
    # the events the two overlapping extended reports share are in the chains once
    event_keys = sample_chains.events.column("event_key").to_pylist()
    assert len(event_keys) == len(set(event_keys))


def test_samples_link_the_dsn_and_the_inbox_rule_forward(sample_chains):
    links = [
        (x["message_key"][:8], x["related_message_key"][:8], x["relation"])
        for x in sample_chains.links.to_pylist()
    ]
    assert links == [
        ("930beadd", "b006c93f", "dsn_for"),
        ("9fa2baa7", "6ae1af81", "inbox_rule_forward_of"),
    ]
    malware = _sample_recipients(sample_chains, "d107033f")
    assert malware == {"alice.wong@contoso.com": ("Quarantined", None, None, None, 0)}
    rules = sample_chains.recipients.filter(
        pc.starts_with(sample_chains.recipients["message_key"], "92a25d95")
    )
    assert rules.column("transport_rules").to_pylist()[0][0].endswith(" ApplyHtmlDisclaimer")
