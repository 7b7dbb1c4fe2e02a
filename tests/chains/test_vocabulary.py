"""The vocabulary of chains: statuses and event kinds (analyzer.chains.vocabulary)."""

from __future__ import annotations

import pytest

from analyzer.chains import EVENT_KINDS, FINAL_STATUSES, LIFECYCLE_ORDER, REPORTED_STATUSES
from analyzer.chains.vocabulary import KIND_RANK, KIND_STATUS, NO_STATUS, Kind, Status


def test_status_codes_index_the_final_statuses():
    assert [status.label for status in Status] == list(FINAL_STATUSES)
    assert REPORTED_STATUSES["gettingstatus"] is Status.PENDING


@pytest.mark.parametrize(
    ("event_id", "rank", "status"),
    [
        ("RECEIVE", 0, None),
        ("SUBMIT", 0, None),
        ("AGENTINFO", 1, None),
        ("EXPAND", 3, "Expanded"),
        ("RESOLVE", 3, "Redirected"),
        ("TRANSFER", 4, None),
        ("SUBMITDEFER", 5, None),
        ("DUPLICATEDELIVER", 6, "Delivered"),
        ("SENDEXTERNAL", 6, "Delivered"),
        ("MODERATIONEXPIRE", 6, "Failed"),
        ("SUPPRESSED", 6, "Dropped"),
        ("QUARANTINED", 6, "Quarantined"),
        ("FILTEREDASSPAM", 6, "FilteredAsSpam"),
        ("DSN", 7, "Failed"),
    ],
)
def test_each_event_id_has_its_kind_rank_and_terminal_status(event_id, rank, status):
    kind = EVENT_KINDS[event_id]
    assert kind.rank == KIND_RANK[kind] == rank
    assert kind.status == KIND_STATUS[kind]
    assert (None if kind.status == NO_STATUS else FINAL_STATUSES[kind.status]) == status


def test_the_documented_lifecycle_order_names_every_rank_of_the_kinds():
    documented = [rank for rank, _ in LIFECYCLE_ORDER]
    assert documented == sorted(documented)
    assert set(documented) == {kind.rank for kind in Kind}
    assert Kind.OTHER.rank == 2 and Kind.STATUS.rank == 8


def test_lookup_tables_are_read_only():
    with pytest.raises(ValueError):
        KIND_RANK[0] = 5
