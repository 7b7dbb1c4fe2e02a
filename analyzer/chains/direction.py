"""Direction of each recipient and the tenant's domains, as the data shows them.

Direction of a recipient: the export's ``direction`` when it says inbound, outbound or
internal (its own rows' first, else its message's); ``originating`` becomes internal when the
recipient's domain is one of the tenant's domains and outbound otherwise; when the export says
nothing, it is inferred from the sender and recipient domains against ``tenant_domains``
(internal when both are the tenant's, outbound when only the sender's, inbound when only the
recipient's, unknown when neither is or there is no recipient).

``tenant_domains`` (the one definition every stage uses, ``Chains.tenant_domains``):

- the recipient domains of DELIVER events (mailbox deliveries happen only inside the tenant)
  and of internal mail;
- the sender domains of originating, outbound and internal mail and of SUBMIT events;
- the recipient domains of inbound mail, except domains the data shows mail being sent out to
  (a SEND, or outbound mail) that never receive a DELIVER: a redirect or forward of inbound
  mail keeps the inbound direction but goes outside;
- minus the outside hops: a domain whose recipients are only ever handed to another server
  (SEND) and never delivered to a mailbox (DELIVER), and from which nobody submits mail
  (SUBMIT), is not the tenant's, whatever direction the export gave its mail. An export's
  direction is per message, so the outside address a mailbox forwards or redirects a copy of
  mail to can look like a recipient of internal or inbound mail.

A domain counts with its subdomains (``identifiers.in_domains``).
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import per_distinct, to_numpy_bool
from analyzer.chains.groups import Rows, cleaned_codes, word_codes
from analyzer.chains.vocabulary import DIRECTIONS, Kind
from analyzer.identifiers import address_key, domain_of, in_domains


class ExportDirection(IntEnum):
    """What an export's ``direction`` column says (``directionality`` and the like)."""

    NONE = 0
    INBOUND = 1
    OUTBOUND = 2
    INTERNAL = 3
    ORIGINATING = 4


def export_directions(rows: Rows) -> np.ndarray:
    """The ``ExportDirection`` of each row."""
    words = {direction.name: direction.value for direction in ExportDirection}
    return word_codes(rows.column("direction"), words, ExportDirection.NONE, ExportDirection.NONE)


def tenant_domains(rows: Rows, exported: np.ndarray) -> tuple[str, ...]:
    """The tenant's domains as the data shows them (see the module documentation).

    Args:
        rows: the rows in chain order.
        exported: ``export_directions(rows)``.

    Returns:
        The domains, lower case, sorted.
    """
    recipients = (rows.recipient_code, rows.recipient_values)
    senders = cleaned_codes(rows.column("sender_address"), address_key)

    def domains(addresses: tuple[np.ndarray, pa.Array], where: np.ndarray) -> set[str]:
        codes, values = addresses
        present = np.bincount(codes[where & (codes >= 0)], minlength=len(values)) > 0
        found = domain_of(values.filter(pa.array(present))).drop_null()
        return {d for d in found.to_pylist() if d}

    kind = rows.kind
    # DELIVER puts mail into a mailbox of the tenant
    mailboxes = domains(recipients, kind == Kind.DELIVER)
    # originating, outbound and internal mail and mailbox submissions come from inside
    from_inside = np.isin(
        exported,
        [ExportDirection.OUTBOUND, ExportDirection.INTERNAL, ExportDirection.ORIGINATING],
    )
    submitting = domains(senders, rows.is_submit)
    sending = domains(senders, from_inside) | submitting
    internal = domains(recipients, exported == ExportDirection.INTERNAL)
    handed_on = domains(recipients, kind == Kind.SEND)
    # recipients of inbound mail, unless the mail was sent on to them outside (a redirect or
    # forward of inbound mail keeps the inbound direction)
    sent_out = (handed_on | domains(recipients, exported == ExportDirection.OUTBOUND)) - mailboxes
    inbound = domains(recipients, exported == ExportDirection.INBOUND) - sent_out
    # outside hops: only ever handed on (SEND), never delivered, nobody there submits
    outside = handed_on - mailboxes - submitting
    return tuple(sorted((mailboxes | sending | internal | inbound) - outside))


def group_directions(
    rows: Rows, exported: np.ndarray, sender: pa.Array, tenant: tuple[str, ...]
) -> pa.Array:
    """The direction of every group (see the module documentation).

    Args:
        rows: the rows in chain order.
        exported: ``export_directions(rows)``.
        sender: the sender address of each group.
        tenant: ``tenant_domains(rows, exported)``.
    """
    groups = rows.groups
    direction_row = groups.own_or_message_first(exported > 0)
    group_direction = np.where(direction_row >= 0, exported[np.maximum(direction_row, 0)], 0)
    recipient = rows.recipient_key.take(pa.array(groups.starts))
    return resolve_direction(group_direction, recipient, per_distinct(sender, address_key), tenant)


def resolve_direction(
    exported: np.ndarray,
    recipient: pa.Array,
    sender: pa.Array,
    tenant: tuple[str, ...],
) -> pa.Array:
    """inbound / outbound / internal / unknown from the exported direction and the domains.

    Args:
        exported: the ``ExportDirection`` of each recipient.
        recipient: its address key (empty or null: no recipient).
        sender: the sender's address key.
        tenant: the tenant's domains.
    """
    recipient_in = to_numpy_bool(in_domains(per_distinct(recipient, domain_of), tenant))
    sender_in = to_numpy_bool(in_domains(per_distinct(sender, domain_of), tenant))
    has_recipient = to_numpy_bool(pc.not_equal(recipient, ""))
    inbound, outbound, internal, unknown = (
        DIRECTIONS.index(d) for d in ("inbound", "outbound", "internal", "unknown")
    )
    inferred = np.select(
        [
            sender_in & recipient_in,
            sender_in & has_recipient & ~recipient_in,
            ~sender_in & recipient_in,
        ],
        [internal, outbound, inbound],
        default=unknown,
    )
    originating = np.where(~has_recipient, unknown, np.where(recipient_in, internal, outbound))
    code = np.select(
        [
            exported == ExportDirection.INBOUND,
            exported == ExportDirection.OUTBOUND,
            exported == ExportDirection.INTERNAL,
            exported == ExportDirection.ORIGINATING,
        ],
        [inbound, outbound, internal, originating],
        default=inferred,
    )
    words = pa.array(DIRECTIONS, pa.string())
    return pa.DictionaryArray.from_arrays(pa.array(code, pa.int8()), words).cast(pa.string())
