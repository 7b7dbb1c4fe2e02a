"""Meanings of SMTP and enhanced status codes."""

from __future__ import annotations

import pytest

from analyzer import smtp


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("5.1.1", "unknown recipient"),
        ("5.7.1", "rejected by policy"),
        ("4.4.7", "expired"),
        ("5.4.1", "access denied"),
        ("5.7.606", "banned sending IP"),
        ("5.7.708", "poor reputation"),
        ("4.4.0", "could not be reached"),
        ("4.4.1", "timed out"),
        ("4.4.2", "dropped"),
        ("5.2.2", "mailbox is full"),
        ("5.1.10", "not found in the recipient's Microsoft 365"),
        ("5.7.520", "does not allow automatic external forwarding"),
        ("5.7.750", "unregistered domains"),
    ],
)
def test_common_codes_in_plain_words(code, words):
    assert words in smtp.meaning(code)


def test_codes_in_a_range_share_their_meaning():
    assert smtp.meaning("5.7.640") == smtp.meaning("5.7.606")
    assert "sending threshold" in smtp.meaning("5.7.722")


def test_other_codes_fall_back_to_class_and_subject():
    assert smtp.meaning("5.3.9") == "permanent failure: problem with the receiving mail system"
    assert smtp.meaning("4.7.999") == (
        "temporary failure (delivery is retried): security or policy problem"
    )


def test_reply_code_alone():
    assert smtp.meaning(None, 554) == "the transaction failed"
    assert smtp.meaning(None, 599) == "permanent failure"
    assert smtp.meaning(None) is None
    assert smtp.meaning("not a code") is None
