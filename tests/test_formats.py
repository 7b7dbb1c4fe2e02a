"""Formats: detection from the header, tolerant of how a tool or a person spelled it, and
nothing of an export lost (unmapped columns land in ``extras``)."""

from __future__ import annotations

import csv
import io
import json
import random
from pathlib import Path

import pytest
from exports import (
    EXTENDED_COLUMNS,
    REAL_SAMPLES,
    SAMPLES,
    csv_field,
    extended_csv,
    extended_row,
    write_export,
)

from analyzer import formats, schema
from analyzer.encoding import detect_encoding
from analyzer.errors import OptionError
from analyzer.files import Source, walk
from analyzer.ingest import IngestOptions, inspect_files, load_sources
from analyzer.readers import read_layout


def events_as_dicts(case, *columns: str) -> list[dict]:
    return case.events.select(list(columns)).to_pylist()


@pytest.mark.parametrize(
    ("written", "normalized"),
    [
        ("Date (UTC)", "date"),
        ("date(utc)", "date"),
        ('"Date"', "date"),
        ("'Date'", "date"),
        ("\ufeffDate", "date"),
        ("  Message ID ", "messageid"),
        ("message-id", "messageid"),
        ("MESSAGE_ID", "messageid"),
        ("MessageId", "messageid"),
        ("date-time", "datetime"),
    ],
)
def test_header_names_are_compared_ignoring_case_spaces_quotes_and_separators(written, normalized):
    assert formats.normalize_header(written) == normalized


@pytest.mark.parametrize("spec", formats.REGISTRY, ids=lambda spec: spec.name)
def test_every_format_is_detected_from_its_own_header(spec):
    headers = [aliases[0] for aliases in spec.columns.values()]
    for container in spec.containers:
        assert formats.detect(headers, container) is spec
        reordered = list(reversed(headers))
        assert formats.detect(reordered, container) is spec


@pytest.mark.parametrize("spec", formats.REGISTRY, ids=lambda spec: spec.name)
def test_every_format_maps_only_to_canonical_columns(spec):
    assert set(spec.columns) <= set(schema.COLUMN_NAMES)
    assert set(spec.signature) <= set(spec.columns)
    assert "event_time" in spec.columns
    assert set(spec.constants) <= set(schema.COLUMN_NAMES) - set(spec.columns)
    assert set(spec.fallbacks) | set(spec.fallbacks.values()) <= set(schema.COLUMN_NAMES)


def test_an_unknown_format_name_lists_the_known_ones():
    with pytest.raises(OptionError) as raised:
        formats.get("xlsx")
    message = str(raised.value)
    assert "unknown format 'xlsx'" in message
    assert all(spec.name in message for spec in formats.REGISTRY)


def test_tolerant_headers_reordered_columns_land_in_the_right_columns(tmp_path):
    spellings = [
        str.upper,
        lambda c: c.replace("_", " ").title(),
        lambda c: c.replace("_", "-"),
        lambda c: f"  {c}  ",
        lambda c: c.replace("_", ""),
        lambda c: c.title().replace("_", ""),
    ]
    headers = [spellings[k % len(spellings)](c) for k, c in enumerate(EXTENDED_COLUMNS)]
    values = next(
        csv.reader([extended_row(message_subject="Hello, world", custom_data="S:SFA=SUM|SCL=5")])
    )
    order = list(range(len(headers)))
    random.Random(7).shuffle(order)
    text = (
        ",".join(csv_field(headers[k]) for k in order)
        + "\r\n"
        + ",".join(csv_field(values[k]) for k in order)
        + "\r\n"
    )
    path = write_export(tmp_path, "extended.csv", text)

    case = load_sources([path])

    assert case.inputs[0].format == "extended"
    assert events_as_dicts(
        case, "event_time", "sender_address", "recipient_address", "message_subject", "extras"
    ) == [
        {
            "event_time": case.events.column("event_time")[0].as_py(),
            "sender_address": "bob@fabrikam.com",
            "recipient_address": "alice@contoso.com",
            "message_subject": "Hello, world",
            "extras": [],
        }
    ]
    assert case.inputs[0].first_event == "2022-09-19T15:02:29.3390123Z"


