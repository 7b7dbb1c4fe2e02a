"""The benchmarks' older, clean generators: the "best case" lines next to the realistic ones.

Most columns hold 2 to 8 distinct values here, so work done once per distinct value looks
free; ``realistic.py`` writes what real exports look like. Kept so that each benchmark can
show both (and how far real data is from the best case):

- ``write_export``: an extended report file (16 events per message, UTF-8 without BOM);
- ``generate``: canonical events as a case stores them (one to four recipients per message);
- ``add_findings_material`` and ``case_of``: those events with something for the rules.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyzer import schema
from analyzer.case import Case, InputRecord
from analyzer.formats.definitions import TRACKING_COLUMNS

INPUT_ID = "0123456789abcdef"

HEADERS = [aliases[0] for aliases in TRACKING_COLUMNS.values()]
EVENTS_PER_MESSAGE = 16
LIFECYCLE = [
    "RECEIVE",
    "AGENTINFO",
    "SEND",
    "DELIVER",
    "RECEIVE",
    "TRANSFER",
    "RECEIVE",
    "AGENTINFO",
    "DEFER",
    "DELIVER",
    "SEND",
    "RECEIVE",
    "AGENTINFO",
    "DELIVER",
    "RECEIVE",
    "DELIVER",
]
SOURCES = [
    "SMTP",
    "AGENT",
    "SMTP",
    "STOREDRIVER",
    "SMTP",
    "ROUTING",
    "SMTP",
    "AGENT",
    "SMTP",
    "STOREDRIVER",
    "SMTP",
    "SMTP",
    "AGENT",
    "STOREDRIVER",
    "SMTP",
    "STOREDRIVER",
]


def make_table(events: int, seed: int = 7) -> pa.Table:
    """A realistic extended report: 16 events per message, custom_data on AGENTINFO rows."""
    rng = np.random.default_rng(seed)
    messages = -(-events // EVENTS_PER_MESSAGE)
    message = np.arange(events) // EVENTS_PER_MESSAGE
    step = np.arange(events) % EVENTS_PER_MESSAGE
    start = np.datetime64("2026-09-01T00:00:00", "ns") + (
        rng.integers(0, 90 * 86400, messages) * 10**9
    ).astype("timedelta64[ns]")
    times = start[message] + (step * 1_234_567 + rng.integers(0, 10**7, events)).astype(
        "timedelta64[ns]"
    )
    # 7 fractional digits and a Z, as Exchange writes them
    time_text = np.char.add(np.datetime_as_string(times, unit="ns").astype("U27"), "Z")

    def pick(values, size=events):
        return pa.array(np.array(values, dtype=object)[rng.integers(0, len(values), size)])

    users = np.array([f"user{k}@contoso.com" for k in range(2000)], dtype=object)
    outside = np.array([f"person{k}@example{k % 97}.net" for k in range(5000)], dtype=object)
    sender = outside[rng.integers(0, len(outside), messages)][message]
    recipient = users[rng.integers(0, len(users), messages)][message]
    guid = np.char.add(
        "0a1b2c3d-0000-4000-8000-", np.char.zfill(np.arange(messages).astype(str), 12)
    )
    event_id = np.array(LIFECYCLE, dtype=object)[step]
    custom = np.where(
        event_id == "AGENTINFO",
        "S:SFA=SUM|SFV=NSPM|IPV=CAL|SRV=BULK|SFS=1|SCL=1|SCORE=-1|LIST=0|DI=SN|RD=mail.example.net"
        "|H=mail.example.net|CIP=203.0.113.7|SFP=1501|ASF=1|CTRY=US|CLTCTRY=|LANG=en|LAT=0|LAT=0"
        "|LAT=0|FPR=|TRC=|CSTM=|ADSC=|SEN=|RF=|SSC=;S:E2ELatency=0.352;S:ExternalOrganization=1",
        "S:DeliveryPriority=Normal;S:AccountForest=EURPR01A001.prod.outlook.com",
    )
    subjects = np.array(
        [
            "Quarterly report, Q3",
            'Re: "Invoice" 4471',
            "Meeting notes",
            "Привет из Москвы",
            "出張の件",
            "Lunch? 🍕",
            "Password expiry notice",
            "Contract draft v2",
        ],
        dtype=object,
    )
    columns = {
        "date_time_utc": pa.array(time_text.astype(object)),
        "client_ip": pick(["203.0.113.7", "198.51.100.23", "2a01:111:f400::1", ""]),
        "client_hostname": pick(["mail.example.net", "AM0PR01MB1234.eurprd01.prod.outlook.com"]),
        "server_ip": pick(["10.1.2.3", "", "2a01:111:e400::5"]),
        "server_hostname": pick(["DB8PR01MB5555.eurprd01.prod.outlook.com", ""]),
        "source_context": pick(["08DAF6A4B1C2D3E4;2026-09-01T00:00:00.000Z;0", ""]),
        "connector_id": pick(["DB8PR01MB5555\\Default DB8PR01MB5555", ""]),
        "source": pa.array(np.array(SOURCES, dtype=object)[step]),
        "event_id": pa.array(event_id),
        "internal_message_id": pa.array(np.char.mod("%d", message + 10**12).astype(object)),
        "message_id": pa.array(
            np.char.add(np.char.add("<", guid.astype(object)), "@example.net>")[message].astype(
                object
            )
        ),
        "network_message_id": pa.array(guid[message].astype(object)),
        "recipient_address": pa.array(recipient),
        "recipient_status": pa.array(
            np.where(
                np.isin(event_id, ["DELIVER", "SEND"]),
                "250 2.1.5 Recipient OK",
                np.where(
                    event_id == "DEFER",
                    "451 4.4.0 Primary target IP address responded with: "
                    '"421 4.4.2 Connection dropped due to SocketError."',
                    "To",
                ),
            ).astype(object)
        ),
        "total_bytes": pa.array(
            np.char.mod("%d", rng.integers(2_000, 9_000_000, messages)[message]).astype(object)
        ),
        "recipient_count": pa.array(np.full(events, "1", dtype=object)),
        "related_recipient_address": pa.array(np.full(events, "", dtype=object)),
        "reference": pa.array(np.full(events, "", dtype=object)),
        "message_subject": pa.array(subjects[rng.integers(0, len(subjects), messages)][message]),
        "sender_address": pa.array(sender),
        "return_path": pa.array(sender),
        "message_info": pick(
            [
                "2026-09-01T00:00:00.000Z;SRV=DB8PR01MB5555.eurprd01.prod.outlook"
                ".com:TOTAL-SUB=0.123|SA=0.011|MTSS-PEN=0.090",
                "0cI: ",
                "",
            ]
        ),
        "directionality": pa.array(np.full(events, "Incoming", dtype=object)),
        "tenant_id": pa.array(
            np.full(events, "9f8e7d6c-1111-2222-3333-444455556666", dtype=object)
        ),
        "original_client_ip": pick(["203.0.113.7", "198.51.100.23", "192.0.2.44"]),
        "original_server_ip": pick(["", "10.0.0.5"]),
        "custom_data": pa.array(custom.astype(object)),
    }
    return pa.table(columns)


def write_export(path: Path, events: int, encoding: str) -> None:
    """Write the synthetic report in batches, quoted like EAC downloads, CRLF."""
    batch = 250_000
    tmp = path.with_suffix(".utf8.tmp")
    with open(tmp, "wb") as out:
        for start in range(0, events, batch):
            table = make_table(min(batch, events - start), seed=start + 1)
            sink = pa.BufferOutputStream()
            pa_csv.write_csv(
                table,
                sink,
                pa_csv.WriteOptions(
                    include_header=start == 0, quoting_style="all_valid", delimiter=","
                ),
            )
            out.write(sink.getvalue().to_pybytes().replace(b"\n", b"\r\n"))
    if encoding == "utf-8":
        tmp.replace(path)
        return
    with open(tmp, "rb") as source, open(path, "wb") as out:
        while chunk := source.read(64 * 1024 * 1024):
            out.write(chunk.decode("utf-8").encode(encoding))
    tmp.unlink()


EVENTS_PER_RECIPIENT = 5  # RECEIVE, AGENTINFO, TRANSFER or DEFER, (SEND|DELIVER|FAIL), DSN/OTHER


def _text(prefix: str, numbers: np.ndarray, suffix: str = "") -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), suffix, "")


def _verdict_map(rng: np.random.Generator, position: np.ndarray, n: int) -> pa.Array:
    """custom_data_fields of the AGENTINFO rows: spam verdicts, one in five a transport rule."""
    agent_rows = np.flatnonzero(position == 1)
    with_rule = rng.random(len(agent_rows)) < 0.2
    entries_per_row = np.where(with_rule, 6, 4)
    offsets = np.zeros(n + 1, dtype=np.int32)
    lengths = np.zeros(n, dtype=np.int32)
    lengths[agent_rows] = entries_per_row
    offsets[1:] = np.cumsum(lengths)
    scl = rng.choice([-1, 1, 5, 6, 9], size=len(agent_rows), p=[0.3, 0.55, 0.08, 0.04, 0.03])
    scl = scl.astype(str)
    # six entry positions, vectorized over the rows that have them
    key_grid = np.array(
        ["SFA.SFV", "SFA.SCL", "SFA.DI", "SFA.CTRY", "TRA.ruleId", "TRA.action"], dtype=object
    )
    value_grid = np.empty((len(agent_rows), 6), dtype=object)
    value_grid[:, 0] = np.where(scl.astype(int) >= 5, "SPM", "NSPM")
    value_grid[:, 1] = scl
    value_grid[:, 2] = np.where(
        scl.astype(int) >= 9, "SQ", np.where(scl.astype(int) >= 5, "SJ", "SN")
    )
    value_grid[:, 3] = "US"
    value_grid[:, 4] = "a1b2c3d4-0000-4000-8000-000000000001"
    value_grid[:, 5] = "ApplyHtmlDisclaimer"
    take = np.tile(np.arange(6), (len(agent_rows), 1)) < entries_per_row[:, None]
    keys = np.broadcast_to(key_grid, value_grid.shape)[take]
    values = value_grid[take]
    return pa.MapArray.from_arrays(
        pa.array(offsets), pa.array(keys, pa.string()), pa.array(values, pa.string())
    )


def generate(events: int, seed: int = 7) -> pa.Table:
    """About ``events`` canonical events (exactly a multiple of EVENTS_PER_RECIPIENT)."""
    rng = np.random.default_rng(seed)
    slots = events // EVENTS_PER_RECIPIENT
    recipients_per_message = rng.integers(1, 5, size=slots)  # 1..4
    ends = np.cumsum(recipients_per_message)
    messages = int(np.searchsorted(ends, slots, side="left")) + 1
    slot_message = np.repeat(np.arange(messages), recipients_per_message[:messages])[:slots]

    # per recipient slot
    base_ns = np.datetime64("2024-03-01T00:00:00", "ns").astype(np.int64)
    message_time = base_ns + np.sort(rng.integers(0, 10 * 86_400 * 10**9, size=messages))
    outbound_message = rng.random(messages) < 0.3
    terminal = rng.choice(3, size=slots, p=[0.75, 0.15, 0.10])  # DELIVER, SEND, FAIL
    terminal = np.where(outbound_message[slot_message] & (terminal == 0), 1, terminal)
    deferred = rng.random(slots) < 0.05

    # five rows per slot
    n = slots * EVENTS_PER_RECIPIENT
    slot = np.repeat(np.arange(slots), EVENTS_PER_RECIPIENT)
    position = np.tile(np.arange(EVENTS_PER_RECIPIENT), slots)
    message = slot_message[slot]
    third = np.where(deferred[slot], "DEFER", "TRANSFER")
    last = np.where(terminal[slot] == 2, "DSN", "NOTIFYMAPI")
    final_words = np.array(["DELIVER", "SEND", "FAIL"], dtype=object)[terminal[slot]]
    event_id = np.select(
        [position == 0, position == 1, position == 2, position == 3],
        ["RECEIVE", "AGENTINFO", third, final_words],
        default=last,
    ).astype(object)
    offset_ms = np.select(
        [position == 0, position == 1, position == 2, position == 3],
        [0, 400, 900, np.where(deferred[slot], 600_000, 2_000)],
        default=3_000,
    )
    event_time = message_time[message] + offset_ms.astype(np.int64) * 1_000_000
    status = np.select(
        [position == 0, (position == 3) & (terminal[slot] == 2), position == 3, position == 2],
        [
            "To",
            "550 5.1.1 RESOLVER.ADR.RecipNotFound; not found",
            "250 2.6.0 Queued mail for delivery",
            np.where(deferred[slot], "451 4.4.0 DNS query failed", ""),
        ],
        default="",
    ).astype(object)
    status_code = np.select(
        [
            (position == 3) & (terminal[slot] == 2),
            (position == 3),
            (position == 2) & deferred[slot],
        ],
        ["5.1.1", "2.6.0", "4.4.0"],
        default="",
    ).astype(object)

    sender_number = rng.integers(0, 5_000, size=messages)
    sender = np.where(
        outbound_message,
        _text("user", sender_number, "@contoso.com").to_numpy(zero_copy_only=False),
        _text("sender", sender_number, "@example.net").to_numpy(zero_copy_only=False),
    )
    recipient_number = rng.integers(0, 20_000, size=slots)
    recipient = np.where(
        outbound_message[slot_message],
        _text("person", recipient_number, "@fabrikam.com").to_numpy(zero_copy_only=False),
        _text("user", recipient_number, "@contoso.com").to_numpy(zero_copy_only=False),
    )
    nmid = _text("5c0ffee0-0000-4000-8000-", np.arange(messages) + 10**11)
    mid = _text("<", np.arange(messages) + 10**9, "@mail.example.net>")
    subject = _text("Quarterly report ", rng.integers(0, 1000, size=messages))

    custom_data_fields = _verdict_map(rng, position, n)

    def per_message(array: pa.Array) -> pa.Array:
        return array.take(pa.array(message))

    def nullable(values: np.ndarray) -> pa.Array:
        return pa.array(values, pa.string(), mask=values == "")

    order = np.argsort(event_time, kind="stable")  # an export lists events in time order
    columns = {
        "event_time": pa.array(event_time, pa.int64()).cast(schema.TIMESTAMP),
        "time_basis": pa.array(np.full(n, "event", dtype=object), pa.string()),
        "event_id": pa.array(event_id, pa.string()),
        "source": pa.array(
            np.where(position == 1, "AGENT", np.where(position == 3, "STOREDRIVER", "SMTP")),
            pa.string(),
        ),
        "recipient_address": pa.array(recipient[slot], pa.string()),
        "recipient_status": nullable(status),
        "smtp_reply_code": pa.array(
            np.where(status_code == "", 0, np.where(status_code == "5.1.1", 550, 250)),
            pa.int16(),
            mask=status_code == "",
        ),
        "status_code": nullable(status_code),
        "sender_address": pa.array(sender[message], pa.string()),
        "message_subject": per_message(subject),
        "message_id": per_message(mid),
        "network_message_id": per_message(nmid),
        "total_bytes": pa.array(rng.integers(2_000, 2_000_000, size=messages)[message]),
        "direction": pa.array(
            np.where(outbound_message[message], "originating", "inbound"), pa.string()
        ),
        "client_ip": pa.array(np.where(position == 0, "203.0.113.9", ""), pa.string()),
        "custom_data_fields": custom_data_fields,
        # columns an extended report fills, so that the Parquet file is as heavy as a case's
        "return_path": pa.array(sender[message], pa.string()),
        "client_hostname": pa.array(
            np.where(position == 0, "mail.example.net", "AM0PR01MB1234.eurprd01.prod.outlook.com"),
            pa.string(),
        ),
        "server_hostname": pa.array(
            np.full(n, "AM0PR01MB5678.eurprd01.prod.outlook.com", dtype=object), pa.string()
        ),
        "server_ip": pa.array(np.where(position == 3, "198.51.100.25", ""), pa.string()),
        "original_client_ip": pa.array(np.full(n, "203.0.113.9", dtype=object), pa.string()),
        "source_context": pa.array(
            np.where(position == 1, "", "08DC3A1B2C3D4E5F;2024-03-01T00:00:00.000Z;0"),
            pa.string(),
        ),
        "tenant_id": pa.array(
            np.full(n, "72f988bf-86f1-41af-91ab-2d7cd011db47", dtype=object), pa.string()
        ),
        "internal_message_id": _text("", rng.integers(10**12, 10**13, size=messages)).take(
            pa.array(message)
        ),
        "message_info": pa.array(
            np.where(position == 0, "2024-03-01T00:00:00.000Z;SRV=AM0PR01MB1234", ""), pa.string()
        ),
        "custom_data": pa.array(
            np.where(
                position == 1,
                "S:SFA=SUM|SFV=NSPM|IPV=CAL|SRV=BULK|SFS=1000|SCL=1|SCORE=-1|LIST=0|DI=SN|"
                "RD=mail.example.net|H=mail.example.net|CIP=203.0.113.9|SFP=1501|ASF=0|"
                "CTRY=US|CLTCTRY=|LANG=en|LAT=0|LAT=0|LAT=0|FPR=|PTR=mail.example.net",
                "",
            ),
            pa.string(),
        ),
        "event_key": _text("", rng.integers(10**15, 10**16, size=n)),
        "input_id": pa.array(np.full(n, "0123456789abcdef", dtype=object), pa.string()),
        "line": pa.array(np.arange(n) + 2, pa.int64()),
        "report_type": pa.array(np.full(n, "extended", dtype=object), pa.string()),
    }
    table = schema.conform(pa.table(columns))
    table = table.take(pa.array(order))
    # the line is the position in the (time-ordered) export
    return table.set_column(
        table.schema.get_field_index("line"), "line", pa.array(np.arange(n) + 2, pa.int64())
    )


def _numbers(values: pa.Array, pattern: str) -> np.ndarray:
    """The number a regular expression's group ``n`` captures per value (-1 where none)."""
    found = pc.struct_field(pc.extract_regex(values, pattern), "n").cast(pa.int64())
    return pc.fill_null(found, -1).to_numpy(zero_copy_only=False)


