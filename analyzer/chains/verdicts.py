"""Verdicts of the spam and malware filters and transport rules, read from ``custom_data``.

Each verdict column of a recipient (``VERDICT_KEYS``: SFV, SCL, PCL, DI, country, malware
name) is the last value its rows give, the first key listed winning when a row has several
(``SFA.SCL`` over ``SCL``). Transport rules are listed once each as ``<ruleId> <action>``, in
order of first appearance.

Inheritance: rows about no recipient (message-level rows) give their verdicts to the
recipients of the message that have none of their own; group members and redirected
addresses then inherit their parent's (the spam filter runs before the expansion), through up
to three levels of nesting. The row each verdict came from is kept: it is the evidence when a
verdict decides the final status (``analyzer.chains.status``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import NULL_STRING, is_valid, one_array, take_or_null
from analyzer.chains.groups import Groups, Rows

#: custom_data keys (lower case) of the verdict columns; the first listed that is present wins.
VERDICT_KEYS: dict[str, tuple[str, ...]] = {
    "sfv": ("sfa.sfv", "sfv"),
    "scl": ("sfa.scl", "scl"),
    "pcl": ("sfa.pcl", "pcl"),
    "di": ("sfa.di", "di"),
    "country": ("sfa.ctry", "ctry"),
    "malware_name": ("ama.name",),
}
_RULE_ID_KEY = "tra.ruleid"
_RULE_ACTION_KEY = "tra.action"
#: Levels of parents a child inherits verdicts through (a member of a group in a group...).
INHERITED_LEVELS = 3


@dataclass
class Verdicts:
    """Per group: each verdict, the row it came from, the transport rules.

    Attributes:
        values: verdict name (``VERDICT_KEYS``) -> its value per group (null: none).
        rows: verdict name -> the row it was read from per group (-1: none).
        rules: the transport rules of each group, ``<ruleId> <action>``.
    """

    values: dict[str, pa.Array]
    rows: dict[str, np.ndarray]
    rules: pa.Array

    @property
    def di(self) -> np.ndarray:
        """The disposition (DI) of each group, upper case ("" when none)."""
        return np.asarray(
            pc.utf8_upper(pc.fill_null(self.values["di"], "")).to_numpy(zero_copy_only=False)
        )

    def inherit(self, source_group: np.ndarray) -> None:
        """Fill each group's missing verdicts and empty rule list from ``source_group``
        (-1: none)."""
        if not (source_group >= 0).any():
            return
        safe = np.maximum(source_group, 0)
        for name, values in self.values.items():
            self.values[name] = pc.coalesce(values, take_or_null(values, source_group))
            inherited = np.where(source_group >= 0, self.rows[name][safe], -1)
            self.rows[name] = np.where(self.rows[name] >= 0, self.rows[name], inherited)
        lengths = pc.list_value_length(self.rules).to_numpy(zero_copy_only=False)
        use = (lengths == 0) & (source_group >= 0)
        if use.any():
            self.rules = self.rules.take(pa.array(np.where(use, source_group, np.arange(len(use)))))


def read_verdicts(rows: Rows, parent_group: np.ndarray) -> Verdicts:
    """The verdicts of every group, inherited as the module documentation says.

    Args:
        rows: the rows in chain order.
        parent_group: the parent's group of every group (-1: none; ``Lineage.parent_group``).
    """
    groups = rows.groups
    verdicts = _own_verdicts(rows.column("custom_data_fields"), groups)
    blank = np.flatnonzero(rows.recipient_code[groups.starts] < 0)  # rows about no recipient
    blank_of_message = np.full(len(groups.message_starts), -1, dtype=np.int64)
    blank_of_message[groups.message_of_group[blank]] = blank
    verdicts.inherit(blank_of_message[groups.message_of_group])
    for _ in range(INHERITED_LEVELS):
        verdicts.inherit(parent_group)
    return verdicts


def whole_numbers(values: pa.Array) -> pa.Array:
    """Whole numbers written as text (SCL, PCL); anything else is null."""
    text = pc.utf8_trim_whitespace(one_array(values))
    numeric = pc.fill_null(pc.match_substring_regex(text, r"^[+-]?\d{1,9}$"), False)
    return pc.if_else(numeric, text, NULL_STRING).cast(pa.int64())


def _own_verdicts(custom_data_fields: pa.Array, groups: Groups) -> Verdicts:
    """Per group: the last value of each verdict key, the row it came from, the rule list."""
    maps = one_array(custom_data_fields)
    offsets = maps.offsets.to_numpy()
    begin, end = int(offsets[0]), int(offsets[-1])
    entry_row = np.repeat(np.arange(len(maps)), np.diff(offsets))
    items = maps.items.slice(begin, end - begin)
    # key names are few: compare their codes, not the text of every entry
    encoded = pc.dictionary_encode(maps.keys.slice(begin, end - begin))
    names = [str(k).lower() for k in encoded.dictionary.to_pylist()]
    key_code = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False)
    key_code = np.where(is_valid(items), key_code, -1)

    def entries_of(key: str) -> np.ndarray:
        codes = [i for i, name in enumerate(names) if name == key]
        return np.flatnonzero(np.isin(key_code, codes)) if codes else np.empty(0, np.int64)

    values: dict[str, pa.Array] = {}
    rows: dict[str, np.ndarray] = {}
    for name, wanted in VERDICT_KEYS.items():
        best = np.full(groups.count, -1, dtype=np.int64)
        best_entry = np.full(groups.count, -1, dtype=np.int64)
        for key in reversed(wanted):  # earlier keys override later ones
            hits = entries_of(key)
            if len(hits) == 0:
                continue
            hit_groups = groups.of_row[entry_row[hits]]  # non-decreasing: rows are in order
            last = np.ones(len(hits), dtype=bool)
            last[:-1] = hit_groups[1:] != hit_groups[:-1]
            best_entry[hit_groups[last]] = hits[last]
            best[hit_groups[last]] = entry_row[hits[last]]
        values[name] = take_or_null(items, best_entry)
        rows[name] = best
    rules = _rule_lists(
        entries_of(_RULE_ID_KEY), entries_of(_RULE_ACTION_KEY), items, entry_row, groups
    )
    return Verdicts(values, rows, rules)


def _rule_lists(
    rule_entries: np.ndarray,
    action_entries: np.ndarray,
    items: pa.Array,
    entry_row: np.ndarray,
    groups: Groups,
) -> pa.Array:
    """'<ruleId> <action>' per transport rule, per group, in order of first appearance."""
    if len(rule_entries) == 0:
        return pa.ListArray.from_arrays(
            pa.array(np.zeros(groups.count + 1, dtype=np.int32)), pa.array([], pa.string())
        )
    rule_frame = pd.DataFrame(
        {
            "row": entry_row[rule_entries],
            "rule": items.take(pa.array(rule_entries)).to_numpy(zero_copy_only=False),
        }
    )
    rule_frame["nth"] = rule_frame.groupby("row").cumcount()
    action_frame = pd.DataFrame(
        {
            "row": entry_row[action_entries],
            "action": items.take(pa.array(action_entries)).to_numpy(zero_copy_only=False),
        }
    )
    action_frame["nth"] = action_frame.groupby("row").cumcount()
    merged = rule_frame.merge(action_frame, on=["row", "nth"], how="left", sort=False)
    text = merged["rule"].astype(object).str.strip()
    has_action = merged["action"].notna()
    text = text.where(~has_action, text + " " + merged["action"].astype(object).str.strip())
    frame = pd.DataFrame({"group": groups.of_row[merged["row"].to_numpy()], "text": text})
    frame["row"] = merged["row"].to_numpy()
    frame = frame.sort_values(["group", "row"], kind="stable").drop_duplicates(
        ["group", "text"], keep="first"
    )
    counts = np.bincount(frame["group"].to_numpy(), minlength=groups.count)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(frame["text"].to_numpy(dtype=object), pa.string())
    )
