"""``build_chains``: the stages of the chains, in order, on rows sorted once.

The case's events are put in chain order (``keys``); the columns the rules read are sorted
first, the others (extras, custom_data text, ...) only travel along into ``Chains.events``, so
a second thread sorts them while the rules run (pyarrow's take releases the GIL). Then:
timeline rows (``timeline``), lineage (``lineage``), verdicts (``verdicts``), final statuses
(``status``), tenant domains and directions (``direction``), the recipient table with its
words and conflicts (``tables``, ``meaning``, ``conflicts``), unseen children, links between
messages (``links``) and the message table.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa

from analyzer import schema
from analyzer.case import Case
from analyzer.chains.columns import Chains
from analyzer.chains.direction import export_directions, tenant_domains
from analyzer.chains.groups import Groups, Rows
from analyzer.chains.keys import ChainOrder, chain_order
from analyzer.chains.lineage import add_unseen_children, read_lineage
from analyzer.chains.links import read_links
from analyzer.chains.status import decide
from analyzer.chains.tables import message_table, recipient_table
from analyzer.chains.timeline import timeline_rows
from analyzer.chains.verdicts import read_verdicts

#: Event columns the chain rules read (put in order first); the other, passenger columns are
#: put in order on a second thread and only join them in ``Chains.events``.
RULE_COLUMNS: tuple[str, ...] = (
    "time_basis",
    "event_id",
    "source",
    "reported_status",
    "recipient_status",
    "smtp_reply_code",
    "status_code",
    "sender_address",
    "message_subject",
    "message_id",
    "network_message_id",
    "related_recipient_address",
    "reference",
    "total_bytes",
    "direction",
    "client_ip",
    "server_ip",
    "original_client_ip",
    "from_ip",
    "to_ip",
    "custom_data_fields",
    "delivery_location",
    "input_id",
    "line",
    "report_type",
)
PASSENGER_COLUMNS: tuple[str, ...] = tuple(
    name for name in schema.COLUMN_NAMES if name not in RULE_COLUMNS
)


def build_chains(case: Case) -> Chains:
    """Group a case's events into per-message, per-recipient chains with final statuses.

    Args:
        case: the loaded case (its ``events`` in the canonical schema).

    Returns:
        The chains: sorted events, one row per recipient, one per message, and the links
        between messages (see the ``analyzer.chains`` documentation for every rule applied).
    """
    events = (
        schema.conform(case.events) if case.events.schema != schema.EVENT_SCHEMA else case.events
    )
    if events.num_rows == 0:
        return Chains.empty()
    order = chain_order(events)
    take = pa.array(order.order)
    with ThreadPoolExecutor(max_workers=1) as pool:
        passengers = pool.submit(lambda: events.select(list(PASSENGER_COLUMNS)).take(take))
        rows = sorted_rows(events.select(list(RULE_COLUMNS)).take(take), order)
        in_timeline = timeline_rows(rows)
        lineage = read_lineage(rows)
        verdicts = read_verdicts(rows, lineage.parent_group)
        decision = decide(rows, in_timeline, lineage, verdicts)
        exported = export_directions(rows)
        tenant = tenant_domains(rows, exported)
        recipients = recipient_table(
            rows, in_timeline, lineage, verdicts, decision, exported, tenant
        )
        recipients = add_unseen_children(recipients, lineage, rows, tenant)
        links = read_links(rows, recipients)
        messages = message_table(recipients, rows, links)
        chain_events = _chain_events(rows, passengers.result(), in_timeline)
    return Chains(chain_events, recipients, messages, links, tenant)


def sorted_rows(table: pa.Table, order: ChainOrder) -> Rows:
    """The ``Rows`` view of the rule columns put in chain order."""
    return Rows(
        table=table,
        kind=order.kind,
        rank=order.rank,
        times=order.times,
        join_code=order.join_code,
        message_code=order.message_code,
        recipient_code=order.recipient_code,
        message_values=order.message_values,
        recipient_values=order.recipient_values,
        groups=Groups.of(order.message_code, order.recipient_code),
    )


def _chain_events(rows: Rows, passengers: pa.Table, in_timeline: np.ndarray) -> pa.Table:
    """``Chains.events``: every canonical column in chain order, plus the extra columns."""
    table = pa.Table.from_arrays(
        [
            (rows.table if name in RULE_COLUMNS else passengers).column(name)
            for name in schema.COLUMN_NAMES
        ],
        schema=schema.EVENT_SCHEMA,
    )
    for name, values in (
        ("message_key", rows.message_key),
        ("recipient_key", rows.recipient_key),
        ("lifecycle_rank", pa.array(rows.rank, pa.int8())),
        ("in_timeline", pa.array(in_timeline)),
    ):
        table = table.append_column(name, values)
    return table
