"""Arrow columns as the report reads them: numbers for the embedded data, optional columns.

The general Arrow idioms are in ``analyzer.arrays``; these are the report's own: a column a
producer may not have filled, integers and times as numpy for the JSON rows.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_NS_PER_MS = 1_000_000


def column(table: pa.Table, name: str, type_: pa.DataType | None = None) -> pa.ChunkedArray:
    """A column of ``table``, or nulls (of ``type_``, default string) when it is missing."""
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, type_ or pa.string())])


def int_column(values: pa.ChunkedArray | pa.Array, missing: int = -1) -> np.ndarray:
    """An integer column as numpy, ``missing`` for null."""
    filled = pc.fill_null(values.cast(pa.int64()), missing)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int64)


def time_column(values: pa.ChunkedArray, base_ms: int, per_ms: int = 1) -> np.ndarray:
    """Times as integers after ``base_ms``: milliseconds (``per_ms`` 1) or 100 ns ticks
    (``per_ms`` 10,000); -1 for a missing time."""
    nanos = values.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
    array = np.asarray(pc.fill_null(nanos, np.iinfo(np.int64).min).to_numpy(zero_copy_only=False))
    missing = array == np.iinfo(np.int64).min
    relative = (array - base_ms * _NS_PER_MS) // (_NS_PER_MS // per_ms)
    relative[missing] = -1
    return relative


def seconds_to_ms(values: pa.ChunkedArray) -> np.ndarray:
    """Durations in seconds as whole milliseconds, -1 when unknown."""
    milliseconds = pc.round(pc.multiply(values.cast(pa.float64()), 1000.0))
    return int_column(milliseconds)


def join_list(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """A list column as ``a, b`` text (a string column stays as it is)."""
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        return pc.binary_join(values, ", ")
    return values.cast(pa.string())
