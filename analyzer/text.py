"""Text for people and files: export values made safe to show, one CSV and one JSON writer for
every command, and the text of ``msgtrace chain``.

Export values are attacker-written text. What each output gets:

- **Terminal text** (tables, findings, chain, inspect, verify, ingest messages, file names in
  messages and errors) goes through ``terminal_safe``: control characters show as ``\\x1b``,
  ``\\n``, ``\\t``; bidirectional controls, zero-width and other invisible characters
  (``HIDDEN_RANGES``) as ``<U+202E>``. Nothing an export holds can move the cursor, rewrite a
  line, fake a line of output or reorder what is shown.
- **CSV** (``csv_text``) keeps the exact text, every field quoted, with one documented
  change, the formula guard (``excel_safe``): Excel and LibreOffice never run a cell as a
  formula, even when they split on ``;`` or tab instead of ``,``.
- **JSON** (``json_text``) keeps the exact text: a parser reads back every value as it was.
  Control, bidi and invisible characters are written as ``\\u`` escapes, so the same bytes
  are safe on a terminal and in a file.

Everything here formats; nothing decides. ``format_chain_text`` prints the model of one
message that ``analyzer.chains.message_chain`` computes (lineage order, gaps, relation words),
with times and durations from ``analyzer.timestamps``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from analyzer.chains.message import RELATED_RECIPIENT_WORDS
from analyzer.timestamps import UTC, DisplayZone, duration_text

#: Control characters: C0 (NUL, line breaks, ESC, which starts the sequences a terminal
#: obeys), DEL and C1 (U+009B is an 8-bit ESC [ to some terminals).
CONTROL_RANGES: tuple[tuple[int, int], ...] = ((0x00, 0x1F), (0x7F, 0x9F))
#: Bidirectional controls: they reorder the text around them, so that
#: ``invoice<U+202E>fdp.exe@evil.example`` displays as ``invoiceexe.pdf@evil.example``.
BIDI_RANGES: tuple[tuple[int, int], ...] = (
    (0x061C, 0x061C),  # ARABIC LETTER MARK
    (0x200E, 0x200F),  # LEFT-TO-RIGHT MARK, RIGHT-TO-LEFT MARK
    (0x202A, 0x202E),  # embeddings and overrides, POP DIRECTIONAL FORMATTING
    (0x2066, 0x2069),  # isolates
)
#: Characters that show as nothing, or as blank space, in most fonts: zero-width spaces and
#: joiners, the soft hyphen, word joiners and invisible operators, deprecated format
#: controls, the BOM, Hangul fillers (blank "letters"), annotation controls and the tag
#: characters (invisible copies of ASCII), and the line and paragraph separators.
INVISIBLE_RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200D),
    (0x2028, 0x2029),
    (0x2060, 0x2064),
    (0x206A, 0x206F),
    (0x3164, 0x3164),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF9, 0xFFFB),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE007F),
)
#: Every character ``terminal_safe`` shows by name and the ``hidden-characters`` finding
#: looks for.
HIDDEN_RANGES = CONTROL_RANGES + BIDI_RANGES + INVISIBLE_RANGES


def _character_class(ranges: Iterable[tuple[int, int]], escape: str) -> str:
    parts = []
    for first, last in ranges:
        parts.append(
            escape.format(first)
            if first == last
            else f"{escape.format(first)}-{escape.format(last)}"
        )
    return "[" + "".join(parts) + "]"


_HIDDEN = re.compile(_character_class(HIDDEN_RANGES, "\\U{:08x}"))
#: ``HIDDEN_RANGES`` as an RE2 character class, for ``pyarrow.compute`` regex functions.
HIDDEN_REGEX = _character_class(HIDDEN_RANGES, "\\x{{{:X}}}")
#: ``HIDDEN_REGEX`` without tab, line feed and carriage return: what hides in a subject (a
#: subject may hold line breaks, from a folded header the export did not unfold; they are
#: still shown visibly on a terminal, but they are not a trick).
SUBJECT_HIDDEN_REGEX = _character_class(
    ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), *HIDDEN_RANGES[1:]), "\\x{{{:X}}}"
)
#: The same without the control characters: what JSON writes as escapes besides the C0
#: controls that ``json.dumps`` escapes itself.
_JSON_ESCAPED = re.compile(
    _character_class(((0x7F, 0x9F), *BIDI_RANGES, *INVISIBLE_RANGES), "\\U{:08x}")
)
_NAMED_CONTROLS = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}

#: The legend printed under ``msgtrace chain``'s text.
CHAIN_TEXT_LEGEND = (
    "Legend: * time is the message's receive time (the export has no time per event); "
    "~ repeats a fact another export gives with its own time (kept as evidence); "
    "+15 min marks a gap of 5 minutes or more since the previous event."
)
#: The longest status shown in its own column; longer ones push the provenance right.
STATUS_COLUMN_WIDTH = 48
_NO_TIME = "(no time)"


def _visible(character: str) -> str:
    code = ord(character)
    if character in _NAMED_CONTROLS:
        return _NAMED_CONTROLS[character]
    if code <= 0x9F:
        return f"\\x{code:02x}"
    return f"<U+{code:04X}>"


def terminal_safe(text: str, *, line_breaks: bool = False) -> str:
    """Text made safe to show on a terminal: every hidden character made visible.

    Export values are untrusted: a subject may hold escape sequences (ESC ``[2J``...) that a
    terminal would obey, line breaks that would fake a line of output, or bidi controls and
    zero-width characters that make an address display as another. Control characters show
    as ``\\t``, ``\\n``, ``\\r`` or ``\\xNN``; the others of ``HIDDEN_RANGES`` as
    ``<U+202E>``. Any other text (accents, CJK, emoji) is left alone. Applying it twice
    changes nothing more.

    Args:
        text: any text.
        line_breaks: keep ``\\n`` as a line break: for text whose lines msgtrace composed
            itself (a message, a rendered table), each of them already safe.

    Returns:
        The text with no hidden character left.
    """

    def visible(match: re.Match[str]) -> str:
        character = match.group()
        return character if line_breaks and character == "\n" else _visible(character)

    return _HIDDEN.sub(visible, text)


def hidden_characters(text: str) -> list[str]:
    """The distinct hidden characters (``HIDDEN_RANGES``) of a text, by Unicode name in order
    of appearance: ``["U+202E RIGHT-TO-LEFT OVERRIDE"]``."""
    seen = dict.fromkeys(_HIDDEN.findall(text))
    return [f"U+{ord(c):04X} {unicodedata.name(c, 'control character')}" for c in seen]


# ----------------------------------------------------------------------------- CSV and JSON

#: What starts a formula in Excel or LibreOffice (``'`` is guarded too, so that the guard can
#: be taken off exactly: see ``excel_safe``).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# a field starts at the start of a cell, or after ; tab CR LF for a reader that splits on
# ; or tab (it does not see our quoting the way a reader splitting on , does), possibly after
# spaces and quotes
_FIELD_START_FORMULA = re.compile(r"(?:^|(?<=[;\t\r\n]))(?=[ \"]*[=+\-@\t\r'])")


def excel_safe(value: str) -> str:
    """A cell text that Excel and LibreOffice show as text, never run as a formula.

    Export values are untrusted: a subject such as ``=HYPERLINK("http://x","click")`` would
    be a live formula in a spreadsheet. A cell gets a ``'`` before its first character when,
    after any spaces and double quotes, that is one of ``= + - @``, a tab, a carriage return
    or ``'``; so does each place right after a ``;``, a tab, a carriage return or a line feed
    inside the cell, because a spreadsheet that splits on ``;`` or tab starts a cell there
    (``Invoice;=1+1`` becomes ``Invoice;'=1+1``). The guard is exactly reversible: remove one
    ``'`` at the start of the cell and right after each ``;``, tab, CR and LF where there is
    one, and the exact text is back.

    Args:
        value: the cell text.

    Returns:
        The text with the guard.
    """
    return _FIELD_START_FORMULA.sub("'", value) if value else value


def _cell(value: Any, terminal: bool) -> str:
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)  # a number msgtrace counted, never export text
    text = str(value)
    return excel_safe(terminal_safe(text) if terminal else text)


def csv_text(
    headings: Sequence[str], rows: Iterable[Sequence[Any]], *, terminal: bool = False
) -> str:
    """The CSV every command writes: a heading row, every field quoted, CRLF line ends, every
    text cell behind the formula guard (``excel_safe``), numbers as they are, None empty.

    Args:
        headings: the column names.
        rows: the rows, one value per heading.
        terminal: the CSV is shown on a terminal, not written to a file or a pipe: hidden
            characters are made visible (``terminal_safe``) before the guard.

    Returns:
        The CSV text (no byte order mark).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([_cell(h, terminal) for h in headings])
    for row in rows:
        writer.writerow([_cell(value, terminal) for value in row])
    return buffer.getvalue()


def _json_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_text(data: Any) -> str:
    """The JSON every command writes: indented, UTF-8 text kept readable, and every control,
    bidi and invisible character (``HIDDEN_RANGES``) written as a ``\\u`` escape, so the
    exact value reads back and nothing hidden reaches a terminal. Ends with a line break."""
    text = json.dumps(data, indent=2, ensure_ascii=False)
    # outside its strings JSON is ASCII: every match is inside a string, where an escape
    # stands for the same character
    return _JSON_ESCAPED.sub(_json_escape, text) + "\n"


# ----------------------------------------------------------------------------- chain text


def _status(event: dict[str, Any]) -> str:
    """The event's status, with its related recipient (no arrow: as Exchange logs
    EXPAND/REDIRECT the related address is the parent, but some exports write it the other
    way round)."""
    status = event["status"] or ""
    if event["related_recipient"]:
        status = f"{status} ({RELATED_RECIPIENT_WORDS} {event['related_recipient']})".strip()
    return status


class _Columns:
    """Widths of the timeline columns, the same for every timeline of one message, and the zone
    its times are shown in (zone abbreviations differ in length: CET, CEST)."""

    def __init__(self, events: list[dict[str, Any]], zone: DisplayZone) -> None:
        self.zone = zone
        self.time = max([len(zone.format_ms(e["time"], missing="")) for e in events], default=0)
        self.time = max(self.time, len(_NO_TIME))
        self.event_id = max([len(e["event_id"] or "STATUS") for e in events], default=0)
        self.source = max([len(e["source"] or "") for e in events], default=0)
        statuses = [len(_status(e)) for e in events]
        self.status = min(max(statuses, default=0), STATUS_COLUMN_WIDTH)

    def time_text(self, value: str | None) -> str:
        """A time of the model as ``2024-03-01 10:00:01.234 UTC``, padded to the column."""
        return (self.zone.format_ms(value, missing="") or _NO_TIME).ljust(self.time)

    def line(self, event: dict[str, Any]) -> str:
        """One event: marker, time, basis, event id, source, status, provenance."""
        marker = " " if event["in_timeline"] else "~"
        basis = "*" if event["time_basis"] == "message" else " "
        what = (event["event_id"] or "STATUS").ljust(self.event_id)
        source = (event["source"] or "").ljust(self.source)
        status = _status(event).ljust(self.status)
        where = f"{event['input']}:{event['line']}" if event["line"] is not None else event["input"]
        return (
            f"{marker}{self.time_text(event['time'])}{basis} {what} {source} {status}"
            f"  [{event['report_type']}, {where}]"
        ).rstrip()


def _recipient_lines(recipient: dict[str, Any], columns: _Columns) -> list[str]:
    lineage = ""
    if recipient["parent"]:
        lineage = f" ({recipient['relation_words']} {recipient['parent']})"
    lines = [
        f"Recipient {recipient['address'] or '(none)'}{lineage}: {recipient['final_status']}"
        f" - {recipient['status_meaning']}"
    ]
    if recipient["smtp_reply"]:
        lines.append(f"  SMTP reply: {recipient['smtp_reply']}")
    facts = [f"direction {recipient['direction']}"]
    if recipient["final_status"] == "Pending" or recipient["duration_seconds"] is None:
        facts.append("no final event in the data")
    else:
        facts.append(f"{duration_text(recipient['duration_seconds'])} from receipt to final event")
    if recipient["deferral_count"]:
        facts.append(
            f"{recipient['deferral_count']} deferral(s), "
            f"{duration_text(recipient['deferral_seconds'])} in all"
        )
    if recipient["join_key"] != "network_message_id":
        facts.append(f"joined by {recipient['join_key']}")
    lines.append("  " + "; ".join(facts))
    verdicts = recipient["verdicts"]
    shown = [
        f"{name.upper() if name != 'malware_name' else 'malware'}={verdicts[name]}"
        for name in ("sfv", "scl", "pcl", "di", "country", "malware_name")
        if verdicts[name] is not None
    ]
    if shown:
        lines.append("  Verdicts: " + " ".join(shown))
    lines.extend(f"  Transport rule: {rule}" for rule in verdicts["transport_rules"])
    if recipient["conflict"]:
        lines.append(f"  CONFLICT: {recipient['conflict']}")
    lines.append(f"  Timeline ({columns.zone.name}):")
    lines.extend(_timeline_lines(recipient["events"], columns))
    if not recipient["events"]:
        lines.append("    (no events for this recipient in the data)")
    return lines


def _timeline_lines(events: list[dict[str, Any]], columns: _Columns) -> list[str]:
    """The events, with a mark before each notable gap (5 minutes or more)."""
    lines = []
    for event in events:
        if event["gap_level"]:
            lines.append(f"     +{duration_text(event['gap_seconds'])}")
        lines.append("    " + columns.line(event))
    return lines


def format_chain_text(chain: dict[str, Any], zone: DisplayZone = UTC) -> str:
    """The text of ``msgtrace chain``: the message, then one block per recipient.

    Args:
        chain: ``analyzer.chains.message_chain`` of the message.
        zone: the zone times are shown in (``--display-tz``), each labelled.

    Returns:
        Text safe to print (``terminal_safe``): recipients in lineage order (a parent before
        its children), each with its timeline (columns aligned for the whole message), then
        related messages.
    """
    recipients = sorted(chain["recipients"], key=lambda r: r["order"])
    every_event = [e for r in recipients for e in r["events"]] + chain["message_events"]
    columns = _Columns(every_event, zone)
    lines = [
        f"Message {chain['network_message_id'] or chain['message_key']}",
        f"  Internet message id: {chain['message_id'] or '-'}",
        f"  Sender:              {chain['sender'] or '-'}",
        f"  Subject:             {chain['subject'] or '-'}",
        f"  First seen:          {columns.time_text(chain['first_time']).rstrip()}",
        f"  Direction:           {chain['direction']}",
        f"  Final statuses:      {chain['statuses']}",
    ]
    for recipient in recipients:
        lines.append("")
        lines.extend(_recipient_lines(recipient, columns))
    if chain["message_events"]:
        lines.append("")
        lines.append("Rows about no recipient:")
        lines.extend(_timeline_lines(chain["message_events"], columns))
    if chain["related_messages"]:
        lines.append("")
        lines.append("Related messages:")
        for related in chain["related_messages"]:
            name = related["network_message_id"] or related["message_key"] or related["reference"]
            subject = f' "{related["subject"]}"' if related["subject"] else ""
            lines.append(f"  {related['words']} {name}{subject}")
    return "\n".join(terminal_safe(line) for line in lines) + "\n"
