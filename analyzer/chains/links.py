"""Links between messages: a DSN to its original, an inbox-rule forward to its trigger.

A message's rows name another message in ``reference``: a RECEIVE from the MAILBOXRULE source
(an inbox rule created this message from the referenced inbound one), a RECEIVE from the DSN
source, or a DSN event. One reference cell may name several messages (separated by ``;``,
``,`` or white space). A reference is matched to a message by network message id first, then
by Internet message id (without ``<>``, any case). A DSN event is logged on the original
message (its reference is the DSN's id) in Exchange, but some exports log it on the DSN: the
message with failed recipients is the original. A link always names the later message (the
DSN, the forwarded copy); the original may be missing from the data (null
``related_message_key``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import is_valid, one_array
from analyzer.chains.columns import LINK_SCHEMA
from analyzer.chains.groups import Rows, word_codes
from analyzer.chains.vocabulary import Kind
from analyzer.identifiers import id_key, message_id_key

# sources of RECEIVE rows that create a message from another
_MAILBOX_RULE, _DSN_SOURCE = 1, 2
_SOURCES = {"MAILBOXRULE": _MAILBOX_RULE, "DSN": _DSN_SOURCE}


def _message_of_reference(wanted: pa.Array, recipients: pa.Table) -> np.ndarray:
    """The message key each reference names: by network message id, else by Internet
    message id (None: not in the data)."""
    ids = pa.table(
        {
            "message_key": recipients.column("message_key"),
            "nmid": id_key(one_array(recipients.column("network_message_id"))),
            "mid": message_id_key(one_array(recipients.column("message_id"))),
        }
    )
    by_nmid = (
        ids.filter(pc.is_valid(ids["nmid"])).group_by("nmid").aggregate([("message_key", "min")])
    )
    by_mid = ids.filter(pc.is_valid(ids["mid"])).group_by("mid").aggregate([("message_key", "min")])
    return np.asarray(
        pc.coalesce(
            pc.take(by_nmid["message_key_min"], pc.index_in(wanted, value_set=by_nmid["nmid"])),
            pc.take(by_mid["message_key_min"], pc.index_in(wanted, value_set=by_mid["mid"])),
        ).to_numpy(zero_copy_only=False)
    )


def read_links(rows: Rows, recipients: pa.Table) -> pa.Table:
    """The links between messages (``LINK_SCHEMA``), read from ``reference``.

    Args:
        rows: the rows in chain order.
        recipients: the recipient table (for message ids and failed recipients).
    """
    kind = rows.kind
    source = word_codes(rows.column("source"), _SOURCES, 0, 0)
    reference = rows.column("reference")
    has_reference = is_valid(reference)
    forward = has_reference & (kind == Kind.RECEIVE) & (source == _MAILBOX_RULE)
    dsn_receive = has_reference & (kind == Kind.RECEIVE) & (source == _DSN_SOURCE)
    dsn_event = has_reference & (kind == Kind.DSN)
    linking = np.flatnonzero(forward | dsn_receive | dsn_event)
    if len(linking) == 0:
        return LINK_SCHEMA.empty_table()
    # one reference cell may name several messages
    parts = pc.split_pattern_regex(reference.take(pa.array(linking)), r"[;,\s]+")
    lengths = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    part_rows = np.repeat(linking, lengths)
    wanted = message_id_key(pc.list_flatten(parts))
    non_empty = is_valid(wanted)
    part_rows, wanted = part_rows[non_empty], wanted.filter(pa.array(non_empty))
    at_parts = pa.array(part_rows)

    target = _message_of_reference(wanted, recipients)
    this = rows.message_key.take(at_parts).to_numpy(zero_copy_only=False)
    failed = recipients.filter(pc.equal(recipients["final_status"], "Failed"))
    failed_messages = set(failed.column("message_key").unique().to_pylist())
    this_failed = pd.Series(this, dtype=object).isin(failed_messages).to_numpy()
    target_failed = pd.Series(target, dtype=object).isin(failed_messages).to_numpy()
    row_kind = kind[part_rows]
    # A DSN event is logged on the original message (reference: the DSN's id) in Exchange,
    # but some exports log it on the DSN; the message with failed recipients is the original.
    dsn_on_original = (row_kind == Kind.DSN) & ~(target_failed & ~this_failed)
    is_forward = (row_kind == Kind.RECEIVE) & (source[part_rows] == _MAILBOX_RULE)
    frame = pd.DataFrame(
        {
            "message_key": np.where(dsn_on_original, target, this),
            "related_message_key": np.where(dsn_on_original, this, target),
            "relation": np.where(is_forward, "inbox_rule_forward_of", "dsn_for"),
            "reference": reference.take(at_parts).to_numpy(zero_copy_only=False),
            "input_id": rows.column("input_id").take(at_parts).to_numpy(zero_copy_only=False),
            "line": rows.column("line").take(at_parts).to_pylist(),
        }
    )
    # a link needs the later message; the original may be missing from the data
    frame = frame[frame["message_key"].notna()]
    frame = frame[frame["message_key"] != frame["related_message_key"]]
    frame = frame.drop_duplicates(["message_key", "related_message_key", "relation"])
    frame = frame.sort_values(
        ["message_key", "related_message_key", "relation"], kind="stable", na_position="last"
    )
    return pa.Table.from_pandas(frame, schema=LINK_SCHEMA, preserve_index=False)
