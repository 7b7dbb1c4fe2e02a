"""Recipient lineage: EXPAND, REDIRECT, RESOLVE parents and children (analyzer.chains.lineage)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.chains import build_chains, lineage_order
from chains.helpers import event, make_case, recipients_of


def test_distribution_group_expansion_gives_members_that_point_to_the_group():
    # as Exchange logs it: the members in recipient_address, the group in related
    rows = [
        event(
            "RECEIVE",
            "sales@contoso.com",
            0,
            recipient_status="To",
            direction="inbound",
            sender_address="orders@northwind.example",
        ),
        event("EXPAND", "dan@contoso.com", 0.5, related_recipient_address="sales@contoso.com"),
        event("EXPAND", "erin@contoso.com", 0.5, related_recipient_address="Sales@Contoso.com"),
        event("EXPAND", "frank@contoso.com", 0.5, related_recipient_address="sales@contoso.com"),
        event("DELIVER", "dan@contoso.com", 2, recipient_status="250 2.1.5 OK"),
        event("DELIVER", "erin@contoso.com", 2, recipient_status="250 2.1.5 OK"),
    ]
    chains = build_chains(make_case(rows))
    got = recipients_of(chains)
    assert sorted(got) == [
        "dan@contoso.com",
        "erin@contoso.com",
        "frank@contoso.com",
        "sales@contoso.com",
    ]
    group = got["sales@contoso.com"]
    assert group["final_status"] == "Expanded"
    assert group["parent_recipient"] is None
    for member in ("dan@contoso.com", "erin@contoso.com"):
        assert got[member]["final_status"] == "Delivered"
        assert got[member]["parent_recipient"] == "sales@contoso.com"
        assert got[member]["recipient_relation"] == "expanded_from"
        # a member is received when its group is
        assert got[member]["first_time"] == dt.datetime(2024, 3, 1, 10, tzinfo=dt.UTC)
    # a member with no event after the expansion is listed, Pending: its EXPAND row is
    # its only event, and nothing final follows it
    frank = got["frank@contoso.com"]
    assert frank["parent_recipient"] == "sales@contoso.com"
    assert frank["final_status"] == "Pending"


def test_expansion_written_the_other_way_round_is_recognised():
    # an export that puts the group in recipient_address: the group was received, the
    # member was not
    rows = [
        event("RECEIVE", "sales@contoso.com", 0, recipient_status="To", direction="inbound"),
        event("EXPAND", "sales@contoso.com", 0.5, related_recipient_address="dan@contoso.com"),
        event("EXPAND", "sales@contoso.com", 0.5, related_recipient_address="erin@contoso.com"),
        event("DELIVER", "dan@contoso.com", 2),
    ]
    got = recipients_of(build_chains(make_case(rows)))
    assert got["sales@contoso.com"]["final_status"] == "Expanded"
    assert got["dan@contoso.com"]["parent_recipient"] == "sales@contoso.com"
    assert got["dan@contoso.com"]["final_status"] == "Delivered"
    # erin has no row of her own: listed with her parent, status Unknown
    assert got["erin@contoso.com"]["parent_recipient"] == "sales@contoso.com"
    assert got["erin@contoso.com"]["final_status"] == "Unknown"
    assert got["erin@contoso.com"]["event_count"] == 0


def test_redirect_and_resolve_give_children_that_point_to_the_original_address():
    rows = [
        event("RECEIVE", "victim@contoso.com", 0, direction="inbound"),
        event("RECEIVE", "sales.alias@contoso.com", 0, direction="inbound"),
        # mailbox forwarding: a copy redirected to an outside address, the mailbox keeps its own
        event(
            "REDIRECT",
            "x.collector@gmail.example",
            0.5,
            related_recipient_address="victim@contoso.com",
        ),
        event("DELIVER", "victim@contoso.com", 1, recipient_status="250 2.1.5 OK"),
        event("SEND", "x.collector@gmail.example", 2, recipient_status="250 2.0.0 OK"),
        # an alias rewritten to the primary address
        event(
            "RESOLVE",
            "bob@contoso.com",
            0.5,
            related_recipient_address="sales.alias@contoso.com",
        ),
        event("DELIVER", "bob@contoso.com", 1.5, recipient_status="250 2.1.5 OK"),
    ]
    got = recipients_of(build_chains(make_case(rows)))
    lineage = {
        address: (r["parent_recipient"], r["recipient_relation"], r["final_status"])
        for address, r in got.items()
    }
    assert lineage == {
        "victim@contoso.com": (None, None, "Delivered"),
        "x.collector@gmail.example": ("victim@contoso.com", "redirected_from", "Delivered"),
        "sales.alias@contoso.com": (None, None, "Redirected"),
        "bob@contoso.com": ("sales.alias@contoso.com", "resolved_from", "Delivered"),
    }


# --------------------------------------------------------------------------------------------
# lineage order (the chain model)


def _recipients(rows: list[tuple[str, str | None, str | None]]) -> pa.Table:
    message, address, parent = zip(*rows, strict=True) if rows else ((), (), ())
    return pa.table(
        {
            "message_key": pa.array(message, pa.string()),
            "recipient_address": pa.array(address, pa.string()),
            "parent_recipient": pa.array(parent, pa.string()),
        }
    )


def _ordered(rows: list[tuple[str, str | None, str | None]]) -> list[tuple[str | None, int]]:
    """The addresses of one message in lineage order, each with its depth."""
    order, depth = lineage_order(_recipients(rows))
    placed = sorted(zip(order, depth, [r[1] for r in rows], strict=True))
    assert [p[0] for p in placed] == list(range(len(rows)))
    return [(address, int(level)) for _, level, address in placed]


def _reference_order(rows: list[tuple[str, str | None, str | None]]) -> list[tuple[int, int]]:
    """Lineage order one message at a time, depth first, written the plain way."""
    result: list[tuple[int, int]] = [(-1, -1)] * len(rows)
    for message in dict.fromkeys(r[0] for r in rows):
        mine = [i for i, r in enumerate(rows) if r[0] == message]
        for position, (i, depth) in enumerate(_reference_one(rows, mine)):
            result[i] = (position, depth)
    return result


def _reference_one(rows: list[tuple[str, str | None, str | None]], mine: list[int]) -> list:
    by_address = {(rows[i][1] or "").lower(): i for i in mine}
    children: dict[int, list[int]] = {}
    roots = []
    for i in mine:
        parent = (rows[i][2] or "").lower()
        if parent and parent in by_address and parent != (rows[i][1] or "").lower():
            children.setdefault(by_address[parent], []).append(i)
        else:
            roots.append(i)
    placed: list[tuple[int, int]] = []
    seen: set[int] = set()

    def visit(i: int, depth: int) -> None:
        if i in seen:
            return
        seen.add(i)
        placed.append((i, depth))
        for child in children.get(i, []):
            visit(child, depth + 1)

    for i in roots + mine:  # a cycle of parents leaves rows unvisited: roots in row order
        visit(i, 0)
    return placed


def test_nested_expansions_put_each_parent_before_its_children():
    rows = [
        ("m", "anne@contoso.com", "team@contoso.com"),
        ("m", "bob@contoso.com", None),
        ("m", "carl@contoso.com", "sales@contoso.com"),
        ("m", "sales@contoso.com", None),
        ("m", "team@contoso.com", "Sales@Contoso.com"),  # a group in the group
        ("m", "x@gmail.example", "anne@contoso.com"),  # anne's mailbox redirects outside
    ]
    assert _ordered(rows) == [
        ("bob@contoso.com", 0),
        ("sales@contoso.com", 0),
        ("carl@contoso.com", 1),
        ("team@contoso.com", 1),
        ("anne@contoso.com", 2),
        ("x@gmail.example", 3),
    ]


def test_a_parent_that_is_not_a_recipient_leaves_its_child_a_root():
    rows = [("m", "dan@contoso.com", "gone@contoso.com"), ("m", "bob@contoso.com", None)]
    assert _ordered(rows) == [("dan@contoso.com", 0), ("bob@contoso.com", 0)]


def test_a_cycle_of_parents_is_shown_after_the_trees_from_its_first_row():
    rows = [
        ("m", "a@contoso.com", "c@contoso.com"),
        ("m", "b@contoso.com", "a@contoso.com"),
        ("m", "c@contoso.com", "b@contoso.com"),
        ("m", "d@contoso.com", None),
        ("m", "e@contoso.com", "d@contoso.com"),
    ]
    assert _ordered(rows) == [
        ("d@contoso.com", 0),
        ("e@contoso.com", 1),
        ("a@contoso.com", 0),
        ("b@contoso.com", 1),
        ("c@contoso.com", 2),
    ]


def test_lineage_order_works_over_many_messages_at_once():
    rows = [
        ("m1", "g@contoso.com", None),
        ("m2", "x@contoso.com", "y@contoso.com"),
        ("m1", "a@contoso.com", "g@contoso.com"),
        ("m2", "y@contoso.com", None),
        ("m3", None, None),
    ]
    order, depth = lineage_order(_recipients(rows))
    assert order.tolist() == [0, 1, 1, 0, 0]
    assert depth.tolist() == [0, 1, 1, 0, 0]
    empty_order, empty_depth = lineage_order(_recipients([]))
    assert len(empty_order) == len(empty_depth) == 0


_ADDRESSES = ["a@x", "b@x", "c@x", "d@x", "e@x", "f@x"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["m1", "m2"]),
            st.sampled_from(_ADDRESSES),
            st.sampled_from([None, *_ADDRESSES, "B@X"]),
        ),
        max_size=14,
    )
)
def test_lineage_order_is_the_depth_first_order_of_each_message(drawn):
    seen: set[tuple[str, str]] = set()
    rows = []
    for message, address, parent in drawn:  # an address is a recipient of a message once
        if (message, address) not in seen:
            seen.add((message, address))
            rows.append((message, address, parent))
    order, depth = lineage_order(_recipients(rows))
    assert list(zip(order.tolist(), depth.tolist(), strict=True)) == _reference_order(rows)
