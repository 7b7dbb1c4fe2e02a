"""Quoting for commands (analyzer/incident/commands.py): an export value pasted into
PowerShell or a shell stays one value, whatever an attacker wrote into it."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.incident.commands import (
    POWERSHELL_SINGLE_QUOTES,
    UnsafeValue,
    command_time,
    odata_string,
    powershell_quote,
    sh_quote,
    signin_filter,
)


def powershell_literal(text: str) -> tuple[str, str]:
    """Read one single-quoted string literal at the start of ``text`` as PowerShell's
    tokenizer does (any of its four single quotes opens or closes; two in a row are one
    literal quote): the value, and what follows the literal."""
    assert text[0] in POWERSHELL_SINGLE_QUOTES, text
    value, i = [], 1
    while i < len(text):
        if text[i] in POWERSHELL_SINGLE_QUOTES:
            if i + 1 < len(text) and text[i + 1] in POWERSHELL_SINGLE_QUOTES:
                value.append(text[i])
                i += 2
                continue
            return "".join(value), text[i + 1 :]
        value.append(text[i])
        i += 1
    raise AssertionError(f"unterminated literal: {text!r}")


def odata_literal(text: str) -> tuple[str, str]:
    """Read one OData string literal (``'`` only; ``''`` is a quote)."""
    assert text[0] == "'"
    value, i = [], 1
    while i < len(text):
        if text[i] == "'":
            if text[i + 1 : i + 2] == "'":
                value.append("'")
                i += 2
                continue
            return "".join(value), text[i + 1 :]
        value.append(text[i])
        i += 1
    raise AssertionError(f"unterminated OData literal: {text!r}")


printable = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs")), max_size=40
)


@given(printable)
def test_any_printable_value_is_one_powershell_literal_that_reads_back(value):
    quoted = powershell_quote(value)
    read, rest = powershell_literal(quoted)
    assert read == value and rest == ""


@pytest.mark.parametrize(
    "value",
    [
        "o'brien@contoso.com",
        "x'; Remove-Mailbox -Identity ceo -Confirm:$false; '@evil.example",
        "$(Stop-Computer)@evil.example",
        "a\u2019$(calc)\u2018@evil.example",  # typographic quotes close strings in PowerShell
        "`$env:USERPROFILE@evil.example",
    ],
)
def test_hostile_addresses_stay_inside_their_quotes(value):
    command = f"Get-InboxRule -Mailbox {powershell_quote(value)} -IncludeHidden"
    head, _, tail = command.partition(" -Mailbox ")
    read, rest = powershell_literal(tail)
    assert head == "Get-InboxRule"
    assert read == value
    assert rest == " -IncludeHidden"  # nothing of the value is left outside the literal


@given(printable)
def test_signin_filters_read_back_through_both_quotings(value):
    quoted = signin_filter("userPrincipalName", value, 0, 86_400 * 10**9)
    text, rest = powershell_literal(quoted)
    assert rest == ""
    prefix = "userPrincipalName eq "
    assert text.startswith(prefix)
    read, tail = odata_literal(text[len(prefix) :])
    assert read == value
    assert tail == (
        " and createdDateTime ge 1970-01-01T00:00:00.0000000Z"
        " and createdDateTime le 1970-01-02T00:00:00.0000000Z"
    )


@given(printable)
def test_sh_quoting_is_one_word(value):
    assert shlex.split(f"msgtrace mailbox {sh_quote(value)} cases/x") == [
        "msgtrace",
        "mailbox",
        value,
        "cases/x",
    ]


@pytest.mark.parametrize("value", ["a\nb@x.example", "a\rb", "\x1b[2J", "a\u202eb", "a\u2028b"])
def test_a_value_no_quoting_makes_safe_is_refused(value):
    for quote in (powershell_quote, odata_string, sh_quote):
        with pytest.raises(UnsafeValue, match="holds the character U\\+"):
            quote(value)


def test_command_dates_are_iso_utc():
    assert command_time(1_794_993_125_918_258_500) == "2026-11-18T09:12:05.9182585Z"
