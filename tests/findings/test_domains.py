"""lookalike-domain and first-seen-domain (analyzer/findings/domains.py)."""

from __future__ import annotations

import datetime as dt

from analyzer import schema
from analyzer.case import Case
from analyzer.chains import build_chains
from analyzer.findings.domains import lookalike_kind, skeleton, within_one_edit

from .builders import EXTENDED, T0, Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline


def test_lookalike_helpers():
    assert within_one_edit("contoso.com", "contosso.com")
    assert within_one_edit("contoso.com", "cnotoso.com")  # neighbours swapped
    assert not within_one_edit("contoso.com", "fabrikam.com")
    assert skeleton("c0nt0so.com") == skeleton("contoso.com")
    assert skeleton("rnicrosoft.com") == skeleton("microsoft.com")
    assert lookalike_kind("c0ntoso.com", "contoso.com", 5) == "digit for a letter"
    idn = "cоntoso.com".encode("idna").decode()  # Cyrillic о
    assert idn.startswith("xn--")
    assert lookalike_kind(idn, "contoso.com", 5) == "homoglyph (internationalized domain name)"
    assert lookalike_kind("mail.contoso.com", "contoso.com", 5) is None
    assert lookalike_kind("abc.com", "abd.com", 5) is None  # too short to say


def test_lookalike_of_tenant_and_of_frequent_correspondent():
    trace = Trace()
    tenant_baseline(trace)
    for i in range(12):
        trace.mail(10 + i, "ap@fabrikam.com", "alice@contoso.com", f"fab{i}")
    # each look-alike's evidence is the RECEIVE row (mail() returns the DELIVER line after it)
    ceo = trace.mail(100, "ceo@c0ntoso.com", "alice@contoso.com", "bec1") - 1
    invoice = trace.mail(110, "ap@fabrlkam.com", "alice@contoso.com", "bec2") - 1
    idn = "cоntoso.com".encode("idna").decode()
    homoglyph = trace.mail(120, f"it@{idn}", "alice@contoso.com", "bec3") - 1
    found = {f.title.split()[2]: f for f in of_rule(run(case_of(trace)), "lookalike-domain")}
    assert sorted(found) == sorted(["c0ntoso.com", "fabrlkam.com", idn])
    assert found["c0ntoso.com"].title == "Look-alike domain c0ntoso.com imitates contoso.com"
    assert (
        "looks like contoso.com (one of the organization's domains: digit for a letter)"
        in found["c0ntoso.com"].explanation
    )
    assert lines(found["c0ntoso.com"]) == {ceo}
    assert "a frequent correspondent" in found["fabrlkam.com"].explanation
    assert lines(found["fabrlkam.com"]) == {invoice}
    assert "(shown as cоntoso.com)" in found[idn].title
    assert lines(found[idn]) == {homoglyph}
    assert all(f.severity == "high" for f in found.values())


POST_DELIVERY = "exports/email_post_delivery_events.csv"


def zapped_lookalike_case() -> tuple[Case, int]:
    """Days of ordinary mail, then a look-alike phish delivered to two mailboxes and moved to
    quarantine 40 minutes later by Defender (EmailPostDeliveryEvents rows, which name no
    sender); returns the case and the line of the phish's RECEIVE row."""
    trace = Trace()
    tenant_baseline(trace)
    day = 24 * 60
    for d in range(10):
        trace.mail(d * day, "partner@fabrikam.com", "alice@contoso.com", f"p{d}")
    arrived = trace.add(
        9 * day + 60, "RECEIVE", "it@c0ntoso.com", "alice@contoso.com;bob@contoso.com", "phish"
    )
    for recipient in ("alice@contoso.com", "bob@contoso.com"):
        trace.add(9 * day + 60.02, "DELIVER", "it@c0ntoso.com", recipient, "phish")
    zap = Trace(path=POST_DELIVERY, input_id="b" * 16)
    for n, recipient in enumerate(("alice@contoso.com", "bob@contoso.com")):
        zap.add(
            9 * day + 100 + n,
            "PHISHZAP",
            None,
            recipient,
            "phish",
            source=None,
            report_type="defender_email_post_delivery_events",
            event_detail="Moved to quarantine",
            delivery_location="Quarantine",
            threat_types="Phish",
        )
    rows = [row for t in (trace, zap) for row in t.rows]
    for row in rows:  # the extended report lists a row's recipients as a;b
        if ";" in row["recipient_address"]:
            first, second = row["recipient_address"].split(";")
            row["recipient_address"] = first
            rows.append({**row, "recipient_address": second})
            break
    case = Case(
        events=schema.events_table(rows),
        duplicates=schema.DUPLICATE_SCHEMA.empty_table(),
        inputs=[trace.record(), zap.record()],
    )
    return case, arrived


