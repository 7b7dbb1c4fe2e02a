"""The mailbox view (analyzer/incident/mailbox.py): what one mailbox sent and received, who is
new, where it sent from, what it forwards and redirects out, its findings."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.errors import NotFoundError, OptionError
from analyzer.incident import mailbox_text, mailbox_view, mailbox_views, parse_since
from analyzer.timestamps import DisplayZone

from .cases import investigation_of, takeover


@pytest.fixture(scope="module")
def victim(samples):
    return mailbox_view(samples, "<Victim@Contoso.com>")


def test_the_victim_forwards_and_redirects_to_the_collector(victim):
    data = victim.to_json()
    [forward] = data["forwards"]
    assert (forward["how"], forward["target"]) == ("inbox rule", "x.collector.4471@gmail.com")
    assert (Path(forward["input"]).name, forward["line"]) == ("extended_utf16le_nobom.csv", 31)
    assert forward["subject"] == "FW: RE: Wire transfer details for invoice 4471"
    [redirect] = data["redirects"]
    assert (redirect["target"], redirect["line"]) == ("x.collector.4471@gmail.com", 35)
    assert redirect["time"].startswith("2026-11-18T10:55:12")


def test_the_victim_sent_the_burst_from_an_ip_it_never_used_before(victim):
    ips = {ip["ip"]: ip for ip in victim.to_json()["ips"]}
    assert set(ips) == {"198.51.100.23", "203.0.113.66"}
    assert ips["203.0.113.66"]["messages"] == 11
    assert ips["203.0.113.66"]["first_seen"].startswith("2026-11-18T11:02:10")
    assert ips["198.51.100.23"]["last_seen"] < ips["203.0.113.66"]["first_seen"]


def test_sent_and_received_are_counted_by_status_with_their_ids(victim):
    data = victim.to_json()
    sent, received = data["sent"], data["received"]
    assert sent["message_count"] == len(sent["messages"]) and sent["copy_count"] >= 34
    assert sum(sent["by_status"].values()) == sent["copy_count"]
    assert all(m["network_message_id"] and m["message_key"] for m in sent["messages"])
    [phish] = [m for m in received["messages"] if m["sender"] == "it-support@c0ntoso.com"]
    assert phish["removed_by"] == "Phish ZAP"
    assert phish["delivered_at"].startswith("2026-11-18T09:12:05")


def test_new_correspondents_count_from_the_first_suspicious_time(victim, samples):
    data = victim.to_json()
    assert (data["since"], data["since_from"]) == (
        "2026-11-18T09:12:04.0000000Z",
        "first suspicious time",
    )
    new = [c["address"] for c in data["new_correspondents"]]
    assert new[:3] == [
        "it-support@c0ntoso.com",
        "j.martin@fabrikam.com",
        "x.collector.4471@gmail.com",
    ]
    assert "orders@northwindtraders.com" not in new  # a correspondent since Monday
    assert [d["domain"] for d in data["new_domains"]][:3] == [
        "c0ntoso.com",
        "fabrikam.com",
        "gmail.com",
    ]
    later = mailbox_view(samples, "victim@contoso.com", parse_since("2026-11-18T11:00:00Z"))
    assert later.to_json()["since_from"] == "--since"
    assert "x.collector.4471@gmail.com" not in {
        c["address"] for c in later.to_json()["new_correspondents"]
    }


def test_its_findings_and_roles_come_with_it(victim, samples_summary):
    data = victim.to_json()
    assert data["role"] == samples_summary.mailboxes[0].role
    rules = {f["rule"] for f in data["findings"]}
    assert {"external-forwarding", "outbound-burst", "rare-client-ip", "phish-detected"} <= rules


def test_an_address_not_in_the_data_suggests_close_matches(samples):
    with pytest.raises(NotFoundError, match=r"did you mean victim@contoso\.com\?"):
        mailbox_view(samples, "victim@contso.com")
    with pytest.raises(NotFoundError, match="sends and receives no mail in this data"):
        mailbox_view(samples, "zzz@nowhere.invalid")


def test_since_must_be_a_time():
    with pytest.raises(OptionError, match="--since: 'last tuesday' is not a time"):
        parse_since("last tuesday")
    assert parse_since("2026-11-18T10:00:00+01:00") == parse_since("2026-11-18T09:00:00Z")


def test_text_shows_times_in_the_display_zone_and_cuts_long_lists(victim):
    text = mailbox_text(victim, DisplayZone("America/New_York"), limit=3)
    assert text.startswith("Mailbox victim@contoso.com")
    assert "2026-11-18 05:41:03 EST  to x.collector.4471@gmail.com" in text
    assert "... and " in text and "(--json lists them all)" in text


def test_many_views_in_one_pass_leave_out_unknown_addresses():
    inv = investigation_of(takeover())
    views = mailbox_views(inv, ["alice@contoso.com", "nobody@contoso.com", "bob@contoso.com"])
    assert list(views) == ["alice@contoso.com", "bob@contoso.com"]
    assert views["alice@contoso.com"].to_json()["redirects"][0]["target"] == "drop@evil.example"
    assert views["bob@contoso.com"].affected is None
