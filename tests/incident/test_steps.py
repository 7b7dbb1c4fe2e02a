"""Next steps (analyzer/incident/steps.py): one checklist, each item naming the findings that
ask for it, with a ready-to-run command whose values stay quoted."""

from __future__ import annotations

import pytest
from findings.builders import Trace, tenant_baseline

from analyzer.incident import next_steps

from .cases import investigation_of, takeover
from .test_commands import powershell_literal


def _by_command(steps, start: str):
    return [s for s in steps if s.command and s.command.startswith(start)]


def test_the_samples_checklist_starts_with_the_inbox_rules_of_the_victim(samples_summary, samples):
    steps = samples_summary.next_steps
    first = steps[0]
    assert first.command.startswith("Get-InboxRule -Mailbox 'victim@contoso.com' -IncludeHidden")
    forwarding = [
        samples.ids[n] for n, f in enumerate(samples.findings) if f.rule == "external-forwarding"
    ]
    assert list(first.findings) == forwarding  # both the inbox-rule and the redirect finding
    assert first.start_ns is None  # Get-InboxRule takes no dates


def test_the_audit_log_search_covers_a_week_before_the_first_forward(samples_summary):
    [audit] = _by_command(samples_summary.next_steps, "Search-UnifiedAuditLog")[:1]
    assert audit.command == (
        "Search-UnifiedAuditLog -StartDate '2026-11-11T00:00:00.0000000Z' "
        "-EndDate '2026-11-19T00:00:00.0000000Z' -Operations "
        "New-InboxRule,Set-InboxRule,UpdateInboxRules -UserIds 'victim@contoso.com' "
        "-ResultSize 5000"
    )


def test_one_item_per_check_and_value_naming_every_finding_that_asks(samples_summary, samples):
    steps = samples_summary.next_steps
    keys = [(s.text, s.command) for s in steps]
    assert len(keys) == len(set(keys))
    [trace_sent] = _by_command(steps, "Get-MessageTraceV2 -SenderAddress 'victim@contoso.com'")
    asking = {samples.findings[samples.ids.index(i)].rule for i in trace_sent.findings}
    assert asking == {"external-forwarding", "outbound-burst"}
    commands = " ".join(s.command or "" for s in steps)
    for wanted in (
        "Get-MgAuditLogSignIn -Filter 'ipAddress eq ''203.0.113.66''",
        "Get-MessageTraceV2 -FromIP '203.0.113.66'",
        "Get-MessageTraceV2 -RecipientAddress 'x.collector.4471@gmail.com'",
        "Get-MessageTraceV2 -MessageId '<35A7BFA873492510@mail.c0ntoso.com>'",
        "| Get-MessageTraceDetailV2",
        "msgtrace mailbox victim@contoso.com samples/",
    ):
        assert wanted in commands, wanted


def test_every_recipient_of_the_delivered_phish_is_asked_about_it(samples_summary):
    asked = [s for s in samples_summary.next_steps if s.text.startswith("Ask ")]
    assert [s.text.split()[1] for s in asked] == [
        "grace.kim@contoso.com",
        "henry.patel@contoso.com",
        "victim@contoso.com",
    ]


@pytest.mark.parametrize(
    "target",
    [
        "x'; Remove-Mailbox -Identity ceo -Confirm:$false; 'y@evil.example",
        "$(Invoke-Expression 'calc')@evil.example",
        "a\u2019;Stop-Computer;\u2018b@evil.example",
    ],
)
def test_a_hostile_target_stays_inside_its_quotes(target):
    steps = next_steps(investigation_of(takeover(target=target)))
    [trace] = _by_command(steps, "Get-MessageTraceV2 -RecipientAddress ")
    value, rest = powershell_literal(trace.command[len("Get-MessageTraceV2 -RecipientAddress ") :])
    assert value == target.lower()
    assert rest.startswith(" -StartDate '") and "Remove-Mailbox" not in rest
    assert "Stop-Computer" not in rest and "Invoke-Expression" not in rest


def test_a_mailbox_with_an_apostrophe_is_quoted_for_powershell_and_for_the_shell():
    steps = next_steps(investigation_of(takeover(mailbox="o'brien@contoso.com")))
    [rules] = _by_command(steps, "Get-InboxRule")
    assert rules.command.startswith("Get-InboxRule -Mailbox 'o''brien@contoso.com' ")
    [view] = _by_command(steps, "msgtrace mailbox")
    assert view.command == "msgtrace mailbox 'o'\"'\"'brien@contoso.com' exports/"
    assert view.shell == "sh"


def test_a_value_with_a_line_break_gets_no_command_and_says_why():
    steps = next_steps(investigation_of(takeover(target="drop\n@evil.example")))
    [item] = [s for s in steps if s.text.startswith("Trace everything sent to the outside")]
    assert item.command is None and item.shell == "none"
    assert "no command: the value holds the character U+000A" in item.text


def test_a_range_longer_than_one_query_is_flagged():
    trace = takeover()
    trace.add(
        60 * 24 * 12,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice@contoso.com",
        "m9",
        related_recipient_address="drop@evil.example",
    )
    steps = next_steps(investigation_of(trace))
    [item] = [s for s in steps if s.text.startswith("Trace everything sent to the outside")]
    assert "one query covers at most 10 days: split the range" in item.text


def test_no_finding_no_step():
    trace = Trace()
    tenant_baseline(trace)
    assert next_steps(investigation_of(trace)) == []
