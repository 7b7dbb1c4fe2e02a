"""The extended report of a historical search: every transport event, every value quoted."""

from __future__ import annotations

from datetime import datetime

from ..clock import ticks_of
from ..model import Message, World
from ..transport import EXTENDED_COLUMNS
from . import csv_text, writer


def _involves(message: Message, mailbox: str) -> bool:
    """Whether a historical search for ``mailbox`` (as sender or recipient) finds it."""
    addresses = {message.sender}
    for r in message.recipients:
        addresses |= {r.address, *r.members, r.redirect_to}
    return mailbox in addresses


@writer("extended_report")
def extended_report(
    world: World,
    since: datetime | None = None,
    until: datetime | None = None,
    mailbox: str = "",
) -> str:
    """The events from ``since`` (default: the start of the data) to before ``until``; of the
    messages ``mailbox`` sent or received, when given."""
    start = ticks_of(since) if since else world.scenario.start
    end = ticks_of(until) if until else world.scenario.end
    events = [
        (event.time, n, event.row)
        for n, message in enumerate(world.messages)
        if not mailbox or _involves(message, mailbox)
        for event in message.events
        if start <= event.time < end
    ]
    events.sort(key=lambda item: (item[0], item[1]))
    rows = ([row[c] for c in EXTENDED_COLUMNS] for _, _, row in events)
    return csv_text([EXTENDED_COLUMNS, *rows], quote_all=True)
