"""CSV that is safe to open in a spreadsheet.

Export values are attacker-written: a subject such as ``=HYPERLINK("http://x","click")`` would
be a live formula in Excel or LibreOffice. Every cell is quoted, and a cell that starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'`` so it is shown as
text. Rows end with CRLF, as spreadsheets expect.

This is the incident commands' own writer until the shared one of the command line lands
(the lead unifies them); it has the same behaviour.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

#: Cell starts that a spreadsheet would read as a formula (or as the start of one).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_safe(value: object) -> str:
    """A cell's text, prefixed with ``'`` when it could start a formula (None: empty)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document: the header, then the rows, every cell quoted and formula-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([formula_safe(cell) for cell in header])
    for row in rows:
        writer.writerow([formula_safe(cell) for cell in row])
    return buffer.getvalue()


__all__ = ["FORMULA_STARTS", "csv_text", "formula_safe"]
