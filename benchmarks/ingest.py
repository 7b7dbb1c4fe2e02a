"""Ingest benchmark: a synthetic extended report of N events, ingested into a case.

Prints events/s, peak RSS, and the ratio of the full ingest time to ``pyarrow.csv.read_csv``
of the same file measured in the same run (the baseline). Targets (issue 2): within 2.0x of the
baseline, peak RSS under 1.5 GB whatever the file size.

    python benchmarks/ingest.py                      # 1,000,000 events, UTF-8 and UTF-16 LE
    python benchmarks/ingest.py --events 5000000 --encodings utf-8

Each ingest runs in a fresh child process so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analyzer.formats.definitions import TRACKING_COLUMNS  # noqa: E402

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


def child(mode: str, path: str, case: str, encoding: str) -> None:
    start = time.perf_counter()
    if mode == "baseline":
        options = pa_csv.ReadOptions(encoding=encoding) if encoding != "utf-8" else None
        table = pa_csv.read_csv(path, read_options=options)
        rows = table.num_rows
    else:
        from analyzer.ingest import ingest_into_case

        rows = ingest_into_case([path], case).events
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "rows": rows, "peak_rss": peak}))


def run_child(*args: str) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--encodings", default="utf-8,utf-16-le")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--repeat", type=int, default=2, help="best of K runs of each timing")
    parser.add_argument("--child", nargs=4, metavar=("MODE", "PATH", "CASE", "ENCODING"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(args.workdir or tempfile.mkdtemp(prefix="msgtrace-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    print(
        f"ingest benchmark: {args.events:,} events, {os.cpu_count()} cores, best of {args.repeat}"
    )
    for encoding in args.encodings.split(","):
        path = work / f"extended_{args.events}_{encoding}.csv"
        if not path.exists():
            started = time.perf_counter()
            write_export(path, args.events, encoding)
            print(
                f"  generated {path.name} ({path.stat().st_size / 1e6:,.0f} MB) in "
                f"{time.perf_counter() - started:.1f}s"
            )
        case = work / f"case_{encoding}"
        baseline = ingest = None
        for _ in range(args.repeat):
            run = run_child("baseline", str(path), "-", encoding)
            baseline = run if baseline is None or run["seconds"] < baseline["seconds"] else baseline
            shutil.rmtree(case, ignore_errors=True)
            run = run_child("ingest", str(path), str(case), encoding)
            ingest = run if ingest is None or run["seconds"] < ingest["seconds"] else ingest
        ratio = ingest["seconds"] / baseline["seconds"]
        print(
            f"  {encoding:9} size {path.stat().st_size / 1e6:7,.0f} MB | "
            f"pyarrow.csv.read_csv {baseline['seconds']:6.2f}s "
            f"(peak RSS {baseline['peak_rss'] / 2**30:.2f} GiB) | "
            f"msgtrace ingest {ingest['seconds']:6.2f}s, "
            f"{ingest['rows'] / ingest['seconds']:,.0f} events/s, "
            f"peak RSS {ingest['peak_rss'] / 2**30:.2f} GiB | ratio {ratio:.2f}x (target 2.0x)"
        )
        shutil.rmtree(case, ignore_errors=True)


if __name__ == "__main__":
    main()
