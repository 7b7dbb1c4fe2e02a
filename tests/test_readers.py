"""Readers: every row keeps the physical line it starts on, whatever the line ends and the
header, and rows the parser cannot split are placed and explained, never dropped."""

from __future__ import annotations

import subprocess
import sys

import pytest
from exports import EXTENDED_COLUMNS, REAL_SAMPLES, csv_field, extended_csv, extended_row
from exports import write_export as write

from analyzer.encoding import detect_encoding
from analyzer.errors import InputError
from analyzer.formats.definitions import TRACKING_FIELD_LISTS
from analyzer.ingest import IngestOptions, inspect_files, load_sources
from analyzer.readers import line_breaks_in, read_layout


@pytest.mark.parametrize("newline", ["\r\n", "\n", "\r"])
def test_lines_are_exact_with_multiline_fields_whatever_the_line_ends(tmp_path, newline):
    rows = [
        extended_row(network_message_id="n1", message_subject=f"one{newline}two"),
        extended_row(network_message_id="n2", date_time_utc="never"),
        extended_row(network_message_id="n3", message_subject=f"a{newline}b{newline}c"),
        extended_row(network_message_id="n4"),
    ]
    path = write(tmp_path, "extended.csv", extended_csv(*rows, newline=newline))

    case = load_sources([path])

    assert case.events.select(["network_message_id", "line"]).to_pylist() == [
        {"network_message_id": "n1", "line": 2},
        {"network_message_id": "n3", "line": 5},
        {"network_message_id": "n4", "line": 8},
    ]
    assert [(r.line, r.reason) for r in case.inputs[0].rejected] == [
        (4, "unreadable date_time_utc value 'never'")
    ]


def test_a_ragged_row_in_a_cr_only_file_is_placed_on_its_line(tmp_path):
    rows = [
        extended_row(network_message_id="n1", message_subject="one\rtwo"),
        '"2022-09-19T15:02:29Z","ragged"',
        extended_row(network_message_id="n2"),
    ]
    path = write(tmp_path, "extended.csv", extended_csv(*rows, newline="\r"))

    case = load_sources([path])

    assert [r.line for r in case.inputs[0].rejected] == [4]
    assert case.events.column("line").to_pylist() == [2, 5]


@pytest.mark.parametrize(
    ("text", "breaks"), [("a\r\nb", 1), ("a\nb\nc", 2), ("a\rb\r", 2), ("a\r\r\nb", 2), ("", 0)]
)
def test_line_breaks_are_crlf_lf_and_lone_cr(text, breaks):
    assert line_breaks_in(text) == breaks


def test_a_header_wider_than_the_sample_is_read_whole(tmp_path):
    # 40 KiB of extra column names after the 27: the header is not cut at 32 KiB
    extra = [f"extra_column_{k:05d}_" + "x" * 40 for k in range(700)]
    header = ",".join(csv_field(c) for c in (*EXTENDED_COLUMNS, *extra))
    row = extended_row() + "," + ",".join(csv_field("") for _ in extra[:-1]) + ',"last"'
    path = write(tmp_path, "extended.csv", f"{header}\r\n{row}\r\n")
    assert len(header) > 40 * 1024

    case = load_sources([path])

    assert case.inputs[0].rows_rejected == 0
    assert dict(case.events.column("extras")[0].as_py()) == {extra[-1]: "last"}


def test_a_wide_header_alone_without_a_line_end_is_a_header_only_file(tmp_path):
    extra = [f"extra_column_{k:05d}_" + "x" * 40 for k in range(700)]
    header = ",".join(csv_field(c) for c in (*EXTENDED_COLUMNS, *extra))
    path = write(tmp_path, "extended.csv", header, "utf-16-le", bom=True)

    [record] = inspect_files([path])

    assert (record.error, record.format, record.rows_read) == (None, "extended", 0)
    assert record.warnings == ["no data rows (only a header)"]


def test_a_header_longer_than_a_mebibyte_is_no_export(tmp_path):
    path = write(tmp_path, "wide.csv", "date_time_utc," + "x" * (2 * 1024 * 1024) + "\r\n1,2\r\n")

    with pytest.raises(InputError) as raised:
        read_layout(path, detect_encoding(path), None)

    assert "header line is longer than 1,024 KiB" in str(raised.value)


def test_a_ragged_row_with_an_invalid_byte_prints_no_exception_noise(tmp_path):
    good = extended_row(network_message_id="n1").encode()
    data = extended_csv().encode() + good + b"\r\n" + b'"2022-09-19T15:02:29Z","\xff"\r\n' + good
    path = write(tmp_path, "extended.csv", data)
    script = f"from analyzer.ingest import load_sources; load_sources([{str(path)!r}])"

    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)

    assert run.returncode == 0, run.stderr
    assert "Exception ignored" not in run.stderr and "UnicodeDecodeError" not in run.stderr
    case = load_sources([path])
    record = case.inputs[0]
    assert (record.rows_read, record.rows_rejected) == (3, 1)
    assert record.rejected[0].line == 3


# ---------------------------------------------------------------- tracking rows without header


def tracking_row(count: int, event_id: str = "RECEIVE", time: str = "2022-09-19T15:02:29.450Z"):
    fields = {name: "" for name in TRACKING_FIELD_LISTS[count][1]}
    fields.update(
        {
            "date-time": time,
            "source": "SMTP",
            "event-id": event_id,
            "message-id": "<m@contoso.com>",
            "recipient-address": "alice@contoso.com",
            "sender-address": "bob@fabrikam.com",
            "message-subject": "Hello, world",
        }
    )
    if count == 30:
        fields["schema-version"] = "15.01.2375.007"
    if count != 26:
        fields["network-message-id"] = "6a638d20-1e63-493a-80a2-08da9a4ff8da"
    return ",".join(csv_field(v) if "," in v else v for v in fields.values())


