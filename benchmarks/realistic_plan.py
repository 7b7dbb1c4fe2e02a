"""The plan of a realistic extended report: who mails whom, when, and which events each
message has (numbers only; ``realistic_messages`` and ``realistic_columns`` turn them into
text).

One message has recipient *entries* (the originals with their fate, and the addresses a
group expansion or a redirect adds) and events in a fixed slot order (``SLOT_NAMES``); which
slots a message has follows from its kind and its entries, so every message has 4 to 16
events and each event's recipients are the entries its slot concerns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from realistic_world import DEFAULT_SEED, SPAN_DAYS, START_NS, World, build_world

# message classes
INBOUND, INTERNAL, OUTBOUND = 0, 1, 2
# recipient entries: originals of the message by fate, then addresses the routing adds
ORIG_DELIVER, ORIG_SEND, ORIG_FAIL, ORIG_DL, ORIG_REDIRECTED, MEMBER, TARGET = range(7)
# Event slots, in the order they happen within a message: (event_id, source, median gap in
# seconds from the event before, log-normal spread of that gap)
SLOT_TABLE = (
    ("SUBMIT", "STOREDRIVER", 0, 0),  # a mailbox submits the message (internal senders)
    ("RECEIVE", "STOREDRIVER", 0.05, 0.8),  # transport takes it from the mailbox
    ("RECEIVE", "SMTP", 0, 0),  # the front door receives it from the internet
    ("AGENTINFO", "AGENT", 0.012, 1.0),  # spam and malware filter verdicts
    ("AGENTINFO", "AGENT", 0.004, 0.8),  # transport rules
    ("TRANSFER", "ROUTING", 0.006, 0.8),  # recipients moved to a forked copy of the message
    ("AGENTINFO", "AGENT", 0.01, 1.0),  # agents on the first server (cost, priority)
    ("EXPAND", "ROUTING", 0.003, 0.8),  # a distribution group expanded into its members
    ("REDIRECT", "ROUTING", 0.003, 0.8),  # a mailbox's mail redirected to a colleague
    ("SEND", "SMTP", 0.4, 0.9),  # hop to the next server
    ("RECEIVE", "SMTP", 0.02, 0.8),  # ... received there
    ("DEFER", "SMTP", 1.5, 1.0),  # first deferral
    ("DEFER", "SMTP", 300, 0.6),  # deferred again at the retry
    ("DEFER", "SMTP", 300, 0.6),  # and again
    ("AGENTINFO", "AGENT", 0.01, 1.0),  # agents on the mailbox server
    ("DELIVER", "STOREDRIVER", 0.3, 1.0),  # delivered into mailboxes
    ("SEND", "SMTP", 1.2, 1.0),  # sent to outside servers
    ("FAIL", "SMTP", 0.05, 1.0),  # a recipient that does not exist
    ("DSN", "DSN", 0.02, 0.8),  # the non-delivery report about it
)
(
    SUBMIT,
    FROM_MAILBOX,
    AT_DOOR,
    SPAM_AGENT,
    RULE_AGENT,
    TRANSFER,
    FIRST_AGENT,
    EXPAND,
    REDIRECT,
    HOP_SEND,
    HOP_RECEIVE,
    DEFER1,
    DEFER2,
    DEFER3,
    MAILBOX_AGENT,
    DELIVER,
    SEND_OUT,
    FAIL,
    DSN,
) = range(len(SLOT_TABLE))
SLOT_NAMES = tuple((event, source) for event, source, _, _ in SLOT_TABLE)
SLOTS = len(SLOT_TABLE)
DEFER_SLOTS = (DEFER1, DEFER2, DEFER3)
GAP_MEDIAN = np.array([row[2] for row in SLOT_TABLE], dtype=np.float64)
GAP_SIGMA = np.array([row[3] for row in SLOT_TABLE], dtype=np.float64)
DEFER_WAIT_MEDIAN, DEFER_WAIT_SIGMA = 600.0, 1.2  # after the last deferral: minutes to hours
#: Optional slots left out, in this order, to keep a message within 16 events or the report
#: at exactly the rows asked for.
OPTIONAL_SLOTS = (FIRST_AGENT, TRANSFER, MAILBOX_AGENT, RULE_AGENT, DEFER3, DEFER2)
MAX_EVENTS = 16


@dataclass
class Plan:
    """Who sends what to whom and when: every number the text is built from."""

    rows: int
    seed: int
    world: World
    # per message
    kind: np.ndarray  # INBOUND / INTERNAL / OUTBOUND
    sender: np.ndarray  # outside address index (inbound) or user index
    start_ns: np.ndarray
    language: np.ndarray
    thread: np.ndarray
    size: np.ndarray
    attachments: np.ndarray
    rules: np.ndarray  # bit set of the tenant's transport rules that acted on it
    multiline: np.ndarray  # bool: the subject has a line break
    # recipient entries, grouped by message
    entry_message: np.ndarray
    entry_address: np.ndarray  # index into world.addresses
    entry_kind: np.ndarray  # ORIG_DELIVER ... TARGET
    entry_type: np.ndarray  # 0 To, 1 Cc, 2 Bcc
    entry_start: np.ndarray  # per message, its first entry (len messages + 1)
    # events, in message then slot order; ``order`` lists them by time
    event_message: np.ndarray
    event_slot: np.ndarray
    event_ns: np.ndarray
    order: np.ndarray

    @property
    def messages(self) -> int:
        return len(self.kind)


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------


def _start_times(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    """Message times over a week: office hours (the tenant is on UTC+2), quiet weekends."""
    n = len(kind)
    internal = kind != INBOUND
    day_people = np.array([1, 1, 1, 1, 0.9, 0.15, 0.12])
    day_inbound = np.array([1, 1, 1, 1, 1, 0.5, 0.45])
    hours = np.arange(24)
    hour_people = np.where((hours >= 6) & (hours < 16), 1.0, 0.12)
    hour_people[[5, 16, 17]] = 0.5
    hour_inbound = np.where((hours >= 5) & (hours < 18), 1.0, 0.45)
    day = np.where(
        internal,
        rng.choice(SPAN_DAYS, n, p=day_people / day_people.sum()),
        rng.choice(SPAN_DAYS, n, p=day_inbound / day_inbound.sum()),
    )
    hour = np.where(
        internal,
        rng.choice(24, n, p=hour_people / hour_people.sum()),
        rng.choice(24, n, p=hour_inbound / hour_inbound.sum()),
    )
    ticks = rng.integers(0, 3600 * 10**7, n)  # 100 ns ticks, as Exchange writes them
    return START_NS + (day * 86400 + hour * 3600) * 10**9 + ticks * 100


def _messages(world: World, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    kind = rng.choice(3, n, p=[0.55, 0.25, 0.20])
    inbound = kind == INBOUND
    sender = np.where(
        inbound,
        rng.choice(len(world.outside_send_weight), n, p=world.outside_send_weight),
        rng.choice(world.users, n, p=world.user_send_weight),
    )
    bulk = inbound & world.outside_bulk[np.where(inbound, sender, 0)]
    people_language = rng.choice(len(world.languages), n, p=world.tenant_language_share)
    language = np.where(
        inbound, world.outside_language[np.where(inbound, sender, 0)], people_language
    )
    # threads of the message's language; bulk mail has the sender's newsletter instead
    thread = (
        world.thread_start[language] + rng.integers(0, 1 << 40, n) % world.thread_count[language]
    )
    thread = np.where(bulk, -1, thread)
    size = np.clip(rng.lognormal(np.log(45_000), 1.2, n), 2_000, 35_000_000).astype(np.int64)
    attachments = rng.choice(5, n, p=[0.68, 0.2, 0.07, 0.03, 0.02])
    # tenant rules: 1 tags external mail, 2 sets a header for partners, 4 a disclaimer on
    # mail going out, 8 classifies some internal mail
    draw = rng.random(n)
    rules = np.select(
        [inbound & (draw < 0.30), inbound & (draw < 0.36), kind == OUTBOUND, kind == INTERNAL],
        [1, 3, np.where(draw < 0.45, 4, 0), np.where(draw < 0.05, 8, 0)],
        0,
    )
    multiline = np.zeros(n, dtype=bool)
    return {
        "kind": kind,
        "sender": sender,
        "bulk": bulk,
        "start_ns": _start_times(rng, kind),
        "language": language,
        "thread": thread,
        "size": size,
        "attachments": attachments,
        "rules": rules,
        "multiline": multiline,
        "hop": inbound | (rng.random(n) < 0.55),
        "defers": rng.choice(4, n, p=[0.975, 0.017, 0.006, 0.002]),
        "fail": rng.random(n) < 0.008,
        "agent2": rng.random(n) < 0.85,
        "transfer": rng.random(n) < 0.35,
        "first_agent": rng.random(n) < 0.8,
        "redirect": rng.random(n) < 0.003,
        "group": (kind == INTERNAL) & (rng.random(n) < 0.06),
    }


def _entries(world: World, rng: np.random.Generator, m: dict[str, np.ndarray]) -> dict:
    """The recipients of every message, with what happens to each."""
    n = len(m["kind"])
    kind = m["kind"]
    count = np.select(
        [kind == INBOUND, kind == INTERNAL],
        [
            rng.choice(8, n, p=[0.72, 0.14, 0.07, 0.03, 0.02, 0.01, 0.005, 0.005]) + 1,
            rng.choice(8, n, p=[0.55, 0.18, 0.12, 0.06, 0.04, 0.03, 0.01, 0.01]) + 1,
        ],
        rng.choice(6, n, p=[0.7, 0.14, 0.08, 0.04, 0.02, 0.02]) + 1,
    )
    count = np.where(m["bulk"], 1, count)
    message = np.repeat(np.arange(n), count)
    to_users = kind[message] != OUTBOUND
    users = rng.choice(world.users, len(message), p=world.user_receive_weight)
    outside = world.user_count + world.group_count
    correspondents = outside + rng.choice(
        len(world.outside_receive_weight), len(message), p=world.outside_receive_weight
    )
    address = np.where(to_users, users, correspondents)
    entry_kind = np.where(to_users, ORIG_DELIVER, ORIG_SEND)
    parts: list[tuple[np.ndarray, np.ndarray, int | np.ndarray]] = [(message, address, entry_kind)]

    # outbound mail copies a colleague now and then
    cc = np.flatnonzero((kind == OUTBOUND) & (rng.random(n) < 0.25))
    parts.append((cc, rng.choice(world.users, len(cc), p=world.user_receive_weight), ORIG_DELIVER))
    # internal mail to a distribution group: the group, and its members added by EXPAND
    grouped = np.flatnonzero(m["group"])
    group = rng.integers(0, world.group_count, len(grouped))
    parts.append((grouped, world.user_count + group, ORIG_DL))
    members = world.group_members_of(group)
    parts.append((np.repeat(grouped, members[1]), members[0], MEMBER))
    # an address that does not exist (a typo, a person who left)
    failed = np.flatnonzero(m["fail"])
    parts.append((failed, world.add_failed_addresses(failed, kind[failed]), ORIG_FAIL))

    message = np.concatenate([p[0] for p in parts])
    address = np.concatenate([p[1] for p in parts]).astype(np.int64)
    entry_kind = np.concatenate(
        [np.broadcast_to(np.asarray(p[2]), len(p[0])) for p in parts]
    ).astype(np.int8)
    # one entry per (message, address); an original wins over a group member
    order = np.lexsort((entry_kind, address, message))
    message, address, entry_kind = message[order], address[order], entry_kind[order]
    first = np.ones(len(message), dtype=bool)
    first[1:] = (message[1:] != message[:-1]) | (address[1:] != address[:-1])
    message, address, entry_kind = message[first], address[first], entry_kind[first]

    # a mailbox that redirects its mail to a colleague (an internal delegate)
    redirect = m["redirect"][message] & (entry_kind == ORIG_DELIVER)
    redirect &= np.concatenate([[True], message[1:] != message[:-1]])  # its first recipient
    sources = np.flatnonzero(redirect)
    entry_kind[sources] = ORIG_REDIRECTED
    delegate = world.delegate[address[sources]]
    message = np.concatenate([message, message[sources]])
    address = np.concatenate([address, delegate])
    entry_kind = np.concatenate([entry_kind, np.full(len(sources), TARGET, np.int8)])
    order = np.lexsort((entry_kind, address, message))
    message, address, entry_kind = message[order], address[order], entry_kind[order]
    first = np.ones(len(message), dtype=bool)
    first[1:] = (message[1:] != message[:-1]) | (address[1:] != address[:-1])
    message, address, entry_kind = message[first], address[first], entry_kind[first]

    start = np.searchsorted(message, np.arange(n + 1))
    entry_type = rng.choice(3, len(message), p=[0.65, 0.3, 0.05]).astype(np.int8)
    entry_type[start[:-1][start[:-1] < start[1:]]] = 0  # the first recipient is a To
    return {
        "message": message,
        "address": address,
        "kind": entry_kind,
        "type": entry_type,
        "start": start,
    }


def _presence(m: dict[str, np.ndarray], e: dict) -> np.ndarray:
    """Which of the event slots each message has (messages x SLOTS booleans)."""
    n = len(m["kind"])
    has = np.zeros((n, 7), dtype=bool)
    has[e["message"], e["kind"]] = True
    deliver = has[:, ORIG_DELIVER] | has[:, MEMBER] | has[:, TARGET]
    send = has[:, ORIG_SEND]
    route_deliver = (m["kind"] != OUTBOUND) | ~send
    route = np.where(route_deliver, deliver, send)
    p = np.zeros((n, SLOTS), dtype=bool)
    p[:, SUBMIT] = p[:, FROM_MAILBOX] = m["kind"] != INBOUND
    p[:, AT_DOOR] = m["kind"] == INBOUND
    p[:, SPAM_AGENT] = True
    p[:, RULE_AGENT] = m["rules"] > 0
    p[:, TRANSFER] = m["transfer"]
    p[:, FIRST_AGENT] = m["first_agent"]
    p[:, EXPAND] = has[:, MEMBER]
    p[:, REDIRECT] = has[:, TARGET]
    p[:, HOP_SEND] = p[:, HOP_RECEIVE] = m["hop"] & route
    for k, slot in enumerate(DEFER_SLOTS):
        p[:, slot] = (m["defers"] > k) & route
    p[:, MAILBOX_AGENT] = m["agent2"] & route_deliver & deliver
    p[:, DELIVER] = deliver
    p[:, SEND_OUT] = send
    p[:, FAIL] = p[:, DSN] = has[:, ORIG_FAIL]
    _leave_out(p, np.maximum(p.sum(axis=1) - MAX_EVENTS, 0))
    return p


def _leave_out(presence: np.ndarray, excess: np.ndarray) -> None:
    """Leave out ``excess[m]`` optional events of each message m (never going below 4)."""
    for slot in OPTIONAL_SLOTS:
        drop = (excess > 0) & presence[:, slot] & (presence.sum(axis=1) > 4)
        presence[drop, slot] = False
        excess = excess - drop
    if excess.any():  # pragma: no cover - every slot past the 16th is an optional one
        raise RuntimeError("a message has more than 16 events and nothing optional to leave out")


def _trim(presence: np.ndarray, excess: int) -> None:
    """Leave out ``excess`` optional events of the last messages, so that the report has
    exactly the rows asked for."""
    for slot in OPTIONAL_SLOTS:
        if excess == 0:
            break
        counts = presence.sum(axis=1)
        candidates = np.flatnonzero(presence[:, slot] & (counts > 4))[::-1][:excess]
        presence[candidates, slot] = False
        excess -= len(candidates)
    if excess:
        raise ValueError("too few rows for a realistic report; ask for at least 100")


def _event_times(
    rng: np.random.Generator, start_ns: np.ndarray, message: np.ndarray, slot: np.ndarray
) -> np.ndarray:
    first = np.ones(len(message), dtype=bool)
    first[1:] = message[1:] != message[:-1]
    previous = np.concatenate([[0], slot[:-1]])
    after_defer = ~first & np.isin(previous, DEFER_SLOTS) & ~np.isin(slot, DEFER_SLOTS)
    median = np.where(after_defer, DEFER_WAIT_MEDIAN, GAP_MEDIAN[slot])
    sigma = np.where(after_defer, DEFER_WAIT_SIGMA, GAP_SIGMA[slot])
    seconds = np.clip(median * np.exp(sigma * rng.standard_normal(len(slot))), 1e-4, 20 * 3600)
    gaps = np.where(first, 0, np.round(seconds * 1e7).astype(np.int64) * 100)
    total = np.cumsum(gaps)
    return start_ns[message] + total - total[np.flatnonzero(first)][np.cumsum(first) - 1]


def build_plan(rows: int, seed: int = DEFAULT_SEED) -> Plan:
    """Draw everything but the text: a world sized for ``rows`` and its messages."""
    if rows < 100:
        raise ValueError("too few rows for a realistic report; ask for at least 100")
    estimate = rows // 7 + 64  # messages have 7.3 events on average
    for attempt in range(8):
        rng = np.random.default_rng([seed, attempt])
        world = build_world(rows, seed)
        m = _messages(world, rng, estimate)
        e = _entries(world, rng, m)
        presence = _presence(m, e)
        total = np.cumsum(presence.sum(axis=1))
        if total[-1] >= rows:
            break
        estimate = estimate * 3 // 2
    else:  # pragma: no cover - the estimate grows geometrically
        raise RuntimeError("could not plan enough messages")
    last = int(np.searchsorted(total, rows))
    keep = last + 1
    presence = presence[:keep]
    _trim(presence, int(total[last]) - rows)
    event_message, event_slot = np.nonzero(presence)
    event_slot = event_slot.astype(np.int8)
    event_ns = _event_times(rng, m["start_ns"][:keep], event_message, event_slot)
    order = np.argsort(event_ns, kind="stable")  # an export lists its rows in time order
    entries = e["start"][keep]
    multiline = np.zeros(keep, dtype=bool)
    # about 0.05% of subjects hold a line break (and at least one does)
    multiline[rng.choice(keep, max(1, round(keep * 0.0005)), replace=False)] = True
    multiline &= ~m["bulk"][:keep]
    if not multiline.any():
        multiline[np.flatnonzero(~m["bulk"][:keep])[:1]] = True
    return Plan(
        rows=rows,
        seed=seed,
        world=world,
        kind=m["kind"][:keep],
        sender=m["sender"][:keep],
        start_ns=m["start_ns"][:keep],
        language=m["language"][:keep],
        thread=m["thread"][:keep],
        size=m["size"][:keep],
        attachments=m["attachments"][:keep],
        rules=m["rules"][:keep],
        multiline=multiline,
        entry_message=e["message"][:entries],
        entry_address=e["address"][:entries],
        entry_kind=e["kind"][:entries],
        entry_type=e["type"][:entries],
        entry_start=e["start"][: keep + 1],
        event_message=event_message,
        event_slot=event_slot,
        event_ns=event_ns,
        order=order,
    )