def test_a_type_preamble_is_skipped_and_lines_still_count_it(tmp_path):
    text = (
        "#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTrace\r\n"
        '"PSComputerName","RunspaceId","PSShowComputerName","Organization","MessageId",'
        '"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP",'
        '"Size","MessageTraceId","StartDate","EndDate","Index"\r\n'
        '"outlook.office365.com","0b6e3c2a","False","contoso.onmicrosoft.com","<m@x>",'
        '"11/18/2026 11:20:01 PM","a@contoso.com","b@fabrikam.com","Hi","Delivered","",'
        '"198.51.100.23","27761","8d5dfa7c","11/16/2026 12:00:00 AM","11/19/2026 12:00:00 AM",'
        '"0"\r\n'
    )
    path = write_export(tmp_path, "trace.csv", text, bom=True)

    case = load_sources([path])

    assert case.inputs[0].format == "get_messagetrace"
    event = case.events.to_pylist()[0]
    assert event["line"] == 3
    assert (event["reported_status"], event["total_bytes"], event["from_ip"]) == (
        "Delivered",
        27761,
        "198.51.100.23",
    )
    assert event["organization"] == "contoso.onmicrosoft.com"
    # the message trace id is the network message id (the file has no column of its own)
    assert event["message_trace_id"] == event["network_message_id"] == "8d5dfa7c"
    assert dict(event["extras"]) == {
        "PSComputerName": "outlook.office365.com",
        "RunspaceId": "0b6e3c2a",
        "PSShowComputerName": "False",
        "StartDate": "11/16/2026 12:00:00 AM",
        "EndDate": "11/19/2026 12:00:00 AM",
        "Index": "0",
    }


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_european_excel_semicolons_and_tabs_are_delimiters(tmp_path, delimiter):
    header = delimiter.join(["Date", "Sender", "Recipient", "Subject", "Status", "Size"])
    row = delimiter.join(
        ["27/09/2022 10:15:30", "a@contoso.com", "b@fabrikam.com", '"Prix: 3,50 €; ok"', "Failed"]
    )
    path = write_export(tmp_path, "summary.csv", f"{header}\r\n{row}{delimiter}1024\r\n", "cp1252")

    case = load_sources([path])

    assert (case.inputs[0].format, case.inputs[0].rows_rejected) == ("summary", 0)
    assert events_as_dicts(
        case, "recipient_address", "message_subject", "reported_status", "total_bytes"
    ) == [
        {
            "recipient_address": "b@fabrikam.com",
            "message_subject": "Prix: 3,50 €; ok",
            "reported_status": "Failed",
            "total_bytes": 1024,
        }
    ]


def test_an_excel_sep_line_says_the_delimiter_and_keeps_line_numbers(tmp_path):
    # a header with more commas than semicolons: only Excel's "sep=;" line tells
    header = "Date;Sender;Recipient;Subject;Status;Note, kept, as, is"
    rows = ["27/09/2022 10:15:30;a@contoso.com;b@fabrikam.com;Hello, there;Delivered;x", "bad"]
    path = write_export(tmp_path, "summary.csv", "sep=;\r\n" + "\r\n".join([header, *rows]))

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.format, record.rows_ingested) == ("summary", 1)
    assert [r.line for r in record.rejected] == [4]
    assert events_as_dicts(case, "message_subject", "line") == [
        {"message_subject": "Hello, there", "line": 3}
    ]


def test_an_unrelated_csv_is_named_as_not_an_export(tmp_path):
    path = write_export(tmp_path, "contacts.csv", "Name,Age,City\r\nBob,42,Paris\r\n")

    record = inspect_files([path])[0]

    assert record.format is None
    assert record.error.startswith("is not a message trace export")
    assert "Name, Age, City" in record.error
    assert "msgtrace formats" in record.error


NEAR_MISS = (
    "date_time_utc,event_id,recipient_address,note\r\n2022-09-19T15:02:29Z,RECEIVE,a@x.com,1\r\n"
)


def test_a_near_miss_header_names_the_closest_format_and_what_it_lacks(tmp_path):
    path = write_export(tmp_path, "cut.csv", NEAR_MISS)

    record = inspect_files([path])[0]

    assert record.error == (
        "header matches no known export format (closest: extended, missing sender_address). "
        "Header starts: date_time_utc, event_id, recipient_address, note. Pass --format to "
        "force one (see `msgtrace formats`)."
    )


