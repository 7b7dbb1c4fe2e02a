"""Search messages the way the admin center's message trace does, offline.

A search runs over ``Chains.recipients``: one result per message per recipient, newest first
(by the time the message was received), with the admin center's criteria: sender and
recipient (``*@domain`` wildcards), time range, final status, message ids, subject text,
sending and receiving IPs and direction. Results render as a text table (safe to show on a
terminal), CSV (``analyzer.text.csv_text``: exact text behind the formula guard) or JSON
(``analyzer.text.json_text``: exact text, times ``iso_utc``). The table and the CSV show times
in the display zone (UTC unless one is asked for), each labelled; the CSV also gives the exact
time in ISO 8601 UTC.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.case import Case
from analyzer.chains import FINAL_STATUSES, Chains, build_chains
from analyzer.errors import OptionError
from analyzer.identifiers import message_id_key, message_id_text
from analyzer.text import csv_text, json_text, terminal_safe

# excel_safe's home is analyzer.text; it stays importable here for the report's browser test,
# which checks the report's CSV export against it
from analyzer.text import excel_safe as excel_safe
from analyzer.timestamps import UTC, DisplayZone, iso_utc_column

#: What a search can print: an aligned text table, CSV or JSON.
OUTPUTS = ("table", "csv", "json")
SEARCH_DIRECTIONS = ("inbound", "outbound", "internal")
#: Results the table shows when no limit is given; CSV and JSON give every result unless a
#: limit is given (0 means all, always). Any cut is announced (``SearchOutput.notes``).
DEFAULT_LIMIT = 1000

#: Columns of a result, in order: (key, heading).
RESULT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "time"),
    ("sender", "sender"),
    ("recipient", "recipient"),
    ("subject", "subject"),
    ("final_status", "final status"),
    ("status_code", "status code"),
    ("direction", "direction"),
    ("message_id", "message id"),
    ("network_message_id", "network message id"),
)


@dataclass(frozen=True)
class SearchCriteria:
    """What to look for; every criterion given must hold (several values of one: any).

    Attributes:
        senders: sender addresses or ``*@domain`` patterns (``*`` matches anything).
        recipients: recipient addresses or patterns, as for senders.
        start: only messages received at or after this time (UTC-aware).
        end: only messages received before this time.
        statuses: final statuses (``FINAL_STATUSES``).
        message_id: Internet message id (with or without ``<>``, any case).
        network_message_id: network message id (any case).
        subject: text the subject contains (any case).
        from_ip: the IP the message came from.
        to_ip: the IP it was sent to.
        direction: inbound, outbound or internal.
    """

    senders: tuple[str, ...] = ()
    recipients: tuple[str, ...] = ()
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    statuses: tuple[str, ...] = ()
    message_id: str | None = None
    network_message_id: str | None = None
    subject: str | None = None
    from_ip: str | None = None
    to_ip: str | None = None
    direction: str | None = None

    @classmethod
    def from_options(
        cls,
        *,
        senders: Iterable[str] = (),
        recipients: Iterable[str] = (),
        start: str | None = None,
        end: str | None = None,
        statuses: Iterable[str] = (),
        message_id: str | None = None,
        network_message_id: str | None = None,
        subject: str | None = None,
        from_ip: str | None = None,
        to_ip: str | None = None,
        direction: str | None = None,
    ) -> SearchCriteria:
        """Criteria from the text a user typed, checked.

        Times are ISO 8601 (``2024-03-01``, ``2024-03-01T10:00``, ``2024-03-01T10:00+02:00``),
        UTC unless an offset is given; an end given as a date alone includes that whole day.

        Raises:
            OptionError: a time, status or direction that cannot be used.
        """
        by_lower = {s.lower(): s for s in FINAL_STATUSES}
        # the admin center also offers "Getting status": a message still being traced
        by_lower["gettingstatus"] = "Pending"
        checked = []
        for status in statuses:
            name = by_lower.get(status.strip().lower().replace(" ", ""))
            if name is None:
                raise OptionError(
                    f"unknown status {status!r}; use one of: {', '.join(FINAL_STATUSES)}"
                )
            checked.append(name)
        if direction is not None and direction.lower() not in SEARCH_DIRECTIONS:
            raise OptionError(
                f"unknown direction {direction!r}; use one of: {', '.join(SEARCH_DIRECTIONS)}"
            )
        start_time = parse_time(start, "--start") if start else None
        end_time = parse_time(end, "--end", end_of_day=True) if end else None
        if start_time and end_time and end_time <= start_time:
            raise OptionError(f"--end ({end}) is not after --start ({start})")
        return cls(
            senders=tuple(s.strip() for s in senders if s.strip()),
            recipients=tuple(r.strip() for r in recipients if r.strip()),
            start=start_time,
            end=end_time,
            statuses=tuple(dict.fromkeys(checked)),
            message_id=message_id,
            network_message_id=network_message_id,
            subject=subject,
            from_ip=from_ip.strip() if from_ip else None,
            to_ip=to_ip.strip() if to_ip else None,
            direction=direction.lower() if direction else None,
        )


def parse_time(text: str, option: str = "time", *, end_of_day: bool = False) -> dt.datetime:
    """An ISO 8601 time typed by a user, as an aware UTC datetime.

    Args:
        text: ``2024-03-01``, ``2024-03-01 10:00``, ``2024-03-01T10:00:00Z``,
            ``2024-03-01T12:00+02:00``...; without an offset the time is UTC.
        option: the option's name, for the error message.
        end_of_day: a date without a time means the end of that day (midnight after it).

    Raises:
        OptionError: the text is not an ISO time.
    """
    value = text.strip()
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise OptionError(
            f"{option}: {text!r} is not an ISO 8601 time; write e.g. 2024-03-01 or "
            "2024-03-01T10:00:00 (UTC) or 2024-03-01T12:00:00+02:00"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    if end_of_day and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        parsed += dt.timedelta(days=1)
    return parsed.astimezone(dt.UTC)


def _address_mask(values: pa.ChunkedArray, patterns: Sequence[str]) -> pa.ChunkedArray:
    """Rows whose address matches any pattern (exact, case-insensitive; ``*`` is a wildcard)."""
    parts = []
    for pattern in patterns:
        regex = ".*".join(re.escape(piece) for piece in pattern.lower().split("*"))
        parts.append(f"^(?:{regex})$")
    lowered = pc.utf8_lower(pc.utf8_trim_whitespace(values))
    return pc.fill_null(pc.match_substring_regex(lowered, "|".join(parts)), False)


def _id_mask(values: pa.ChunkedArray, wanted: str) -> pa.ChunkedArray:
    return pc.fill_null(pc.equal(message_id_key(values), message_id_text(wanted)), False)


def search(chains: Chains, criteria: SearchCriteria, limit: int | None = None) -> pa.Table:
    """The recipients that match, newest first.

    Args:
        chains: the chains of the case.
        criteria: what to look for.
        limit: at most this many results (None or 0: all).

    Returns:
        Rows of ``Chains.recipients`` (``RECIPIENT_SCHEMA``), sorted by first_time
        descending, then message_key and recipient address.
    """
    table = chains.recipients
    mask = pa.chunked_array([pa.array([True] * table.num_rows, pa.bool_())])
    c = criteria

    def both(extra):
        return pc.and_(mask, extra)

    if c.senders:
        mask = both(_address_mask(table["sender_address"], c.senders))
    if c.recipients:
        mask = both(_address_mask(table["recipient_address"], c.recipients))
    if c.start is not None:
        mask = both(
            pc.fill_null(pc.greater_equal(table["first_time"], pd.Timestamp(c.start)), False)
        )
    if c.end is not None:
        mask = both(pc.fill_null(pc.less(table["first_time"], pd.Timestamp(c.end)), False))
    if c.statuses:
        mask = both(pc.is_in(table["final_status"], value_set=pa.array(list(c.statuses))))
    if c.message_id:
        mask = both(_id_mask(table["message_id"], c.message_id))
    if c.network_message_id:
        mask = both(_id_mask(table["network_message_id"], c.network_message_id))
    if c.subject:
        mask = both(
            pc.fill_null(
                pc.match_substring(table["message_subject"], c.subject, ignore_case=True), False
            )
        )
    if c.from_ip:
        mask = both(pc.fill_null(pc.equal(table["from_ip"], c.from_ip), False))
    if c.to_ip:
        mask = both(pc.fill_null(pc.equal(table["to_ip"], c.to_ip), False))
    if c.direction:
        mask = both(pc.fill_null(pc.equal(table["direction"], c.direction), False))
    found = table.filter(mask)
    order = pc.sort_indices(
        found,
        sort_keys=[
            ("first_time", "descending", "at_end"),
            ("message_key", "ascending", "at_end"),
            ("recipient_address", "ascending", "at_end"),
        ],
    )
    found = found.take(order)
    if limit:
        found = found.slice(0, limit)
    return found


#: The columns of ``Chains.recipients`` behind each result column.
_SOURCE_COLUMNS = {
    "time": "first_time",
    "sender": "sender_address",
    "recipient": "recipient_address",
    "subject": "message_subject",
    "final_status": "final_status",
    "status_code": "status_code",
    "direction": "direction",
    "message_id": "message_id",
    "network_message_id": "network_message_id",
}


def result_rows(found: pa.Table, zone: DisplayZone | None = None) -> list[dict[str, Any]]:
    """The results as dicts with the ``RESULT_COLUMNS`` keys, texts exact (missing: empty).

    Args:
        found: from ``search``.
        zone: None gives each ``time`` as ``iso_utc`` (JSON); a zone gives it as text in that
            zone, labelled (``DisplayZone.format``).
    """
    times = found["first_time"]
    columns = {
        key: (iso_utc_column(times) if zone is None else zone.format_column(times, missing=""))
        if key == "time"
        else pc.fill_null(found[source], "")
        for key, source in _SOURCE_COLUMNS.items()
    }
    return pa.table(columns).to_pylist()


# what terminal_safe makes of one character: cut before it or after it, never inside
_SHOWN_CHARACTER = re.compile(r"<U\+[0-9A-F]{4,6}>|\\x[0-9a-f]{2}|\\[tnr]|.", re.DOTALL)


def _clip(text: str, width: int) -> str:
    text = terminal_safe(text)
    if len(text) <= width:
        return text
    kept = 0
    for shown in _SHOWN_CHARACTER.finditer(text):
        if shown.end() > width - 1:
            break
        kept = shown.end()
    return text[:kept] + "…"


def _check_output(output: str) -> None:
    if output not in OUTPUTS:
        raise OptionError(f"unknown output {output!r}; use one of: {', '.join(OUTPUTS)}")


def render(
    found: pa.Table, output: str = "table", zone: DisplayZone = UTC, *, terminal: bool = False
) -> str:
    """Search results as text.

    Args:
        found: from ``search``.
        output: ``table`` (aligned text, safe on a terminal), ``csv`` or ``json``.
        zone: the zone the table and the CSV show times in (named in the heading, each time
            labelled); JSON times are always ``iso_utc``.
        terminal: the CSV goes to a terminal: hidden characters are made visible
            (``analyzer.text.csv_text``). JSON is safe anywhere as it is.

    Raises:
        OptionError: an unknown output.
    """
    _check_output(output)
    if output == "json":
        return json_text(result_rows(found))
    rows = result_rows(found, zone)
    headings = [
        f"time ({zone.name})" if key == "time" else heading for key, heading in RESULT_COLUMNS
    ]
    keys = [key for key, _ in RESULT_COLUMNS]
    if output == "csv":
        exact = iso_utc_column(found["first_time"]).to_pylist()
        return csv_text(
            [*headings, "time (ISO 8601 UTC)"],
            (
                [row[key] for key in keys] + [utc or ""]
                for row, utc in zip(rows, exact, strict=True)
            ),
            terminal=terminal,
        )
    return _table_text(rows, headings)


_TABLE_WIDTHS = {"sender": 32, "recipient": 32, "subject": 40, "message_id": 40}


def _table_text(rows: list[dict[str, Any]], headings: list[str]) -> str:
    keys = [key for key, _ in RESULT_COLUMNS]
    cells = [[_clip(str(row[key]), _TABLE_WIDTHS.get(key, 60)) for key in keys] for row in rows]
    widths = [max([len(headings[i])] + [len(line[i]) for line in cells]) for i in range(len(keys))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headings, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for line in cells:
        lines.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
    return "\n".join(lines) + "\n"


@dataclass
class SearchOutput:
    """What ``msgtrace search`` prints: the rendered results, how many there are and how many
    are shown, and notes for stderr (a cut by the limit, no result)."""

    text: str
    shown: int
    total: int
    notes: list[str] = field(default_factory=list)


def search_case(
    case: Case,
    criteria: SearchCriteria,
    *,
    output: str = "table",
    limit: int | None = None,
    zone: DisplayZone = UTC,
    terminal: bool = False,
) -> SearchOutput:
    """Build the chains of a case, search them and render the results.

    Args:
        case: the loaded case.
        criteria: what to look for.
        output: table, csv or json.
        limit: at most this many results, the newest (0: all; None: ``DEFAULT_LIMIT`` for the
            table, all for CSV and JSON). A cut is announced in the notes.
        zone: the zone the table and the CSV show times in.
        terminal: the output goes to a terminal (see ``render``).

    Raises:
        OptionError: an unknown output.
    """
    _check_output(output)
    if limit is None:
        limit = DEFAULT_LIMIT if output == "table" else 0
    found = search(build_chains(case), criteria)
    total = found.num_rows
    shown = found.slice(0, limit) if limit else found
    notes = []
    if shown.num_rows < total:
        notes.append(f"showing {shown.num_rows:,} of {total:,} results; --limit 0 for all")
    if total == 0:
        notes.append("no message matches these criteria")
    text = render(shown, output, zone, terminal=terminal)
    return SearchOutput(text, shown.num_rows, total, notes)