def add_findings_material(table: pa.Table) -> pa.Table:
    """Vary sender domains and client IPs, and add a few forwards, without a Python loop."""
    n = table.num_rows
    sender = table["sender_address"].combine_chunks()
    nmid = table["network_message_id"].combine_chunks()
    message_number = _numbers(nmid, r"(?P<n>\d+)$")
    inbound_number = _numbers(sender, r"^sender(?P<n>\d+)@example\.net$")
    user_number = _numbers(sender, r"^user(?P<n>\d+)@contoso\.com$")
    inbound = inbound_number >= 0

    # inbound senders: sender<k>@example.net -> sender<k>@d<k mod 3000>.example, and one
    # sender in 997 from a look-alike of contoso.com
    domains = np.char.add(np.char.add("d", (inbound_number % 3000).astype(str)), ".example")
    domains = domains.astype(object)
    lookalikes = np.array(["c0ntoso.com", "contosso.com", "xn--cntoso-wqf.com"], dtype=object)
    odd = inbound & (inbound_number % 997 == 0)
    domains[odd] = lookalikes[inbound_number[odd] % 3]
    local = pc.replace_substring_regex(sender, r"@.*$", "@")
    varied = pc.binary_join_element_wise(local, pa.array(domains, pa.string()), "")
    table = table.set_column(
        table.schema.get_field_index("sender_address"),
        "sender_address",
        pc.if_else(pa.array(inbound), varied, sender),
    )

    # internal senders send from an IP of their own; one message in 500 from an odd one
    own_ip = np.char.add("10.20.", (user_number // 250).astype(str))
    own_ip = np.char.add(np.char.add(own_ip, "."), (user_number % 250).astype(str)).astype(object)
    odd_ip = message_number % 500 == 7
    own_ip[odd_ip] = np.char.add("198.51.100.", (user_number[odd_ip] % 200).astype(str))
    own_ip[inbound] = "203.0.113.9"
    table = table.set_column(
        table.schema.get_field_index("original_client_ip"),
        "original_client_ip",
        pa.array(own_ip, pa.string()),
    )

    # inbox-rule forwards: the RECEIVE of one outbound message in 1,000 comes from MAILBOXRULE
    event_id = table["event_id"].to_numpy(zero_copy_only=False)
    forwarded = (message_number % 1000 == 3) & (event_id == "RECEIVE") & ~inbound
    source = table["source"].to_numpy(zero_copy_only=False).astype(object)
    source[forwarded] = "MAILBOXRULE"
    assert len(source) == n
    return table.set_column(
        table.schema.get_field_index("source"), "source", pa.array(source, pa.string())
    )


def case_of(events: pa.Table) -> Case:
    times = pc.min_max(events["event_time"]).as_py()
    record = InputRecord(
        path="benchmarks/work/synthetic-extended.csv",
        size=0,
        sha256=INPUT_ID * 4,
        input_id=INPUT_ID,
        format="extended",
        rows_read=events.num_rows,
        rows_ingested=events.num_rows,
        first_event=times["min"].isoformat().replace("+00:00", "Z"),
        last_event=times["max"].isoformat().replace("+00:00", "Z"),
    )
    return Case(events=events, duplicates=schema.DUPLICATE_SCHEMA.empty_table(), inputs=[record])