def test_forcing_a_format_reads_a_near_miss_header(tmp_path):
    path = write_export(tmp_path, "cut.csv", NEAR_MISS)

    case = load_sources([path], IngestOptions(format="extended"))

    assert case.inputs[0].format == "extended"
    assert events_as_dicts(case, "event_id", "recipient_address", "sender_address", "extras") == [
        {
            "event_id": "RECEIVE",
            "recipient_address": "a@x.com",
            "sender_address": None,
            "extras": [("note", "1")],
        }
    ]


def test_forcing_a_format_whose_time_column_is_missing_says_so(tmp_path):
    path = write_export(tmp_path, "cut.csv", NEAR_MISS)

    record = inspect_files([path], IngestOptions(format="summary"))[0]

    assert record.error.startswith("--format summary was given but the header has no Date column")


def test_unmapped_columns_are_kept_verbatim_in_extras(tmp_path):
    header = "Date,Sender,Recipient,Subject,Status,Ticket #,Notes,Empty\r\n"
    row = (
        "9/27/2022 10:15:30 AM,a@contoso.com,b@fabrikam.com,Hi,Delivered,"
        'INC-7,"  spaced, ""quoted""  ",\r\n'
    )
    path = write_export(tmp_path, "summary.csv", header + row)

    case = load_sources([path])

    assert case.events.column("extras").to_pylist() == [
        [("Ticket #", "INC-7"), ("Notes", '  spaced, "quoted"  ')]
    ]


def test_tracking_log_fields_beyond_the_27_are_kept():
    path = REAL_SAMPLES / "qazeer-artefacts-msgtrk" / "MSGTRKMS2022091915-1.LOG"

    case = load_sources([path])

    extras = [dict(e) for e in case.events.column("extras").to_pylist()]
    assert all(e["schema-version"] == "15.01.2375.007" for e in extras)
    assert {e.get("transport-traffic-type") for e in extras} == {None, "Email"}
    assert case.events.column("line").to_pylist() == [6, 7]


def test_json_fields_without_a_column_are_kept_as_text(tmp_path):
    records = [
        {
            "Received": "2022-09-05T18:10:13.4907658",
            "SenderAddress": "a@contoso.com",
            "RecipientAddress": "b@fabrikam.com",
            "Status": "Delivered",
            "Size": 2048,
            "Index": 0,
            "Organization": "contoso.com",
            "Labels": {"b": [1, 2], "a": True},
        }
    ]
    path = write_export(tmp_path, "trace.ndjson", "\n".join(json.dumps(r) for r in records))

    case = load_sources([path])

    event = case.events.to_pylist()[0]
    assert case.inputs[0].format == "reporting_api_json"
    assert event["total_bytes"] == 2048
    assert event["organization"] == "contoso.com"
    assert dict(event["extras"]) == {
        "Index": "0",
        "Labels": '{"a": true, "b": [1, 2]}',
    }


def csv_samples() -> list[Source]:
    """The CSV inputs of samples/: its CSV files and the CSV members of its archives."""
    found = []
    for source in walk([SAMPLES]).sources:
        encoding = detect_encoding(source)
        layout = read_layout(source, encoding, None)
        if layout.container == "csv":
            found.append(source)
    return found


@pytest.mark.parametrize("source", csv_samples(), ids=lambda s: Path(s.path).name)
def test_nothing_of_a_sample_export_is_lost(source):
    """Every non-empty value of an unmapped column is in the extras of its row's events."""
    encoding = detect_encoding(source)
    layout = read_layout(source, encoding, None)
    with source.open() as handle:
        text = handle.read()[encoding.bom_length :].decode(encoding.name)
    preamble = "".join(text.splitlines(keepends=True)[: layout.skip_rows - 1])
    reader = csv.reader(io.StringIO(text[len(preamble) :], newline=""), delimiter=layout.delimiter)
    headers = next(reader)
    unmapped = [k for k in range(len(headers)) if k not in layout.header_map]
    expected: dict[int, dict[str, str]] = {}
    line = reader.line_num + layout.skip_rows - 1 + 1
    for values in reader:
        expected[line] = {headers[k]: values[k] for k in unmapped if values[k] != ""}
        line = reader.line_num + layout.skip_rows - 1 + 1

    case = load_sources([source.file])

    found: dict[int, dict[str, str]] = {}
    # a row merged as a duplicate of an earlier one (a V2 page's repeated boundary row) keeps
    # its extras in the case's duplicates
    for table in (case.events, case.duplicates):
        for line, extras in zip(
            table.column("line").to_pylist(), table.column("extras").to_pylist(), strict=True
        ):
            assert found.setdefault(line, dict(extras)) == dict(extras)
    assert found == expected


