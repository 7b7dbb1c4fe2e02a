"""Indicators (analyzer/incident/iocs.py): what is behind the findings, with when it was seen
and by which findings, and who to notify; JSON, text and formula-safe CSV."""

from __future__ import annotations

import csv
import io

import pyarrow as pa
import pytest
from findings.builders import Trace, case_of, tenant_baseline

from analyzer.chains import build_chains
from analyzer.findings import run_findings
from analyzer.incident import Investigation, indicators, indicators_csv, indicators_text
from analyzer.incident.iocs import CSV_COLUMNS

from .cases import investigation_of, takeover


@pytest.fixture(scope="module")
def found(samples):
    return indicators(samples)


def _ids(samples, rule: str) -> set[str]:
    return {samples.ids[n] for n, f in enumerate(samples.findings) if f.rule == rule}


def _one(found, kind: str, value: str):
    [item] = [i for i in found.indicators if (i.type, i.value) == (kind, value)]
    return item


def test_the_samples_attacker_indicators_come_with_their_findings(found, samples):
    domain = _one(found, "domain", "c0ntoso.com")
    assert set(domain.findings) == _ids(samples, "lookalike-domain") | _ids(
        samples, "phish-detected"
    )
    collector = _one(found, "forwarding_address", "x.collector.4471@gmail.com")
    assert set(collector.findings) == _ids(samples, "external-forwarding")
    assert collector.messages == 2  # the inbox-rule copy and the redirected message
    ip = _one(found, "ip", "203.0.113.66")
    assert set(ip.findings) == _ids(samples, "rare-client-ip")
    assert ip.messages == 11
    assert _one(found, "sender", "it-support@c0ntoso.com").messages == 1
    assert _one(found, "message_id", "<35A7BFA873492510@mail.c0ntoso.com>")
    assert _one(found, "subject", "Action required: your Contoso password expires today")


def test_partners_the_burst_went_to_are_no_indicators(found):
    values = {i.value for i in found.indicators}
    assert "fabrikam.com" not in values and "contoso.com" not in values
    assert not any(v.endswith("@fabrikam.com") for v in values)


def test_who_to_notify_with_how_long_the_phish_stayed(found):
    notify = [n.to_json() for n in found.notify]
    assert [n["recipient"] for n in notify] == [
        "grace.kim@contoso.com",
        "henry.patel@contoso.com",
        "victim@contoso.com",
    ]
    victim = notify[2]
    assert victim["removed_by"] == "Phish ZAP" and not victim["still_delivered"]
    assert round(victim["dwell_seconds"]) == 2772  # 46 min 12 s
    assert [e["line"] for e in victim["evidence"]] == [27, 2]  # delivered, removed


def test_json_and_text(found):
    data = found.to_json()
    assert set(data) == {"scope", "indicators", "notify"}
    assert set(data["indicators"][0]) == {
        "type",
        "value",
        "first_seen",
        "last_seen",
        "messages",
        "findings",
    }
    text = indicators_text(found)
    assert "forwarding_address (1):\n  x.collector.4471@gmail.com" in text
    assert "removed by Phish ZAP at 2026-11-18 09:58:17 UTC, after 46 min 12 s" in text


def _phish_with_subject(subject: str) -> Trace:
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(
        30,
        "it@c0ntoso.example",
        "alice@contoso.com",
        "p1",
        custom_data="S:SFA=SUM|SFV=SPM|SCL=5|DI=SN|CAT=PHSH",
        message_subject=subject,
    )
    return trace


@pytest.mark.parametrize(
    "subject",
    ['=HYPERLINK("http://evil.example","x")', "+1 invoice", "-cmd", "@SUM(A1)", "\tpay now"],
)
def test_csv_cells_that_could_start_a_formula_are_neutralized(subject):
    text = indicators_csv(indicators(investigation_of(_phish_with_subject(subject))))
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    [cell] = [r[1] for r in rows[1:] if r[0] == "subject"]
    assert cell == "'" + subject
    assert all(line.startswith('"') for line in text.splitlines())  # every field quoted


def test_urls_are_indicators_where_the_events_carry_them():
    case = case_of(_phish_with_subject("Your parcel"))
    chains = build_chains(case)
    urls = [
        "https://evil.example/login" if k == "p1" else None
        for k in chains.events["message_key"].to_pylist()
    ]
    at = chains.events.schema.get_field_index("url")
    chains.events = chains.events.set_column(at, "url", pa.array(urls, pa.string()))
    found = indicators(Investigation(case, chains, run_findings(case, chains)))
    [url] = [i for i in found.indicators if i.type == "url"]
    assert url.value == "https://evil.example/login" and url.messages == 1


def test_a_takeover_without_malicious_mail_has_no_one_to_notify():
    found = indicators(investigation_of(takeover()))
    assert found.notify == ()
    assert [(i.type, i.value) for i in found.indicators if i.type == "forwarding_address"] == [
        ("forwarding_address", "drop@evil.example")
    ]
