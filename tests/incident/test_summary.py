"""The incident summary (analyzer/incident/summary.py): affected mailboxes ranked by what the
evidence says, one timeline, one checklist; JSON and text."""

from __future__ import annotations

import json
import re

from findings.builders import Trace, case_of, tenant_baseline

from analyzer.incident import Investigation, incident_summary, investigate, summary_text
from analyzer.timestamps import DisplayZone

from .cases import benign, investigation_of, takeover

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")


def test_the_victim_leads_with_what_it_did_then_what_it_received(samples_summary):
    first, *others = samples_summary.mailboxes
    assert first.address == "victim@contoso.com"
    assert [r.text for r in first.roles] == [
        "forwards mail out with an inbox rule",
        "redirects mail out",
        "sent the burst",
        "sent from an unusual IP",
        "received mail from a look-alike domain",
        "received a delivered phish",
    ]
    assert [r.acts for r in first.roles] == [True] * 4 + [False] * 2
    # the two other recipients of the phish only received it
    assert [m.address for m in others] == ["grace.kim@contoso.com", "henry.patel@contoso.com"]
    assert all(not m.acts for m in others)


def test_the_victim_is_named_by_all_five_high_findings(samples_summary, samples):
    [victim] = [m for m in samples_summary.mailboxes if m.address == "victim@contoso.com"]
    high = [samples.ids[n] for n, f in enumerate(samples.findings) if f.severity == "high"]
    assert len(high) == 5
    assert set(high) <= {ref["id"] for ref in victim.findings}
    assert victim.to_json()["first_seen"] == "2026-11-18T09:12:04.0000000Z"  # the phish
    assert victim.to_json()["last_seen"].startswith("2026-11-18T11:10:59")  # the burst's end


def test_json_shape_and_times(samples_summary):
    data = samples_summary.to_json()
    assert set(data) == {"scope", "headline", "mailboxes", "timeline", "next_steps"}
    assert data["scope"] == {"min_severity": "medium", "findings_in_scope": 7, "findings": 12}
    mailbox = data["mailboxes"][0]
    assert {"address", "role", "findings", "first_seen", "last_seen", "counts"} <= set(mailbox)
    assert {"id", "rule", "severity", "title"} == set(mailbox["findings"][0])
    assert {"time", "what", "mailbox", "rule", "evidence"} <= set(data["timeline"][0])
    assert {"input", "line"} <= set(data["timeline"][0]["evidence"][0])
    assert {"text", "command", "findings"} <= set(data["next_steps"][0])
    times = [m["first_seen"] for m in data["mailboxes"]] + [e["time"] for e in data["timeline"]]
    assert times and all(ISO.match(t) for t in times)


def test_text_labels_its_times_and_follows_the_display_zone(samples_summary):
    utc = summary_text(samples_summary)
    assert "All times are UTC." in utc
    assert "2026-11-18 09:12:04 UTC  [phish-detected] Phish from c0ntoso.com received" in utc
    assert "PS> Get-InboxRule -Mailbox 'victim@contoso.com' -IncludeHidden" in utc
    paris = summary_text(samples_summary, DisplayZone("Europe/Paris"))
    assert "2026-11-18 10:12:04 CET  [phish-detected]" in paris
    # commands stay UTC whatever the display zone
    assert "-StartDate '2026-11-11T00:00:00.0000000Z'" in paris


def test_a_benign_case_gives_an_empty_summary_that_says_so():
    summary = incident_summary(investigate(benign()))
    assert (summary.mailboxes, summary.timeline, summary.next_steps) == ((), (), ())
    assert summary.headline == (
        "No finding of medium severity or above: nothing in this data points to an incident."
    )
    text = summary_text(summary)
    assert text.startswith(summary.headline) and "Affected mailboxes (0)" in text


def test_findings_below_the_scope_are_counted_in_the_headline():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(
        30,
        "x@bad.example",
        "alice@contoso.com",
        "spam1",
        custom_data="S:SFA=SUM|SFV=SPM|SCL=9|DI=SQ",
    )
    summary = incident_summary(investigation_of(trace))
    assert summary.mailboxes == ()
    assert summary.headline.endswith("2 findings below it (msgtrace findings lists them).")


def test_a_mailbox_that_acts_ranks_above_one_that_received_more():
    trace = takeover(mailbox="alice@contoso.com")
    for n in range(3):  # carol receives three delivered phish
        trace.mail(
            300 + n,
            "it@c0ntoso.example",
            "carol@contoso.com",
            f"phish{n}",
            custom_data="S:SFA=SUM|SFV=SPM|SCL=5|DI=SN|CAT=PHSH",
        )
    summary = incident_summary(investigation_of(trace))
    assert [m.address for m in summary.mailboxes] == ["alice@contoso.com", "carol@contoso.com"]
    assert summary.mailboxes[1].role == "received a delivered phish"


def test_hostile_text_is_made_terminal_safe():
    summary = incident_summary(investigation_of(takeover(target="drop\x1b[2J@evil.example")))
    text = summary_text(summary)
    assert "\x1b" not in text and "drop\\x1b[2j@evil.example" in text  # lower-cased key
    # JSON keeps the value as written (its encoder escapes the control character)
    assert "drop\\u001b[2j@evil.example" in json.dumps(summary.to_json())


def test_same_inputs_give_identical_summaries(samples):
    again = Investigation(samples.case, samples.chains, samples.findings, sources=("samples/",))
    first = json.dumps(incident_summary(samples).to_json())
    assert json.dumps(incident_summary(again).to_json()) == first
    rebuilt = investigate(case_of(takeover()), sources=("exports/",))
    twice = investigate(case_of(takeover()), sources=("exports/",))
    assert summary_text(incident_summary(rebuilt)) == summary_text(incident_summary(twice))
