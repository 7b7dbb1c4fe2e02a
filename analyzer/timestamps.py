"""Timestamps of every export, parsed vectorized into UTC Arrow timestamps (ns precision).

Two families are read:

- ISO 8601 with up to 9 fractional digits (Exchange writes 7), with ``Z``, an offset or no zone
  (``2022-09-05T18:10:13.4907658``: the Reporting web service omits the ``Z`` but means UTC,
  so ISO times without a zone are UTC);
- locale dates from summary downloads and en-US / other-locale PowerShell:
  ``9/27/2022 10:15:30 AM``, ``27/09/2022 10:15:30``, ``27.09.2022 10:15``. Whether the day
  or the month comes first is decided per column: one value with a first number above 12
  means day-first, one with a second number above 12 means month-first; when no value decides,
  month-first is assumed with a warning unless the user said ``--dayfirst``/``--monthfirst``.
  These carry no zone: they are read in ``--input-tz`` (UTC unless told otherwise). A time
  the zone skips when its clocks go forward is rejected (it never happened there); a time it
  repeats when they go back is read as the first occurrence, with a warning
  (``local_time_issues``).

Unparseable values become null; the caller rejects those rows with the value in the reason.

This module is also the one place that formats times and durations for people and for JSON:
``iso_utc`` (every JSON time of every command: ISO 8601 UTC, 7 fractional digits, ``Z``, as
the exports carry them), ``DisplayZone`` (times on screen and paper, labelled with their zone)
and ``duration_text`` (``46 min 15 s``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import TIMESTAMP

ISO_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}([.,]\d{1,9})?)?\s*(Z|z|[+-]\d{2}:?\d{2})?$"
ZONE_PATTERN = r"(Z|z|[+-]\d{2}:?\d{2})$"
LOCALE_PATTERN = (
    r"^(?P<first>\d{1,2})[/.\-](?P<second>\d{1,2})[/.\-](?P<year>\d{4})[ T,]+"
    r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second_of_minute>\d{2})"
    r"(?:[.,](?P<fraction>\d{1,9}))?)?\s*(?P<meridiem>[AaPp]\.?[Mm]\.?)?$"
)


@dataclass(frozen=True)
class DayOrder:
    """What the values of a locale-formatted column say about day/month order."""

    day_first: bool  # some value has a first number above 12
    month_first: bool  # some value has a second number above 12
    locale_values: bool  # the column holds locale-formatted values at all

    @property
    def decided(self) -> bool:
        return self.day_first != self.month_first


def day_order(values: pa.Array) -> DayOrder:
    """Evidence in ``values`` for day-first or month-first locale dates."""
    values = pc.utf8_trim_whitespace(values)
    parts = pc.extract_regex(values, LOCALE_PATTERN)
    valid = pc.is_valid(parts)
    if not pc.any(valid).as_py():
        return DayOrder(False, False, False)
    first = pc.cast(pc.struct_field(parts, "first"), pa.int32(), safe=False)
    second = pc.cast(pc.struct_field(parts, "second"), pa.int32(), safe=False)
    return DayOrder(
        bool(pc.any(pc.greater(first, 12)).as_py()),
        bool(pc.any(pc.greater(second, 12)).as_py()),
        True,
    )


def _parse_iso(values: pa.Array) -> pa.Array:
    """ISO 8601 strings to timestamp[ns, UTC]; non-ISO or invalid values become null."""
    is_iso = pc.fill_null(pc.match_substring_regex(values, ISO_PATTERN), False)
    text = pc.if_else(is_iso, values, pa.nulls(len(values), pa.string()))
    text = pc.replace_substring_regex(text, r",(\d)", r".\1")  # 10:15:30,123 -> 10:15:30.123
    text = pc.replace_substring_regex(text, r"\s+(Z|z|[+-]\d)", r"\1")
    text = pc.replace_substring(text, "z", "Z")
    zoned = pc.fill_null(pc.match_substring_regex(text, ZONE_PATTERN), False)
    naive_text = pc.if_else(zoned, pa.nulls(len(text), pa.string()), text)
    zoned_text = pc.if_else(zoned, text, pa.nulls(len(text), pa.string()))
    naive = _cast_or_coerce(naive_text, pa.timestamp("ns")).cast(TIMESTAMP)
    if not pc.any(zoned).as_py():
        return naive
    with_zone = _cast_or_coerce(
        pc.replace_substring_regex(zoned_text, r"([+-]\d{2})(\d{2})$", r"\1:\2"), TIMESTAMP
    )
    return pc.if_else(zoned, with_zone, naive)


def _cast_or_coerce(text: pa.Array, target: pa.DataType) -> pa.Array:
    """Cast strings to timestamps; a value Arrow refuses (e.g. month 13) becomes null."""
    try:
        return pc.cast(text, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        import pandas as pd

        series = pd.to_datetime(
            pd.Series(text.to_pandas(), dtype=object),
            errors="coerce",
            format="ISO8601",
            utc=target.tz is not None,
        )
        result = pa.array(series, from_pandas=True)
        if target.tz is None and isinstance(result.type, pa.TimestampType) and result.type.tz:
            result = result.cast(pa.timestamp("ns", "UTC")).cast(pa.timestamp("ns"))
        return result.cast(target)


def _int_field(parts: pa.StructArray, name: str, default: int = 0) -> np.ndarray:
    field = pc.struct_field(parts, name)
    ints = pc.cast(
        pc.if_else(pc.equal(field, ""), pa.scalar(None, pa.string()), field), pa.int64(), safe=False
    )
    return pc.fill_null(ints, default).to_numpy(zero_copy_only=False)


def _parse_locale(values: pa.Array, dayfirst: bool, input_tz: str) -> pa.Array:
    """Locale date strings to timestamp[ns, UTC]; invalid values become null, and so do
    times that do not exist in ``input_tz`` (see ``local_time_issues``)."""
    naive = _locale_naive(values, dayfirst)
    if input_tz.upper() == "UTC" or naive.null_count == len(naive):
        return naive.cast(TIMESTAMP)
    return _localize(naive, input_tz)[0]


def _locale_naive(values: pa.Array, dayfirst: bool) -> pa.Array:
    """Locale date strings to wall-clock times (naive timestamp[ns]); others become null."""
    parts = pc.extract_regex(values, LOCALE_PATTERN)
    matched = pc.is_valid(parts).to_numpy(zero_copy_only=False)
    if not matched.any():
        return pa.nulls(len(values), pa.timestamp("ns"))
    first = _int_field(parts, "first")
    second = _int_field(parts, "second")
    day, month = (first, second) if dayfirst else (second, first)
    year = _int_field(parts, "year", 1970)
    hour = _int_field(parts, "hour")
    minute = _int_field(parts, "minute")
    seconds = _int_field(parts, "second_of_minute")
    fraction_text = pc.fill_null(pc.struct_field(parts, "fraction"), "")
    fraction = _int_field(
        pa.StructArray.from_arrays(
            [pc.utf8_rpad(pc.if_else(pc.equal(fraction_text, ""), "0", fraction_text), 9, "0")],
            ["fraction"],
        ),
        "fraction",
    )
    meridiem = pc.utf8_lower(pc.fill_null(pc.struct_field(parts, "meridiem"), ""))
    pm = pc.starts_with(meridiem, "p").to_numpy(zero_copy_only=False)
    am = pc.starts_with(meridiem, "a").to_numpy(zero_copy_only=False)
    has_meridiem = pm | am
    hour = np.where(pm & (hour < 12), hour + 12, np.where(am & (hour == 12), 0, hour))
    ok = (
        matched
        & (month >= 1)
        & (month <= 12)
        & (day >= 1)
        & (day <= 31)
        & (minute < 60)
        & (seconds < 61)
        & np.where(has_meridiem, (first > 0), True)
        & (hour < 24)
    )
    months = (year - 1970) * 12 + np.clip(month, 1, 12) - 1
    month_start = months.astype("datetime64[M]").astype("datetime64[D]")
    date = month_start + (np.clip(day, 1, 31) - 1).astype("timedelta64[D]")
    ok &= date.astype("datetime64[M]") == month_start.astype("datetime64[M]")  # e.g. 31/02
    stamps = (
        date.astype("datetime64[ns]")
        + (hour * 3600 + minute * 60 + np.minimum(seconds, 59)).astype("timedelta64[s]")
        + fraction.astype("timedelta64[ns]")
    )
    return pa.array(stamps.astype("int64"), pa.int64(), mask=~ok).cast(pa.timestamp("ns"))


def _localize(naive: pa.Array, zone: str) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """Wall-clock times of ``zone`` to UTC.

    Returns:
        (times, skipped, ambiguous): ``times`` in timestamp[ns, UTC], null where the wall time
        does not exist (``skipped``: in the gap when the clocks go forward); an ``ambiguous``
        wall time (in the hour repeated when the clocks go back) is read as its first
        occurrence, the one before the clocks went back.
    """
    earliest = pc.assume_timezone(
        naive, timezone=zone, ambiguous="earliest", nonexistent="earliest"
    )
    latest = pc.assume_timezone(naive, timezone=zone, ambiguous="latest", nonexistent="latest")
    # Arrow maps a skipped wall time to the instant before the gap: it does not come back
    skipped = pc.fill_null(pc.not_equal(pc.local_timestamp(earliest), naive), False)
    skipped_mask = skipped.to_numpy(zero_copy_only=False)
    differ = pc.fill_null(pc.not_equal(earliest, latest), False).to_numpy(zero_copy_only=False)
    times = pc.if_else(skipped, pa.scalar(None, earliest.type), earliest).cast(TIMESTAMP)
    return times, skipped_mask, differ & ~skipped_mask


#: Lines named in a warning about ambiguous local times (all are counted).
MAX_NAMED_LINES = 10


@dataclass(frozen=True)
class LocalTimeIssues:
    """Locale times that ``--input-tz`` cannot read as one instant.

    A wall time in the gap when the clocks go forward never happened in the zone: it is
    rejected (``parse_timestamps`` gives null), never moved to a time it does not say. A wall
    time in the hour repeated when the clocks go back happened twice: it is read as the
    first occurrence (before the clocks went back), with a warning naming its lines.

    Attributes:
        zone: the ``--input-tz`` zone.
        skipped: per value, the wall time does not exist in the zone.
        ambiguous: per value, the wall time happens twice in the zone.
    """

    zone: str
    skipped: np.ndarray
    ambiguous: np.ndarray

    def reason(self, header: str, value: str) -> str:
        """Why a value in ``skipped`` was rejected."""
        return (
            f"{header} value {value[:60]!r} does not exist in {self.zone}: it falls in the "
            "gap the clocks skip when they go forward. The export's times are probably not "
            f"{self.zone} times: check --input-tz"
        )

    def warning(self, header: str, lines: np.ndarray) -> str | None:
        """The warning about the ambiguous values, given each value's line (None if none)."""
        at = lines[self.ambiguous]
        if len(at) == 0:
            return None
        named = ", ".join(str(int(line)) for line in at[:MAX_NAMED_LINES])
        more = f" and {len(at) - MAX_NAMED_LINES:,} more" if len(at) > MAX_NAMED_LINES else ""
        return (
            f"{len(at):,} {header} value(s) fall in the hour {self.zone} repeats when the "
            f"clocks go back (line(s) {named}{more}), so each could be either of two times; "
            "read as the first, before the clocks went back. Check them against an export "
            "with UTC times"
        )