def test_a_subject_line_that_looks_like_a_tracking_log_header_is_just_data(tmp_path):
    # an attacker controls the subject; a folded subject line "#Fields: ..." must not turn an
    # extended report into an unreadable "tracking log"
    rows = [
        extended_row(network_message_id="n1", message_subject="Invoice\n#Fields: date-time,x"),
        extended_row(network_message_id="n2"),
    ]
    path = write_export(tmp_path, "extended.csv", extended_csv(*rows))

    case = load_sources([path])

    assert (case.inputs[0].format, case.inputs[0].rows_rejected) == ("extended", 0)
    assert case.events.column("message_subject")[0].as_py() == "Invoice\n#Fields: date-time,x"
    assert case.events.column("line").to_pylist() == [2, 4]


# ---------------------------------------------------------------- the exports of 2026

GRAPH_ID = "4c1bb6f1-3bba-4a74-8d9e-08de7f3ddff2"


def graph_trace(recipient: str, status: str, trace_id: str = GRAPH_ID, **extra) -> dict:
    return {
        "@odata.type": "#microsoft.graph.exchangeMessageTrace",
        "id": trace_id,
        "messageId": "<CAF1@fabrikam.com>",
        "receivedDateTime": "2026-01-27T09:15:02Z",
        "senderAddress": "bob@fabrikam.com",
        "recipientAddress": recipient,
        "subject": "Invoice",
        "status": status,
        "size": 48213,
        "fromIP": "192.0.2.10",
        "toIP": None,
        **extra,
    }


GRAPH_STATUSES = {
    "delivered": "Delivered",
    "failed": "Failed",
    "pending": "Pending",
    "gettingStatus": "Pending",
    "expanded": "Expanded",
    "quarantined": "Quarantined",
    "filteredAsSpam": "FilteredAsSpam",
    "unknownFutureValue": "Unknown",
}


def graph_page(records: list[dict], next_link: bool = True) -> dict:
    page: dict = {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#admin/exchange/tracing/"
        "messageTraces",
        "value": records,
    }
    if next_link:
        page["@odata.nextLink"] = "https://graph.microsoft.com/v1.0/admin/...&$skiptoken=x"
    return page


def final_statuses(case) -> dict[str, str]:
    from analyzer.chains import build_chains

    recipients = build_chains(case).recipients.to_pylist()
    return {r["recipient_address"]: r["final_status"] for r in recipients}


def test_graph_message_trace_statuses_land_on_the_final_status_vocabulary(tmp_path):
    records = [
        graph_trace(f"{status.lower()}@contoso.com", status, f"{GRAPH_ID[:-2]}{k:02d}")
        for k, status in enumerate(GRAPH_STATUSES)
    ]
    path = write_export(tmp_path, "traces.json", json.dumps(graph_page(records), indent=2))

    case = load_sources([path])

    assert case.inputs[0].format == "reporting_api_json"
    assert case.events.column("reported_status").to_pylist() == list(GRAPH_STATUSES)
    assert final_statuses(case) == {
        f"{status.lower()}@contoso.com": final for status, final in GRAPH_STATUSES.items()
    }


