"""The values of the messages a chunk of rows belongs to: senders, their IPs and host names,
ids, subjects, and which recipients each row lists.

Built once per chunk for the messages the chunk touches (``Chunk.um``), from values drawn by
message index, so a message's text does not depend on the chunk it is in.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from realistic_plan import (
    AT_DOOR,
    DEFER_SLOTS,
    DELIVER,
    DSN,
    EXPAND,
    FAIL,
    FIRST_AGENT,
    FROM_MAILBOX,
    HOP_RECEIVE,
    HOP_SEND,
    INBOUND,
    MAILBOX_AGENT,
    MEMBER,
    ORIG_DELIVER,
    ORIG_DL,
    ORIG_FAIL,
    ORIG_REDIRECTED,
    ORIG_SEND,
    OUTBOUND,
    REDIRECT,
    RULE_AGENT,
    SEND_OUT,
    SLOTS,
    SPAM_AGENT,
    SUBMIT,
    TARGET,
    TRANSFER,
    Plan,
)
from realistic_text import (
    Draws,
    Pieces,
    cat,
    guid_text,
    hex_text,
    ipv4_text,
    num_text,
    text,
)
from realistic_world import BULK_WORDS, GOOGLE, M365, SELF_HOSTED, START_NS

# which recipient entries each slot's row lists: originals, group members, redirect targets;
# hops, deferrals and the mailbox agents follow the message's route (mailboxes or outside)
_ORIGINALS = (ORIG_DELIVER, ORIG_SEND, ORIG_FAIL, ORIG_DL, ORIG_REDIRECTED)
_TO_MAILBOXES = (ORIG_DELIVER, MEMBER, TARGET)
LISTS_WHEN_DELIVERED = np.zeros((SLOTS, 7), dtype=bool)
LISTS_WHEN_SENT = np.zeros((SLOTS, 7), dtype=bool)
for _slots, _delivered, _sent in (
    (
        (SUBMIT, FROM_MAILBOX, AT_DOOR, SPAM_AGENT, RULE_AGENT, TRANSFER, FIRST_AGENT),
        _ORIGINALS,
        _ORIGINALS,
    ),
    ((EXPAND,), (MEMBER,), (MEMBER,)),
    ((REDIRECT,), (TARGET,), (TARGET,)),
    ((HOP_SEND, HOP_RECEIVE, *DEFER_SLOTS, MAILBOX_AGENT), _TO_MAILBOXES, (ORIG_SEND,)),
    ((DELIVER,), _TO_MAILBOXES, _TO_MAILBOXES),
    ((SEND_OUT,), (ORIG_SEND,), (ORIG_SEND,)),
    ((FAIL, DSN), (ORIG_FAIL,), (ORIG_FAIL,)),
):
    for _slot in _slots:
        LISTS_WHEN_DELIVERED[_slot, list(_delivered)] = True
        LISTS_WHEN_SENT[_slot, list(_sent)] = True

# streams of ``Draws``: one per independent value
(
    S_NMID1,
    S_NMID2,
    S_NMID3,
    S_MID1,
    S_MID2,
    S_MID3,
    S_PREFIX,
    S_IP1,
    S_IP2,
    S_IP3,
    S_HELO,
    S_ORIGIN,
    S_ORIGIN2,
    S_ORIGIN3,
    S_VERDICT,
    S_SCORE,
    S_SFS,
    S_LATENCY,
    S_DOOR,
    S_SESSION,
    S_SESSION2,
    S_HOP_IP,
    S_HOP_IP2,
    S_HOP_IP3,
    S_REPLY,
    S_REPLY2,
    S_DEFER,
    S_DEFER2,
    S_STORE,
    S_STORE2,
    S_STORE3,
    S_IMID,
    S_IMID2,
    S_EXTRA,
    S_ORIGINATION,
    S_MIME,
    S_MIME2,
    S_CLIENT,
    S_REMOTE,
    S_REMOTE2,
    S_FAIL,
    S_REF,
    S_REF2,
    S_SERVER,
    S_AGENT,
) = range(45)
SFS_RULES = np.random.default_rng(11).integers(1_000_000, 5_000_000_000, 64)
PREFIXES = text(["", "Re: ", "RE: ", "Fw: ", "FW: ", "AW: ", "WG: "])
PREFIX_WEIGHTS = np.array([0.55, 0.22, 0.1, 0.04, 0.04, 0.03, 0.02])
CLIENT_TYPES = text(["OWA", "MOMT", "Outlook", "ActiveSync", "REST"])
CONTINUATIONS = text(["(continued)", "see attachment", "zweite Zeile", "- details inside"])


class Chunk:
    """The rows of one chunk, and the values of the messages they belong to."""

    def __init__(self, plan: Plan, addresses: pa.Array, events: np.ndarray):
        self.plan, self.world, self.addresses = plan, plan.world, addresses
        self.draws = Draws(plan.seed)
        self.events = events
        self.n = len(events)
        self.message = plan.event_message[events]
        self.slot = plan.event_slot[events].astype(np.int64)
        self.ns = plan.event_ns[events]
        self.um, self.inv = np.unique(self.message, return_inverse=True)
        self.kind_m = plan.kind[self.um]
        self.sender_m = plan.sender[self.um]
        self.inbound_m = self.kind_m == INBOUND

    # ----- helpers ----------------------------------------------------------------------
    def rows(self, *slots: int) -> np.ndarray:
        return np.flatnonzero(np.isin(self.slot, slots))

    def of_message(self, values: pa.Array | np.ndarray, rows: np.ndarray) -> pa.Array:
        """A per-message value (aligned with ``um``) on the given rows."""
        if isinstance(values, np.ndarray):
            return values[self.inv[rows]]
        return values.take(pa.array(self.inv[rows]))

    def message_pieces(self) -> Pieces:
        return Pieces(len(self.um))

    # ----- who and where, per message ----------------------------------------------------
    @cached_property
    def outside_m(self) -> np.ndarray:
        """Outside address index of inbound senders (0 elsewhere)."""
        return np.where(self.inbound_m, self.sender_m, 0)

    @cached_property
    def bulk_m(self) -> np.ndarray:
        return self.inbound_m & self.world.outside_bulk[self.outside_m]

    @cached_property
    def domain_m(self) -> np.ndarray:
        return self.world.outside_domain[self.outside_m]

    @cached_property
    def hosting_m(self) -> np.ndarray:
        """How the sender's organization sends: M365, GOOGLE, SELF_HOSTED or ESP (bulk)."""
        return np.where(self.bulk_m, 3, self.world.domain_hosting[self.domain_m])

    @cached_property
    def sender_address_m(self) -> pa.Array:
        index = np.where(self.inbound_m, self.world.outside_start + self.sender_m, self.sender_m)
        return self.addresses.take(pa.array(index))

    @cached_property
    def home_server_m(self) -> np.ndarray:
        """The tenant mailbox server of the sender, or of the first recipient of inbound mail."""
        w = self.world
        first = self.plan.entry_address[self.plan.entry_start[self.um]]
        random = self.draws.below(self.um, S_SERVER, len(w.server_short))
        recipient = np.where(
            first < w.user_count, w.user_server[np.minimum(first, w.user_count - 1)], random
        )
        return np.where(
            self.inbound_m, recipient, w.user_server[np.where(self.inbound_m, 0, self.sender_m)]
        )

    @cached_property
    def door_m(self) -> np.ndarray:
        return self.draws.below(self.um, S_DOOR, len(self.world.door_full))

    def server_full(self, rows: np.ndarray) -> pa.Array:
        return self.world.server_full.take(pa.array(self.of_message(self.home_server_m, rows)))

    def first_server(self, rows: np.ndarray) -> pa.Array:
        """Where a message starts in the tenant: the front door (inbound) or the mailbox server."""
        door = self.world.door_full.take(pa.array(self.of_message(self.door_m, rows)))
        return pc.if_else(
            pa.array(self.of_message(self.inbound_m, rows)), door, self.server_full(rows)
        )

    @cached_property
    def sending_ip_m(self) -> pa.Array:
        """The outside server that connected to the front door (inbound messages)."""
        w, d, um = self.world, self.draws, self.um
        p = self.message_pieces()
        hosting = self.hosting_m
        where = np.flatnonzero(self.inbound_m & (hosting == M365))
        keys = um[where]
        six = d.uniform(keys, S_IP1) < 0.7
        v6 = cat(
            "2a01:111:f403:",
            hex_text(0x1000 + d.below(keys, S_IP2, 0xF000), 4),
            "::",
            hex_text(0x100 + d.below(keys, S_IP3, 0xF00), 3),
        )
        v4 = ipv4_text(
            np.full(len(keys), 40),
            np.full(len(keys), 107),
            d.below(keys, S_IP2, 256),
            1 + d.below(keys, S_IP3, 254),
        )
        p.put(where, pc.if_else(pa.array(six), v6, v4))
        where = np.flatnonzero(self.inbound_m & (hosting == GOOGLE))
        keys = um[where]
        p.put(
            where,
            ipv4_text(
                np.full(len(keys), 209),
                np.full(len(keys), 85),
                128 + d.below(keys, S_IP2, 128),
                1 + d.below(keys, S_IP3, 254),
            ),
        )
        where = np.flatnonzero(self.inbound_m & (hosting == SELF_HOSTED))
        domain = self.domain_m[where]
        first, last = w.domain_ip_offsets[domain], w.domain_ip_offsets[domain + 1]
        p.put(where, w.domain_ips.take(pa.array(first + d.below(um[where], S_IP2, last - first))))
        where = np.flatnonzero(self.inbound_m & (hosting == 3))
        block = w.esp_block[w.esp_of_domain[self.domain_m[where]]]
        keys = um[where]
        p.put(
            where,
            ipv4_text(
                block[:, 0],
                block[:, 1],
                block[:, 2] + d.below(keys, S_IP2, 4),
                1 + d.below(keys, S_IP3, 254),
            ),
        )
        return p.done()

    @cached_property
    def helo_m(self) -> pa.Array:
        """The host name the outside server introduced itself with (inbound messages)."""
        w, d, um = self.world, self.draws, self.um
        p = self.message_pieces()
        hosting = self.hosting_m
        for kind, pool in ((M365, w.eop_hosts), (GOOGLE, w.google_hosts)):
            where = np.flatnonzero(self.inbound_m & (hosting == kind))
            p.put(where, pool.take(pa.array(d.below(um[where], S_HELO, len(pool)))))
        where = np.flatnonzero(self.inbound_m & (hosting == SELF_HOSTED))
        domain = w.domain_text.take(pa.array(self.domain_m[where]))
        p.put(where, cat("mail", num_text(1 + d.below(um[where], S_HELO, 3)), ".", domain))
        where = np.flatnonzero(self.inbound_m & (hosting == 3))
        esp = w.esp_text.take(pa.array(w.esp_of_domain[self.domain_m[where]]))
        p.put(where, cat("o", num_text(1 + d.below(um[where], S_HELO, 400)), ".", esp))
        return p.done()

    @cached_property
    def origin_ip_m(self) -> pa.Array:
        """The client IP an internal sender submitted from: office, home, phone or hotel."""
        w, d = self.world, self.draws
        where = np.flatnonzero(~self.inbound_m)
        keys = self.um[where]
        user = self.sender_m[where]
        t = self.plan.start_ns[keys]
        hours = (t - START_NS) // (3600 * 10**9)
        local_hour, workday = (hours + 2) % 24, (hours // 24) < 5
        travelling = (w.user_trip[user, 0] <= t) & (t < w.user_trip[user, 1])
        mobile = w.user_mobile_share[user]
        r = d.uniform(keys, S_ORIGIN)
        at_office = workday & (local_hour >= 7) & (local_hour < 19) & ~w.user_remote[user]
        channel = np.select(  # 0 office, 1 home, 2 phone, 3 hotel
            [
                travelling & (r < 0.7),
                travelling,
                at_office & (r < (1 - mobile) * 0.8),
                r < 1 - mobile,
            ],
            [3, 2, 0, 1],
            2,
        )
        p = Pieces(len(where))
        rows = np.flatnonzero(channel == 0)
        site = w.user_site[user[rows]] * 2 + d.below(keys[rows], S_ORIGIN2, 2)
        p.put(rows, w.site_ip.take(pa.array(site)))
        rows = np.flatnonzero(channel == 1)
        moved = (w.user_home_change_ns[user[rows]] > 0) & (
            t[rows] >= w.user_home_change_ns[user[rows]]
        )
        home = w.user_home_ip.take(pa.array(user[rows]))
        p.put(rows, pc.if_else(pa.array(moved), w.user_home2_ip.take(pa.array(user[rows])), home))
        rows = np.flatnonzero(channel == 2)
        block = w.carrier_block[w.user_carrier[user[rows]]]
        p.put(
            rows,
            ipv4_text(
                block[:, 0],
                block[:, 1],
                d.below(keys[rows], S_ORIGIN2, 256),
                1 + d.below(keys[rows], S_ORIGIN3, 254),
            ),
        )
        rows = np.flatnonzero(channel == 3)
        p.put(rows, w.user_hotel_ip.take(pa.array(user[rows])))
        out = self.message_pieces()
        out.put(where, p.done())
        return out.done()

    @cached_property
    def client_ip_m(self) -> pa.Array:
        """The sending IP (inbound) or the submitting client's IP (internal senders)."""
        return pc.if_else(pa.array(self.inbound_m), self.sending_ip_m, self.origin_ip_m)

    # ----- ids and text, per message -----------------------------------------------------
    @cached_property
    def network_message_id_m(self) -> pa.Array:
        d, um = self.draws, self.um
        guid = guid_text(d.bits(um, S_NMID1), d.bits(um, S_NMID2))
        # Exchange's ids end in 08d + a time-derived tail (08de... in 2025-2026)
        return cat(pc.utf8_slice_codeunits(guid, 0, 24), "08de", hex_text(d.bits(um, S_NMID3), 8))

    @cached_property
    def message_id_m(self) -> pa.Array:
        w, d, um = self.world, self.draws, self.um
        long_hex = cat(
            hex_text(d.bits(um, S_MID1), 16, True), hex_text(d.bits(um, S_MID2), 16, True)
        )
        p = self.message_pieces()
        hosting = self.hosting_m
        exo = np.flatnonzero(~self.inbound_m)
        server = self.home_server_m[exo]
        p.put(
            exo,
            cat(
                "<",
                w.server_short.take(pa.array(server)),
                long_hex.take(pa.array(exo)),
                "@",
                w.server_full.take(pa.array(server)),
                ">",
            ),
        )
        exo = np.flatnonzero(self.inbound_m & (hosting == M365))
        server = d.below(um[exo], S_MID3, len(w.outside_exo_short))
        p.put(
            exo,
            cat(
                "<",
                w.outside_exo_short.take(pa.array(server)),
                long_hex.take(pa.array(exo)),
                "@",
                w.outside_exo_full.take(pa.array(server)),
                ">",
            ),
        )
        rows = np.flatnonzero(self.inbound_m & (hosting == GOOGLE))
        p.put(rows, cat("<CA", pc.utf8_lower(long_hex.take(pa.array(rows))), "@mail.gmail.com>"))
        rows = np.flatnonzero(self.inbound_m & (hosting >= SELF_HOSTED))
        domain = w.domain_text.take(pa.array(self.domain_m[rows]))
        p.put(
            rows,
            cat(
                "<",
                hex_text(d.bits(um[rows], S_MID3), 16),
                ".",
                num_text(d.below(um[rows], S_MID2, 10**6)),
                "@",
                domain,
                ">",
            ),
        )
        return p.done()

    @cached_property
    def subject_m(self) -> pa.Array:
        w, d, um, plan = self.world, self.draws, self.um, self.plan
        p = self.message_pieces()
        thread = plan.thread[um]
        rows = np.flatnonzero(thread >= 0)
        prefix = PREFIXES.take(pa.array(d.pick(um[rows], S_PREFIX, PREFIX_WEIGHTS)))
        subject = cat(prefix, w.thread_subject.take(pa.array(thread[rows])))
        broken = plan.multiline[um[rows]]
        # a folded header the sender's client did not unfold: the export keeps the CRLF
        continuation = cat(
            subject, "\r\n ", CONTINUATIONS.take(pa.array(d.below(um[rows], S_PREFIX, 4)))
        )
        p.put(rows, pc.if_else(pa.array(broken), continuation, subject))
        rows = np.flatnonzero(thread < 0)  # newsletters
        words = text([BULK_WORDS[lang] for lang in w.languages])
        day = np.datetime_as_string(plan.start_ns[um[rows]].astype("datetime64[ns]"), unit="D")
        p.put(
            rows,
            cat(
                w.outside_brand.take(pa.array(self.outside_m[rows])),
                " ",
                words.take(pa.array(plan.language[um[rows]])),
                " ",
                pa.array(day),
            ),
        )
        return p.done()

    @cached_property
    def return_path_m(self) -> pa.Array:
        w, d = self.world, self.draws
        rows = np.flatnonzero(self.bulk_m)
        esp = w.esp_text.take(pa.array(w.esp_of_domain[self.domain_m[rows]]))
        p = self.message_pieces()
        p.put(rows, cat("bounce-", hex_text(d.bits(self.um[rows], S_REF), 10), "@", esp))
        rows = np.flatnonzero(~self.bulk_m)
        p.put(rows, self.sender_address_m.take(pa.array(rows)))
        return p.done()

    @cached_property
    def entries(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, entry) pairs: the recipients each row lists."""
        plan = self.plan
        start = plan.entry_start[self.message]
        count = plan.entry_start[self.message + 1] - start
        row = np.repeat(np.arange(self.n), count)
        entry = np.repeat(start, count) + (
            np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
        )
        kind = plan.entry_kind[entry]
        delivered = self.route_deliver[self.inv[row]]
        slot = self.slot[row]
        keep = np.where(delivered, LISTS_WHEN_DELIVERED[slot, kind], LISTS_WHEN_SENT[slot, kind])
        return row[keep], entry[keep]

    @cached_property
    def route_deliver(self) -> np.ndarray:
        """Per message: its hops and deferrals lead to mailboxes (else to outside servers)."""
        plan = self.plan
        start, end = plan.entry_start[self.um], plan.entry_start[self.um + 1]
        cumulative = np.concatenate([[0], np.cumsum(plan.entry_kind == ORIG_SEND)])
        sends = cumulative[end] - cumulative[start]
        return (self.kind_m != OUTBOUND) | (sends == 0)

    def first_entry_of(self, kind: int) -> np.ndarray:
        """Per message, its first entry of ``kind`` (-1 when none)."""
        plan = self.plan
        start = plan.entry_start[self.um]
        count = plan.entry_start[self.um + 1] - start
        owner = np.repeat(np.arange(len(self.um)), count)
        entry = np.repeat(start, count) + (
            np.arange(len(owner)) - np.repeat(np.cumsum(count) - count, count)
        )
        hit = plan.entry_kind[entry] == kind
        first = np.full(len(self.um), -1, dtype=np.int64)
        owners, position = np.unique(owner[hit], return_index=True)
        first[owners] = entry[hit][position]
        return first

    @cached_property
    def remote_domain_m(self) -> np.ndarray:
        """The domain of the first outside recipient (-1 when none)."""
        entry = self.first_entry_of(ORIG_SEND)
        address = self.plan.entry_address[np.maximum(entry, 0)] - self.world.outside_start
        domain = self.world.outside_domain[np.clip(address, 0, len(self.world.outside_domain) - 1)]
        return np.where(entry >= 0, domain, -1)
