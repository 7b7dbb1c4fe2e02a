"""Final statuses, decided step by step, with the deciding row (analyzer.chains.status)."""

from __future__ import annotations

import datetime as dt

import pytest

from analyzer.chains import MESSAGE_SCHEMA, RECIPIENT_SCHEMA, build_chains
from chains.helpers import event, make_case, recipients_of


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