def test_a_graph_id_is_the_message_trace_id_and_the_network_message_id(tmp_path):
    records = [graph_trace("alice@contoso.com", "delivered"), graph_trace("b@x.com", "failed")]
    pages = json.dumps(graph_page(records[:1])) + "\n" + json.dumps(graph_page(records[1:], False))
    path = write_export(tmp_path, "traces.ndjson", pages)

    case = load_sources([path])

    events = case.events.select(["message_trace_id", "network_message_id", "extras"]).to_pylist()
    assert [(e["message_trace_id"], e["network_message_id"]) for e in events] == [
        (GRAPH_ID, GRAPH_ID),
        (GRAPH_ID, GRAPH_ID),
    ]
    assert dict(events[0]["extras"]) == {"@odata.type": "#microsoft.graph.exchangeMessageTrace"}
    from analyzer.chains import chain_report

    chain = chain_report(case, GRAPH_ID.upper())
    assert chain["network_message_id"] == GRAPH_ID
    assert {r["address"] for r in chain["recipients"]} == {"alice@contoso.com", "b@x.com"}


def graph_detail(event: str, second: int, detail_id: str = GRAPH_ID, **extra) -> dict:
    return {
        "id": detail_id,
        "messageId": "<CAF1@fabrikam.com>",
        "dateTime": f"2026-01-27T09:15:0{second}Z",
        "event": event,
        "action": None,
        "description": f"{event} description",
        "data": '<root><MEP Name="ConnectorId" String="x"/></root>',
        **extra,
    }


def test_graph_details_become_events_without_a_recipient_and_say_so(tmp_path):
    details = [
        graph_detail("Receive", 1),
        graph_detail("Transport rule", 2, action="Set SCL to -1"),
        graph_detail("Deliver", 3),
    ]
    path = write_export(tmp_path, "details.json", json.dumps(graph_page(details, False)))

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.format, record.rows_read, record.rows_rejected) == (
        "get_messagetrace_detail",
        3,
        0,
    )
    assert record.warnings == [
        "the get_messagetrace_detail rows carry no recipient: they are kept as events of their "
        "message (by its message trace id and message id) without a recipient"
    ]
    assert case.events.select(
        ["event_id", "event_action", "event_detail", "recipient_address", "message_trace_id"]
    ).to_pylist() == [
        {
            "event_id": "RECEIVE",
            "event_action": None,
            "event_detail": "Receive description",
            "recipient_address": None,
            "message_trace_id": GRAPH_ID,
        },
        {
            "event_id": "TRANSPORTRULE",
            "event_action": "Set SCL to -1",
            "event_detail": "Transport rule description",
            "recipient_address": None,
            "message_trace_id": GRAPH_ID,
        },
        {
            "event_id": "DELIVER",
            "event_action": None,
            "event_detail": "Deliver description",
            "recipient_address": None,
            "message_trace_id": GRAPH_ID,
        },
    ]
    assert case.events.column("event_data").to_pylist() == [details[0]["data"]] * 3
    assert case.events.column("network_message_id").to_pylist() == [GRAPH_ID] * 3


def test_graph_detail_ids_of_their_own_are_kept_but_never_taken_for_the_trace_id(tmp_path):
    details = [graph_detail(event, k, f"detail-{k}") for k, event in enumerate(["Receive", "Fail"])]
    path = write_export(tmp_path, "details.json", json.dumps(graph_page(details)))

    case = load_sources([path])

    events = case.events.select(["message_trace_id", "network_message_id", "extras"]).to_pylist()
    assert [(e["message_trace_id"], e["network_message_id"]) for e in events] == [(None, None)] * 2
    assert [dict(e["extras"])["id"] for e in events] == ["detail-0", "detail-1"]
    assert (
        "each record has an 'id' of its own (no two records share one): it identifies the "
        "record, not the message trace, so it is kept in extras and these rows join their "
        "message by message id only"
    ) in case.inputs[0].warnings


V2_HEADER = (
    '"Received","SenderAddress","RecipientAddress","Subject","Status","ToIP","FromIP","Size",'
    '"MessageId","MessageTraceId","Organization"\r\n'
)


def v2_row(second: int, recipient: str, status: str) -> str:
    trace_id = f"8d5dfa7c-0000-4000-a000-08de0000000{second}"
    return (
        f'"1/27/2026 9:15:0{second} AM","bob@fabrikam.com","{recipient}","Invoice","{status}",'
        f'"","192.0.2.10","48213","<m{second}@fabrikam.com>","{trace_id}","contoso.com"\r\n'
    )


