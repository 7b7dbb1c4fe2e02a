"""Recipient lineage: the parents and children that EXPAND, REDIRECT and RESOLVE rows name.

An EXPAND, REDIRECT or RESOLVE row names two addresses. As Exchange logs them,
``related_recipient_address`` is the parent (the distribution group, the original address)
and ``recipient_address`` the child (a member, the new address). An export written the other
way round is recognised: when the row's recipient has a RECEIVE of its own (with its own time)
and the related address has none, the row's recipient is the parent. When the row's recipient
is the parent, or the row names no related address (the enhanced summary words ``Expand``,
``Redirect``), the row is a terminal event of its own recipient (Expanded, Redirected).

A child points to its parent (``parent_recipient``, ``recipient_relation``: the first relation
of a child wins). A parent that has no terminal event of its own takes the status of its last
relation row: Expanded or Redirected. A child that has no row of its own still gets a
recipient row (status Unknown, its time the relation row's, its direction inferred from the
domains or else its parent's).

Lineage order (``lineage_order``, the chain model): the recipients of a message as a tree,
each parent followed by its children, in the order of the recipient table; a recipient whose
parent is not a recipient of the message is a root. Parents that form a cycle (possible only
in inconsistent data) are shown after the trees: the first recipient of the cycle in table
order is taken as a root.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import is_valid, one_array, per_distinct, to_numpy_bool
from analyzer.chains.columns import RECIPIENT_SCHEMA
from analyzer.chains.direction import resolve_direction
from analyzer.chains.groups import Rows, timestamps
from analyzer.chains.vocabulary import KIND_STATUS, NO_STATUS, RELATION_KINDS, Kind
from analyzer.identifiers import address_key

#: ``recipient_relation`` of a child, by the kind of the row that named it.
RELATION_NAMES: dict[Kind, str] = {
    Kind.EXPAND: "expanded_from",
    Kind.REDIRECT: "redirected_from",
    Kind.RESOLVE: "resolved_from",
}
#: How a child's relation reads before its parent's address (the chain model).
RELATION_WORDS: dict[str, str] = {
    "expanded_from": "expanded from",
    "redirected_from": "redirected from",
    "resolved_from": "resolved from",
}


@dataclass(frozen=True)
class Lineage:
    """The lineage rows of a case and what they give each group.

    Attributes:
        relation_index: rows (chain order) that name a parent and a child.
        parent_is_related: per relation row, True when the related address is the parent.
        own_relation: per row, True for EXPAND/REDIRECT/RESOLVE rows that are terminal events
            of their own recipient (it is the parent, or no related address is named).
        relations: one row per child (the first relation naming it): message_key, parent,
            child, relation, row; None when there are no relation rows.
        parent_recipient: per group, its parent's address (null: an original recipient).
        recipient_relation: per group, ``RELATION_NAMES`` of the relation (null: none).
        parent_group: per group, its parent's group (-1: none or not a recipient).
        parent_status: per group, Expanded/Redirected for a parent named only in the related
            column of its children's rows (NO_STATUS: none).
        parent_by: the relation row that gives ``parent_status`` (-1: none).
    """

    relation_index: np.ndarray
    parent_is_related: np.ndarray
    own_relation: np.ndarray
    relations: pd.DataFrame | None
    parent_recipient: pa.Array
    recipient_relation: pa.Array
    parent_group: np.ndarray
    parent_status: np.ndarray
    parent_by: np.ndarray


def _joined(message: pa.Array, address: pa.Array) -> pa.Array:
    """``message \\x00 address``: one text per (message, address) pair, for lookups."""
    return pc.binary_join_element_wise(message, address, "\x00")


def read_lineage(rows: Rows) -> Lineage:
    """The parents and children of every recipient (see the module documentation)."""
    groups, kind = rows.groups, rows.kind
    related_key = per_distinct(rows.column("related_recipient_address"), address_key)
    related_valid = is_valid(related_key)
    is_relation_kind = np.isin(kind, RELATION_KINDS)
    relation_row = (
        is_relation_kind
        & related_valid
        & to_numpy_bool(pc.not_equal(related_key, rows.recipient_key))
    )
    own_relation = is_relation_kind & ~related_valid
    relation_index = np.flatnonzero(relation_row)
    count = groups.count
    if len(relation_index) == 0:
        nulls = pa.nulls(count, pa.string())
        none = np.full(count, -1, dtype=np.int64)
        return Lineage(
            relation_index=relation_index,
            parent_is_related=np.zeros(0, dtype=bool),
            own_relation=own_relation,
            relations=None,
            parent_recipient=nulls,
            recipient_relation=nulls,
            parent_group=none,
            parent_status=np.full(count, NO_STATUS, dtype=np.int64),
            parent_by=none.copy(),
        )
    message_key, recipient_key = rows.message_key, rows.recipient_key
    take = pa.array(relation_index)
    relation_message = message_key.take(take)
    relation_recipient = recipient_key.take(take)
    relation_related = related_key.take(take)
    received = rows.rank == 0

    def groups_where(mask: np.ndarray) -> pa.Array:
        chosen = pa.array(mask)
        return pc.unique(_joined(message_key.filter(chosen), recipient_key.filter(chosen)))

    recipient_received = to_numpy_bool(
        pc.is_in(
            _joined(relation_message, relation_recipient),
            value_set=groups_where(received & rows.own_time),
        )
    )
    related_received = to_numpy_bool(
        pc.is_in(_joined(relation_message, relation_related), value_set=groups_where(received))
    )
    # Exchange logs the parent in related_recipient_address (the group on EXPAND, the original
    # address on REDIRECT/RESOLVE); an export that wrote them the other way round shows it by
    # a RECEIVE for the row's recipient and none for the related address.
    parent_is_related = ~(recipient_received & ~related_received)
    own_relation[relation_index[~parent_is_related]] = True

    relation_kind = kind[relation_index]
    names = np.array([RELATION_NAMES.get(Kind(k)) for k in range(len(Kind))], dtype=object)
    recipients = relation_recipient.to_numpy(zero_copy_only=False)
    related = relation_related.to_numpy(zero_copy_only=False)
    relations = pd.DataFrame(
        {
            "message_key": relation_message.to_numpy(zero_copy_only=False),
            "parent": np.where(parent_is_related, related, recipients),
            "child": np.where(parent_is_related, recipients, related),
            "relation": names[relation_kind],
            "row": relation_index,
        }
    ).drop_duplicates(["message_key", "child"], keep="first")
    group_text = _joined(
        message_key.take(pa.array(groups.starts)), recipient_key.take(pa.array(groups.starts))
    )
    parent_recipient, recipient_relation, parent_group = _children(relations, group_text)
    parent_status, parent_by = _parent_statuses(
        relation_index[parent_is_related],
        _joined(relation_message, relation_related).filter(pa.array(parent_is_related)),
        kind,
        group_text,
    )
    return Lineage(
        relation_index=relation_index,
        parent_is_related=parent_is_related,
        own_relation=own_relation,
        relations=relations,
        parent_recipient=parent_recipient,
        recipient_relation=recipient_relation,
        parent_group=parent_group,
        parent_status=parent_status,
        parent_by=parent_by,
    )


def _positions(texts: pa.Array, group_text: pa.Array) -> np.ndarray:
    """The group of each ``message \\x00 address`` text (-1: not a group)."""
    found = pc.fill_null(pc.index_in(texts, value_set=group_text), -1)
    return np.array(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _children(
    relations: pd.DataFrame, group_text: pa.Array
) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """parent_recipient, recipient_relation and the parent's group of every group (-1: none)."""
    count = len(group_text)
    message = pa.array(relations["message_key"].to_numpy(dtype=object), pa.string())
    parent = relations["parent"].to_numpy(dtype=object)
    position = _positions(_joined(message, pa.array(relations["child"], pa.string())), group_text)
    found = position >= 0
    parents = np.full(count, None, dtype=object)
    names = np.full(count, None, dtype=object)
    parents[position[found]] = parent[found]
    names[position[found]] = relations["relation"].to_numpy(dtype=object)[found]
    parent_position = _positions(_joined(message, pa.array(parent, pa.string())), group_text)
    parent_group = np.full(count, -1, dtype=np.int64)
    parent_group[position[found]] = parent_position[found]
    parent_group[parent_group == np.arange(count)] = -1  # never its own parent
    return pa.array(parents, pa.string()), pa.array(names, pa.string()), parent_group


