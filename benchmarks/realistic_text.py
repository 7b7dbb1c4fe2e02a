"""Column-wise text building for the realistic generator: random values by index, hex, numbers,
times, and assembling a column from pieces that each cover some rows."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_HEX = np.frombuffer(b"0123456789abcdef", dtype="S1")
_HEX_UPPER = np.frombuffer(b"0123456789ABCDEF", dtype="S1")


def _splitmix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: every input bit affects every output bit."""
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * _MIX1
        x = (x ^ (x >> np.uint64(27))) * _MIX2
    return x ^ (x >> np.uint64(31))


class Draws:
    """Random values that are a pure function of (seed, stream, key).

    A chunk of rows draws the values of its own messages and events only, and gets the same
    values whichever chunk they fall in.
    """

    def __init__(self, seed: int):
        self.seed = seed

    def bits(self, keys: np.ndarray, stream: int) -> np.ndarray:
        salt = _splitmix(np.array([self.seed * 1_000_003 + stream * 7_919 + 1], np.uint64))[0]
        with np.errstate(over="ignore"):
            return _splitmix(np.asarray(keys).astype(np.uint64) * _GOLDEN + salt)

    def uniform(self, keys: np.ndarray, stream: int) -> np.ndarray:
        """Floats in [0, 1)."""
        return (self.bits(keys, stream) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def below(self, keys: np.ndarray, stream: int, n: int | np.ndarray) -> np.ndarray:
        """Integers in [0, n) (n may differ per key; it must be positive)."""
        return (self.bits(keys, stream) % np.asarray(n).astype(np.uint64)).astype(np.int64)

    def pick(self, keys: np.ndarray, stream: int, weights: np.ndarray) -> np.ndarray:
        """Indices into ``weights``, drawn in proportion to them."""
        cumulative = np.cumsum(weights, dtype=np.float64)
        found = np.searchsorted(cumulative, self.uniform(keys, stream) * cumulative[-1], "right")
        return np.minimum(found, len(weights) - 1)


def text(values: list[str] | np.ndarray) -> pa.Array:
    return pa.array(values, pa.string())


def cat(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and constant strings."""
    return pc.binary_join_element_wise(*parts, "")


def repeat(value: str, n: int) -> pa.Array:
    return pa.array([value], pa.string()).take(pa.array(np.zeros(n, dtype=np.int64)))


def num_text(values: np.ndarray) -> pa.Array:
    return pa.array(np.asarray(values, dtype=np.int64)).cast(pa.string())


def padded(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(num_text(values), width, "0")


def decimal_text(thousandths: np.ndarray) -> pa.Array:
    """``1234`` -> ``1.234``."""
    values = np.asarray(thousandths, dtype=np.int64)
    return cat(num_text(values // 1000), ".", padded(values % 1000, 3))


def hex_text(values: np.ndarray, digits: int, upper: bool = False) -> pa.Array:
    """The low ``digits`` (at most 16) hex digits of each value, zero-padded."""
    values = np.asarray(values).astype(np.uint64)
    shifts = np.arange(digits - 1, -1, -1, dtype=np.uint64) * np.uint64(4)
    nibbles = ((values[:, None] >> shifts) & np.uint64(15)).astype(np.intp)
    chars = np.ascontiguousarray((_HEX_UPPER if upper else _HEX)[nibbles])
    return pa.array(chars.view(f"S{digits}").ravel(), pa.binary()).cast(pa.string())


def guid_text(high: np.ndarray, low: np.ndarray, upper: bool = False) -> pa.Array:
    """``8-4-4-4-12`` GUIDs from two 64-bit values each."""
    a = hex_text(high, 16, upper)
    b = hex_text(low, 16, upper)
    return cat(
        pc.utf8_slice_codeunits(a, 0, 8),
        "-",
        pc.utf8_slice_codeunits(a, 8, 12),
        "-",
        pc.utf8_slice_codeunits(a, 12, 16),
        "-",
        pc.utf8_slice_codeunits(b, 0, 4),
        "-",
        pc.utf8_slice_codeunits(b, 4, 16),
    )


def iso_ticks(ns: np.ndarray) -> pa.Array:
    """``2026-09-07T09:12:33.1234567Z``: 7 fractional digits, as Exchange writes times."""
    whole = np.datetime_as_string(np.asarray(ns, dtype=np.int64).astype("datetime64[ns]"), "ns")
    return cat(pc.utf8_slice_codeunits(pa.array(whole, pa.string()), 0, 27), "Z")


def iso_ms(ns: np.ndarray) -> pa.Array:
    """``2026-09-07T09:12:33.123Z`` (message_info, source_context)."""
    times = np.asarray(ns, dtype=np.int64).astype("datetime64[ns]")
    return cat(pa.array(np.datetime_as_string(times, unit="ms"), pa.string()), "Z")


def ipv4_text(a: np.ndarray, b: np.ndarray, c: np.ndarray, d: np.ndarray) -> pa.Array:
    return cat(num_text(a), ".", num_text(b), ".", num_text(c), ".", num_text(d))


class Pieces:
    """One text column of a chunk, put together from pieces that each cover some of its rows.

    Rows no piece covers are empty strings (the export writes ``""``).
    """

    def __init__(self, rows: int):
        self.rows = rows
        self.where: list[np.ndarray] = []
        self.values: list[pa.Array] = []

    def put(self, rows: np.ndarray, values: pa.Array | str) -> None:
        if len(rows) == 0:
            return
        if isinstance(values, str):
            values = repeat(values, len(rows))
        assert len(values) == len(rows)
        self.where.append(np.asarray(rows, dtype=np.int64))
        self.values.append(values.cast(pa.string()))

    def done(self) -> pa.Array:
        covered = np.zeros(self.rows, dtype=bool)
        for rows in self.where:
            covered[rows] = True
        empty = np.flatnonzero(~covered)
        where = np.concatenate([*self.where, empty])
        assert len(where) == self.rows, "a row is covered twice"
        values = pa.concat_arrays([*self.values, repeat("", len(empty))])
        return values.take(pa.array(np.argsort(where, kind="stable")))