def test_v2_pages_repeat_their_boundary_row_which_merges_as_a_duplicate(tmp_path):
    from analyzer.ingest import ingest_into_case

    first = write_export(
        tmp_path,
        "page1.csv",
        "#TYPE Deserialized.Microsoft.Exchange.Management.FfoReporting.MessageTraceV2\r\n"
        + V2_HEADER
        + v2_row(1, "a@contoso.com", "Delivered")
        + v2_row(2, "b@contoso.com", "None"),
    )
    # the next query starts at the last row's Received and recipient: that row comes again
    second = write_export(
        tmp_path,
        "page2.csv",
        V2_HEADER + v2_row(2, "b@contoso.com", "None") + v2_row(3, "c@contoso.com", "Failed"),
    )
    appended = write_export(tmp_path, "appended.csv", first.read_text() + second.read_text())

    result = ingest_into_case([first, second], tmp_path / "case")
    again = ingest_into_case([appended], tmp_path / "one_file")

    accounts = [
        (r.rows_read, r.rows_ingested, r.rows_duplicate, r.rows_rejected) for r in result.added
    ]
    assert accounts == [(2, 2, 0, 0), (2, 1, 1, 0)]
    assert result.events == 3
    [record] = again.added
    assert (record.rows_read, record.rows_ingested, record.rows_duplicate) == (4, 3, 1)
    case = load_sources([tmp_path / "case"])
    assert case.events.column("reported_status").to_pylist() == ["Delivered", "None", "Failed"]
    assert set(case.events.column("organization").to_pylist()) == {"contoso.com"}
    assert final_statuses(case)["b@contoso.com"] == "Unknown"
    assert any(w.startswith("some rows have the status None") for w in result.added[0].warnings)


def streaming(table: str, time: str, **properties) -> dict:
    return {
        "time": time,
        "tenantId": "0f3a5c1e-2b7d-4e9a-8c6f-1d2e3f4a5b6c",
        "operationName": "Publish",
        "category": f"AdvancedHunting-{table}",
        "properties": {"Timestamp": time, "NetworkMessageId": GRAPH_ID, **properties},
    }


def streaming_records() -> list[dict]:
    email = {
        "InternetMessageId": "<CAF1@fabrikam.com>",
        "SenderFromAddress": "bob@fabrikam.com",
        "SenderMailFromAddress": "bounce@fabrikam.com",
        "RecipientEmailAddress": "alice@contoso.com",
        "Subject": "Invoice",
        "EmailDirection": "Inbound",
        "DeliveryAction": "Delivered",
        "ThreatTypes": "",
        "AuthenticationDetails": {"SPF": "fail", "DKIM": "none", "DMARC": "fail"},
        "IsFirstContact": True,
        "BulkComplaintLevel": 4,
        "ConfidenceLevel": {"Phish": "High"},
        "EmailSize": 48213,
        "AttachmentCount": 1,
        "UrlCount": 1,
        "ForwardingInformation": "",
        "SenderDisplayName": "Bob",
    }
    return [
        streaming("EmailEvents", "2026-01-27T09:15:02Z", DeliveryLocation="Inbox/folder", **email),
        # the verdict changed: the same message x recipient comes again
        streaming(
            "EmailEvents",
            "2026-01-27T09:15:02Z",
            **{**email, "DeliveryLocation": "Quarantine", "ThreatTypes": "Phish"},
        ),
        streaming(
            "EmailAttachmentInfo",
            "2026-01-27T09:15:02Z",
            SenderFromAddress="bob@fabrikam.com",
            RecipientEmailAddress="alice@contoso.com",
            FileName="invoice.html",
            FileType="html",
            SHA256="ab" * 32,
            FileSize=2048,
        ),
        streaming(
            "EmailUrlInfo",
            "2026-01-27T09:15:02Z",
            Url="https://login.c0ntoso.example/x",
            UrlDomain="login.c0ntoso.example",
            UrlLocation="Body",
        ),
        streaming(
            "UrlClickEvents",
            "2026-01-27T09:20:41Z",
            Url="https://login.c0ntoso.example/x",
            ActionType="ClickAllowed",
            AccountUpn="alice@contoso.com",
            IsClickedThrough=True,
            IPAddress="198.51.100.7",
        ),
        streaming("DeviceProcessEvents", "2026-01-27T09:21:00Z", FileName="powershell.exe"),
        streaming("IdentityLogonEvents", "2026-01-27T09:21:00Z"),
        streaming("DeviceProcessEvents", "2026-01-27T09:22:00Z"),
    ]


