"""Nothing lost in duplicates: the event key is a 128-bit hash over every content column (long
text in full), rows merged as duplicates keep their extras, and merging is exact even when
keys share their first 64 bits."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from exports import EXTENDED_COLUMNS, csv_field, extended_csv, extended_row, write_export

from analyzer import schema
from analyzer.case import open_case
from analyzer.ingest import KeySet, _first_occurrences, ingest_into_case, key_values, load_sources
from analyzer.normalize import KEY_HASH_KEYS, event_key_values, event_keys

M = 2**64 - 1


def _rotl(x: int, b: int) -> int:
    return ((x << b) | (x >> (64 - b))) & M


def siphash24(key: bytes, data: bytes) -> int:
    """SipHash-2-4 as its paper defines it (Aumasson and Bernstein, 2012), in plain Python."""
    k0, k1 = int.from_bytes(key[:8], "little"), int.from_bytes(key[8:], "little")
    v = [k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D]
    v += [k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573]

    def sip_round() -> None:
        v[0] = (v[0] + v[1]) & M
        v[1] = _rotl(v[1], 13) ^ v[0]
        v[0] = _rotl(v[0], 32)
        v[2] = (v[2] + v[3]) & M
        v[3] = _rotl(v[3], 16) ^ v[2]
        v[0] = (v[0] + v[3]) & M
        v[3] = _rotl(v[3], 21) ^ v[0]
        v[2] = (v[2] + v[1]) & M
        v[1] = _rotl(v[1], 17) ^ v[2]
        v[2] = _rotl(v[2], 32)

    end = len(data) - len(data) % 8
    words = [int.from_bytes(data[i : i + 8], "little") for i in range(0, end, 8)]
    words.append(((len(data) & 0xFF) << 56) | int.from_bytes(data[end:], "little"))
    for word in words:
        v[3] ^= word
        sip_round()
        sip_round()
        v[0] ^= word
    v[2] ^= 0xFF
    for _ in range(4):
        sip_round()
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def splitmix(x: int) -> int:
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & M
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


SEEDS = (0x243F6A8885A308D3, 0x13198A2E03707344)
NUMBER_CONSTANTS = (0x9E3779B97F4A7C15, 0xD1B54A32D192ED03)
NULLS = (0x6A09E667F3BCC908, 0xBB67AE8584CAA73B)


def reference_key(row: dict) -> str:
    """An event's key computed row by row, as documented: per half, fold every key column's
    value hash (SipHash-2-4 of the UTF-8 text, then pandas' splitmix; numbers by splitmix)."""
    halves = []
    for half in (0, 1):
        state = SEEDS[half]
        for position, name in enumerate(schema.KEY_COLUMNS):
            if name == "custom_data_fields":
                continue
            value = row[name]
            salt = ((position + 1) * 0x9E3779B97F4A7C15) & M
            if value is None:
                hashed = NULLS[half]
            elif isinstance(value, str):
                hashed = splitmix(siphash24(KEY_HASH_KEYS[half].encode(), value.encode("utf-8")))
            else:
                number = value.value if hasattr(value, "value") else int(value)
                hashed = splitmix((number + NUMBER_CONSTANTS[half]) & M)
            state = splitmix(state ^ ((hashed + salt) & M))
        halves.append(state)
    return f"{halves[0]:016x}{halves[1]:016x}"


def load_rows(folder, *rows: str, name: str = "extended.csv"):
    return load_sources([write_export(folder, name, extended_csv(*rows))])


def test_the_key_is_siphash_over_every_content_column_as_documented(tmp_path):
    case = load_rows(
        tmp_path,
        extended_row(),
        extended_row(event_id="DELIVER", recipient_status="250 2.1.5 OK", custom_data="S:X=1"),
        extended_row(message_subject="Привет, ça va? 🍕" * 20, total_bytes=""),
    )

    rows = case.events.to_pylist()
    assert [reference_key(row) for row in rows] == case.events.column("event_key").to_pylist()
    assert event_key_values(case.events).shape == (3, 2)


LONG_TEXT = {
    "message_subject": "Invoice 4471",
    "custom_data": "S:SFA=SUM|SFV=NSPM",
    "message_info": "2022-09-19T15:02:29.000Z;SRV=A",
    "source_context": "08DAF6A4B1C2D3E4;0",
}


@pytest.mark.parametrize("column", sorted(LONG_TEXT))
def test_events_that_differ_in_one_character_of_long_text_are_both_kept(tmp_path, column):
    text = LONG_TEXT[column]
    same_length = text[:-1] + ("7" if text[-1] != "7" else "8")
    first = write_export(tmp_path, "a.csv", extended_csv(extended_row(**{column: text})))
    second = write_export(tmp_path, "b.csv", extended_csv(extended_row(**{column: same_length})))

    ingest_into_case([first, second], tmp_path / "case")

    case = open_case(tmp_path / "case")
    assert sorted(case.events.column(column).to_pylist()) == sorted([text, same_length])
    assert case.duplicates.num_rows == 0
    assert [r.rows_duplicate for r in case.inputs] == [0, 0]


def test_detail_and_data_text_count_in_full():
    base = {"event_time": "2024-01-01T00:00:00Z", "event_detail": "Message received by: A"}
    other = dict(base, event_detail="Message received by: B")
    data = dict(base, event_data="<root><MEP Name='x' String='1'/></root>")
    data_other = dict(base, event_data="<root><MEP Name='x' String='2'/></root>")

    keys = event_keys(schema.events_table([base, other, data, data_other])).to_pylist()

    assert len(set(keys)) == 4


def extended_with_extra(extra_header: str, extra_value: str, **values: object) -> str:
    header = ",".join(csv_field(c) for c in (*EXTENDED_COLUMNS, extra_header))
    row = extended_row(**values) + "," + csv_field(extra_value)
    return header + "\r\n" + row + "\r\n"


def test_a_duplicate_keeps_its_extras_so_nothing_of_its_row_is_lost(tmp_path):
    # the same event, exported twice with a column msgtrace does not map, of different values
    first = write_export(tmp_path, "a.csv", extended_with_extra("X-Ticket", "T-1"))
    second = write_export(tmp_path, "b.csv", extended_with_extra("X-Ticket", "T-2 (re-run)"))

    ingest_into_case([first, second], tmp_path / "case")

    case = open_case(tmp_path / "case")
    assert case.events.num_rows == 1
    assert case.events.column("extras").to_pylist() == [[("X-Ticket", "T-1")]]
    assert case.duplicates.to_pylist() == [
        {
            "event_key": case.events.column("event_key")[0].as_py(),
            "input_id": "in-002",
            "line": 2,
            "extras": [("X-Ticket", "T-2 (re-run)")],
        }
    ]
    assert case.duplicates.schema == schema.DUPLICATE_SCHEMA


def test_keys_round_trip_through_their_hex_text():
    values = np.array([[0, M], [1, 2], [M, 0]], dtype=np.uint64)
    text = pa.array([f"{a:016x}{b:016x}" for a, b in values.tolist()])

    assert key_values(text).tolist() == values.tolist()


def test_merging_is_exact_when_keys_share_their_first_half():
    # keys are looked up by their first 64 bits; the second tells apart those that tie
    stored = np.array([[5, 1], [5, 2], [9, 1], [5, 3]], dtype=np.uint64)
    seen = KeySet()
    seen.add(stored[:2])
    seen.add(stored[2:])
    queries = np.array([[5, 3], [5, 4], [9, 1], [9, 2], [5, 1], [7, 1]], dtype=np.uint64)

    assert seen.contains(queries).tolist() == [True, False, True, False, True, False]
    assert len(seen) == 4
    batch = np.array([[5, 2], [5, 1], [5, 2], [6, 0], [5, 1]], dtype=np.uint64)
    assert _first_occurrences(batch).tolist() == [True, True, False, True, False]


def test_many_keys_merge_like_a_python_set():
    rng = np.random.default_rng(3)
    # few distinct first halves, so that ties are everywhere
    keys = np.column_stack([rng.integers(0, 50, 5000), rng.integers(0, 4, 5000)]).astype(np.uint64)
    seen, reference = KeySet(), set()
    for start in range(0, len(keys), 700):
        batch = keys[start : start + 700]
        new = ~seen.contains(batch) & _first_occurrences(batch)
        expected = []
        for row in map(tuple, batch.tolist()):
            expected.append(row not in reference)
            reference.add(row)
        assert new.tolist() == expected
        seen.add(batch[new])
    assert len(seen) == len(reference)
