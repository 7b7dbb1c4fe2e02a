"""A small case with a known story and hostile text, run through the real pipeline.

Used by the report tests (``tests/report/``) and the browser tests (loaded by file path, so
it works whatever the test package layout). Three extended reports (UTF-8), with a known story:

- a phish from a look-alike domain delivered to alice (subject carries an ``<img onerror>``),
- alice's inbox rule forwarding it to an outside address (subject ``=HYPERLINK(...)``),
- bob's outbound message with one failed recipient (subject ``</script><script>...``), and
  the DSN that reports the failure,
- a distribution group expanded to two members, one deferred for two hours,
- 125 routine messages over four days; input 2 overlaps input 1 (duplicate rows), and a
  day-long gap separates input 3 from the others; input 3 has one ragged (rejected) row.

And a second, smaller case of edge cases (``build_edge``), in one file whose name holds a
bidi control:

- a nested expansion: all@ expands to team@ and frank@, team@ to dave@ and erin@ (depth 2);
  dave's delivery comes 6 minutes after the expansion (a gap), erin's 2 hours later (a long
  gap); frank@ is redirected to an outside address, sent to its own IP through its own
  connector (route facts that differ per recipient);
- hostile text: a recipient whose bidi override makes ``invoice\u202efdp.exe`` display as
  ``invoiceexe.pdf``, a sender with a zero-width space, a subject with a formula after a
  ``;`` and a tab (``Invoice;=1+1;@SUM(9*9)``), an escape sequence and a word joiner.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from pathlib import Path

from exports import EXTENDED_COLUMNS

from analyzer.chains import build_chains
from analyzer.findings import run_findings
from analyzer.ingest import load_sources

COLUMNS = list(EXTENDED_COLUMNS)

START = datetime(2024, 3, 4, 8, 0, 0)
XSS_IMG = "Invoice <img src=x onerror=window.__xss=1> overdue"
XSS_SCRIPT = "Quarterly </script><script>window.__xss=2</script> numbers"
FORMULA = '=HYPERLINK("http://evil.example/x","click me")'
PHISH_ID = "11111111-aaaa-4aaa-8aaa-000000000001"
FORWARD_ID = "22222222-aaaa-4aaa-8aaa-000000000002"
OUTBOUND_ID = "33333333-aaaa-4aaa-8aaa-000000000003"
DSN_ID = "44444444-aaaa-4aaa-8aaa-000000000004"
GROUP_ID = "55555555-aaaa-4aaa-8aaa-000000000005"
PHISH_MESSAGE_ID = "<phish-1@contoso-1ogin.com>"


def _row(when: datetime, **values: str) -> dict[str, str]:
    row = dict.fromkeys(COLUMNS, "")
    row["date_time_utc"] = when.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "0000Z"
    row["tenant_id"] = "tenant-1"
    row.update(values)
    return row


def _message(nmid: str, mid: str, sender: str, subject: str, direction: str, size: int) -> dict:
    return {
        "network_message_id": nmid,
        "message_id": mid,
        "sender_address": sender,
        "return_path": sender,
        "message_subject": subject,
        "directionality": direction,
        "total_bytes": str(size),
    }


def story_rows() -> list[dict[str, str]]:
    """The rows of the story messages (input 1)."""
    t = START
    rows = []
    phish = _message(
        PHISH_ID, PHISH_MESSAGE_ID, "billing@contoso-1ogin.com", XSS_IMG, "Incoming", 48_213
    )
    rows += [
        _row(
            t,
            event_id="RECEIVE",
            source="SMTP",
            recipient_address="alice@contoso.com",
            recipient_status="To",
            original_client_ip="203.0.113.9",
            client_ip="203.0.113.9",
            recipient_count="1",
            **phish,
        ),
        _row(
            t + timedelta(seconds=1),
            event_id="AGENTINFO",
            source="AGENT",
            recipient_address="alice@contoso.com",
            custom_data="S:SFA=SUM|SFV=SPM|SCL=9|DI=SN|CTRY=RU",
            **phish,
        ),
        _row(
            t + timedelta(seconds=2),
            event_id="DELIVER",
            source="STOREDRIVER",
            recipient_address="alice@contoso.com",
            recipient_status="250 2.1.5 RecipientSuccess",
            **phish,
        ),
    ]
    forward = _message(
        FORWARD_ID, "<fwd-2@contoso.com>", "alice@contoso.com", FORMULA, "Originating", 49_001
    )
    t2 = t + timedelta(minutes=1)
    rows += [
        _row(
            t2,
            event_id="RECEIVE",
            source="MAILBOXRULE",
            recipient_address="drop@mail.example",
            recipient_status="To",
            reference=PHISH_MESSAGE_ID,
            **forward,
        ),
        _row(
            t2 + timedelta(seconds=3),
            event_id="SEND",
            source="SMTP",
            recipient_address="drop@mail.example",
            server_ip="198.51.100.7",
            recipient_status="250 2.6.0 Queued mail for delivery",
            **forward,
        ),
    ]
    outbound = _message(
        OUTBOUND_ID, "<q-3@contoso.com>", "bob@contoso.com", XSS_SCRIPT, "Originating", 12_345
    )
    t3 = t + timedelta(minutes=10)
    rows += [
        _row(
            t3,
            event_id="RECEIVE",
            source="SMTP",
            recipient_address="x@fabrikam.com;nobody@fabrikam.com",
            recipient_status="To;To",
            recipient_count="2",
            **outbound,
        ),
        _row(
            t3 + timedelta(seconds=5),
            event_id="SEND",
            source="SMTP",
            recipient_address="x@fabrikam.com",
            recipient_status="250 2.0.0 OK",
            server_ip="198.51.100.20",
            **outbound,
        ),
        _row(
            t3 + timedelta(seconds=6),
            event_id="FAIL",
            source="SMTP",
            recipient_address="nobody@fabrikam.com",
            recipient_status="550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            **outbound,
        ),
    ]
    dsn = _message(
        DSN_ID,
        "<dsn-4@contoso.com>",
        "postmaster@contoso.com",
        "Undeliverable: Quarterly numbers",
        "Originating",
        9_000,
    )
    rows += [
        _row(
            t3 + timedelta(seconds=7),
            event_id="RECEIVE",
            source="DSN",
            recipient_address="bob@contoso.com",
            recipient_status="To",
            reference="<q-3@contoso.com>",
            **dsn,
        ),
        _row(
            t3 + timedelta(seconds=8),
            event_id="DELIVER",
            source="STOREDRIVER",
            recipient_address="bob@contoso.com",
            recipient_status="250 2.1.5 OK",
            **dsn,
        ),
    ]
    group = _message(
        GROUP_ID,
        "<team-5@contoso.com>",
        "carol@contoso.com",
        "Team lunch on Friday",
        "Originating",
        3_000,
    )
    t5 = t + timedelta(minutes=20)
    rows += [
        _row(
            t5,
            event_id="RECEIVE",
            source="SMTP",
            recipient_address="team@contoso.com",
            recipient_status="To",
            **group,
        ),
        _row(
            t5 + timedelta(seconds=1),
            event_id="EXPAND",
            source="ROUTING",
            recipient_address="team@contoso.com",
            related_recipient_address="dave@contoso.com",
            **group,
        ),
        _row(
            t5 + timedelta(seconds=1),
            event_id="EXPAND",
            source="ROUTING",
            recipient_address="team@contoso.com",
            related_recipient_address="erin@contoso.com",
            **group,
        ),
        _row(
            t5 + timedelta(seconds=2),
            event_id="DELIVER",
            source="STOREDRIVER",
            recipient_address="dave@contoso.com",
            recipient_status="250 2.1.5 OK",
            **group,
        ),
        _row(
            t5 + timedelta(seconds=3),
            event_id="DEFER",
            source="SMTP",
            recipient_address="erin@contoso.com",
            recipient_status="451 4.4.7 QUEUE.Expired; message expired",
            **group,
        ),
        _row(
            t5 + timedelta(hours=2, seconds=3),
            event_id="DELIVER",
            source="STOREDRIVER",
            recipient_address="erin@contoso.com",
            recipient_status="250 2.1.5 OK",
            **group,
        ),
    ]
    return rows


def routine_rows(first: int, last: int) -> list[dict[str, str]]:
    """Routine messages ``first..last`` (inclusive), 37 minutes apart; every 11th fails."""
    rows = []
    for n in range(first, last + 1):
        when = START + timedelta(hours=1, minutes=37 * n)
        if n > 100:
            when += timedelta(days=1)  # the gap before input 3
        message = _message(
            f"9{n:07d}-bbbb-4bbb-8bbb-{n:012d}",
            f"<r-{n}@contoso.com>",
            "reports@contoso.com",
            f"Weekly report {n}",
            "Originating",
            2_000 + n,
        )
        recipient = f"user{n % 7}@contoso.com"
        rows.append(
            _row(
                when,
                event_id="RECEIVE",
                source="SMTP",
                recipient_address=recipient,
                recipient_status="To",
                original_client_ip="10.0.0.5",
                **message,
            )
        )
        if n % 11 == 0:
            rows.append(
                _row(
                    when + timedelta(seconds=2),
                    event_id="FAIL",
                    source="SMTP",
                    recipient_address=recipient,
                    recipient_status="550 5.7.1 RESOLVER.RST.NotAuthorized; rejected",
                    **message,
                )
            )
        else:
            rows.append(
                _row(
                    when + timedelta(seconds=2),
                    event_id="DELIVER",
                    source="STOREDRIVER",
                    recipient_address=recipient,
                    recipient_status="250 2.1.5 OK",
                    **message,
                )
            )
    return rows


def _csv_text(rows: list[dict[str, str]], ragged_row: bool = False) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    if ragged_row:
        out.write("2024-03-08T09:00:00.0000000Z,only,three fields\r\n")
    return out.getvalue()


def write_exports(folder: Path) -> list[Path]:
    """Write the three extended reports into ``folder`` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "input1_extended.csv": _csv_text(story_rows() + routine_rows(1, 60)),
        "input2_extended.csv": _csv_text(routine_rows(55, 100)),
        "input3_extended.csv": _csv_text(routine_rows(101, 125), ragged_row=True),
    }
    paths = []
    for name, text in files.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def build(folder: Path):
    """Write the story's exports into ``folder`` and run the pipeline: (case, chains, findings)."""
    paths = write_exports(folder)
    case = load_sources([str(p) for p in paths])
    chains = build_chains(case)
    return case, chains, run_findings(case, chains)


