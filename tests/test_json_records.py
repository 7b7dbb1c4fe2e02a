"""JSON exports: every page shape the services and their collectors write, in any mix, each
record on the line it starts; a broken document loses only what cannot be read."""

from __future__ import annotations

import json

import pytest
from exports import REAL_SAMPLES, write_export

import analyzer.json_records as json_records_module
from analyzer.ingest import inspect_files, load_sources


def trace(k: int, **extra) -> dict:
    return {
        "Received": f"2022-09-05T18:10:1{k}.4907658",
        "SenderAddress": "a@contoso.com",
        "RecipientAddress": f"user{k}@fabrikam.com",
        "Status": "Delivered",
        "MessageTraceId": f"cf7a249a-5edd-4350-130a-08da8f69e0f{k}",
        **extra,
    }


def recipients(case) -> list[str]:
    return case.events.column("recipient_address").to_pylist()


SHAPES = {
    "graph page": lambda records: {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#messageTraces",
        "value": records,
        "@odata.nextLink": "https://graph.microsoft.com/v1.0/...&$skiptoken=2",
    },
    "reporting page": lambda records: {"odata.metadata": "https://x/$metadata", "value": records},
    "verbose odata": lambda records: {"d": {"results": records, "__next": "https://x?skip=2"}},
    "verbose odata list": lambda records: {"d": records},
    "event hub": lambda records: {"records": records},
    "array": lambda records: records,
    "array of pages": lambda records: [{"value": records[:1]}, {"value": records[1:]}],
}


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_every_page_shape_is_read_whole(tmp_path, shape, indent):
    records = [trace(k) for k in range(3)]
    path = write_export(tmp_path, "trace.json", json.dumps(SHAPES[shape](records), indent=indent))

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.format, record.rows_read, record.rows_rejected) == ("reporting_api_json", 3, 0)
    assert recipients(case) == [f"user{k}@fabrikam.com" for k in range(3)]
    if indent is None:
        assert set(case.events.column("line").to_pylist()) == {1}
    else:  # each record on the line its "{" opens
        lines = json.dumps(SHAPES[shape](records), indent=indent).splitlines()
        for line, k in zip(case.events.column("line").to_pylist(), range(3), strict=True):
            assert lines[line - 1].strip() == "{"
            assert f"user{k}@fabrikam.com" in "\n".join(lines[line : line + 6])


def test_pages_appended_to_one_file_are_read_one_after_another(tmp_path):
    pages = [
        json.dumps({"value": [trace(0), trace(1)]}, indent=2),
        json.dumps({"value": [trace(2)], "@odata.nextLink": "x"}),
        json.dumps({"d": {"results": [trace(3)]}}, indent=1),
    ]
    text = pages[0] + "\n" + pages[1] + pages[2] + "\n\n"
    path = write_export(tmp_path, "pages.json", text)

    case = load_sources([path])

    assert (case.inputs[0].rows_read, case.inputs[0].rows_rejected) == (4, 0)
    assert recipients(case) == [f"user{k}@fabrikam.com" for k in range(4)]
    page_two = text.count("\n", 0, text.index(pages[1])) + 1
    assert case.events.column("line").to_pylist()[2] == page_two


def test_a_long_document_is_read_across_many_reads(tmp_path, monkeypatch):
    monkeypatch.setattr(json_records_module, "READ_CHARS", 64)
    records = [trace(k % 10, Subject="x" * 100) for k in range(50)]
    path = write_export(tmp_path, "trace.json", json.dumps({"value": records}, indent=2))

    case = load_sources([path])

    assert (case.inputs[0].rows_read, case.inputs[0].rows_rejected) == (50, 0)


def test_a_cut_off_page_keeps_its_records_before_the_cut(tmp_path):
    text = json.dumps({"value": [trace(k) for k in range(3)]}, indent=2)
    path = write_export(tmp_path, "trace.json", text[: text.index("user2") + 3])

    case = load_sources([path])

    record = case.inputs[0]
    assert recipients(case) == ["user0@fabrikam.com", "user1@fabrikam.com"]
    assert (record.rows_read, record.rows_rejected) == (3, 1)
    [rejected] = record.rejected
    opening = text[: text.index("user2")].rfind("{")
    assert rejected.line == text.count("\n", 0, opening) + 1  # the record that is cut
    assert rejected.reason.startswith("not valid JSON (")
    assert "the file appears cut off (truncated) here; download the export again" in (
        rejected.reason
    )