@pytest.mark.parametrize(("count", "version"), [(26, "2010"), (27, "2013"), (30, "2016/2019")])
def test_tracking_rows_without_their_fields_block_are_read_by_their_field_count(
    tmp_path, count, version
):
    text = "\r\n".join([tracking_row(count), tracking_row(count, "DELIVER")]) + "\r\n"
    path = write(tmp_path, "MSGTRK2022091915-1.LOG", text)

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.format, record.rows_read, record.rows_rejected) == (
        "exchange_tracking_log",
        2,
        0,
    )
    assert record.warnings == [
        f"no #Fields: header: rows read as Exchange {version} message tracking rows by their "
        f"field count ({count}); rows of another count are read with their own version's fields"
    ]
    events = case.events.select(["event_id", "message_subject", "line"]).to_pylist()
    assert events == [
        {"event_id": "RECEIVE", "message_subject": "Hello, world", "line": 1},
        {"event_id": "DELIVER", "message_subject": "Hello, world", "line": 2},
    ]
    expected_id = None if count == 26 else "6a638d20-1e63-493a-80a2-08da9a4ff8da"
    assert case.events.column("network_message_id").to_pylist() == [expected_id] * 2


def test_rows_of_another_field_count_are_read_with_their_own_list(tmp_path):
    rows = [tracking_row(30), tracking_row(27, "SEND"), tracking_row(26, "NOTIFYMAPI")]
    rows.append('"2022-09-19T15:02:31Z","ragged"')
    path = write(tmp_path, "cut.log", "\r\n".join(rows) + "\r\n")

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.rows_read, record.rows_ingested, record.rows_rejected) == (4, 3, 1)
    assert record.rejected[0].line == 4
    events = case.events.select(["line", "event_id", "extras"]).to_pylist()
    assert sorted((e["line"], e["event_id"], dict(e["extras"])) for e in events) == [
        (1, "RECEIVE", {"schema-version": "15.01.2375.007"}),
        (2, "SEND", {}),
        (3, "NOTIFYMAPI", {}),
    ]


def test_forcing_the_tracking_log_format_reads_rows_that_do_not_look_like_it(tmp_path):
    row = tracking_row(27, event_id="SOMETHINGNEW")
    path = write(tmp_path, "rows.txt", row + "\r\n")

    detected = inspect_files([path])[0]
    forced = load_sources([path], IngestOptions(format="exchange_tracking_log"))

    assert detected.error is not None
    assert forced.events.column("event_id").to_pylist() == ["SOMETHINGNEW"]


def test_forcing_the_tracking_log_format_on_rows_of_an_unknown_count_says_so(tmp_path):
    path = write(tmp_path, "rows.txt", "2022-09-19T15:02:29Z,a,b,c\r\n")

    record = inspect_files([path], IngestOptions(format="exchange_tracking_log"))[0]

    assert record.error == (
        "--format exchange_tracking_log was given, but its first row has 4 fields and no "
        "#Fields: line says what they are (Exchange tracking rows have 26, 27, 30)."
    )


def test_logs_concatenated_with_their_header_blocks_read_as_one(tmp_path):
    sample = (REAL_SAMPLES / "qazeer-artefacts-msgtrk" / "MSGTRKMS2022091915-1.LOG").read_text()
    path = write(tmp_path, "all.log", sample + sample)

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.rows_read, record.rows_ingested, record.rows_duplicate) == (4, 2, 2)
    assert record.rows_rejected == 0
    assert case.events.column("line").to_pylist() == [6, 7]
    assert record.warnings == [
        "5 header or #TYPE line(s) found again inside the file (exports appended to one file) "
        "were skipped"
    ]


# ---------------------------------------------------------------- exports appended to one file


def test_powershell_pages_appended_to_one_file_skip_their_repeated_headers(tmp_path):
    header = '"Received","SenderAddress","RecipientAddress","Status","MessageTraceId"\r\n'
    page = (
        "#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace\r\n"
        + header
        + '"2026-01-20T10:00:00Z","a@f.com","b@contoso.com","Delivered","11111111-08de"\r\n'
    )
    path = write(tmp_path, "trace.csv", page + page.replace("b@contoso", "c@contoso"))

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.rows_read, record.rows_rejected) == (2, 0)
    assert case.events.select(["recipient_address", "line"]).to_pylist() == [
        {"recipient_address": "b@contoso.com", "line": 3},
        {"recipient_address": "c@contoso.com", "line": 6},
    ]
    assert (
        "2 header or #TYPE line(s) found again inside the file (exports appended to one file) "
        "were skipped"
    ) in record.warnings


def test_forcing_the_tracking_log_format_on_a_file_with_a_header_keeps_it_a_header(tmp_path):
    path = write(tmp_path, "extended.csv", EXTENDED_TEXT)

    case = load_sources([path], IngestOptions(format="exchange_tracking_log"))

    record = case.inputs[0]
    assert (record.format, record.rows_read, record.rows_rejected) == (
        "exchange_tracking_log",
        1,
        0,
    )
    assert record.warnings == []


EXTENDED_TEXT = extended_csv(extended_row())
