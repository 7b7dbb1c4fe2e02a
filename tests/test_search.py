"""Search (library and `msgtrace search`) and `msgtrace chain` on the command line."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from analyzer import schema
from analyzer.case import Case
from analyzer.chains import build_chains
from analyzer.cli import cli
from analyzer.errors import OptionError
from analyzer.search import SearchCriteria, parse_time, render, search
from analyzer.timestamps import DisplayZone


def _row(nmid, recipient, event_id, when, **fields):
    return {
        "event_time": when,
        "time_basis": "event",
        "event_id": event_id,
        "network_message_id": nmid,
        "recipient_address": recipient,
        "input_id": "ext",
        "report_type": "extended",
        **fields,
    }


@pytest.fixture(scope="module")
def chains():
    out = {
        "message_id": "<out@contoso.com>",
        "sender_address": "alice@contoso.com",
        "message_subject": '=HYPERLINK("http://evil.example","x")',
        "direction": "originating",
    }
    inbound = {
        "message_id": "<in@fabrikam.example>",
        "sender_address": "bob@fabrikam.example",
        "message_subject": "Invoice 4471",
        "direction": "inbound",
        "client_ip": "203.0.113.66",
    }
    late = {
        "message_id": "<late@contoso.com>",
        "sender_address": "carol@contoso.com",
        "message_subject": "Late report",
        "direction": "originating",
    }
    rows = [
        _row("M1", "x@fabrikam.example", "RECEIVE", "2024-03-01T10:00:00Z", line=2, **out),
        _row("M1", "dan@contoso.com", "RECEIVE", "2024-03-01T10:00:00Z", line=2, **out),
        _row(
            "M1",
            "x@fabrikam.example",
            "SEND",
            "2024-03-01T10:00:02Z",
            line=3,
            server_ip="198.51.100.7",
            **out,
        ),
        _row("M1", "dan@contoso.com", "DELIVER", "2024-03-01T10:00:03Z", line=4, **out),
        _row("M2", "dan@contoso.com", "RECEIVE", "2024-03-01T11:00:00Z", line=5, **inbound),
        _row(
            "M2",
            "dan@contoso.com",
            "FAIL",
            "2024-03-01T11:00:01Z",
            line=6,
            status_code="5.1.1",
            **inbound,
        ),
        _row("M3", "erin@contoso.com", "RECEIVE", "2024-03-02T09:00:00Z", line=7, **late),
        _row("M3", "erin@contoso.com", "DEFER", "2024-03-02T09:00:05Z", line=8, **late),
    ]
    case = Case(schema.events_table(rows), schema.DUPLICATE_SCHEMA.empty_table(), [])
    return build_chains(case)


def _found(chains, **options):
    table = search(chains, SearchCriteria.from_options(**options))
    return [(r["message_key"], r["recipient_address"]) for r in table.to_pylist()]


def test_everything_newest_first(chains):
    assert _found(chains) == [
        ("m3", "erin@contoso.com"),
        ("m2", "dan@contoso.com"),
        ("m1", "dan@contoso.com"),
        ("m1", "x@fabrikam.example"),
    ]


def test_sender_and_recipient_wildcards(chains):
    assert _found(chains, senders=["*@contoso.com"]) == [
        ("m3", "erin@contoso.com"),
        ("m1", "dan@contoso.com"),
        ("m1", "x@fabrikam.example"),
    ]
    assert _found(chains, recipients=["*@FABRIKAM.example", "erin@contoso.com"]) == [
        ("m3", "erin@contoso.com"),
        ("m1", "x@fabrikam.example"),
    ]
    assert _found(chains, senders=["bob@fabrikam.example"]) == [("m2", "dan@contoso.com")]


def test_time_range_utc_unless_an_offset_is_given(chains):
    # 12:30+02:00 is 10:30 UTC: M1 (10:00 UTC) is before it
    assert _found(chains, start="2024-03-01T12:30+02:00", end="2024-03-01") == [
        ("m2", "dan@contoso.com")
    ]
    assert _found(chains, end="2024-03-01T10:00:01") == [
        ("m1", "dan@contoso.com"),
        ("m1", "x@fabrikam.example"),
    ]


def test_status_direction_subject_ids_and_ips(chains):
    assert _found(chains, statuses=["failed", "Pending"]) == [
        ("m3", "erin@contoso.com"),
        ("m2", "dan@contoso.com"),
    ]
    # the admin center's names, with spaces, are accepted too
    assert _found(chains, statuses=["Getting status"]) == [("m3", "erin@contoso.com")]
    assert _found(chains, statuses=["Filtered as spam"]) == []
    assert _found(chains, direction="outbound") == [("m1", "x@fabrikam.example")]
    assert _found(chains, direction="internal") == [
        ("m3", "erin@contoso.com"),
        ("m1", "dan@contoso.com"),
    ]
    assert _found(chains, subject="INVOICE") == [("m2", "dan@contoso.com")]
    assert _found(chains, message_id="OUT@contoso.com") == [
        ("m1", "dan@contoso.com"),
        ("m1", "x@fabrikam.example"),
    ]
    assert _found(chains, network_message_id="m2") == [("m2", "dan@contoso.com")]
    assert _found(chains, from_ip="203.0.113.66") == [("m2", "dan@contoso.com")]
    assert _found(chains, to_ip="198.51.100.7") == [("m1", "x@fabrikam.example")]


def test_limit_keeps_the_newest(chains):
    table = search(chains, SearchCriteria(), limit=2)
    assert table.column("message_key").to_pylist() == ["m3", "m2"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"statuses": ["Bounced"]}, "unknown status 'Bounced'; use one of: Delivered"),
        ({"direction": "sideways"}, "unknown direction 'sideways'"),
        ({"start": "yesterday"}, "--start: 'yesterday' is not an ISO 8601 time"),
        ({"start": "2024-03-02", "end": "2024-03-01T00:00"}, "is not after --start"),
    ],
)
def test_bad_criteria_say_what_to_do(options, message):
    with pytest.raises(OptionError, match=message):
        SearchCriteria.from_options(**options)


def test_parse_time():
    utc = dt.UTC
    assert parse_time("2024-03-01") == dt.datetime(2024, 3, 1, tzinfo=utc)
    assert parse_time("2024-03-01", end_of_day=True) == dt.datetime(2024, 3, 2, tzinfo=utc)
    assert parse_time("2024-03-01T12:00:00+02:00") == dt.datetime(2024, 3, 1, 10, tzinfo=utc)
    assert parse_time("2024-03-01T10:00:00Z") == dt.datetime(2024, 3, 1, 10, tzinfo=utc)


def test_csv_neutralizes_formulas_and_gives_the_time_labelled_and_exact(chains):
    text = render(search(chains, SearchCriteria()), "csv")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == [
        "time (UTC)",
        "sender",
        "recipient",
        "subject",
        "final status",
        "status code",
        "direction",
        "message id",
        "network message id",
        "time (ISO 8601 UTC)",
    ]
    m1 = next(r for r in rows if r[2] == "x@fabrikam.example")
    assert m1[0] == "2024-03-01 10:00:00 UTC"
    assert m1[-1] == "2024-03-01T10:00:00.0000000Z"
    assert m1[3] == '\'=HYPERLINK("http://evil.example","x")'
    # every field is quoted, the heading too
    assert text.startswith('"time (UTC)","sender",')


def test_table_shows_subjects_on_one_line_with_hidden_characters_visible():
    subject = "Re:\x1b]0;x\x07\nline 2\u202e"
    rows = [_row("M9", "dan@contoso.com", "DELIVER", "2024-03-01T10:00:00Z", line=2)]
    rows[0]["message_subject"] = subject
    case = Case(schema.events_table(rows), schema.DUPLICATE_SCHEMA.empty_table(), [])
    text = render(search(build_chains(case), SearchCriteria()), "table")
    lines = text.splitlines()
    assert len(lines) == 3  # heading, rule, one result
    assert "Re:\\x1b]0;x\\x07\\nline 2<U+202E>" in lines[2]
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text


def test_display_time_zone_converts_and_labels_text_but_not_json(chains):
    table = search(chains, SearchCriteria(), limit=1)
    text = render(table, "table", DisplayZone("Europe/Paris"))
    heading, _, first = text.splitlines()
    assert heading.startswith("time (Europe/Paris)")
    assert first.startswith("2024-03-02 10:00:00 CET")  # 09:00 UTC in winter time
    data = json.loads(render(table, "json", DisplayZone("Europe/Paris")))
    assert data[0]["time"] == "2024-03-02T09:00:00.0000000Z"
    assert "time_zone" not in data[0]
    with pytest.raises(OptionError, match="unknown output 'xml'"):
        render(table, "xml")


# --------------------------------------------------------------------------------------------
# the commands, on a raw extended report

HEADER = (
    "date_time_utc,client_ip,client_hostname,server_ip,server_hostname,source_context,"
    "connector_id,source,event_id,internal_message_id,message_id,network_message_id,"
    "recipient_address,recipient_status,total_bytes,recipient_count,related_recipient_address,"
    "reference,message_subject,sender_address,return_path,message_info,directionality,"
    "tenant_id,original_client_ip,original_server_ip,custom_data"
)


def _line(time, event_id, recipients, status, nmid, mid, subject, sender, **extra):
    values = {
        "date_time_utc": time,
        "source": extra.pop("source", "SMTP"),
        "event_id": event_id,
        "message_id": mid,
        "network_message_id": nmid,
        "recipient_address": recipients,
        "recipient_status": status,
        "message_subject": subject,
        "sender_address": sender,
        **extra,
    }
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(values.get(c, "") for c in HEADER.split(","))
    return out.getvalue()


@pytest.fixture
def export(tmp_path: Path) -> Path:
    subject = '=HYPERLINK("http://evil.example","x")'
    m1 = ("aaaa1111-0000-4000-8000-000000000001", "<out@contoso.com>", subject, "alice@contoso.com")
    m2 = (
        "aaaa1111-0000-4000-8000-000000000002",
        "<in@fabrikam.example>",
        "Invoice 4471",
        "bob@fabrikam.example",
    )
    lines = [
        HEADER,
        _line(
            "2024-03-01T10:00:00.0000000Z",
            "RECEIVE",
            "x@fabrikam.example;dan@contoso.com",
            "To;To",
            *m1,
            directionality="Originating",
        ),
        _line(
            "2024-03-01T10:00:01.5000000Z",
            "AGENTINFO",
            "x@fabrikam.example;dan@contoso.com",
            "",
            *m1,
            directionality="Originating",
            source="AGENT",
            custom_data="S:SFA=SUM|SFV=NSPM|SCL=1|DI=SN|CTRY=FR",
        ),
        _line(
            "2024-03-01T10:00:02.0000000Z",
            "SEND",
            "x@fabrikam.example",
            "250 2.6.0 Queued mail for delivery",
            *m1,
            directionality="Originating",
            server_ip="198.51.100.7",
        ),
        _line(
            "2024-03-01T10:00:03.0000000Z",
            "DELIVER",
            "dan@contoso.com",
            "250 2.1.5 Recipient OK",
            *m1,
            directionality="Originating",
            source="STOREDRIVER",
        ),
        _line(
            "2024-03-01T11:00:00.0000000Z",
            "RECEIVE",
            "dan@contoso.com",
            "To",
            *m2,
            directionality="Incoming",
            client_ip="203.0.113.66",
        ),
        _line(
            "2024-03-01T11:00:01.0000000Z",
            "FAIL",
            "dan@contoso.com",
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            *m2,
            directionality="Incoming",
            source="ROUTING",
        ),
    ]
    path = tmp_path / "extended.csv"
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


def test_chain_command_text(export: Path):
    result = CliRunner().invoke(cli, ["chain", "--message", "<IN@fabrikam.example>", str(export)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Message aaaa1111-0000-4000-8000-000000000002" in out
    assert (
        "Recipient dan@contoso.com: Failed - not delivered: unknown recipient: the address does "
        "not exist at the receiving organization (5.1.1)"
    ) in out
    assert "SMTP reply: 550 5.1.1 RESOLVER.ADR.RecipNotFound; not found" in out
    timeline = [line.strip() for line in out.splitlines() if " UTC " in line and "[" in line]
    assert timeline[0].startswith("2024-03-01 11:00:00.000 UTC  RECEIVE")
    assert timeline[1].startswith("2024-03-01 11:00:01.000 UTC  FAIL")
    assert f"[extended, {export}:6]" in timeline[0]


def test_chain_command_json(export: Path):
    result = CliRunner().invoke(
        cli, ["chain", "--message", "aaaa1111-0000-4000-8000-000000000001", str(export), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["network_message_id"] == "aaaa1111-0000-4000-8000-000000000001"
    assert data["message_id"] == "<out@contoso.com>"
    assert data["sender"] == "alice@contoso.com"
    assert data["subject"] == '=HYPERLINK("http://evil.example","x")'
    recipients = {r["address"]: r for r in data["recipients"]}
    assert recipients["x@fabrikam.example"]["final_status"] == "Delivered"
    assert recipients["x@fabrikam.example"]["status_code"] == "2.6.0"
    assert recipients["x@fabrikam.example"]["parent"] is None
    assert recipients["x@fabrikam.example"]["direction"] == "outbound"
    assert recipients["dan@contoso.com"]["direction"] == "internal"
    assert recipients["dan@contoso.com"]["verdicts"]["sfv"] == "NSPM"
    events = recipients["x@fabrikam.example"]["events"]
    assert [(e["time"], e["event_id"], e["source"], e["status"], e["line"]) for e in events] == [
        ("2024-03-01T10:00:00.0000000Z", "RECEIVE", "SMTP", "To", 2),
        ("2024-03-01T10:00:01.5000000Z", "AGENTINFO", "AGENT", None, 3),
        ("2024-03-01T10:00:02.0000000Z", "SEND", "SMTP", "250 2.6.0 Queued mail for delivery", 4),
    ]
    assert all(e["input"] == str(export) for e in events)
    assert data["related_messages"] == []


def test_chain_command_unknown_id_exits_1(export: Path):
    result = CliRunner().invoke(cli, ["chain", "--message", "<nope@nowhere>", str(export)])
    assert result.exit_code == 1
    assert "no message with id '<nope@nowhere>' in the data" in result.output
    assert "Traceback" not in result.output


def test_search_command_csv_is_safe_for_excel(export: Path):
    result = CliRunner().invoke(cli, ["search", str(export), "--sender", "*@contoso.com", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][0] == "time (UTC)"
    assert [(r[2], r[3], r[4]) for r in rows[1:]] == [
        ("dan@contoso.com", '\'=HYPERLINK("http://evil.example","x")', "Delivered"),
        ("x@fabrikam.example", '\'=HYPERLINK("http://evil.example","x")', "Delivered"),
    ]


def test_search_command_filters_and_json(export: Path):
    result = CliRunner().invoke(
        cli,
        [
            "search",
            str(export),
            "--status",
            "Failed",
            "--json",
            "--display-tz",
            "America/New_York",
        ],
    )
    assert result.exit_code == 0, result.output
    (only,) = json.loads(result.stdout)
    assert only["recipient"] == "dan@contoso.com"
    assert only["final_status"] == "Failed"
    assert only["time"] == "2024-03-01T11:00:00.0000000Z"  # JSON times stay UTC
    assert only["network_message_id"] == "aaaa1111-0000-4000-8000-000000000002"
    assert result.stderr == ""


def test_search_command_table_and_limit(export: Path):
    result = CliRunner().invoke(cli, ["search", str(export), "--limit", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("time (UTC)")
    assert "Invoice 4471" in lines[2] and "Failed" in lines[2]
    assert result.stderr == "msgtrace: showing 1 of 3 results; --limit 0 for all\n"


def test_csv_and_json_are_never_cut_silently(export: Path, monkeypatch):
    monkeypatch.setattr("analyzer.search.DEFAULT_LIMIT", 1)
    runner = CliRunner()
    table = runner.invoke(cli, ["search", str(export)])
    assert len(table.stdout.splitlines()) == 3  # heading, rule, one result
    assert "showing 1 of 3 results; --limit 0 for all" in table.stderr
    # no default limit for CSV and JSON
    whole = runner.invoke(cli, ["search", str(export), "--json"])
    assert len(json.loads(whole.stdout)) == 3 and whole.stderr == ""
    whole = runner.invoke(cli, ["search", str(export), "--csv"])
    assert len(list(csv.reader(io.StringIO(whole.stdout)))) == 4 and whole.stderr == ""
    # a limit given is kept, and said
    cut = runner.invoke(cli, ["search", str(export), "--json", "--limit", "2"])
    assert len(json.loads(cut.stdout)) == 2
    assert cut.stderr == "msgtrace: showing 2 of 3 results; --limit 0 for all\n"
    everything = runner.invoke(cli, ["search", str(export), "--limit", "0"])
    assert len(everything.stdout.splitlines()) == 5 and everything.stderr == ""


@pytest.mark.parametrize("old", ["csv", "json", "table", "CSV"])
def test_the_old_output_spelling_names_the_new_options(export: Path, old: str):
    result = CliRunner().invoke(cli, ["search", str(export), "--format", old])
    assert result.exit_code == 2
    assert f"--format {old} no longer chooses the output" in result.stderr
    assert "use --csv or --json" in result.stderr
    result = CliRunner().invoke(cli, ["search", str(export), "--export-format", "extended"])
    assert result.exit_code == 2
    assert "--export-format is now --format" in result.stderr


def test_format_forces_the_export_format_as_on_every_command(export: Path):
    result = CliRunner().invoke(cli, ["search", str(export), "--format", "extended", "--json"])
    assert result.exit_code == 0 and len(json.loads(result.stdout)) == 3
    result = CliRunner().invoke(cli, ["search", str(export), "--format", "summary"])
    assert result.exit_code == 1
    assert "summary" in result.stderr and "Traceback" not in result.output
    result = CliRunner().invoke(cli, ["search", str(export), "--json", "--csv"])
    assert result.exit_code == 2 and "give --json or --csv, not both" in result.stderr


def test_search_command_bad_options_exit_1(export: Path):
    runner = CliRunner()
    result = runner.invoke(cli, ["search", str(export), "--status", "Bounced"])
    assert result.exit_code == 1
    assert "unknown status 'Bounced'" in result.output
    result = runner.invoke(cli, ["search", str(export), "--display-tz", "Nowhere/Land"])
    assert result.exit_code == 1
    assert "unknown time zone 'Nowhere/Land'" in result.output
