"""Rows in chain order and their groups (analyzer.chains.groups)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analyzer.chains.groups import Groups, cleaned_codes, word_codes
from analyzer.identifiers import address_key


def test_groups_are_runs_of_message_and_recipient():
    groups = Groups.of(np.array([0, 0, 0, 1, 1, 2]), np.array([-1, 4, 4, 4, 5, 5]))
    assert groups.starts.tolist() == [0, 1, 3, 4, 5]
    assert groups.of_row.tolist() == [0, 1, 1, 2, 3, 4]
    assert groups.message_starts.tolist() == [0, 2, 4]
    assert groups.message_of_group.tolist() == [0, 0, 1, 1, 2]
    assert groups.sizes.tolist() == [1, 2, 1, 1, 1]


def test_first_last_and_counts_stay_inside_each_group():
    groups = Groups.of(np.array([0, 0, 0, 1, 1, 1]), np.array([1, 1, 1, 1, 2, 2]))
    mask = np.array([False, True, True, False, True, False])
    assert groups.first(mask).tolist() == [1, -1, 4]
    assert groups.last(mask).tolist() == [2, -1, 4]
    assert groups.count_of(mask).tolist() == [2, 0, 1]
    assert groups.any(mask).tolist() == [True, True, True, False, True, True]
    # the first row of the whole message for a group that has none of its own
    assert groups.first_in_message(mask).tolist() == [1, 4, 4]
    assert groups.own_or_message_first(mask).tolist() == [1, 4, 4]
    assert groups.first(np.zeros(6, dtype=bool)).tolist() == [-1, -1, -1]


def test_codes_are_computed_once_per_distinct_value_in_byte_order():
    codes, values = cleaned_codes(pa.array(["B@x.com", None, "<b@x.com>", "a@x.com"]), address_key)
    assert values.to_pylist() == ["a@x.com", "b@x.com"]
    assert codes.tolist() == [1, -1, 1, 0]
    words = word_codes(
        pa.array(["deliver", " Getting Status ", None, "odd"]),
        {"DELIVER": 1, "GETTINGSTATUS": 2},
        0,
        -1,
    )
    assert words.tolist() == [1, 2, -1, 0]