def _parent_statuses(
    rows: np.ndarray, parent_text: pa.Array, kind: np.ndarray, group_text: pa.Array
) -> tuple[np.ndarray, np.ndarray]:
    """Expanded / Redirected for recipients that are parents through the related column of
    the relation ``rows`` (``parent_text``: message and parent of each); the last relation
    row of each parent decides."""
    count = len(group_text)
    status = np.full(count, NO_STATUS, dtype=np.int64)
    by = np.full(count, -1, dtype=np.int64)
    if len(rows) == 0:
        return status, by
    position = _positions(parent_text, group_text)
    valid = position >= 0
    np.maximum.at(by, position[valid], rows[valid])
    decided = by >= 0
    status[decided] = KIND_STATUS[kind[by[decided]]]
    return status, by


#: Message-level facts an unseen child copies from its parent's recipient row.
_COPIED_FROM_PARENT = (
    "join_key",
    "network_message_id",
    "message_id",
    "sender_address",
    "message_subject",
    "total_bytes",
)


def add_unseen_children(
    recipients: pa.Table, lineage: Lineage, rows: Rows, tenant_domains: tuple[str, ...]
) -> pa.Table:
    """Recipient rows for group members and new addresses that have no events of their own.

    Args:
        recipients: the recipient table of the groups (``RECIPIENT_SCHEMA``).
        lineage: ``read_lineage(rows)``.
        rows: the rows in chain order.
        tenant_domains: the tenant's domains, for the children's direction.

    Returns:
        The table with a row for every unseen child, sorted by message_key then
        recipient_address.
    """
    frame = lineage.relations
    if frame is None:
        return recipients
    seen = pd.MultiIndex.from_arrays(
        [
            recipients.column("message_key").to_numpy(),
            pc.fill_null(recipients.column("recipient_address"), "").to_numpy(),
        ]
    )
    unseen = frame[~pd.MultiIndex.from_frame(frame[["message_key", "child"]]).isin(seen)]
    if unseen.empty:
        return recipients
    # copy the message-level facts from the parent's row
    parent_position = seen.get_indexer(pd.MultiIndex.from_frame(unseen[["message_key", "parent"]]))
    base = recipients.take(pa.array(np.maximum(parent_position, 0)))
    where = pa.array(unseen["row"].to_numpy())
    count = len(unseen)
    columns: dict[str, pa.Array] = {
        field.name: (
            one_array(base.column(field.name))
            if field.name in _COPIED_FROM_PARENT
            else pa.nulls(count, field.type)
        )
        for field in RECIPIENT_SCHEMA
    }
    columns["message_key"] = pa.array(unseen["message_key"].to_numpy(dtype=object), pa.string())
    columns["recipient_address"] = pa.array(unseen["child"].to_numpy(dtype=object), pa.string())
    columns["parent_recipient"] = pa.array(unseen["parent"].to_numpy(dtype=object), pa.string())
    columns["recipient_relation"] = pa.array(unseen["relation"].to_numpy(dtype=object), pa.string())
    columns["final_status"] = pa.array(["Unknown"] * count, pa.string())
    columns["status_meaning"] = pa.array(
        ["no event for this recipient in the data after it was added"] * count, pa.string()
    )
    columns["first_time"] = timestamps(rows.times[unseen["row"].to_numpy()])
    columns["deferral_count"] = pa.array(np.zeros(count, dtype=np.int64))
    columns["deferral_seconds"] = pa.array(np.zeros(count))
    columns["event_count"] = pa.array(np.zeros(count, dtype=np.int64))
    columns["transport_rules"] = pa.array([[]] * count, pa.list_(pa.string()))
    columns["decided_input_id"] = rows.column("input_id").take(where)
    columns["decided_line"] = rows.column("line").take(where)
    inferred = resolve_direction(
        np.zeros(count, dtype=np.int64),
        columns["recipient_address"],
        address_key(columns["sender_address"]),
        tenant_domains,
    )
    columns["direction"] = pc.if_else(
        pc.equal(inferred, "unknown"), one_array(base.column("direction")), inferred
    )
    combined = pa.concat_tables([recipients, pa.table(columns, schema=RECIPIENT_SCHEMA)])
    order = pc.sort_indices(
        combined,
        sort_keys=[
            ("message_key", "ascending", "at_start"),
            ("recipient_address", "ascending", "at_start"),
        ],
    )
    return combined.take(order)


