"""Spreadsheet-safe CSV (analyzer/incident/spreadsheet.py)."""

from __future__ import annotations

import csv
import io

import pytest

from analyzer.incident.spreadsheet import csv_text, formula_safe


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@A1", "\tx", "\rx"])
def test_a_cell_that_could_start_a_formula_is_shown_as_text(cell):
    assert formula_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["a=1", "1-1", "x@y.example", "", " =1"])
def test_other_cells_are_left_as_they_are(cell):
    assert formula_safe(cell) == cell


def test_every_field_is_quoted_and_rows_end_with_crlf():
    text = csv_text(
        ("type", "value"), [("subject", '=HYPERLINK("x")'), ("count", 3), ("none", None)]
    )
    assert text == (
        '"type","value"\r\n"subject","\'=HYPERLINK(""x"")"\r\n"count","3"\r\n"none",""\r\n'
    )
    assert list(csv.reader(io.StringIO(text)))[1] == ["subject", '\'=HYPERLINK("x")']
