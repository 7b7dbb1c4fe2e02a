"""The extended report of a historical search: every transport event, every value quoted."""

from __future__ import annotations

from datetime import datetime

from ..clock import ticks_of
from ..model import World
from ..transport import EXTENDED_COLUMNS
from . import csv_text, writer


@writer("extended_report")
def extended_report(
    world: World, since: datetime | None = None, until: datetime | None = None
) -> str:
    """The events from ``since`` (default: the start of the data) to before ``until``."""
    start = ticks_of(since) if since else world.scenario.start
    end = ticks_of(until) if until else world.scenario.end
    events = [
        (event.time, n, event.row)
        for n, message in enumerate(world.messages)
        for event in message.events
        if start <= event.time < end
    ]
    events.sort(key=lambda item: (item[0], item[1]))
    rows = ([row[c] for c in EXTENDED_COLUMNS] for _, _, row in events)
    return csv_text([EXTENDED_COLUMNS, *rows], quote_all=True)
