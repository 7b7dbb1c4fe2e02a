"""external-forwarding and sender-rewritten-relay (analyzer/findings/forwarding.py)."""

from __future__ import annotations

from .builders import EXTENDED, Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline


def test_inbox_rule_forward_outside_names_mailbox_target_and_trigger():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "trigger")
    trigger_line = trace.add(10.1, "DELIVER", "ceo@fabrikam.com", "alice@contoso.com", "trigger")
    rule_line = trace.add(
        11,
        "RECEIVE",
        "alice@contoso.com",
        "drop@evil.example",
        "copy",
        source="MAILBOXRULE",
        reference="<trigger@mail.example>",
    )
    send_line = trace.add(11.2, "SEND", "alice@contoso.com", "drop@evil.example", "copy")
    [finding] = of_rule(run(case_of(trace)), "external-forwarding")
    assert finding.severity == "high"
    assert "alice@contoso.com" in finding.title and "drop@evil.example" in finding.title
    assert finding.entities["mailbox"] == ["alice@contoso.com", "drop@evil.example"]
    assert finding.entities["domain"] == ["evil.example"]
    assert lines(finding) == {trigger_line, rule_line, send_line}
    trigger = next(e for e in finding.evidence if e.line == trigger_line)
    assert trigger.input == EXTENDED
    assert trigger.network_message_id == "trigger"
    assert trigger.time == "2024-03-01T09:10:06.0000000Z"
    assert "triggering message from ceo@fabrikam.com" in trigger.detail


@near_miss("external-forwarding")
def test_inbox_rule_forward_to_a_colleague_is_not_external_forwarding():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(10, "ceo@fabrikam.com", "alice@contoso.com", "trigger")
    trace.add(
        11,
        "RECEIVE",
        "alice@contoso.com",
        "carol@contoso.com",
        "copy",
        source="MAILBOXRULE",
        reference="<trigger@mail.example>",
    )
    trace.add(11.2, "DELIVER", "alice@contoso.com", "carol@contoso.com", "copy")
    assert of_rule(run(case_of(trace)), "external-forwarding") == []


@near_miss("sender-rewritten-relay")
def test_redirect_to_outside_address_is_external_forwarding():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(20, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "m1")
    redirect = trace.add(
        20.1,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice@contoso.com",
        "m1",
        related_recipient_address="alice.private@gmail.example",
    )
    trace.add(
        20.2,
        "SEND",
        "ceo@fabrikam.com",
        "alice.private@gmail.example",
        "m1",
        return_path="bounces+SRS=x1=fabrikam.com=ceo@contoso.com",
    )
    findings = run(case_of(trace))
    [finding] = of_rule(findings, "external-forwarding")
    assert finding.title.startswith("Mail to alice@contoso.com is redirected to outside")
    assert "alice.private@gmail.example" in finding.title
    assert lines(finding) == {redirect}
    assert finding.evidence[0].detail == "redirected to alice.private@gmail.example"
    # the relayed copy's rewritten sender is explained by the redirect: not a second finding
    assert of_rule(findings, "sender-rewritten-relay") == []


def test_redirect_rows_naming_the_new_address_first_are_read_the_same_way():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(20, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "m1")
    redirect = trace.add(
        20.1,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice.private@gmail.example",
        "m1",
        related_recipient_address="alice@contoso.com",
    )
    [finding] = of_rule(run(case_of(trace)), "external-forwarding")
    assert finding.entities["mailbox"] == ["alice.private@gmail.example", "alice@contoso.com"]
    assert finding.title.startswith("Mail to alice@contoso.com is redirected to outside")
    assert lines(finding) == {redirect}


@near_miss("external-forwarding")
def test_redirect_to_internal_address_is_not_forwarding():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(20, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "m1")
    trace.add(
        20.1,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice@contoso.com",
        "m1",
        related_recipient_address="shared@contoso.com",
    )
    trace.add(20.2, "DELIVER", "ceo@fabrikam.com", "shared@contoso.com", "m1")
    assert of_rule(run(case_of(trace)), "external-forwarding") == []


def test_outside_mail_relayed_outside_with_rewritten_sender():
    trace = Trace()
    tenant_baseline(trace)
    srs = "bounces+SRS=k3j4=fabrikam.com=ceo@contoso.com"
    trace.add(30, "RECEIVE", "ceo@fabrikam.com", "drop@gmail.example", "r1", return_path=srs)
    send = trace.add(31, "SEND", "ceo@fabrikam.com", "drop@gmail.example", "r1", return_path=srs)
    trace.mail(40, "hr@fabrikam.com", "drop@gmail.example", "r2", final="SEND", return_path=srs)
    [finding] = of_rule(run(case_of(trace)), "sender-rewritten-relay")
    assert finding.severity == "medium"
    assert "drop@gmail.example" in finding.title and "2 messages" in finding.title
    assert finding.evidence_total == 2  # one row per relayed message
    assert finding.evidence[0].network_message_id == "r1"
    assert send - 1 in lines(finding)  # the first row of r1: its RECEIVE


@near_miss("sender-rewritten-relay")
def test_rewritten_return_path_on_own_or_inbound_mail_is_no_relay():
    trace = Trace()
    tenant_baseline(trace)
    # a newsletter tool of our own with a bounce address, to outside recipients
    trace.mail(
        30,
        "news@contoso.com",
        "client@fabrikam.com",
        "n1",
        final="SEND",
        return_path="bounces@mailer.contoso.com",
    )
    # a mailing list from outside to us
    trace.mail(
        31, "list@lists.example", "alice@contoso.com", "l1", return_path="owner@lists.example"
    )
    assert of_rule(run(case_of(trace)), "sender-rewritten-relay") == []
