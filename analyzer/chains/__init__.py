"""Chains: what happened to each message, for each recipient, from every export in the case.

``build_chains`` groups the case's canonical events into messages, orders each recipient's
events into a timeline, links recipients (group expansion, redirects) and messages (a DSN to
its original, an inbox-rule forward to its trigger), and decides one final status per
recipient, with the event that decided it as evidence. ``message_chain`` gives one message as
the model every renderer formats (the ``chain --json`` contract).

Each rule family has its module, which documents its rules in full:

- ``vocabulary``: final statuses, event kinds (lifecycle rank and terminal status of each),
  reported statuses, directions;
- ``keys``: message keys, join keys, the chain order of rows;
- ``groups``: the rows in chain order and their groups (message x recipient);
- ``timeline``: which rows make a recipient's timeline, its times, deferrals and gaps;
- ``lineage``: EXPAND/REDIRECT/RESOLVE parents and children, lineage order;
- ``verdicts``: spam, malware and transport-rule verdicts from custom_data, inheritance;
- ``status``: the final-status decision, step by step;
- ``conflicts`` and ``meaning``: facts that disagree, the status in plain words;
- ``direction``: the direction of each recipient and the tenant's domains;
- ``links``: DSN and inbox-rule links between messages;
- ``tables`` and ``columns``: the tables of ``Chains`` and their documented columns;
- ``message``: one message (``resolve_message``, ``message_chain``); ``build``: the stages.

How events are grouped into messages (``message_key``):

1. by ``network_message_id`` (lower-cased): Exchange Online's own id of one message;
2. a row without one (summary downloads, Get-MessageTrace, tracking logs of Exchange 2010)
   joins the message whose rows carry the same Internet ``message_id`` (compared without
   ``<>``, case-insensitively) and the same sender, when exactly one network message id goes
   with that pair; otherwise the pair itself (``<message id>|<sender>``) is the key;
3. rows with neither id are keyed by ``message_trace_id`` (``trace:<id>``), and rows with
   nothing at all stand alone (``row:<input_id>:<line>``).
``join_key`` on each recipient says which of these joined its rows.

Order of events (``events`` is sorted this way): message, recipient, ``event_time``, then the
lifecycle order (``LIFECYCLE_ORDER``) for events logged in the same tick, then ``event_seq``
(the position in an enhanced summary's event list), input and line. Missing times and
sequence numbers sort last.

The same fact is often in two exports: an enhanced summary says ``Receive, Deliver`` with the
message's receive time, the extended report logs RECEIVE and DELIVER with their own times.
All rows are kept as evidence, but a recipient's timeline (``in_timeline``) holds the rows
with their own event time when there are any (Get-MessageTraceDetail rows, which repeat the
tracking events with whole-second times, only when no tracking row exists; Defender
post-delivery actions always); rows timed by the message (``time_basis`` ``message``) only make
the timeline when nothing better exists, and summary status rows only when there are no
events at all. Deferrals are counted on the timeline only, so no fact is counted twice; facts
that disagree are kept and described in ``conflict``. Rows that name no message at all (no id
of any kind, e.g. NOTIFYMAPI rows of tracking logs) stand alone with status Unknown.

Final status of a recipient (vocabulary ``FINAL_STATUSES``), decided in this order:

1. the last terminal event of the timeline: DELIVER -> Delivered; SEND -> Delivered (handed to
   the next, usually outside, server); FAIL/DELIVERFAIL or a DSN with a 5.x.x code -> Failed;
   DROP -> Dropped; EXPAND -> Expanded; REDIRECT/RESOLVE -> Redirected; the enhanced summary
   words QUARANTINED / FILTEREDASSPAM -> Quarantined / FilteredAsSpam. A spam or malware
   verdict of quarantine (custom_data ``DI=SQ``, a QUARANTINED word, a Defender delivery
   location of Quarantine) turns Delivered or Pending into Quarantined; a junk verdict
   (``DI=SJ``, FILTEREDASSPAM, location Junk) into FilteredAsSpam;
2. a recipient whose address was expanded or rewritten into others (see lineage) and that
   has no terminal event of its own: Expanded or Redirected;
3. the status an export reports for it (summary, Get-MessageTrace, API, Defender), when it is
   final (GettingStatus counts as Pending);
4. events without a terminal one (last event DEFER, or no final event yet): Pending;
5. a reported Pending; otherwise Unknown.

Recipient lineage: an EXPAND, REDIRECT or RESOLVE row names two addresses. As Exchange logs
them, ``related_recipient_address`` is the parent (the distribution group, the original
address) and ``recipient_address`` the child (a member, the new address). An export written
the other way round is recognised: when the row's recipient has a RECEIVE of its own and the
related address has none, the row's recipient is the parent. A child that has no row of its
own still gets a recipient row (status Unknown). Children without verdicts of their own
inherit their parent's (the spam filter runs before the expansion); a parent keeps its
Expanded / Redirected status.

Direction of a recipient: the export's ``direction`` when it says inbound, outbound or
internal; ``originating`` becomes internal when the recipient's domain is one of the tenant's
domains and outbound otherwise; when the export says nothing, it is inferred from the sender
and recipient domains against ``tenant_domains`` (unknown when neither is a tenant domain).
``tenant_domains`` are the recipient domains of DELIVER events (mailbox deliveries happen only
inside the tenant) and of internal mail, the sender domains of originating, outbound and
internal mail and of SUBMIT events, and the recipient domains of inbound mail except domains
the data shows mail being sent out to (a redirect or forward of inbound mail keeps the inbound
direction but goes outside); a domain whose recipients are only ever handed to another server
(SEND), never delivered to a mailbox (DELIVER), and from which nobody submits mail (SUBMIT) is
an outside hop, not the tenant's. ``Chains.tenant_domains`` is the one answer every stage
(findings, report) uses.

The chain model of one message (``message_chain``) adds what renderers need, computed once:
each recipient's lineage order and depth (``lineage_order``, also over all recipients at
once), each timeline event's gap from the previous one with its level (``timeline_gaps``),
and the words of recipient relations and related messages.

Everything is computed column-wise (pyarrow, numpy on rows sorted by recipient, reductions
over contiguous groups): no Python loop runs per event.
"""