# --------------------------------------------------------------------------------------------
# lineage order (the chain model)


def lineage_order(recipients: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Each recipient's position in its message's lineage order, and its depth, all at once.

    Addresses are compared in lower case, and an address is a recipient of a message once
    (as in ``Chains.recipients``). Table order within a message decides the order of roots
    and of siblings.

    Args:
        recipients: ``Chains.recipients`` or any subset of its rows (the columns
            ``message_key``, ``recipient_address`` and ``parent_recipient`` are read).

    Returns:
        ``(order, depth)``: per row, its 0-based position among the recipients of its message
        in lineage order (a parent followed by its children, depth first), and its depth (0
        for a root, 1 for its children...).
    """
    message_key = recipients.column("message_key")
    address = recipients.column("recipient_address")
    parent = recipients.column("parent_recipient")
    count = len(message_key)
    if count == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    message = one_array(message_key)
    self_text = _joined(message, pc.utf8_lower(pc.fill_null(one_array(address), "")))
    parent_lower = pc.utf8_lower(pc.fill_null(one_array(parent), ""))
    up = _positions(_joined(message, parent_lower), self_text)
    up[to_numpy_bool(pc.equal(parent_lower, ""))] = -1
    up[up == np.arange(count)] = -1  # its own parent: a root
    message_code = np.asarray(
        pc.dictionary_encode(message).indices.to_numpy(zero_copy_only=False), dtype=np.int64
    )
    depth, cyclic = _depths(up)
    order = _preorder(up, np.where(cyclic, 0, depth), message_code)
    if cyclic.any():
        in_cycle = np.isin(message_code, np.unique(message_code[cyclic]))
        for code in np.unique(message_code[in_cycle]):
            rows = np.flatnonzero(message_code == code)
            order[rows], depth[rows] = _order_with_cycles(rows, up)
    return order, depth


def _depths(up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's depth below its root by pointer jumping (``up``: parent row, -1 for a
    root), and the rows that never reach a root (in a cycle of parents or below one)."""
    count = len(up)
    jump = up.copy()
    distance = (up >= 0).astype(np.int64)
    # each round doubles the distance jumped: a path of `count` steps takes log2(count) rounds
    for _ in range(int(np.ceil(np.log2(count + 1))) + 1):
        active = np.flatnonzero(jump >= 0)
        if len(active) == 0:
            break
        target = jump[active]
        distance[active] = distance[active] + distance[target]
        jump[active] = jump[target]
    return distance, jump >= 0


def _preorder(up: np.ndarray, depth: np.ndarray, message_code: np.ndarray) -> np.ndarray:
    """Each row's position in its message's depth-first order (``up`` and ``depth`` of a
    forest: roots and siblings in row order)."""
    count = len(up)
    rows = np.arange(count)
    by_depth = np.argsort(depth, kind="stable")
    bounds = np.searchsorted(depth[by_depth], np.arange(int(depth.max()) + 2))
    level = [by_depth[bounds[d] : bounds[d + 1]] for d in range(len(bounds) - 1)]
    size = np.ones(count, dtype=np.int64)  # rows in each row's subtree
    for nodes in reversed(level[1:]):
        np.add.at(size, up[nodes], size[nodes])
    position = np.zeros(count, dtype=np.int64)
    roots = level[0]
    roots = roots[np.lexsort((rows[roots], message_code[roots]))]
    position[roots] = _offsets(message_code[roots], size[roots])
    for nodes in level[1:]:
        nodes = nodes[np.lexsort((rows[nodes], up[nodes]))]
        position[nodes] = position[up[nodes]] + 1 + _offsets(up[nodes], size[nodes])
    return position


def _offsets(keys: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """For rows sorted by ``keys``: the sizes of the rows before each one with the same key."""
    if len(keys) == 0:
        return np.zeros(0, dtype=np.int64)
    before = np.cumsum(sizes) - sizes
    starts = np.flatnonzero(np.diff(keys, prepend=keys[0] - 1))
    first = np.repeat(starts, np.diff(np.append(starts, len(keys))))
    return np.asarray(before - before[first])


def _order_with_cycles(rows: np.ndarray, up: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lineage order and depth of one message whose parents form a cycle: the trees first,
    then each row not yet placed (in row order) as a root of what it leads to."""
    local = {int(row): i for i, row in enumerate(rows)}
    children: dict[int, list[int]] = {}
    roots = []
    for i, row in enumerate(rows):
        parent = int(up[row])
        if parent >= 0 and parent in local:
            children.setdefault(local[parent], []).append(i)
        else:
            roots.append(i)
    order = np.full(len(rows), -1, dtype=np.int64)
    depth = np.zeros(len(rows), dtype=np.int64)
    placed = 0
    for start in [*roots, *range(len(rows))]:
        stack = [(start, 0)]
        while stack:
            node, level = stack.pop()
            if order[node] >= 0:
                continue
            order[node], depth[node] = placed, level
            placed += 1
            stack.extend((child, level + 1) for child in reversed(children.get(node, [])))
    return order, depth
