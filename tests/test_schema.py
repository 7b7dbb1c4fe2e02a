"""The canonical event table: defined once, every column meant for a user and filled by
something, and tables conformed to it exactly."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from analyzer import formats, schema

#: Columns normalization fills itself (not from a header): derived, provenance, or keys.
DERIVED = {
    "time_basis",
    "event_seq",
    "smtp_reply_code",
    "status_code",
    "direction",
    "custom_data_fields",
    "extras",
    "input_id",
    "line",
    "report_type",
    "event_key",
}


def test_every_column_has_a_unique_name_and_a_meaning():
    names = [c.name for c in schema.COLUMNS]
    assert len(names) == len(set(names))
    for column in schema.COLUMNS:
        assert column.meaning.endswith((".", ")")), column.name
        assert len(column.meaning) > 15, column.name


def test_every_column_is_filled_by_some_format_or_by_normalization():
    filled = set(DERIVED)
    for spec in formats.REGISTRY:
        filled |= set(spec.columns) | set(spec.constants) | set(spec.fallbacks)
    assert set(schema.COLUMN_NAMES) == filled


def test_an_events_identity_is_every_column_but_provenance_and_extras():
    assert set(schema.KEY_COLUMNS) == set(schema.COLUMN_NAMES) - {
        "input_id",
        "line",
        "report_type",
        "event_key",
        "extras",
    }


def test_conform_adds_missing_columns_as_nulls_in_order_and_casts_types():
    table = pa.table({"line": pa.array([7], pa.int32()), "event_id": ["RECEIVE"]})

    conformed = schema.conform(table)

    assert conformed.schema == schema.EVENT_SCHEMA
    row = conformed.to_pylist()[0]
    assert (row["line"], row["event_id"], row["recipient_address"]) == (7, "RECEIVE", None)


def test_conform_refuses_a_column_that_belongs_in_extras():
    with pytest.raises(ValueError, match="not canonical columns: \\['Ticket'\\]"):
        schema.conform(pa.table({"Ticket": ["INC-7"]}))


def test_events_table_builds_events_from_records():
    table = schema.events_table(
        [
            {
                "event_time": dt.datetime(2026, 1, 27, 9, 15, 2),
                "extras": {"Index": "0"},
                "file_size": 2048,
            }
        ]
    )

    row = table.to_pylist()[0]
    assert row["event_time"] == dt.datetime(2026, 1, 27, 9, 15, 2, tzinfo=dt.UTC)
    assert (row["extras"], row["file_size"]) == ([("Index", "0")], 2048)
    with pytest.raises(ValueError, match="not canonical"):
        schema.events_table([{"subject": "x"}])


def test_the_schema_markdown_lists_every_column_with_its_type():
    text = schema.schema_markdown()
    for column in schema.COLUMNS:
        assert f"| `{column.name}` | `{column.type}` |" in text