from analyzer.chains.build import build_chains
from analyzer.chains.columns import (
    EVENT_EXTRA_COLUMNS,
    EVENTS_SCHEMA,
    LINK_COLUMNS,
    LINK_SCHEMA,
    MESSAGE_COLUMNS,
    MESSAGE_SCHEMA,
    RECIPIENT_COLUMNS,
    RECIPIENT_SCHEMA,
    TIMESTAMP,
    Chains,
    Column,
)
from analyzer.chains.keys import JOIN_KEYS
from analyzer.chains.lineage import RELATION_WORDS, lineage_order
from analyzer.chains.message import (
    RELATED_MESSAGE_WORDS,
    RELATED_RECIPIENT_WORDS,
    chain_report,
    message_chain,
    resolve_message,
)
from analyzer.chains.timeline import (
    GAP_LEVELS,
    GAP_LONG_SECONDS,
    GAP_NOTABLE_SECONDS,
    GAP_SHOWN_SECONDS,
    TIMELINE_TIERS,
    gap_level,
    timeline_gaps,
)
from analyzer.chains.verdicts import VERDICT_KEYS
from analyzer.chains.vocabulary import (
    DIRECTIONS,
    EVENT_KINDS,
    FINAL_STATUSES,
    LIFECYCLE_ORDER,
    REPORT_LABELS,
    REPORTED_STATUSES,
    STATUS_WORDS,
    Kind,
    Status,
)

__all__ = [
    "DIRECTIONS",
    "EVENTS_SCHEMA",
    "EVENT_EXTRA_COLUMNS",
    "EVENT_KINDS",
    "FINAL_STATUSES",
    "GAP_LEVELS",
    "GAP_LONG_SECONDS",
    "GAP_NOTABLE_SECONDS",
    "GAP_SHOWN_SECONDS",
    "JOIN_KEYS",
    "LIFECYCLE_ORDER",
    "LINK_COLUMNS",
    "LINK_SCHEMA",
    "MESSAGE_COLUMNS",
    "MESSAGE_SCHEMA",
    "RECIPIENT_COLUMNS",
    "RECIPIENT_SCHEMA",
    "RELATED_MESSAGE_WORDS",
    "RELATED_RECIPIENT_WORDS",
    "RELATION_WORDS",
    "REPORTED_STATUSES",
    "REPORT_LABELS",
    "STATUS_WORDS",
    "TIMELINE_TIERS",
    "TIMESTAMP",
    "VERDICT_KEYS",
    "Chains",
    "Column",
    "Kind",
    "Status",
    "build_chains",
    "chain_report",
    "gap_level",
    "lineage_order",
    "message_chain",
    "resolve_message",
    "timeline_gaps",
]
