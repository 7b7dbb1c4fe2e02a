"""The realistic benchmark data is what it claims: an extended report msgtrace reads whole, with
real-world cardinality, multi-line and non-Latin subjects, the same events from UTF-8 (BOM) and
UTF-16 LE (no BOM), and benign traffic."""

from __future__ import annotations

import csv
import importlib.util
import io
import sys
from collections import defaultdict
from pathlib import Path

import pyarrow.compute as pc
import pytest

from analyzer.case import open_case
from analyzer.ingest import ingest_into_case

ROOT = Path(__file__).resolve().parents[2]
ROWS = 4_000  # not an export limit (1,000 / 5,000 / ... rows), so no truncation warning
SEED = 11


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


realistic = _load("realistic")


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("realistic")
    files, cases, cardinality = {}, {}, {}
    for encoding in ("utf-8-sig", "utf-16-le"):
        files[encoding] = folder / f"extended-{encoding}.csv"
        cardinality[encoding] = realistic.write_export(files[encoding], ROWS, SEED, encoding)
        cases[encoding] = folder / f"case-{encoding}"
        ingest_into_case([files[encoding]], cases[encoding])
    return files, cases, cardinality


def _rows(path: Path) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_msgtrace_reads_every_row_and_rejects_none(exports):
    _, cases, _ = exports
    for case_dir in cases.values():
        case = open_case(case_dir)
        (record,) = case.inputs
        assert record.format == "extended"
        assert (record.rows_read, record.rows_ingested) == (ROWS, ROWS)
        assert (record.rows_rejected, record.rows_duplicate) == (0, 0)
        assert record.warnings == []
        # multi-recipient rows become one event per recipient
        assert case.events.num_rows > ROWS


def test_the_file_is_written_the_way_the_admin_center_gives_it(exports):
    files, _, _ = exports
    utf8 = files["utf-8-sig"].read_bytes()
    utf16 = files["utf-16-le"].read_bytes()
    assert utf8.startswith(b'\xef\xbb\xbf"date_time_utc","client_ip",')
    assert utf16.startswith('"date_time_utc"'.encode("utf-16-le"))  # no BOM
    assert utf16.decode("utf-16-le") == utf8.decode("utf-8-sig")
    assert utf8.count(b"\n") == utf8.count(b"\r\n")  # CRLF everywhere, inside quotes too
    rows = _rows(files["utf-8-sig"])
    assert list(rows[0]) == list(realistic.HEADER) and len(realistic.HEADER) == 27
    assert len(rows) == ROWS
    times = [row["date_time_utc"] for row in rows]
    assert times == sorted(times)
    assert all(len(t) == 28 and t.endswith("Z") for t in times)  # 7 fractional digits


def test_each_message_has_its_own_ids_and_4_to_16_events_in_time_order(exports):
    files, _, cardinality = exports
    by_message = defaultdict(list)
    for row in _rows(files["utf-8-sig"]):
        by_message[row["network_message_id"]].append(row)
    assert len(by_message) == cardinality["utf-8-sig"].messages
    assert all(4 <= len(events) <= 16 for events in by_message.values())
    message_ids = {events[0]["message_id"] for events in by_message.values()}
    assert len(message_ids) == len(by_message)
    assert all(nmid.split("-")[-1].startswith("08de") for nmid in by_message)
    first_events = {events[0]["event_id"] for events in by_message.values()}
    assert first_events == {"RECEIVE", "SUBMIT"}
    kinds = {row["event_id"] for events in by_message.values() for row in events}
    assert {"AGENTINFO", "DELIVER", "SEND", "DEFER", "TRANSFER"} <= kinds