def test_a_broken_document_is_one_rejected_row_and_reading_goes_on_at_the_next(tmp_path):
    broken = json.dumps({"value": [trace(0)]}, indent=2).replace('"Status"', "Status")
    good = json.dumps({"value": [trace(1)]}, indent=2)
    text = broken + "\n" + good + "\n"
    path = write_export(tmp_path, "pages.json", text)

    case = load_sources([path])

    record = case.inputs[0]
    assert recipients(case) == ["user1@fabrikam.com"]
    assert (record.rows_read, record.rows_rejected) == (2, 1)
    [rejected] = record.rejected
    lines_broken = broken.count("\n") + 1
    assert rejected.line == 3  # the record that breaks, inside the page
    assert rejected.reason.startswith("not valid JSON (Expecting property name")
    assert rejected.reason.endswith(f"; lines 3-{lines_broken} could not be read")
    assert case.events.column("line").to_pylist() == [lines_broken + 3]


def test_values_that_are_not_records_are_rejected_one_by_one(tmp_path):
    path = write_export(tmp_path, "trace.json", json.dumps([trace(0), 42, "x", trace(1)]))

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.rows_read, record.rows_rejected) == (4, 2)
    assert {r.reason for r in record.rejected} == {"JSON value is not an object (record)"}


def test_equal_records_on_one_line_are_counted_as_duplicate_rows(tmp_path):
    # the V2 and Graph continuation pages repeat their boundary record
    path = write_export(tmp_path, "trace.json", json.dumps({"value": [trace(0), trace(0)]}))

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.rows_read, record.rows_ingested, record.rows_duplicate) == (2, 1, 1)
    assert case.events.num_rows == 1 and case.duplicates.num_rows == 1


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("/Date(1658751973240)/", "2022-07-25T12:26:13.2400000Z"),
        ("/Date(1658751973240+0000)/", "2022-07-25T12:26:13.2400000Z"),
        # the offset says the zone it was written in; the milliseconds are UTC
        ("/Date(1658751973240+0200)/", "2022-07-25T12:26:13.2400000Z"),
        ("/Date(1658751973240-0500)/", "2022-07-25T12:26:13.2400000Z"),
        ("/Date(-1000)/", "1969-12-31T23:59:59.0000000Z"),
        ("/Date(0)/", "1970-01-01T00:00:00.0000000Z"),
    ],
)
def test_odata_verbose_times_are_utc_milliseconds(tmp_path, written, expected):
    record = {"__metadata": {"type": "TenantReporting.MessageTrace"}, **trace(0)}
    record["Received"] = written
    path = write_export(tmp_path, "trace.json", json.dumps({"d": {"results": [record]}}))

    case = load_sources([path])

    assert case.inputs[0].rows_rejected == 0
    assert case.inputs[0].first_event == expected
    extras = dict(case.events.column("extras")[0].as_py())
    assert extras["__metadata"] == '{"type": "TenantReporting.MessageTrace"}'


def test_a_time_that_is_no_date_of_any_shape_is_still_rejected_with_its_value(tmp_path):
    path = write_export(tmp_path, "trace.json", json.dumps([trace(0, Received="/Date(soon)/")]))

    [record] = inspect_files([path])
    assert [(r.line, r.reason) for r in record.rejected] == [
        (1, "unreadable Received value '/Date(soon)/'")
    ]


def test_the_real_reporting_samples_read_the_same_as_before():
    folder = REAL_SAMPLES / "elastic-integrations-exo-message-trace"

    case = load_sources([folder])

    assert sorted((r.path.rsplit("/", 1)[-1], r.rows_read) for r in case.inputs) == [
        ("defender_atp-test.json.log", 1),
        ("microsoft_exchange_online_message_trace_test.ndjson.log", 2),
        ("test-log.log", 4),
    ]
