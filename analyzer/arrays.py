"""Small Arrow column helpers every stage uses, defined once.

Nothing here knows about exports or messages: these are the idioms of vectorized work on
pyarrow columns (one array from chunks, work once per distinct value, masks with nulls as
False, take with -1 as null) that would otherwise be rewritten in each module.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

NULL_STRING = pa.scalar(None, pa.string())


def one_array(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The column as one array, without a copy when it is one chunk already."""
    if isinstance(values, pa.ChunkedArray):
        if values.num_chunks == 1:
            return values.chunk(0)
        if values.num_chunks == 0:
            return pa.array([], values.type)
        return values.combine_chunks()
    return values


def null_if_empty(text: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Empty strings become null."""
    return pc.if_else(pc.equal(text, ""), NULL_STRING, text)


def per_distinct(
    values: pa.Array | pa.ChunkedArray, function: Callable[[pa.Array], pa.Array]
) -> pa.Array:
    """``function`` (an elementwise function) applied once per distinct value, spread back to
    every row. Addresses, event ids and statuses repeat a few values over many rows: the work
    per distinct value and a lookup per row cost less than the work per row."""
    encoded = pc.dictionary_encode(one_array(values))
    return function(encoded.dictionary).take(encoded.indices)


def fill_false(mask: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """A boolean mask with nulls counted as False."""
    return pc.fill_null(mask, False)


def to_numpy_bool(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean mask as numpy, nulls as False."""
    return np.asarray(one_array(pc.fill_null(mask, False)).to_numpy(zero_copy_only=False))


def is_valid(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Where the column has a value, as numpy."""
    return np.asarray(one_array(pc.is_valid(values)).to_numpy(zero_copy_only=False))


def take_or_null(values: pa.Array | pa.ChunkedArray, index: np.ndarray) -> pa.Array:
    """``values[index]``, null where index is -1."""
    return one_array(values).take(pa.array(index, mask=index < 0))


def isin(values: pa.Array | pa.ChunkedArray, allowed: object) -> np.ndarray:
    """Where a string column holds one of ``allowed``, as numpy (null is never in)."""
    found = pc.is_in(values, value_set=pa.array(allowed, pa.string()))
    return to_numpy_bool(found)
