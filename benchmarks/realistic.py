"""Realistic Exchange Online extended reports for the benchmarks: real-world cardinality.

The benchmarks' older generators wrote 2 to 8 distinct values in most columns, so work done
once per distinct value looked free. Real extended reports are the opposite: every message
has its own ids, SMTP replies carry queue ids and host names, custom_data carries per-message
spam-filter scores, and thousands of senders come from tens of thousands of IPs. This module
writes such a report, deterministically (a seed), fast enough for millions of rows:

- the 27 snake_case message-tracking columns (``date_time_utc`` first), every field quoted,
  CRLF line ends, as UTF-8 with a BOM or the same text as UTF-16 LE without a BOM (how EAC
  downloads arrive);
- one network message id (a GUID ending ``-08de...``) and one Internet message id per
  message; 4 to 16 events per message in time order (SUBMIT, RECEIVE, AGENTINFO, EXPAND,
  REDIRECT, SMTP hops, DEFER, DELIVER, SEND, FAIL, DSN), with gaps from milliseconds to
  minutes and deferrals of minutes to hours; rows of several recipients (``a@x;b@y`` with
  ``;``-separated statuses); about 0.05% of subjects with a line break (CRLF inside quotes),
  subjects in Cyrillic, CJK, Arabic and with emoji, ``"`` and ``,``;
- benign traffic of a fictional tenant (contoso.com, northwindtraders.com): people mail
  colleagues and correspondents, newsletters arrive, a few addresses bounce, some mail is
  spam-filtered to junk or quarantined; internal senders submit from their office, home and
  phone IPs, from hotels when they travel; no look-alike domains, no bursts of mail to outside
  addresses, no forwarding outside, no transport rule that copies, redirects or deletes mail.

Use ``export_path(rows, seed, encoding)`` for a file cached under ``benchmarks/work/`` and
``Cardinality`` for what it holds. ``python benchmarks/realistic.py --rows N`` writes one and
prints its cardinalities.

How it stays fast: the plan (who mails whom, when, which events) is drawn with numpy once
(``realistic_plan``); the text of each chunk of rows is built column-wise with pyarrow
(``realistic_messages``, ``realistic_columns``) from values that are a pure function of
(seed, stream, index), so the output does not depend on the chunk size.
"""

from __future__ import annotations

import argparse
import codecs
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

sys.path.append(str(Path(__file__).resolve().parent))  # after tests/ and the repo: never shadow

from realistic_columns import HEADER, chunk_table
from realistic_plan import Plan, build_plan
from realistic_world import DEFAULT_SEED, TENANT_DOMAINS, LookalikeFilter

#: Bump when the output changes, so that cached files are written again.
GENERATOR_VERSION = 2
WORK = Path(__file__).resolve().parent / "work"
#: The encodings the generator writes; both hold the same text.
ENCODINGS = {"utf-8-sig": "UTF-8 with BOM", "utf-16-le": "UTF-16 LE without BOM"}
CHUNK_ROWS = 200_000
#: Columns whose distinct values the one-line summary shows (the ones issue 12 names).
__all__ = [
    "ENCODINGS",
    "HEADER",
    "TENANT_DOMAINS",
    "Cardinality",
    "LookalikeFilter",
    "export_path",
    "read_cardinality",
    "write_export",
]
KEY_COLUMNS = ("recipient_status", "custom_data", "client_ip", "message_subject", "message_info")


@dataclass
class Cardinality:
    """What a generated report holds: its size and the distinct values of every column."""

    rows: int
    messages: int
    bytes: int
    encoding: str
    seed: int
    distinct: dict[str, int]
    internal_addresses: int  # distinct sender and recipient addresses of the tenant's domains
    outside_addresses: int
    multiline_rows: int  # rows whose subject holds a line break
    generated_seconds: float = 0.0

    def summary(self) -> str:
        """Three lines: size, the key columns, and every column's distinct values."""
        key = ", ".join(f"{name} {self.distinct[name]:,}" for name in KEY_COLUMNS)
        every = ", ".join(f"{name} {count:,}" for name, count in self.distinct.items())
        return (
            f"realistic extended report: {self.rows:,} rows, {self.messages:,} messages, "
            f"{self.bytes / 1e6:,.0f} MB {ENCODINGS.get(self.encoding, self.encoding)}, seed "
            f"{self.seed}\n"
            f"  distinct: {key}; addresses {self.internal_addresses:,} internal + "
            f"{self.outside_addresses:,} outside; {self.multiline_rows:,} rows with a "
            f"multi-line subject\n"
            f"  every column: {every}"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, data: str) -> Cardinality:
        return cls(**json.loads(data))


class _Distinct:
    """Distinct values per column over chunks, kept as hashes (not the values)."""

    def __init__(self) -> None:
        self.columns: dict[str, set[int]] = {name: set() for name in HEADER}
        self.internal: set[int] = set()
        self.outside: set[int] = set()
        self.multiline = 0

    def add(self, table: pa.Table) -> None:
        for name in HEADER:
            self.columns[name].update(map(hash, pc.unique(table[name]).to_pylist()))
        listed = pc.list_flatten(pc.split_pattern(table["recipient_address"], ";"))
        senders = table["sender_address"]
        addresses = pc.unique(pa.chunked_array([*listed.chunks, *senders.chunks], pa.string()))
        for address in addresses.to_pylist():
            if not address:
                continue
            domain = address.rsplit("@", 1)[-1].lower()
            inside = any(domain == d or domain.endswith("." + d) for d in TENANT_DOMAINS)
            (self.internal if inside else self.outside).add(hash(address.lower()))
        self.multiline += pc.sum(pc.match_substring(table["message_subject"], "\n")).as_py() or 0


