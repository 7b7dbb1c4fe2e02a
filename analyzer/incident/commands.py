"""Ready-to-run commands: values from an export quoted so that they stay values.

An address, a subject or a message id in an export is written by whoever sent the mail, and
the checklist's commands are pasted into PowerShell sessions with admin rights. Every value
goes into a command through ``powershell_quote`` (or ``sh_quote`` for msgtrace's own
commands), never as it is:

- PowerShell: a single-quoted string expands nothing (``$(...)``, ``$var``, backticks are
  literal); its only special character is the quote itself, doubled inside. PowerShell's
  tokenizer also takes the typographic single quotes U+2018, U+2019, U+201A and U+201B for
  ``'``, so each of those is doubled as well: a value holding ``’`` cannot close the string.
- OData filters (Microsoft Graph ``-Filter``): the value is an OData string literal (quote
  doubled) inside a PowerShell single-quoted string (quotes doubled again).
- sh: ``shlex.quote``.

A value holding a control, format or separator character (a line break would end the command
line when pasted into a console; a bidirectional override would hide what it says) gets no
command at all: ``UnsafeValue``.

Dates are ISO 8601 UTC with 7 fractional digits and ``Z`` (``analyzer.timestamps.iso_utc``):
PowerShell reads that form the same on every regional setting, unlike the short dates of the
cmdlets' examples.
"""

from __future__ import annotations

import shlex
import unicodedata

from analyzer.timestamps import iso_utc

#: The characters PowerShell's tokenizer treats as a single quote.
POWERSHELL_SINGLE_QUOTES = "'\u2018\u2019\u201a\u201b"

#: Unicode categories no command value may hold: control, format, line and paragraph
#: separators, private use and unassigned code points.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cn", "Cs"})


class UnsafeValue(ValueError):
    """A value that no quoting makes safe to paste into a console."""


def check_printable(value: str) -> str:
    """The value, when it holds no character a console would act on.

    Raises:
        UnsafeValue: naming the first such character.
    """
    for character in value:
        if unicodedata.category(character) in _REFUSED_CATEGORIES:
            raise UnsafeValue(f"holds the character U+{ord(character):04X}")
    return value


def powershell_quote(value: str) -> str:
    """``value`` as a PowerShell single-quoted string literal.

    Raises:
        UnsafeValue: a control, format or separator character in the value.
    """
    check_printable(value)
    return "'" + "".join(c * 2 if c in POWERSHELL_SINGLE_QUOTES else c for c in value) + "'"


def odata_string(value: str) -> str:
    """``value`` as an OData string literal (single quotes, quotes doubled).

    Raises:
        UnsafeValue: a control, format or separator character in the value.
    """
    check_printable(value)
    return "'" + value.replace("'", "''") + "'"


def sh_quote(value: str) -> str:
    """``value`` as one POSIX shell word.

    Raises:
        UnsafeValue: a control, format or separator character in the value.
    """
    return shlex.quote(check_printable(value))


def command_time(time_ns: int) -> str:
    """A time for a cmdlet's -StartDate / -EndDate: ISO 8601 UTC (``iso_utc``)."""
    return iso_utc(time_ns) or ""


def signin_filter(field: str, value: str, start_ns: int, end_ns: int) -> str:
    """The Entra sign-in log OData filter ``field eq 'value'`` over a time range, as one
    PowerShell single-quoted string (``Get-MgAuditLogSignIn -Filter``).

    Raises:
        UnsafeValue: a control, format or separator character in the value.
    """
    text = (
        f"{field} eq {odata_string(value)} and createdDateTime ge {command_time(start_ns)} "
        f"and createdDateTime le {command_time(end_ns)}"
    )
    return powershell_quote(text)


__all__ = [
    "POWERSHELL_SINGLE_QUOTES",
    "UnsafeValue",
    "check_printable",
    "command_time",
    "odata_string",
    "powershell_quote",
    "sh_quote",
    "signin_filter",
]
