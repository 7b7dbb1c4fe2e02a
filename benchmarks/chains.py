"""Benchmark: building chains for 1,000,000 events against reading them from Parquet.

Generates canonical events synthetically (vectorized with numpy: an extended-report-like mix
of RECEIVE, AGENTINFO with spam and transport-rule verdicts, DEFER, TRANSFER and a final
DELIVER / SEND / FAIL per recipient, one to four recipients per message, in time order as an
export has them), writes them to a Parquet file the way a case stores them, then times in the
same run:

- ``pyarrow.parquet.read_table`` of that file, and
- ``analyzer.chains.build_chains`` on the table read.

It prints events per second, seconds, and the ratio (target: chains within 3x of the read).
No assertions: it prints figures.

Usage: python benchmarks/chains.py [--events N] [--repeat K]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from analyzer import schema
from analyzer.case import Case
from analyzer.chains import build_chains

WORK = Path(__file__).resolve().parent / "work"
EVENTS_PER_RECIPIENT = 5  # RECEIVE, AGENTINFO, TRANSFER or DEFER, (SEND|DELIVER|FAIL), DSN/OTHER


def _text(prefix: str, numbers: np.ndarray, suffix: str = "") -> pa.Array:
    return pc.binary_join_element_wise(prefix, pa.array(numbers).cast(pa.string()), suffix, "")


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

    # AGENTINFO rows carry spam verdicts; one in five also a transport rule
    agent_rows = np.flatnonzero(position == 1)
    with_rule = rng.random(len(agent_rows)) < 0.2
    entries_per_row = np.where(with_rule, 6, 4)
    offsets = np.zeros(n + 1, dtype=np.int32)
    lengths = np.zeros(n, dtype=np.int32)
    lengths[agent_rows] = entries_per_row
    offsets[1:] = np.cumsum(lengths)
    keys = []
    values = []
    scl = rng.choice([-1, 1, 5, 6, 9], size=len(agent_rows), p=[0.3, 0.55, 0.08, 0.04, 0.03])
    scl = scl.astype(str)
    for i in range(6):  # six entry positions, vectorized over the rows that have them
        keys.append(["SFA.SFV", "SFA.SCL", "SFA.DI", "SFA.CTRY", "TRA.ruleId", "TRA.action"][i])
    key_grid = np.array(keys, dtype=object)
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
    custom_data_fields = pa.MapArray.from_arrays(
        pa.array(offsets), pa.array(keys, pa.string()), pa.array(values, pa.string())
    )

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of K runs of each timing")
    args = parser.parse_args()

    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / "chains_events.parquet"
    started = time.perf_counter()
    table = generate(args.events)
    pq.write_table(table, path)
    print(
        f"generated {table.num_rows:,} events, {path.stat().st_size / 1e6:.0f} MB Parquet, "
        f"in {time.perf_counter() - started:.1f} s"
    )

    read_times, chain_times = [], []
    chains = None
    for _ in range(args.repeat):
        started = time.perf_counter()
        events = pq.read_table(path)
        read_times.append(time.perf_counter() - started)
        case = Case(events=events, duplicates=schema.DUPLICATE_SCHEMA.empty_table(), inputs=[])
        started = time.perf_counter()
        chains = build_chains(case)
        chain_times.append(time.perf_counter() - started)
    read, build = min(read_times), min(chain_times)
    rows = table.num_rows
    print(f"pyarrow.parquet.read_table: {read:6.2f} s  {rows / read:12,.0f} events/s")
    print(f"build_chains:               {build:6.2f} s  {rows / build:12,.0f} events/s")
    print(f"ratio build_chains / read:  {build / read:6.2f}x  (target: within 3x)")
    assert chains is not None
    statuses = chains.recipients["final_status"].value_counts().to_pylist()
    counts = ", ".join(f"{s['values']} {s['counts']:,}" for s in statuses)
    print(
        f"{chains.messages.num_rows:,} messages, {chains.recipients.num_rows:,} recipients "
        f"({counts})"
    )


if __name__ == "__main__":
    main()
