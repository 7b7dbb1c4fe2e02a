"""Times of the samples: integer 100 ns ticks since 1970-01-01 UTC, and the ways exports write
them.

Exchange Online writes 7 fractional digits (100 ns ticks), so integer ticks keep every digit
exact where floats would not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

TICKS_PER_SECOND = 10_000_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ticks_of(moment: datetime) -> int:
    """Ticks of an aware datetime (a TOML time with ``Z``); its microseconds are kept."""
    if moment.tzinfo is None:
        raise ValueError(f"{moment.isoformat()} has no time zone: write it in UTC, with Z")
    return (moment - EPOCH) // timedelta(microseconds=1) * 10


def seconds(value: float) -> int:
    """A duration in seconds as ticks."""
    return round(value * TICKS_PER_SECOND)


def utc_second(t: int) -> datetime:
    """The whole second (UTC) that ``t`` falls in."""
    return EPOCH + timedelta(seconds=t // TICKS_PER_SECOND)


def unix_seconds(t: int) -> int:
    """Whole seconds since 1970 (as a Gmail 250 reply carries them)."""
    return t // TICKS_PER_SECOND


def iso7(t: int, zulu: bool = True) -> str:
    """``2026-11-16T08:15:30.1234567Z`` (extended report, enhanced summary, API)."""
    fraction = t % TICKS_PER_SECOND
    return f"{utc_second(t):%Y-%m-%dT%H:%M:%S}.{fraction:07d}" + ("Z" if zulu else "")


def iso3(t: int) -> str:
    """``2026-11-16T08:15:30.123Z`` (tracking logs, Defender)."""
    return f"{utc_second(t):%Y-%m-%dT%H:%M:%S}.{t % TICKS_PER_SECOND // 10_000:03d}Z"


def month_first(t: int) -> str:
    """``11/16/2026 8:15:30 AM``: en-US, as the EAC summary and Windows PowerShell write it."""
    d = utc_second(t)
    hour = d.hour % 12 or 12
    return f"{d.month}/{d.day}/{d.year} {hour}:{d:%M:%S} {'AM' if d.hour < 12 else 'PM'}"


def day_first(t: int) -> str:
    """``16/11/2026 08:15:30``: en-GB, as Excel re-saves a summary on a UK machine."""
    d = utc_second(t)
    return f"{d.day}/{d.month}/{d.year} {d:%H:%M:%S}"