def test_cardinality_is_real_world_and_scales_with_rows(exports):
    files, _, cardinality = exports
    rows = _rows(files["utf-8-sig"])

    def distinct(column: str) -> int:
        return len({row[column] for row in rows})

    # per row, at any size (at 300,000 rows: replies 14%, custom_data 28%, IPs 17%, subjects 4%)
    assert distinct("recipient_status") >= 0.10 * ROWS
    assert distinct("custom_data") >= 0.20 * ROWS
    assert distinct("client_ip") >= 0.12 * ROWS
    assert distinct("message_subject") >= 0.02 * ROWS
    assert sum(";" in row["recipient_address"] for row in rows) >= 0.05 * ROWS
    replies = [s for s in (row["recipient_status"] for row in rows) if s[:1] in ("2", "4", "5")]
    assert len(set(replies)) >= 0.8 * len(replies)  # queue ids and host names: mostly distinct
    # what the benchmarks print is what the file holds
    printed = cardinality["utf-8-sig"].distinct
    assert {name: distinct(name) for name in realistic.HEADER} == printed


def test_multi_line_and_non_latin_subjects_survive_into_the_case(exports):
    files, cases, _ = exports
    written = {row["message_subject"] for row in _rows(files["utf-8-sig"])}
    multi_line = {s for s in written if "\r\n" in s}
    assert multi_line
    scripts = {
        "Cyrillic": lambda s: any("\u0400" <= c <= "\u04ff" for c in s),
        "CJK": lambda s: any("\u3040" <= c <= "\u9fff" for c in s),
        "Arabic": lambda s: any("\u0600" <= c <= "\u06ff" for c in s),
        "emoji": lambda s: any(ord(c) >= 0x1F300 for c in s),
    }
    for name, has in scripts.items():
        assert any(has(s) for s in written), name
    assert any('"' in s for s in written) and any("," in s for s in written)
    for case_dir in cases.values():
        stored = set(pc.unique(open_case(case_dir).events["message_subject"]).to_pylist())
        assert multi_line <= stored
        assert stored - {None} == written - {""}


def test_utf8_bom_and_utf16le_files_give_identical_events(exports):
    _, cases, _ = exports
    tables = [open_case(cases[e]).events for e in ("utf-8-sig", "utf-16-le")]
    names = [n for n in tables[0].column_names if n != "input_id"]
    assert tables[0].select(names).equals(tables[1].select(names))


def test_the_same_seed_gives_the_same_bytes_whatever_the_chunk_size(tmp_path, monkeypatch):
    first = tmp_path / "first.csv"
    second = tmp_path / "second.csv"
    realistic.write_export(first, 1_500, SEED)
    monkeypatch.setattr(realistic, "CHUNK_ROWS", 333)
    realistic.write_export(second, 1_500, SEED)
    assert first.read_bytes() == second.read_bytes()
    realistic.write_export(second, 1_500, SEED + 1)
    assert first.read_bytes() != second.read_bytes()


def test_the_traffic_is_benign(exports):
    files, _, _ = exports
    rows = _rows(files["utf-8-sig"])
    tenant = realistic.TENANT_DOMAINS
    # no inbox rules or redirects sending mail outside, no transport rule that copies mail
    assert not any(row["source"] == "MAILBOXRULE" for row in rows)
    redirected = [row["recipient_address"] for row in rows if row["event_id"] == "REDIRECT"]
    assert all(address.rsplit("@", 1)[1] in tenant for address in redirected)
    assert not any("action=RedirectMessage" in row["custom_data"] for row in rows)
    # no internal sender mails many outside addresses within an hour
    outside_per_hour = defaultdict(set)
    for row in rows:
        if row["event_id"] == "SEND" and row["directionality"] == "Originating":
            hour = row["date_time_utc"][:13]
            for address in row["recipient_address"].split(";"):
                if address.rsplit("@", 1)[1] not in tenant:
                    outside_per_hour[row["sender_address"], hour].add(address)
    assert max(len(a) for a in outside_per_hour.values()) < 15
    # no outside domain one edit away from a tenant domain
    domains = {row["sender_address"].rsplit("@", 1)[1] for row in rows}
    check = realistic.LookalikeFilter(tenant)
    assert all(check.add(d) or d in tenant for d in sorted(domains - set(tenant)))
