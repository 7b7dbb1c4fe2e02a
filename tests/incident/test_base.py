"""What every incident view reads (analyzer/incident/base.py): findings, their ids, the scope,
and each finding's facts."""

from __future__ import annotations

import pytest

from analyzer.errors import OptionError
from analyzer.incident import Investigation, investigate

from .cases import benign


def test_finding_ids_follow_the_findings_order(samples):
    assert samples.ids == [f"finding-{n}" for n in range(1, len(samples.findings) + 1)]
    assert samples.finding_ref(0) == {
        "id": "finding-1",
        "rule": samples.findings[0].rule,
        "severity": "high",
        "title": samples.findings[0].title,
    }


def test_the_scope_is_medium_and_above_by_default(samples):
    kept = [samples.findings[n].severity for n in samples.in_scope]
    assert kept and set(kept) <= {"medium", "high"}
    everything = Investigation(samples.case, samples.chains, samples.findings, "info")
    assert everything.in_scope == list(range(len(samples.findings)))
    with pytest.raises(OptionError, match="unknown severity 'urgent'"):
        investigate(benign(), min_severity="urgent")


def test_a_phish_finding_knows_its_senders_messages_and_delivered_mailboxes(samples):
    [index] = [n for n, f in enumerate(samples.findings) if f.rule == "phish-detected"]
    facts = samples.facts(index)
    assert facts.senders == ["it-support@c0ntoso.com"]
    assert facts.message_ids == ["<35A7BFA873492510@mail.c0ntoso.com>"]
    assert facts.delivered_mailboxes == [
        "grace.kim@contoso.com",
        "henry.patel@contoso.com",
        "victim@contoso.com",
    ]
    assert facts.active and facts.domains == ["c0ntoso.com"]
    assert facts is samples.facts(index)  # computed once


def test_sources_default_to_the_inputs_given(samples):
    assert samples.sources == ("samples/",)
    loose = Investigation(samples.case, samples.chains, samples.findings)
    assert loose.sources == tuple(samples.case.input_paths().values())