def _csv_bytes(table: pa.Table, header: bool) -> bytes:
    sink = pa.BufferOutputStream()
    pa_csv.write_csv(
        table,
        sink,
        # EAC quotes every field, header included, and ends lines with CRLF
        pa_csv.WriteOptions(
            include_header=header, quoting_style="all_valid", quoting_header="all_valid", eol="\r\n"
        ),
    )
    return sink.getvalue().to_pybytes()


def write_export(
    path: str | os.PathLike[str], rows: int, seed: int = DEFAULT_SEED, encoding: str = "utf-8-sig"
) -> Cardinality:
    """Write a realistic extended report of exactly ``rows`` rows to ``path``.

    Args:
        path: the file to write (overwritten).
        rows: data rows (at least 100).
        seed: the same seed and rows give the same bytes.
        encoding: ``utf-8-sig`` (UTF-8 with a BOM) or ``utf-16-le`` (no BOM).

    Returns:
        What the file holds.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}")
    started = time.perf_counter()
    plan = build_plan(rows, seed)
    addresses = plan.world.addresses()
    distinct = _Distinct()
    target = Path(path)
    written = 0
    with open(target, "wb") as out:
        if encoding == "utf-8-sig":
            written += out.write(codecs.BOM_UTF8)
        for first in range(0, rows, CHUNK_ROWS):
            table = chunk_table(plan, addresses, plan.order[first : first + CHUNK_ROWS])
            distinct.add(table)
            data = _csv_bytes(table, header=first == 0)
            if encoding == "utf-16-le":
                data = data.decode("utf-8").encode("utf-16-le")
            written += out.write(data)
    return _cardinality(plan, distinct, written, encoding, time.perf_counter() - started)


def _cardinality(
    plan: Plan, distinct: _Distinct, size: int, encoding: str, seconds: float
) -> Cardinality:
    return Cardinality(
        rows=plan.rows,
        messages=plan.messages,
        bytes=size,
        encoding=encoding,
        seed=plan.seed,
        distinct={name: len(values) for name, values in distinct.columns.items()},
        internal_addresses=len(distinct.internal),
        outside_addresses=len(distinct.outside),
        multiline_rows=distinct.multiline,
        generated_seconds=round(seconds, 2),
    )


def _transcode(source: Path, target: Path) -> int:
    """The UTF-8 (BOM) file's text as UTF-16 LE without a BOM, streamed; returns bytes written."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    written = 0
    with open(source, "rb") as inp, open(target, "wb") as out:
        while block := inp.read(64 * 1024 * 1024):
            written += out.write(decoder.decode(block).encode("utf-16-le"))
        written += out.write(decoder.decode(b"", final=True).encode("utf-16-le"))
    return written


def export_path(rows: int, seed: int = DEFAULT_SEED, encoding: str = "utf-8-sig") -> Path:
    """A realistic report of ``rows`` rows, written once and cached under ``benchmarks/work/``.

    The cache key is (generator version, rows, seed, encoding); its cardinalities are kept
    next to it (``.json``). A UTF-16 file is transcoded from the cached UTF-8 one.
    """
    WORK.mkdir(parents=True, exist_ok=True)
    path = WORK / f"realistic-v{GENERATOR_VERSION}-{rows}-s{seed}-{encoding}.csv"
    if path.exists() and path.with_suffix(".json").exists():
        return path
    partial = path.with_suffix(".partial")
    if encoding == "utf-16-le":
        source = export_path(rows, seed, "utf-8-sig")
        started = time.perf_counter()
        size = _transcode(source, partial)
        cardinality = read_cardinality(source)
        cardinality.bytes, cardinality.encoding = size, encoding
        cardinality.generated_seconds = round(time.perf_counter() - started, 2)
    else:
        cardinality = write_export(partial, rows, seed, encoding)
    partial.replace(path)
    path.with_suffix(".json").write_text(cardinality.to_json(), encoding="utf-8")
    return path


def read_cardinality(path: Path) -> Cardinality:
    """The cardinalities recorded next to a cached report."""
    return Cardinality.from_json(path.with_suffix(".json").read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--encoding", choices=sorted(ENCODINGS), default="utf-8-sig")
    parser.add_argument("--output", help="write here instead of the cache under benchmarks/work/")
    args = parser.parse_args()
    if args.output:
        cardinality = write_export(args.output, args.rows, args.seed, args.encoding)
        print(args.output)
    else:
        path = export_path(args.rows, args.seed, args.encoding)
        cardinality = read_cardinality(path)
        print(path)
    print(cardinality.summary())
    print(f"  written in {cardinality.generated_seconds:.1f} s")


if __name__ == "__main__":
    main()