@pytest.mark.parametrize("shape", ["ndjson", "records"])
def test_defender_streaming_records_are_read_by_their_table(tmp_path, shape):
    records = streaming_records()
    text = (
        "\n".join(json.dumps(r) for r in records)
        if shape == "ndjson"
        else json.dumps({"records": records}, indent=1)
    )
    path = write_export(tmp_path, "eventhub.json", text)

    case = load_sources([path])

    record = case.inputs[0]
    assert record.format == (
        "defender_email_events, defender_email_attachment_info, defender_email_url_info, "
        "defender_url_click_events"
    )
    assert (record.rows_read, record.rows_ingested, record.rows_rejected) == (5, 5, 0)
    assert record.warnings == [
        "3 Defender streaming record(s) of tables that hold no message trace data were "
        "skipped: DeviceProcessEvents (2), IdentityLogonEvents (1)"
    ]
    rows = {(e["report_type"], e["delivery_location"]): e for e in case.events.to_pylist()}
    inbox = rows[("defender_email_events", "Inbox/folder")]
    quarantine = rows[("defender_email_events", "Quarantine")]
    assert (inbox["reported_status"], quarantine["reported_status"]) == ("Delivered", "Quarantined")
    assert quarantine["threat_types"] == "Phish"
    assert (inbox["sender_address"], inbox["return_path"]) == (
        "bob@fabrikam.com",
        "bounce@fabrikam.com",
    )
    assert inbox["authentication_details"] == '{"DKIM": "none", "DMARC": "fail", "SPF": "fail"}'
    assert (inbox["is_first_contact"], inbox["bulk_complaint_level"]) == ("true", 4)
    assert (inbox["confidence_level"], inbox["total_bytes"]) == ('{"Phish": "High"}', 48213)
    assert (inbox["attachment_count"], inbox["url_count"]) == (1, 1)
    assert inbox["tenant_id"] == "0f3a5c1e-2b7d-4e9a-8c6f-1d2e3f4a5b6c"
    assert dict(inbox["extras"]) == {
        "SenderDisplayName": "Bob",
        "time": "2026-01-27T09:15:02Z",
        "operationName": "Publish",
        "category": "AdvancedHunting-EmailEvents",
    }
    attachment = rows[("defender_email_attachment_info", None)]
    assert (attachment["event_id"], attachment["file_name"], attachment["file_sha256"]) == (
        "ATTACHMENT",
        "invoice.html",
        "ab" * 32,
    )
    assert (attachment["file_type"], attachment["file_size"]) == ("html", 2048)
    link = rows[("defender_email_url_info", None)]
    assert (link["event_id"], link["url"], link["url_location"], link["recipient_address"]) == (
        "URL",
        "https://login.c0ntoso.example/x",
        "Body",
        None,
    )
    click = rows[("defender_url_click_events", None)]
    assert (click["event_id"], click["click_action"], click["clicked_through"]) == (
        "URLCLICK",
        "ClickAllowed",
        "true",
    )
    assert (click["recipient_address"], click["time_basis"]) == ("alice@contoso.com", "event")
    assert dict(click["extras"])["IPAddress"] == "198.51.100.7"
    assert {e["network_message_id"] for e in rows.values()} == {GRAPH_ID}


def test_defender_advanced_hunting_csv_of_the_new_tables_is_read_too(tmp_path):
    header = "Timestamp,NetworkMessageId,Url,UrlDomain,UrlLocation,ReportId\r\n"
    row = f"2026-01-27T09:15:02Z,{GRAPH_ID},https://x.example/a?b=1,x.example,Body,1234\r\n"
    path = write_export(tmp_path, "EmailUrlInfo.csv", header + row)

    case = load_sources([path])

    assert case.inputs[0].format == "defender_email_url_info"
    assert case.events.select(["event_id", "url", "extras"]).to_pylist() == [
        {"event_id": "URL", "url": "https://x.example/a?b=1", "extras": [("ReportId", "1234")]}
    ]
