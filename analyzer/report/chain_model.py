"""What the report still derives itself about one message's chain: to be replaced.

Issue 8 item 4: Python is to compute a message's recipient order and depth, the gaps between
its events and the words of its links once, in ``analyzer.chains`` (``message_chain`` with
lineage order and depth per recipient, gap seconds and level per event, relation words, and
a vectorized ``lineage_order(recipients)``), and the terminal text, the focused HTML and
``report.js`` only format it. Until that model is there, the report's copies live here and
nowhere else: the focused view (``detail``) and the words sent to the page's script
(``embed``) read them from this module, so the switch replaces this file's contents and
their two call sites. ``report.js`` still has its own ``lineageOrder``; it goes with the
switch.
"""

from __future__ import annotations

from typing import Any

#: How a link reads from each side: (from the message that has it, from the related message).
RELATION_WORDS = {
    "dsn_for": (
        "delivery status notification (DSN) for",
        "has a delivery status notification (DSN)",
    ),
    "inbox_rule_forward_of": ("inbox-rule forward of", "forwarded by an inbox rule as"),
}

#: Gaps between events (seconds) from which the timeline marks them (the page's script too).
GAP_NOTABLE = 300
GAP_LONG = 3_600


def gap_level(seconds: float) -> str:
    """The mark of a gap between two events: "long-gap", "gap" or "" (not notable)."""
    return "long-gap" if seconds >= GAP_LONG else "gap" if seconds >= GAP_NOTABLE else ""


def lineage_order(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Recipients as a tree: each parent followed by its children (EXPAND, REDIRECT, RESOLVE).

    Args:
        rows: the recipient rows of one message (chains recipients, as dicts).

    Returns:
        (row, depth) pairs: roots (no parent among the rows) at depth 0 in their given
        order, each followed by its children; a cycle of parents, which has no root, starts
        at depth 0 from its first row.
    """
    by_address = {(row["recipient_address"] or "").lower(): row for row in rows}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for row in rows:
        parent = (row.get("parent_recipient") or "").lower()
        if parent and parent in by_address and parent != (row["recipient_address"] or "").lower():
            children.setdefault(parent, []).append(row)
        else:
            roots.append(row)
    ordered: list[tuple[dict[str, Any], int]] = []
    seen: set[str] = set()

    def visit(row: dict[str, Any], depth: int) -> None:
        address = (row["recipient_address"] or "").lower()
        if address in seen:
            return
        seen.add(address)
        ordered.append((row, depth))
        for child in children.get(address, []):
            visit(child, depth + 1)

    for row in roots:
        visit(row, 0)
    for row in rows:  # a cycle of parents leaves rows unvisited: show them flat
        visit(row, 0)
    return ordered