def test_lookalike_and_first_seen_cite_the_arrival_not_the_later_zap():
    case, arrived = zapped_lookalike_case()
    findings = run(case)
    [lookalike] = of_rule(findings, "lookalike-domain")
    [first_seen] = of_rule(findings, "first-seen-domain")
    assert "received 1 message from it" in lookalike.explanation
    # the ZAP rows decide the final status, but only the RECEIVE shows the message arriving
    assert [(e.input, e.line, e.recipient_address) for e in lookalike.evidence] == [
        (EXTENDED, arrived, "alice@contoso.com"),
        (EXTENDED, arrived, "bob@contoso.com"),
    ]
    assert {e.time for e in lookalike.evidence} == {"2024-03-10T10:00:00.0000000Z"}
    assert lookalike.evidence[0].detail == (
        "from it@c0ntoso.com to alice@contoso.com; final status Quarantined"
    )
    assert [(e.input, e.line, e.time) for e in first_seen.evidence] == [
        (EXTENDED, arrived, "2024-03-10T10:00:00.0000000Z")
    ]


def test_lookalike_cites_a_summary_row_and_a_zap_only_when_nothing_else_is_there():
    case, _ = zapped_lookalike_case()
    rows = case.events.to_pylist()
    # the RECEIVE and DELIVER rows of the phish are not in the data, only the ZAP rows and,
    # for alice, a summary row (timed by the message) that names the sender
    kept = [r for r in rows if r["network_message_id"] != "phish" or r["input_id"] == "b" * 16]
    kept.append(
        {
            **{k: v for k, v in rows[0].items() if k in ("input_id", "report_type")},
            "event_time": T0 + dt.timedelta(days=9, minutes=60),
            "time_basis": "message",
            "reported_status": "Delivered",
            "sender_address": "it@c0ntoso.com",
            "recipient_address": "alice@contoso.com",
            "network_message_id": "phish",
            "line": 999,
        }
    )
    case = Case(
        events=schema.events_table(kept),
        duplicates=schema.DUPLICATE_SCHEMA.empty_table(),
        inputs=case.inputs,
    )
    [lookalike] = of_rule(run(case), "lookalike-domain")
    assert [(e.input, e.line, e.recipient_address) for e in lookalike.evidence] == [
        (EXTENDED, 999, "alice@contoso.com"),  # the summary row, not alice's ZAP row
        (POST_DELIVERY, 3, "bob@contoso.com"),  # bob's ZAP row is all the data says of him
    ]


@near_miss("lookalike-domain")
def test_own_domains_are_not_lookalikes_of_each_other():
    trace = Trace()
    for i in range(3):
        trace.mail(i, "bob@contoso.com", "alice@contoso.com", f"a{i}")
        trace.mail(i, "bob@contoso.com", "anne@contoso.co.uk", f"b{i}")
        trace.mail(i, "bob@contoso.com", "amy@contosso.com", f"c{i}")  # a third own domain
    trace.mail(50, "partner@northwind.example", "alice@contoso.com", "n1")
    chains = build_chains(case_of(trace))
    assert {"contoso.com", "contoso.co.uk", "contosso.com"} <= set(chains.tenant_domains)
    assert of_rule(run(case_of(trace)), "lookalike-domain") == []


def test_a_busy_lookalike_of_our_domain_is_still_a_lookalike():
    trace = Trace()
    tenant_baseline(trace)
    for i in range(15):  # enough mail to count as a frequent correspondent
        trace.mail(10 + i, "billing@contosso.com", "alice@contoso.com", f"bec{i}")
    [finding] = of_rule(run(case_of(trace)), "lookalike-domain")
    assert finding.title == "Look-alike domain contosso.com imitates contoso.com"
    assert finding.evidence_total == 15


def test_first_seen_domain_late_in_the_range():
    trace = Trace()
    tenant_baseline(trace)
    day = 24 * 60
    for d in range(10):
        trace.mail(d * day, "partner@fabrikam.com", "alice@contoso.com", f"p{d}")
    delivered = trace.mail(9 * day + 60, "billing@newco.example", "alice@contoso.com", "new1")
    trace.mail(9 * day + 90, "billing@newco.example", "bob@contoso.com", "new2")
    [finding] = of_rule(run(case_of(trace)), "first-seen-domain")
    assert finding.severity == "info"
    assert finding.entities == {"domain": ["newco.example"]}
    assert lines(finding) == {delivered - 1}  # the RECEIVE of its first message
    # the last third of 2024-03-01 09:00 .. 2024-03-10 10:30
    assert "first seen after 2024-03-07 10:43 UTC" in finding.title


@near_miss("first-seen-domain")
def test_first_seen_needs_a_long_enough_range_and_a_new_domain():
    short = Trace()
    tenant_baseline(short)
    short.mail(60, "billing@newco.example", "alice@contoso.com", "new1")
    assert of_rule(run(case_of(short)), "first-seen-domain") == []

    known = Trace()
    tenant_baseline(known)
    day = 24 * 60
    known.mail(0, "billing@newco.example", "alice@contoso.com", "old")
    known.mail(9 * day, "billing@newco.example", "alice@contoso.com", "again")
    assert of_rule(run(case_of(known)), "first-seen-domain") == []
