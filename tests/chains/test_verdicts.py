"""Verdicts from custom_data and their inheritance (analyzer.chains.verdicts)."""

from __future__ import annotations

from analyzer.chains import build_chains
from chains.helpers import event, make_case, recipients_of


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
