"""Export text made visible in the page: hidden characters marked, long ids breakable.

Exports carry attacker-written text. A bidi control such as U+202E RIGHT-TO-LEFT OVERRIDE
makes the recipient ``invoice\\u202efdp.exe@evil.example`` display as
``invoiceexe.pdf@evil.example``; zero-width characters make two different addresses look
alike; control characters vanish. The report shows each such character as a marker,
``⟨U+202E⟩``, in its own style (``.hidden-char``), so that it reads as a mark and never as
export text. The data keeps the exact text: the embedded JSON block, and the CSV and JSON the
page exports (except the CSV's formula guard).

This is done once for the server-rendered page and once for the page's script:

- here: the jinja2 filters ``shown`` (marked text) and ``breakable`` (marked text with a
  line-break opportunity after ``@``, ``.`` and the other separators of addresses, ids and
  paths, so that they wrap there and not in the middle of a word), and the environment's
  ``finalize``, which marks every other value a template prints (in an attribute, a page
  title), as plain text;
- ``report.js``'s text helper, which builds the same marks from ``script_words`` (the
  ranges below, the marker and the break characters, sent in the embedded data).
"""

from __future__ import annotations

import re
from typing import Any

from markupsafe import Markup, escape

from analyzer.text import HIDDEN_RANGES as TEXT_HIDDEN_RANGES

#: The characters shown as markers: the one definition of hidden characters, which the
#: terminal text and the hidden-characters finding use too.
HIDDEN_RANGES = TEXT_HIDDEN_RANGES
#: A hidden character is shown as ``MARK_BEFORE`` + its code point in hex + ``MARK_AFTER``.
MARK_BEFORE = "⟨U+"
MARK_AFTER = "⟩"
#: The tooltip of a marker.
MARK_TITLE = "a character of the export that does not show (control, invisible or bidi)"
#: Addresses, ids and paths may wrap after these characters (``<wbr>``).
BREAK_AFTER = "@./\\_-:"

HIDDEN = re.compile(
    "[" + "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in HIDDEN_RANGES) + "]"
)
_BREAKS = re.compile("[" + re.escape(BREAK_AFTER) + "]")
_PIECES = re.compile(f"({HIDDEN.pattern})")


def marker(character: str) -> str:
    """The marker of one hidden character: ``⟨U+202E⟩``."""
    return f"{MARK_BEFORE}{ord(character):04X}{MARK_AFTER}"


def mark_hidden(text: str) -> str:
    """``text`` with each hidden character replaced by its marker, as plain text."""
    if not HIDDEN.search(text):
        return text
    return HIDDEN.sub(lambda match: marker(match.group()), text)


def _escaped(text: str, breaks: bool) -> str:
    escaped = str(escape(text))
    if breaks:
        # the break characters are never changed by escaping (& < > " ' are not among them)
        escaped = _BREAKS.sub(lambda match: match.group() + "<wbr>", escaped)
    return escaped


def shown(value: Any, breaks: bool = False) -> Markup:
    """Export text for the page: escaped, each hidden character as a styled marker.

    Args:
        value: the text (anything else is shown as its ``str``).
        breaks: also allow a line break after each of ``BREAK_AFTER`` (addresses, ids,
            paths).

    Returns:
        Markup that is safe by construction: every piece of ``value`` is escaped.
    """
    if isinstance(value, Markup):
        return value
    text = "" if value is None else str(value)
    if not breaks and not HIDDEN.search(text):
        return escape(text)
    pieces = []
    for index, piece in enumerate(_PIECES.split(text)):
        if index % 2:  # the captured hidden character
            title = escape(MARK_TITLE)
            pieces.append(f'<span class="hidden-char" title="{title}">{marker(piece)}</span>')
        elif piece:
            pieces.append(_escaped(piece, breaks))
    return Markup("".join(pieces))


def breakable(value: Any) -> Markup:
    """``shown`` with line-break opportunities: for addresses, ids and paths."""
    return shown(value, breaks=True)


def finalize(value: Any) -> Any:
    """What every ``{{ }}`` of a template prints: markup as it is, text with its hidden
    characters marked (plain: it may stand in an attribute or a title), anything else as
    it is (autoescaping then escapes it)."""
    if isinstance(value, Markup) or not isinstance(value, str):
        return value
    return mark_hidden(value)


def script_words() -> dict[str, Any]:
    """What the page's script needs to mark text the same way (sent in the embedded data)."""
    return {
        "hidden_ranges": [list(bounds) for bounds in HIDDEN_RANGES],
        "hidden_marker": [MARK_BEFORE, MARK_AFTER],
        "hidden_title": MARK_TITLE,
        "break_after": BREAK_AFTER,
    }
