"""Rule stories (analyzer/findings/story.py): every rule tells how its findings enter the
incident summary, in declarations that are checked where they are made."""

from __future__ import annotations

import string

import pytest

from analyzer.findings import RULES
from analyzer.findings.story import (
    INDICATORS,
    MOMENT_FIELDS,
    STEP_COMMAND_FIELDS,
    Moment,
    Role,
    Step,
    Story,
)

#: Commands the checklist may hand out: they read, they never change the tenant (and what
#: they read is piped only into commands that filter or show it).
READ_ONLY = ("Get-", "Search-", "msgtrace ", "Where-Object ", "Format-List ", "Format-Table ")


def test_every_registered_rule_declares_its_story():
    assert [r.id for r in RULES if not isinstance(r.story, Story)] == []


def test_every_rule_in_an_incident_tells_a_moment_or_says_why_not():
    silent = [r.id for r in RULES if r.story and not r.story.moments]
    # rejected rows carry no time: they are a step (fix the input), not a moment
    assert silent == ["rejected-rows"]


def test_acting_roles_are_the_things_a_taken_over_mailbox_does():
    acting = {role.text: r.id for r in RULES if r.story for role in r.story.roles if role.acts}
    assert acting == {
        "forwards mail out with an inbox rule": "external-forwarding",
        "redirects mail out": "external-forwarding",
        "sent the burst": "outbound-burst",
        "sent one subject to many outside recipients": "mass-subject",
        "sent spam out": "outbound-spam",
        "sent from an unusual IP": "rare-client-ip",
        "sent from an unusual IP other mailboxes used too": "shared-unusual-ip",
    }
    receiving = {
        role.text: role.of for r in RULES if r.story for role in r.story.roles if not role.acts
    }
    assert receiving["received a delivered phish"] == "delivered"
    assert receiving["received delivered malware"] == "delivered"


def test_every_command_is_read_only_and_quotes_nothing_itself():
    for declared in RULES:
        assert declared.story is not None
        for step in declared.story.steps:
            if step.command is None:
                continue
            for part in step.command.split("|"):
                assert part.strip().startswith(READ_ONLY), (declared.id, part)
            # the incident stage quotes every value: a template holds no quote around one
            assert "'{" not in step.command and '"{' not in step.command, step.command
            names = {n for _, n, _, _ in string.Formatter().parse(step.command) if n}
            assert names <= set(STEP_COMMAND_FIELDS), (declared.id, names)


def test_moment_counts_name_the_word_they_count():
    for declared in RULES:
        assert declared.story is not None
        for moment in declared.story.moments:
            for _, name, spec, _ in string.Formatter().parse(moment.what):
                assert name is None or name in MOMENT_FIELDS, (declared.id, name)
                if name in ("total", "count"):  # "34 sends", never a bare "34"
                    assert spec and spec[0].isalpha(), (declared.id, moment.what)
        assert set(declared.story.indicators) <= set(INDICATORS)


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda: Moment("Burst by {sender}"), "unknown values: sender"),
        (lambda: Moment("x", rows="middle"), "moment rows 'middle'"),
        (lambda: Moment("x", about="everyone"), "moment about 'everyone'"),
        (lambda: Role("x", acts=True, of="none"), "role of 'none'"),
        (lambda: Step("Check {mailbox}", "Get-Mailbox {mailbox}"), "not repeated for"),
        (lambda: Step("Check it", "Get-Mailbox {mailbox}", each="ip"), "each ip, never named"),
        (lambda: Step("Check it", "Get-X {password}"), "unknown values: password"),
        (lambda: Step("Check it", shell="cmd"), "step shell 'cmd'"),
        (lambda: Story(indicators=("password",)), "indicator 'password'"),
    ],
)
def test_a_bad_declaration_fails_at_import(bad, message):
    with pytest.raises(ValueError, match=message):
        bad()
