"""Delivered, then removed (analyzer/incident/delivery.py): when a copy reached a mailbox,
when and by what it left, each fact on its input row."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
from findings.builders import T0, Trace, case_of, tenant_baseline

from analyzer.chains import build_chains
from analyzer.incident.delivery import delivery_facts
from analyzer.timestamps import duration_text

PHISH = "34349d2d-14c6-414b-9771-08de2a7c7180"
MALWARE = "d107033f-3a53-5406-2f19-08de3470ddb2"


def _columns(facts: pd.DataFrame, prefix: str) -> tuple[list[str], list[int]]:
    return list(facts[prefix + "_input_id"]), [int(n) for n in facts[prefix + "_line"]]


def test_the_samples_phish_was_delivered_to_three_mailboxes_then_zapped(samples):
    facts = delivery_facts(samples.chains, [PHISH, MALWARE])
    assert list(facts["recipient_key"]) == [
        "grace.kim@contoso.com",
        "henry.patel@contoso.com",
        "victim@contoso.com",
    ]
    paths = samples.input_paths
    # delivered by the extended report's DELIVER (one row for the three recipients)
    delivering = {(paths[i], line) for i, line in zip(*_columns(facts, "deliver"), strict=True)}
    assert [(Path(path).name, line) for path, line in delivering] == [
        ("extended_utf16le_nobom.csv", 27)
    ]
    # removed by Defender's Phish ZAP, one row per recipient
    assert set(facts["removed_by"]) == {"Phish ZAP"}
    removing = sorted(
        (Path(paths[i]).name, n) for i, n in zip(*_columns(facts, "removal"), strict=True)
    )
    assert removing == [("defender_email_post_delivery_events_utf8.csv", n) for n in (2, 3, 4)]
    assert [duration_text(s) for s in facts["dwell_seconds"]] == [
        "46 min 15 s",
        "46 min 13 s",
        "46 min 12 s",
    ]
    # the quarantined malware never reached a mailbox
    assert MALWARE not in set(facts["message_key"])


def _quarantine_handover() -> Trace:
    """An enhanced summary's ``Receive, Deliver, Quarantined``: one row, three events."""
    trace = Trace(path="exports/enhanced.csv")
    tenant_baseline(trace)
    line = trace.line
    for event in ("RECEIVE", "DELIVER", "QUARANTINED"):
        trace.add(
            30,
            event,
            "x@bad.example",
            "alice@contoso.com",
            "held",
            line=line,
            report_type="enhanced_summary",
        )
    return trace


def test_a_deliver_that_hands_over_to_quarantine_is_no_delivery():
    chains = build_chains(case_of(_quarantine_handover()))
    assert delivery_facts(chains, ["held"]).empty


def test_a_release_back_to_the_inbox_is_no_removal():
    trace = Trace()
    tenant_baseline(trace)
    delivered = trace.mail(30, "x@bad.example", "alice@contoso.com", "m1")
    trace.add(
        40,
        "MANUALREMEDIATION",
        "x@bad.example",
        "alice@contoso.com",
        "m1",
        report_type="defender_email_post_delivery_events",
        delivery_location="Inbox/folder",
    )
    removed = trace.add(
        50,
        "MANUALREMEDIATION",
        "x@bad.example",
        "alice@contoso.com",
        "m1",
        report_type="defender_email_post_delivery_events",
        delivery_location="Deleted Items",
    )
    [fact] = delivery_facts(build_chains(case_of(trace)), ["m1"]).to_dict("records")
    assert fact["deliver_line"] == delivered
    assert fact["removal_line"] == removed and fact["removed_by"] == "Manual remediation"
    assert round(fact["dwell_seconds"]) == round((20 - 0.01) * 60)


def test_a_copy_never_removed_stays_delivered():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(30, "x@bad.example", "alice@contoso.com", "m1")
    [fact] = delivery_facts(build_chains(case_of(trace)), ["m1"]).to_dict("records")
    assert pd.notna(fact["delivered_ns"])
    assert all(pd.isna(fact[n]) for n in ("removed_ns", "removed_by", "dwell_seconds"))


def test_the_chains_own_columns_are_used_when_they_exist():
    """When chains give delivered_at/removed_at/removed_by/dwell_seconds per recipient, their
    values are used, and the cited rows are the timeline rows at those times."""
    trace = Trace()
    tenant_baseline(trace)
    delivered = trace.mail(30, "x@bad.example", "alice@contoso.com", "m1")
    removed = trace.add(
        76,
        "PHISHZAP",
        "x@bad.example",
        "alice@contoso.com",
        "m1",
        report_type="defender_email_post_delivery_events",
        delivery_location="Quarantine",
    )
    chains = build_chains(case_of(trace))
    recipients = chains.recipients
    n = recipients.num_rows
    is_m1 = [k == "m1" for k in recipients["message_key"].to_pylist()]
    at = {
        "delivered_at": T0 + dt.timedelta(minutes=30.01),
        "removed_at": T0 + dt.timedelta(minutes=76),
    }
    for name, when in at.items():
        values = [when.replace(tzinfo=dt.UTC) if hit else None for hit in is_m1]
        recipients = recipients.append_column(name, pa.array(values, pa.timestamp("ns", "UTC")))
    recipients = recipients.append_column(
        "removed_by", pa.array(["Phish ZAP" if hit else None for hit in is_m1], pa.string())
    )
    recipients = recipients.append_column(
        "dwell_seconds", pa.array([2759.4 if hit else None for hit in is_m1], pa.float64())
    )
    assert recipients.num_rows == n
    chains.recipients = recipients
    [fact] = delivery_facts(chains, ["m1"]).to_dict("records")
    assert (fact["deliver_line"], fact["removal_line"]) == (delivered, removed)
    assert fact["removed_by"] == "Phish ZAP" and fact["dwell_seconds"] == 2759.4
