"""hidden-characters (analyzer/findings/deceptive_text.py): addresses and subjects that do not
display as what they are."""

from __future__ import annotations

from .builders import Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline

SPOOFED = "invoice\u202efdp.exe@evil.example"


def test_an_address_with_a_right_to_left_override_is_named_with_its_rows():
    trace = Trace()
    tenant_baseline(trace)
    received = trace.add(10, "RECEIVE", "alice@contoso.com", SPOOFED, "s1")
    sent = trace.add(10.1, "SEND", "alice@contoso.com", SPOOFED, "s1")
    from_it = trace.mail(20, SPOOFED.upper(), "bob@contoso.com", "s2")
    [finding] = [
        f for f in of_rule(run(case_of(trace)), "hidden-characters") if "Address" in f.title
    ]
    assert finding.severity == "medium"
    # the title shows the character, never the character itself (it would reorder the text)
    assert finding.title == (
        "Address invoice<U+202E>fdp.exe@evil.example carries hidden characters "
        "(U+202E RIGHT-TO-LEFT OVERRIDE)"
    )
    assert "\u202e" not in finding.title + finding.explanation
    assert "sender address of 1 message, recipient address of 1 message" in finding.explanation
    # the entity is the address itself, as the data has it (any case: one address)
    assert finding.entities == {"mailbox": [SPOOFED], "domain": ["evil.example"]}
    assert lines(finding) == {received, sent, from_it - 1, from_it}
    assert finding.evidence_total == 4
    assert {e.detail for e in finding.evidence} == {"recipient address", "sender address"}


def test_zero_width_and_control_characters_in_subjects_are_one_low_finding():
    trace = Trace()
    tenant_baseline(trace)
    first = trace.mail(
        10,
        "it@fabrikam.example",
        "alice@contoso.com",
        "z1",
        message_subject="Pass\u200bword expires today",
    )
    second = trace.mail(
        11, "it@fabrikam.example", "bob@contoso.com", "z2", message_subject="Re: invoice\x1b[2J"
    )
    [finding] = of_rule(run(case_of(trace)), "hidden-characters")
    assert finding.severity == "low"
    assert finding.title == (
        "2 subjects of 2 messages carry hidden characters "
        "(U+200B ZERO WIDTH SPACE, U+001B control character)"
    )
    assert '"Pass<U+200B>word expires today"; "Re: invoice\\x1b[2J"' in finding.explanation
    assert finding.entities == {"mailbox": ["it@fabrikam.example"], "domain": ["fabrikam.example"]}
    assert lines(finding) == {first - 1, first, second - 1, second}
    assert finding.evidence[0].detail == "subject Pass<U+200B>word expires today"


def test_one_subject_is_named_in_the_title():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(10, "x@bad.example", "alice@contoso.com", "r1", message_subject="\u202efdp.exe")
    [finding] = of_rule(run(case_of(trace)), "hidden-characters")
    assert finding.title == (
        'Subject "<U+202E>fdp.exe" carries hidden characters (U+202E RIGHT-TO-LEFT OVERRIDE)'
    )


def test_a_forward_target_with_a_zero_width_space_is_named():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "ceo@fabrikam.com", "alice@contoso.com", "f1")
    redirect = trace.add(
        10.1,
        "REDIRECT",
        "ceo@fabrikam.com",
        "alice@contoso.com",
        "f1",
        related_recipient_address="alice\u200b@gmail.example",
    )
    findings = of_rule(run(case_of(trace)), "hidden-characters")
    [finding] = [f for f in findings if "alice<U+200B>@gmail.example" in f.title]
    assert lines(finding) == {redirect}
    assert finding.evidence[0].detail == "related recipient (forward, redirect or group)"


@near_miss("hidden-characters")
def test_accents_other_scripts_idn_and_emoji_are_not_hidden_characters():
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(
        10,
        "jürgen@müller.example",
        "alice@contoso.com",
        "n1",
        message_subject="Überweisung fällig ✔️ 請求書 🎉",
    )
    trace.mail(
        11,
        "info@xn--mller-kva.example",
        "alice@contoso.com",
        "n2",
        message_subject="Rechnung – Nr. 4471\u00a0(neu)",
    )
    assert of_rule(run(case_of(trace)), "hidden-characters") == []


@near_miss("hidden-characters")
def test_a_line_break_or_tab_in_a_subject_is_a_folded_header_not_a_trick():
    # exports keep the line breaks of a folded Subject header (a multi-line quoted CSV field)
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(
        10,
        "alice@contoso.com",
        "bob@contoso.com",
        "f1",
        message_subject="Meeting notes\r\nAction items\tfor Thursday",
    )
    assert of_rule(run(case_of(trace)), "hidden-characters") == []
    # in an address a line break is never legitimate
    trace.mail(11, "alice@contoso.com", "bob\n@contoso.com", "f2")
    [finding] = of_rule(run(case_of(trace)), "hidden-characters")
    assert finding.title.startswith("Address bob\\n@contoso.com")