def local_time_issues(
    values: pa.Array | pa.ChunkedArray, dayfirst: bool = False, input_tz: str = "UTC"
) -> LocalTimeIssues | None:
    """Which locale times of ``values`` do not exist, or exist twice, in ``input_tz``.

    Returns:
        None when there are none (always for UTC, and for ISO times, which carry their zone
        or are UTC).
    """
    if input_tz.upper() == "UTC":
        return None
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    naive = _locale_naive(pc.utf8_trim_whitespace(values.cast(pa.string())), dayfirst)
    if naive.null_count == len(naive):
        return None
    _, skipped, ambiguous = _localize(naive, input_tz)
    if not skipped.any() and not ambiguous.any():
        return None
    return LocalTimeIssues(input_tz, skipped, ambiguous)


def parse_timestamps(values: pa.Array, dayfirst: bool = False, input_tz: str = "UTC") -> pa.Array:
    """Parse export timestamps (ISO or locale, mixed allowed) into timestamp[ns, UTC].

    Args:
        values: strings as exported.
        dayfirst: read ambiguous locale dates day-first (see ``day_order``).
        input_tz: IANA zone of locale-formatted times (they carry no zone).

    Returns:
        An array of the same length; null where a value is missing or unparseable.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    try:
        # the common case, ISO with Z or an offset (extended reports, tracking logs), in one
        # kernel; any other value makes Arrow refuse the whole array and the careful path runs
        return pc.cast(values.cast(pa.string()), TIMESTAMP)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values = pc.utf8_trim_whitespace(values.cast(pa.string()))
    parsed = _parse_iso(values)
    missing = pc.and_(pc.is_null(parsed), pc.is_valid(values))
    if pc.any(missing).as_py():
        parsed = pc.coalesce(parsed, _parse_locale(values, dayfirst, input_tz))
    return parsed


#: Names of UTC accepted by ``--display-tz`` and ``--input-tz`` (any case): they cannot mean
#: anything else.
UTC_NAMES = frozenset(
    {
        "UTC",
        "Z",
        "GMT",
        "UCT",
        "ZULU",
        "UNIVERSAL",
        "GREENWICH",
        "GMT0",
        "GMT+0",
        "GMT-0",
        "ETC/UTC",
        "ETC/GMT",
        "ETC/UCT",
        "ETC/ZULU",
        "ETC/UNIVERSAL",
        "ETC/GREENWICH",
        "ETC/GMT0",
        "ETC/GMT+0",
        "ETC/GMT-0",
    }
)

#: Abbreviations people type for a zone, with the IANA names they usually mean. Every name
#: without a ``/`` other than UTC's is refused, these with their suggestion: the tz database
#: has a few of them (EST, MST, HST, EST5EDT...) but EST there is a fixed UTC-5 with no summer
#: time, which is not New York's time half the year, and most (PST, CEST, IST...) are not in
#: it at all, or mean several zones (IST: India, Ireland, Israel).
ABBREVIATIONS: dict[str, str] = {
    "EST": "America/New_York",
    "EDT": "America/New_York",
    "EST5EDT": "America/New_York",
    "CST": "America/Chicago",
    "CDT": "America/Chicago",
    "CST6CDT": "America/Chicago",
    "MST": "America/Denver (or America/Phoenix, which keeps standard time all year)",
    "MDT": "America/Denver",
    "MST7MDT": "America/Denver",
    "PST": "America/Los_Angeles",
    "PDT": "America/Los_Angeles",
    "PST8PDT": "America/Los_Angeles",
    "AKST": "America/Anchorage",
    "AKDT": "America/Anchorage",
    "HST": "Pacific/Honolulu",
    "BST": "Europe/London",
    "WET": "Europe/Lisbon",
    "WEST": "Europe/Lisbon",
    "CET": "Europe/Paris or Europe/Berlin",
    "CEST": "Europe/Paris or Europe/Berlin",
    "MET": "Europe/Paris or Europe/Berlin",
    "EET": "Europe/Athens or Europe/Helsinki",
    "EEST": "Europe/Athens or Europe/Helsinki",
    "MSK": "Europe/Moscow",
    "IST": "Asia/Kolkata, Europe/Dublin or Asia/Jerusalem",
    "JST": "Asia/Tokyo",
    "KST": "Asia/Seoul",
    "SGT": "Asia/Singapore",
    "AEST": "Australia/Sydney (or Australia/Brisbane, which keeps standard time all year)",
    "AEDT": "Australia/Sydney",
    "NZST": "Pacific/Auckland",
    "NZDT": "Pacific/Auckland",
}


def time_zone(name: str | None, option: str = "time zone") -> ZoneInfo | None:
    """The IANA zone called ``name``, or None for UTC (also for no name).

    IANA names are matched in any case and returned in their own spelling
    (``america/new_york`` is America/New_York); every name of UTC (``UTC_NAMES``) is UTC.
    Abbreviations (``EST``, ``PST``, ``CEST``...) are refused with the IANA name they usually
    stand for (``ABBREVIATIONS``): a fixed offset would show summer times an hour off.

    Raises:
        OptionError: naming ``option`` and the unknown or abbreviated zone.
    """
    from zoneinfo import ZoneInfoNotFoundError

    from analyzer.errors import OptionError

    name = (name or "").strip()
    if not name or name.upper() in UTC_NAMES:
        return None
    if "/" not in name:
        meant = ABBREVIATIONS.get(name.upper())
        advice = (
            f"use the IANA name of the place, such as {meant}"
            if meant
            else "use an IANA name such as America/New_York, Europe/Paris or Asia/Tokyo"
        )
        raise OptionError(
            f"{option}: {name!r} is an abbreviation, not a time zone; {advice} "
            "(UTC is also accepted)"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        pass
    spelled = _zone_spellings().get(name.lower())
    if spelled is not None:
        return ZoneInfo(spelled)
    raise OptionError(
        f"{option}: unknown time zone {name!r}; use an IANA name such as UTC, "
        "Europe/Paris or America/New_York"
    )


@functools.cache
def _zone_spellings() -> dict[str, str]:
    """Every IANA zone name by its lower-case form (read once, only when a name is not found
    as typed: a case-sensitive file system has no America/new_york)."""
    from zoneinfo import available_timezones

    return {zone.lower(): zone for zone in sorted(available_timezones())}


def check_time_zone(name: str, option: str = "--input-tz") -> str:
    """A valid IANA time zone name in its own spelling ("UTC" for any name of UTC).

    Raises:
        OptionError: as ``time_zone``.
    """
    zone = time_zone(name, option)
    return "UTC" if zone is None else zone.key


def iso_utc(value: Any) -> str | None:
    """Format a timestamp as ISO 8601 UTC with 7 fractional digits: 2022-09-19T15:02:29.3390000Z.

    This is the time format of every JSON output. ``value`` may be a datetime, a pandas or
    numpy timestamp, or nanoseconds since the epoch; naive values are UTC. Missing values
    (None, NaT, NaN, pd.NA) give None.
    """
    if value is None or pd.isna(value):
        return None
    stamp = pd.Timestamp(value)
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    ticks = (stamp.microsecond * 1000 + stamp.nanosecond) // 100
    return stamp.strftime("%Y-%m-%dT%H:%M:%S") + f".{ticks:07d}Z"


def iso_utc_column(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """``iso_utc`` of every value of a timestamp column, vectorized (null stays null).

    Args:
        values: timestamps (any unit; naive ones are UTC).

    Returns:
        A string array: ``2022-09-19T15:02:29.3390000Z``.
    """
    stamps = _utc_ns(values)
    text = pc.strftime(stamps, format="%Y-%m-%dT%H:%M:%S")  # nanoseconds: 9 digits
    return pc.binary_join_element_wise(pc.utf8_slice_codeunits(text, 0, 27), "Z", "")


def _utc_ns(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks != 1 else values.chunk(0)
    if pa.types.is_timestamp(values.type) and values.type.tz is None:
        values = pc.assume_timezone(values, timezone="UTC")
    return values.cast(pa.timestamp("ns", "UTC"))


class DisplayZone:
    """The zone times are shown in (``--display-tz``); every formatted time carries its label.

    Args:
        name: an IANA zone name; None, empty or a name of UTC mean UTC.

    Raises:
        OptionError: an unknown zone.
    """

    def __init__(self, name: str | None = None):
        zone = time_zone(name, "--display-tz")
        self.name = "UTC" if zone is None else zone.key
        self.zone = zone or ZoneInfo("UTC")
        self.is_utc = zone is None

    def note(self) -> str:
        """One sentence saying how times are shown."""
        if self.is_utc:
            return "All times are UTC."
        return (
            f"Times are shown in {self.name}, each labelled with the zone's abbreviation; "
            "raw event rows and exports also give UTC."
        )

    def local(self, value: Any) -> pd.Timestamp | None:
        """The time in this zone, or None when missing."""
        if value is None or pd.isna(value):
            return None
        stamp = pd.Timestamp(value)
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp
        return stamp.tz_convert(self.zone)

    def label(self, local: pd.Timestamp) -> str:
        """The zone's label at that time: ``UTC``, ``CET``, ``EDT``..."""
        return "UTC" if self.is_utc else local.strftime("%Z")

    def format(self, value: Any, seconds: bool = True, missing: str = "-") -> str:
        """A time in this zone with its label: ``2024-05-01 10:15:30 UTC``.

        ``value`` as for ``iso_utc``; ``seconds=False`` gives ``2024-05-01 10:15 UTC``.
        """
        local = self.local(value)
        if local is None:
            return missing
        text = local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")
        return f"{text} {self.label(local)}"

    def format_column(
        self, values: pa.Array | pa.ChunkedArray, seconds: bool = True, missing: str = "-"
    ) -> pa.Array:
        """``format`` of every value of a timestamp column, vectorized.

        Args:
            values: timestamps (any unit; naive ones are UTC).
            seconds: as for ``format``.
            missing: the text of a missing value.

        Returns:
            A string array: ``2024-05-01 10:15:30 UTC``, ``2024-05-01 06:15:30 EDT``...
        """
        local = _utc_ns(values).cast(pa.timestamp("ns", self.zone.key))
        # whole seconds, so that %S prints no fraction (floored, as strftime floors)
        whole = pc.floor_temporal(local, unit="second").cast(pa.timestamp("s", self.zone.key))
        shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
        label = "UTC" if self.is_utc else "%Z"
        return pc.fill_null(pc.strftime(whole, format=f"{shape} {label}"), missing)

    def format_ms(self, value: Any, missing: str = "-") -> str:
        """A time with milliseconds: ``2024-05-01 10:15:30.123 UTC`` (event timelines)."""
        local = self.local(value)
        if local is None:
            return missing
        text = local.strftime("%Y-%m-%d %H:%M:%S.") + f"{local.microsecond // 1000:03d}"
        return f"{text} {self.label(local)}"


UTC = DisplayZone()


def duration_text(seconds: float | None) -> str:
    """A duration a reader takes in at a glance: ``2 d 3 h``, ``46 min 15 s``, ``250 ms``.

    The two largest units are shown; under a second, milliseconds. None gives ``-``.
    """
    if seconds is None or pd.isna(seconds):
        return "-"
    seconds = max(0.0, float(seconds))
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds else "0 s"
    # round to the smaller of the two units shown: 3 d 22 h 59 min 40 s reads 3 d 23 h
    step = 3_600 if seconds >= 86_400 else 60 if seconds >= 3_600 else 1
    total = round(seconds / step) * step
    days, rest = divmod(total, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    first = next(i for i, (value, _) in enumerate(parts) if value)
    shown = [f"{value} {unit}" for value, unit in parts[first : first + 2] if value]
    return " ".join(shown) or "0 s"
