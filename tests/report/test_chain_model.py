"""The report's own chain model (to be replaced by analyzer.chains): lineage, gap levels."""

from __future__ import annotations

from analyzer.report.chain_model import GAP_LONG, GAP_NOTABLE, gap_level, lineage_order


def _row(address: str, parent: str | None = None) -> dict:
    return {"recipient_address": address, "parent_recipient": parent}


def test_children_follow_their_parent_one_level_deeper():
    rows = [
        _row("team@contoso.com"),
        _row("zed@contoso.com"),
        _row("ann@contoso.com", "Team@Contoso.com"),
        _row("bob@contoso.com", "team@contoso.com"),
        _row("bob-fwd@fabrikam.com", "bob@contoso.com"),
    ]
    ordered = [(row["recipient_address"], depth) for row, depth in lineage_order(rows)]
    assert ordered == [
        ("team@contoso.com", 0),
        ("ann@contoso.com", 1),
        ("bob@contoso.com", 1),
        ("bob-fwd@fabrikam.com", 2),
        ("zed@contoso.com", 0),
    ]


def test_a_missing_parent_makes_a_root_and_a_cycle_starts_at_its_first_row():
    rows = [_row("a@x.com", "b@x.com"), _row("b@x.com", "a@x.com"), _row("c@x.com", "gone@x.com")]
    ordered = [(row["recipient_address"], depth) for row, depth in lineage_order(rows)]
    assert ordered == [("c@x.com", 0), ("a@x.com", 0), ("b@x.com", 1)]


def test_gap_levels():
    assert gap_level(GAP_NOTABLE - 1) == ""
    assert gap_level(GAP_NOTABLE) == "gap"
    assert gap_level(GAP_LONG) == "long-gap"
