"""Timestamps: every export's times become UTC to the 100 ns tick, and ambiguous locale dates
are decided the way the issue promises (a day above 12 decides, anywhere in the file)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from exports import extended_csv, extended_row, write_export
from hypothesis import given
from hypothesis import strategies as st

import analyzer.ingest as ingest_module
import analyzer.readers as readers_module
from analyzer.errors import OptionError
from analyzer.ingest import IngestOptions, load_sources
from analyzer.timestamps import (
    DisplayZone,
    check_time_zone,
    day_order,
    duration_text,
    iso_utc,
    iso_utc_column,
    local_time_issues,
    parse_timestamps,
    time_zone,
)


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def parsed(*values: str | None, **options) -> list:
    return parse_timestamps(pa.array(list(values), pa.string()), **options).to_pylist()


@pytest.mark.parametrize(
    ("exported", "expected"),
    [
        # extended reports: 7 fractional digits with Z
        ("2022-09-05T18:10:13.4907658Z", "2022-09-05 18:10:13.4907658"),
        # the Reporting web service omits the Z and still means UTC
        ("2022-09-05T18:10:13.4907658", "2022-09-05 18:10:13.4907658"),
        ("2022-09-05T18:10:13.4907658z", "2022-09-05 18:10:13.4907658"),
        ("2022-09-05T18:10:13.4907658+02:00", "2022-09-05 16:10:13.4907658"),
        ("2022-09-05T18:10:13.4907658-0530", "2022-09-05 23:40:13.4907658"),
        ("2022-09-05T18:10:13+00:00", "2022-09-05 18:10:13"),
        ("2022-09-05 18:10:13", "2022-09-05 18:10:13"),
        ("2022-09-05T18:10:13,123Z", "2022-09-05 18:10:13.123"),
        ("2022-09-05T18:10Z", "2022-09-05 18:10:00"),
        ("  2022-09-05T18:10:13.339Z  ", "2022-09-05 18:10:13.339"),
        ("2022-09-05T18:10:13.123456789Z", "2022-09-05 18:10:13.123456789"),
        # locale dates of summary downloads and en-US PowerShell
        ("9/27/2022 10:15:30 AM", "2022-09-27 10:15:30"),
        ("9/27/2022 10:15:30 PM", "2022-09-27 22:15:30"),
        ("9/27/2022 12:15:30 AM", "2022-09-27 00:15:30"),
        ("9/27/2022 12:15:30 PM", "2022-09-27 12:15:30"),
        ("09/27/2022 22:15", "2022-09-27 22:15:00"),
        ("9/27/2022 10:15:30.1234567 AM", "2022-09-27 10:15:30.1234567"),
    ],
)
def test_exported_times_become_utc_to_the_tick(exported, expected):
    assert parsed(exported) == [utc(expected)]


def test_seven_fractional_digits_survive_to_the_nanosecond():
    values = ["2022-09-05T18:10:13.4907658Z", "2022-09-05T18:10:13.0000001Z"]

    times = parse_timestamps(pa.array(values))

    assert times.type == pa.timestamp("ns", tz="UTC")
    nanoseconds = times.cast(pa.int64()).to_pylist()
    assert [n % 1_000_000_000 for n in nanoseconds] == [490_765_800, 100]
    assert [iso_utc(t) for t in times.to_pylist()] == values


@pytest.mark.parametrize(
    "bad",
    [
        "2022-13-05T00:00:00Z",  # month 13
        "2022-02-30T10:00:00Z",  # no 30 February
        "2022-09-05T24:00:00Z",
        "31/02/2022 10:00",  # day-first would need 31 February
        "9/27/2022 10:75:00 AM",
        "yesterday",
        "1663600949",
        "",
        None,
    ],
)
def test_unreadable_times_are_null_and_do_not_spoil_the_others(bad):
    result = parsed("2022-09-05T18:10:13.4907658Z", bad, "9/27/2022 10:15:30 AM", dayfirst=True)

    assert result == [utc("2022-09-05 18:10:13.4907658"), None, None]
    result = parsed("2022-09-05T18:10:13.4907658+01:00", bad)
    assert result == [utc("2022-09-05 17:10:13.4907658"), None]


def test_day_first_reads_the_first_number_as_the_day():
    assert parsed("27/09/2022 10:15:30", "03/04/2022 10:15", "27.09.2022 10:15", dayfirst=True) == [
        utc("2022-09-27 10:15:30"),
        utc("2022-04-03 10:15"),
        utc("2022-09-27 10:15"),
    ]
    assert parsed("03/04/2022 10:15", dayfirst=False) == [utc("2022-03-04 10:15")]


def test_day_order_names_the_evidence_of_a_column():
    day_first = day_order(pa.array(["03/04/2022 10:00", "13/04/2022 10:00"]))
    month_first = day_order(pa.array(["03/04/2022 10:00", "04/13/2022 10:00 PM"]))
    undecided = day_order(pa.array(["03/04/2022 10:00", None]))
    iso = day_order(pa.array(["2022-04-13T10:00:00Z"]))

    assert (day_first.day_first, day_first.month_first, day_first.decided) == (True, False, True)
    assert (month_first.day_first, month_first.month_first) == (False, True)
    assert (undecided.locale_values, undecided.decided) == (True, False)
    assert iso.locale_values is False


def test_input_tz_shifts_locale_times_but_not_zoned_or_iso_times():
    values = ["7/1/2022 10:00:00 AM", "1/10/2022 10:00:00 AM", "2022-07-01T10:00:00Z"]

    result = parsed(*values, input_tz="Europe/Paris")

    # summer time (UTC+2), winter time (UTC+1), and an ISO time that says UTC
    assert result == [utc("2022-07-01 08:00"), utc("2022-01-10 09:00"), utc("2022-07-01 10:00")]
    # ISO without a zone is UTC (Reporting web service), whatever --input-tz says
    assert parsed("2022-07-01T10:00:00", input_tz="Europe/Paris") == [utc("2022-07-01 10:00")]


def test_unknown_time_zones_are_a_clear_error():
    assert check_time_zone("utc") == "UTC"
    assert check_time_zone("America/New_York") == "America/New_York"
    with pytest.raises(OptionError, match=r"unknown time zone 'Mars/Olympus'.*IANA"):
        check_time_zone("Mars/Olympus")
    with pytest.raises(OptionError, match="unknown time zone"):
        IngestOptions(input_tz="Mars/Olympus").checked()


def test_iso_utc_always_says_utc_with_seven_digits():
    assert iso_utc(pd.Timestamp("2022-09-19 17:02:29.339", tz="Europe/Paris")) == (
        "2022-09-19T15:02:29.3390000Z"
    )
    assert iso_utc(pd.Timestamp("2022-09-19 15:02:29")) == "2022-09-19T15:02:29.0000000Z"
    assert iso_utc(None) is None


@given(
    st.lists(
        st.one_of(st.none(), st.integers(min_value=-(2**62), max_value=2**62)),
        max_size=20,
    )
)
def test_the_column_formatters_say_what_the_one_value_formatters_say(values):
    column = pa.array(values, pa.timestamp("ns", "UTC"))
    assert iso_utc_column(column).to_pylist() == [iso_utc(v) for v in values]
    for name in ("UTC", "America/New_York", "Europe/Paris", "Asia/Kolkata"):
        zone = DisplayZone(name)
        assert zone.format_column(column).to_pylist() == [zone.format(v) for v in values]
        assert zone.format_column(column, seconds=False, missing="").to_pylist() == [
            zone.format(v, seconds=False, missing="") for v in values
        ]


def test_display_zone_labels_each_time_with_the_abbreviation_of_that_day():
    new_york = DisplayZone("America/New_York")
    assert new_york.format("2026-11-18T10:41:01Z", seconds=False) == "2026-11-18 05:41 EST"
    assert new_york.format("2026-07-18T10:41:01Z") == "2026-07-18 06:41:01 EDT"
    assert new_york.name == "America/New_York" and not new_york.is_utc
    assert DisplayZone().format(None) == "-"


@pytest.mark.parametrize("name", ["UTC", "utc", "Z", "GMT", "Etc/UTC", "Zulu", "", None])
def test_every_name_of_utc_is_utc(name):
    assert time_zone(name) is None
    assert DisplayZone(name).is_utc and DisplayZone(name).name == "UTC"


@pytest.mark.parametrize(
    ("abbreviation", "suggestion"),
    [
        ("EST", "America/New_York"),
        ("PST", "America/Los_Angeles"),
        ("cest", "Europe/Paris"),
        ("IST", "Asia/Kolkata, Europe/Dublin or Asia/Jerusalem"),
        ("EST5EDT", "America/New_York"),
        ("XYZ", "America/New_York, Europe/Paris or Asia/Tokyo"),
    ],
)
def test_abbreviations_are_refused_with_the_iana_name_they_stand_for(abbreviation, suggestion):
    # EST is in the tz database, as a fixed UTC-5 without summer time: accepting it would show
    # New York's summer times an hour off; PST is not there at all. Both are refused alike.
    with pytest.raises(OptionError, match="is an abbreviation, not a time zone") as error:
        DisplayZone(abbreviation)
    assert suggestion in str(error.value)
    assert "--display-tz" in str(error.value)
    with pytest.raises(OptionError, match="--input-tz"):
        check_time_zone(abbreviation)


def test_iana_names_are_read_in_any_case_and_shown_in_their_own_spelling():
    assert DisplayZone("america/new_york").name == "America/New_York"
    assert check_time_zone("EUROPE/PARIS") == "Europe/Paris"
    assert DisplayZone("US/Eastern").format("2026-07-18T10:41:01Z").endswith("EDT")


def test_durations_read_in_human_units():
    assert duration_text(2776.8) == "46 min 17 s"
    assert duration_text(0.2) == "200 ms"
    assert duration_text(90_000) == "1 d 1 h"
    assert duration_text(None) == "-"


# ---------------------------------------------------------------- through ingest

SUMMARY_HEADER = "Date (UTC),Sender,Recipient,Subject,Status\r\n"


def summary_rows(dates: list[str]) -> str:
    return "".join(
        f"{date},sender@fabrikam.com,user{k}@contoso.com,Subject {k},Delivered\r\n"
        for k, date in enumerate(dates)
    )


def test_a_day_above_12_in_a_later_batch_decides_for_the_ambiguous_rows_before_it(
    tmp_path, monkeypatch
):
    ambiguous = [f"03/04/2022 10:{k % 60:02d}:00" for k in range(400)]
    text = SUMMARY_HEADER + summary_rows([*ambiguous, "25/04/2022 10:00:00"])
    path = write_export(tmp_path, "summary.csv", text)
    monkeypatch.setattr(readers_module, "BLOCK_SIZE", 2048)
    assert path.stat().st_size > 8 * 2048, "test precondition: the file spans many batches"

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.rows_read, record.rows_rejected, record.warnings) == (401, 0, [])
    times = case.events.column("event_time").to_pylist()
    assert times[0] == utc("2022-04-03 10:00")  # 3 April, read day-first
    assert times[-1] == utc("2022-04-25 10:00")
    assert case.events.column("line").to_pylist() == list(range(2, 403))


def test_ambiguous_dates_are_held_only_up_to_a_bound(tmp_path, monkeypatch):
    ambiguous = [f"03/04/2022 10:{k % 60:02d}:00" for k in range(400)]
    text = SUMMARY_HEADER + summary_rows([*ambiguous, "25/04/2022 10:00:00"])
    path = write_export(tmp_path, "summary.csv", text)
    monkeypatch.setattr(readers_module, "BLOCK_SIZE", 2048)
    monkeypatch.setattr(ingest_module, "MAX_UNDECIDED_ROWS", 100)

    case = load_sources([path])

    # past the bound, month-first is assumed and said; the late day-first value is then a
    # month 25, rejected with its line, and --dayfirst is the way out
    record = case.inputs[0]
    assert record.warnings == [ingest_module.AMBIGUOUS_DATES]
    assert [(r.line, r.reason) for r in record.rejected] == [
        (402, "unreadable Date (UTC) value '25/04/2022 10:00:00'")
    ]
    assert case.events.column("event_time").to_pylist()[0] == utc("2022-03-04 10:00")


def test_a_month_above_12_decides_month_first(tmp_path):
    text = SUMMARY_HEADER + summary_rows(["03/04/2022 10:00:00 AM", "04/25/2022 1:00:00 PM"])
    path = write_export(tmp_path, "summary.csv", text)

    case = load_sources([path])

    assert case.inputs[0].warnings == []
    times = case.events.column("event_time").to_pylist()
    assert times == [utc("2022-03-04 10:00"), utc("2022-04-25 13:00")]


def test_undecidable_dates_warn_and_the_user_decides(tmp_path):
    text = SUMMARY_HEADER + summary_rows(["03/04/2022 10:00:00", "05/06/2022 11:00:00"])
    path = write_export(tmp_path, "summary.csv", text)

    guessed = load_sources([path])
    day_first = load_sources([path], IngestOptions(dayfirst=True))
    month_first = load_sources([path], IngestOptions(dayfirst=False))

    warning = " ".join(guessed.inputs[0].warnings)
    assert "ambiguous" in warning and "month-first" in warning and "--dayfirst" in warning
    assert guessed.events.column("event_time")[0].as_py() == utc("2022-03-04 10:00")
    assert day_first.inputs[0].warnings == []
    assert day_first.events.column("event_time")[0].as_py() == utc("2022-04-03 10:00")
    assert month_first.inputs[0].warnings == []
    assert month_first.events.column("event_time")[0].as_py() == utc("2022-03-04 10:00")


def test_monthfirst_on_a_day_first_file_rejects_the_impossible_dates_by_line(tmp_path):
    text = SUMMARY_HEADER + summary_rows(["03/04/2022 10:00:00", "25/04/2022 10:00:00"])
    path = write_export(tmp_path, "summary.csv", text)

    case = load_sources([path], IngestOptions(dayfirst=False))

    record = case.inputs[0]
    assert (record.rows_ingested, record.rows_rejected) == (1, 1)
    assert record.rejected[0].line == 3
    assert record.rejected[0].reason == "unreadable Date (UTC) value '25/04/2022 10:00:00'"


def test_input_tz_applies_to_a_summary_download(tmp_path):
    text = SUMMARY_HEADER + summary_rows(["9/27/2022 10:15:30 AM"])
    path = write_export(tmp_path, "summary.csv", text)

    case = load_sources([path], IngestOptions(input_tz="America/New_York"))

    assert case.events.column("event_time").to_pylist() == [utc("2022-09-27 14:15:30")]
    assert case.inputs[0].first_event == "2022-09-27T14:15:30.0000000Z"


def test_bad_times_are_rejected_with_their_line_and_value(tmp_path):
    rows = [
        extended_row(network_message_id="good-1"),
        extended_row(network_message_id="bad-1", date_time_utc="2022-02-30T10:00:00Z"),
        extended_row(network_message_id="empty", date_time_utc=""),
        extended_row(network_message_id="good-2", date_time_utc="2022-09-19T15:02:29.9999999Z"),
        extended_row(network_message_id="bad-2", date_time_utc="19 Sept 2022"),
    ]
    path = write_export(tmp_path, "extended.csv", extended_csv(*rows))

    case = load_sources([path])

    record = case.inputs[0]
    assert [(r.line, r.reason) for r in record.rejected] == [
        (3, "unreadable date_time_utc value '2022-02-30T10:00:00Z'"),
        (4, "no date_time_utc value"),
        (6, "unreadable date_time_utc value '19 Sept 2022'"),
    ]
    assert case.events.column("network_message_id").to_pylist() == ["good-1", "good-2"]
    assert (record.first_event, record.last_event) == (
        "2022-09-19T15:02:29.3390123Z",
        "2022-09-19T15:02:29.9999999Z",
    )


# ---------------------------------------------------------------- --input-tz and daylight saving


@pytest.mark.parametrize(
    ("zone", "skipped", "repeated", "first_of_repeated"),
    [
        # Paris: 27 March 2022 02:00 -> 03:00; 30 October 2022 03:00 -> 02:00
        ("Europe/Paris", "3/27/2022 2:30:00 AM", "10/30/2022 2:30:00 AM", "2022-10-30 00:30"),
        # New York: 13 March 2022 02:00 -> 03:00; 6 November 2022 02:00 -> 01:00
        ("America/New_York", "3/13/2022 2:30:00 AM", "11/6/2022 1:30:00 AM", "2022-11-06 05:30"),
        # Sydney, whose summer is in January: 2 October 2022 skipped, 3 April 2022 repeated
        ("Australia/Sydney", "10/2/2022 2:30:00 AM", "4/3/2022 2:30:00 AM", "2022-04-02 15:30"),
    ],
)
def test_a_time_the_zone_skips_is_never_invented_and_a_repeated_one_is_read_first(
    zone, skipped, repeated, first_of_repeated
):
    result = parsed(skipped, repeated, "7/1/2022 10:00:00 AM", input_tz=zone)

    assert result[0] is None  # was ...:59:59.999999999Z: an instant the export never said
    assert result[1] == utc(first_of_repeated)
    issues = local_time_issues(pa.array([skipped, repeated, "7/1/2022 10:00:00 AM"]), False, zone)
    assert issues is not None
    assert issues.skipped.tolist() == [True, False, False]
    assert issues.ambiguous.tolist() == [False, True, False]


def test_without_input_tz_nothing_is_skipped_or_repeated():
    values = pa.array(["3/27/2022 2:30:00 AM", "10/30/2022 2:30:00 AM"])

    assert local_time_issues(values, False, "UTC") is None
    assert local_time_issues(pa.array(["2022-03-27T02:30:00"]), False, "Europe/Paris") is None
    assert parsed(*values.to_pylist()) == [utc("2022-03-27 02:30"), utc("2022-10-30 02:30")]


def test_through_ingest_a_skipped_time_is_rejected_naming_the_zone_and_a_repeated_one_warns(
    tmp_path,
):
    dates = ["3/27/2022 1:59:00 AM", "3/27/2022 2:30:00 AM", "10/30/2022 2:15:00 AM"]
    dates += ["10/30/2022 2:45:00 AM", "10/30/2022 3:00:00 AM"]
    path = write_export(tmp_path, "summary.csv", SUMMARY_HEADER + summary_rows(dates))

    case = load_sources([path], IngestOptions(input_tz="Europe/Paris"))

    record = case.inputs[0]
    assert [(r.line, r.reason) for r in record.rejected] == [
        (
            3,
            "Date (UTC) value '3/27/2022 2:30:00 AM' does not exist in Europe/Paris: it falls "
            "in the gap the clocks skip when they go forward. The export's times are probably "
            "not Europe/Paris times: check --input-tz",
        )
    ]
    assert record.warnings == [
        "2 Date (UTC) value(s) fall in the hour Europe/Paris repeats when the clocks go back "
        "(line(s) 4, 5), so each could be either of two times; read as the first, before the "
        "clocks went back. Check them against an export with UTC times"
    ]
    assert case.events.column("event_time").to_pylist() == [
        utc("2022-03-27 00:59"),
        utc("2022-10-30 00:15"),
        utc("2022-10-30 00:45"),
        utc("2022-10-30 02:00"),
    ]