NESTED_ID = "66666666-aaaa-4aaa-8aaa-000000000006"
HOSTILE_ID = "77777777-aaaa-4aaa-8aaa-000000000007"
#: Displays as ``invoiceexe.pdf@evil.example`` when shown raw.
BIDI_RECIPIENT = "invoice\u202efdp.exe@evil.example"
ZERO_WIDTH_SENDER = "pay\u200broll@contoso.com"
SPLIT_FORMULA = "Invoice;=1+1;@SUM(9*9)\t-2+3 \x1b[2J\u2060done"
#: The edge case's file name: a bidi override and an isolate in it.
EDGE_FILE = "edge_\u202etxt.csv\u2066.csv"


def edge_rows() -> list[dict[str, str]]:
    """The rows of the edge cases (nested expansion, hostile text)."""
    t = START + timedelta(days=6)
    nested = _message(
        NESTED_ID, "<all-6@contoso.com>", "carol@contoso.com", "All hands", "Originating", 5_000
    )
    via = {"connector_id": "Default EX01", "original_client_ip": "10.0.0.8"}
    rows = [
        _row(
            t,
            event_id="RECEIVE",
            source="SMTP",
            recipient_address="all@contoso.com",
            recipient_status="To",
            **via,
            **nested,
        ),
        # Exchange logs an expansion with the member as recipient and the group as related
        _row(
            t + timedelta(seconds=1),
            event_id="EXPAND",
            source="ROUTING",
            recipient_address="team@contoso.com",
            related_recipient_address="all@contoso.com",
            **nested,
        ),
        _row(
            t + timedelta(seconds=1),
            event_id="EXPAND",
            source="ROUTING",
            recipient_address="frank@contoso.com",
            related_recipient_address="all@contoso.com",
            **nested,
        ),
        _row(
            t + timedelta(seconds=2),
            event_id="EXPAND",
            source="ROUTING",
            recipient_address="dave@contoso.com",
            related_recipient_address="team@contoso.com",
            **nested,
        ),
        _row(
            t + timedelta(seconds=2),
            event_id="EXPAND",
            source="ROUTING",
            recipient_address="erin@contoso.com",
            related_recipient_address="team@contoso.com",
            **nested,
        ),
        _row(
            t + timedelta(minutes=6, seconds=2),
            event_id="DELIVER",
            source="STOREDRIVER",
            recipient_address="dave@contoso.com",
            recipient_status="250 2.1.5 OK",
            **via,
            **nested,
        ),
        _row(
            t + timedelta(seconds=3),
            event_id="DEFER",
            source="SMTP",
            recipient_address="erin@contoso.com",
            recipient_status="451 4.4.7 QUEUE.Expired; message expired",
            **nested,
        ),
        _row(
            t + timedelta(hours=2, seconds=3),
            event_id="DELIVER",
            source="STOREDRIVER",
            recipient_address="erin@contoso.com",
            recipient_status="250 2.1.5 OK",
            **via,
            **nested,
        ),
        _row(
            t + timedelta(seconds=4),
            event_id="REDIRECT",
            source="ROUTING",
            recipient_address="frank.home@fabrikam.com",
            related_recipient_address="frank@contoso.com",
            **nested,
        ),
        _row(
            t + timedelta(seconds=9),
            event_id="SEND",
            source="SMTP",
            recipient_address="frank.home@fabrikam.com",
            recipient_status="250 2.6.0 Queued mail for delivery",
            server_ip="198.51.100.44",
            connector_id="Outbound to fabrikam",
            original_client_ip="10.0.0.8",
            **nested,
        ),
    ]
    hostile = _message(
        HOSTILE_ID,
        "<inv-7@contoso.com>",
        ZERO_WIDTH_SENDER,
        SPLIT_FORMULA,
        "Originating",
        7_777,
    )
    t7 = t + timedelta(hours=3)
    rows += [
        _row(
            t7,
            event_id="RECEIVE",
            source="SMTP",
            recipient_address=BIDI_RECIPIENT,
            recipient_status="To",
            original_client_ip="10.0.0.9",
            **hostile,
        ),
        _row(
            t7 + timedelta(seconds=2),
            event_id="SEND",
            source="SMTP",
            recipient_address=BIDI_RECIPIENT,
            recipient_status="250 2.0.0 OK",
            server_ip="203.0.113.77",
            **hostile,
        ),
    ]
    return rows


def build_edge(folder: Path):
    """Write the edge cases' export (``EDGE_FILE``) into ``folder`` and run the pipeline:
    (case, chains, findings)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / EDGE_FILE
    path.write_text(_csv_text(edge_rows()), encoding="utf-8")
    case = load_sources([str(path)])
    chains = build_chains(case)
    return case, chains, run_findings(case, chains)
