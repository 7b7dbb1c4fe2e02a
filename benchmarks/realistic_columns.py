"""The 27 text columns of a chunk of rows of a realistic extended report.

``chunk_table(plan, addresses, events)`` builds them for the given events (indices into the
plan's events, in file order); per-event values are drawn by event index, per-message values
come from ``realistic_messages.Chunk``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from realistic_messages import (
    CLIENT_TYPES,
    S_AGENT,
    S_CLIENT,
    S_DEFER,
    S_DEFER2,
    S_EXTRA,
    S_FAIL,
    S_HOP_IP,
    S_HOP_IP2,
    S_HOP_IP3,
    S_IMID,
    S_IMID2,
    S_LATENCY,
    S_MIME,
    S_MIME2,
    S_ORIGINATION,
    S_REF,
    S_REF2,
    S_REMOTE,
    S_REMOTE2,
    S_REPLY,
    S_REPLY2,
    S_SCORE,
    S_SESSION,
    S_SESSION2,
    S_SFS,
    S_STORE,
    S_STORE2,
    S_STORE3,
    S_VERDICT,
    SFS_RULES,
    Chunk,
)
from realistic_plan import (
    AT_DOOR,
    DEFER1,
    DEFER2,
    DEFER3,
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
    ORIG_DL,
    ORIG_FAIL,
    ORIG_REDIRECTED,
    OUTBOUND,
    REDIRECT,
    RULE_AGENT,
    SEND_OUT,
    SLOT_NAMES,
    SPAM_AGENT,
    SUBMIT,
    TRANSFER,
    Plan,
)
from realistic_text import (
    Pieces,
    cat,
    decimal_text,
    guid_text,
    hex_text,
    ipv4_text,
    iso_ms,
    iso_ticks,
    num_text,
    repeat,
    text,
)
from realistic_world import GOOGLE, M365, TENANT_COUNTRY

HEADER = (
    "date_time_utc",
    "client_ip",
    "client_hostname",
    "server_ip",
    "server_hostname",
    "source_context",
    "connector_id",
    "source",
    "event_id",
    "internal_message_id",
    "message_id",
    "network_message_id",
    "recipient_address",
    "recipient_status",
    "total_bytes",
    "recipient_count",
    "related_recipient_address",
    "reference",
    "message_subject",
    "sender_address",
    "return_path",
    "message_info",
    "directionality",
    "tenant_id",
    "original_client_ip",
    "original_server_ip",
    "custom_data",
)
EVENT_IDS = text([event for event, _ in SLOT_NAMES])
SOURCES = text([source for _, source in SLOT_NAMES])
RECIPIENT_TYPES = text(["To", "Cc", "Bcc"])
DEFER_TO_MAILBOX = text(
    [
        "432 4.3.2 STOREDRV.Deliver; mailbox database thread limit exceeded",
        "451 4.7.500 Server busy. Please try again later from [",
        "421 4.3.2 Service not available, closing transmission channel [",
    ]
)
DEFER_TO_OUTSIDE = text(
    [
        '451 4.4.0 Primary target IP address responded with: "421 4.7.0 Try again later, '
        'closing connection." Attempted failover to alternate host, but that did not succeed. '
        "Either there are no alternate hosts, or delivery failed to all alternate hosts. The "
        "last endpoint attempted was ",
        "451 4.4.0 DNS query failed. The error was: DNS query failed with error: ErrorRetry [",
        "450 4.7.1 Greylisted, please try again in ",
    ]
)
VERDICTS = (  # SFV, SCL, DI, CAT: not spam, safe sender, spam to junk, blocked sender, quarantine
    ("NSPM", "1", "SN", "NONE"),
    ("SKN", "-1", "SN", "NONE"),
    ("SPM", "5", "SJ", "SPM"),
    ("BLK", "6", "SJ", "NONE"),
    ("SPM", "9", "SQ", "HSPM"),
)
VERDICT_SHARE = np.array([0.885, 0.05, 0.03, 0.005, 0.001])
MESSAGE_VALUES = text(["Low", "Medium", "High"])


def _exo_ipv6(c: Chunk, rows: np.ndarray, stream: int) -> pa.Array:
    """An address of one of Exchange Online's many servers, per event."""
    keys = c.events[rows] * 4 + stream
    d = c.draws
    return cat(
        "2603:10a6:",
        hex_text(0x200 + d.below(keys, S_HOP_IP, 0xE00), 3),
        ":",
        hex_text(0x100 + d.below(keys, S_HOP_IP2, 0xF00), 3),
        "::",
        hex_text(0x10 + d.below(keys, S_HOP_IP3, 0xF0), 2),
    )


def _second_server(c: Chunk, rows: np.ndarray) -> pa.Array:
    """Where the hop goes: the mailbox server, or Exchange Online's outbound servers."""
    w = c.world
    eop = w.eop_hosts.take(pa.array(c.draws.below(c.message[rows], S_EXTRA, len(w.eop_hosts))))
    return pc.if_else(pa.array(c.of_message(c.route_deliver, rows)), c.server_full(rows), eop)


def _remote(c: Chunk, rows: np.ndarray) -> tuple[pa.Array, pa.Array, np.ndarray]:
    """The outside server a row sends to: (IP, host name, hosting), per row."""
    w, d = c.world, c.draws
    domain = np.maximum(c.of_message(c.remote_domain_m, rows), 0)
    hosting = w.domain_hosting[domain]
    keys = c.events[rows]
    ip = Pieces(len(rows))
    host = Pieces(len(rows))
    name = w.domain_text.take(pa.array(domain))
    part = np.flatnonzero(hosting == M365)
    ip.put(
        part,
        ipv4_text(
            np.full(len(part), 52),
            np.full(len(part), 101),
            d.below(keys[part], S_REMOTE, 256),
            1 + d.below(keys[part], S_REMOTE2, 254),
        ),
    )
    host.put(
        part,
        cat(
            pc.replace_substring(name.take(pa.array(part)), ".", "-"),
            ".mail.protection.outlook.com",
        ),
    )
    part = np.flatnonzero(hosting == GOOGLE)
    ip.put(
        part,
        ipv4_text(
            np.full(len(part), 142),
            np.full(len(part), 250),
            d.below(keys[part], S_REMOTE, 256),
            1 + d.below(keys[part], S_REMOTE2, 254),
        ),
    )
    host.put(
        part,
        text(["aspmx.l.google.com", "alt1.aspmx.l.google.com"]).take(
            pa.array(d.below(keys[part], S_REMOTE, 2))
        ),
    )
    part = np.flatnonzero(hosting > GOOGLE)
    first, last = w.domain_ip_offsets[domain[part]], w.domain_ip_offsets[domain[part] + 1]
    has_ip = last > first
    index = first + d.below(keys[part], S_REMOTE, np.maximum(last - first, 1))
    own = w.domain_ips.take(pa.array(np.where(has_ip, index, 0)))
    ip.put(
        part,
        pc.if_else(pa.array(has_ip), own, "198.18.0.25")
        if len(w.domain_ips)
        else repeat("", len(part)),
    )
    host.put(
        part,
        cat("mx", num_text(1 + d.below(keys[part], S_REMOTE2, 2)), ".", name.take(pa.array(part))),
    )
    return ip.done(), host.done(), hosting


def _label(hosts: pa.Array) -> pa.Array:
    return pc.list_element(pc.split_pattern(hosts, ".", max_splits=1), 0)


def _hosts(c: Chunk) -> dict[str, pa.Array]:
    """client and server IPs and host names, source_context and connector_id."""
    w, d, n = c.world, c.draws, c.n
    client_ip, client_host, server_ip, server_host = Pieces(n), Pieces(n), Pieces(n), Pieces(n)
    context, connector = Pieces(n), Pieces(n)
    rows = c.rows(SUBMIT, FROM_MAILBOX)
    home = c.server_full(rows)
    client_host.put(rows, home)
    server_host.put(rows, home)
    rows = c.rows(FROM_MAILBOX)
    client_ip.put(rows, w.server_ipv6.take(pa.array(c.of_message(c.home_server_m, rows))))
    rows = c.rows(AT_DOOR)
    door = w.door_full.take(pa.array(c.of_message(c.door_m, rows)))
    client_ip.put(rows, c.of_message(c.sending_ip_m, rows))
    client_host.put(rows, c.of_message(c.helo_m, rows))
    server_ip.put(rows, w.door_ip.take(pa.array(c.of_message(c.door_m, rows))))
    server_host.put(rows, door)
    connector.put(rows, cat(_label(door), "\\Default ", _label(door)))
    rows = c.rows(SPAM_AGENT, RULE_AGENT)
    inbound = pa.array(c.of_message(c.inbound_m, rows))
    client_ip.put(rows, pc.if_else(inbound, c.of_message(c.sending_ip_m, rows), ""))
    client_host.put(rows, pc.if_else(inbound, c.of_message(c.helo_m, rows), c.server_full(rows)))
    server_host.put(rows, c.first_server(rows))
    rows = c.rows(EXPAND, REDIRECT, TRANSFER)
    server_host.put(rows, c.first_server(rows))
    rows = c.rows(FIRST_AGENT)
    client_host.put(rows, c.first_server(rows))
    server_host.put(rows, c.first_server(rows))
    rows = c.rows(HOP_SEND)
    first = c.first_server(rows)
    door_ip = w.door_ip.take(pa.array(c.of_message(c.door_m, rows)))
    home_ip = w.server_ipv6.take(pa.array(c.of_message(c.home_server_m, rows)))
    client_ip.put(rows, pc.if_else(pa.array(c.of_message(c.inbound_m, rows)), door_ip, home_ip))
    client_host.put(rows, first)
    server_ip.put(rows, _exo_ipv6(c, rows, 0))
    server_host.put(rows, _second_server(c, rows))
    rows = c.rows(HOP_RECEIVE)
    second = _second_server(c, rows)
    client_ip.put(rows, _exo_ipv6(c, rows, 1))
    client_host.put(rows, c.first_server(rows))
    server_host.put(rows, second)
    connector.put(rows, cat(_label(second), "\\Default ", _label(second)))
    rows = c.rows(MAILBOX_AGENT, DELIVER)  # agents and delivery on the recipients' mailbox server
    client_host.put(rows, c.server_full(rows))
    server_host.put(rows, c.server_full(rows))
    rows = c.rows(DEFER1, DEFER2, DEFER3, FAIL, DSN)
    client_host.put(rows, _second_server(c, rows))
    outside = c.of_message(~c.route_deliver, rows) & np.isin(c.slot[rows], (DEFER1, DEFER2, DEFER3))
    server_host.put(rows[~outside], _second_server(c, rows[~outside]))
    defer_out = rows[outside]
    remote_ip, remote_host, _ = _remote(c, defer_out)
    server_ip.put(defer_out, remote_ip)
    server_host.put(defer_out, remote_host)
    rows = c.rows(SEND_OUT)
    remote_ip, remote_host, _ = _remote(c, rows)
    keys = c.events[rows]
    # the tenant's outbound servers: a few thousand addresses
    client_ip.put(
        rows,
        cat(
            "2a01:111:e400:",
            hex_text(0x1000 + d.below(keys, S_CLIENT, 0x200), 4),
            "::",
            hex_text(0x10 + d.below(keys, S_SESSION2, 0x10), 2),
        ),
    )
    client_host.put(rows, _second_server(c, rows))
    server_ip.put(rows, remote_ip)
    server_host.put(rows, remote_host)
    connector.put(rows, "Outbound to Internet")

    rows = c.rows(
        AT_DOOR, HOP_SEND, HOP_RECEIVE, SEND_OUT
    )  # SMTP sessions: id, start, and the message's place in it
    keys = c.events[rows]
    started = c.ns[rows] - d.below(keys, S_SESSION, 5000) * 1_000_000
    context.put(
        rows,
        cat(
            "08DE",
            hex_text(d.bits(keys, S_SESSION), 12, True),
            ";",
            iso_ms(started),
            ";",
            num_text(d.below(keys, S_SESSION2, 40)),
        ),
    )
    rows = c.rows(SUBMIT, FROM_MAILBOX)  # submissions from a mailbox
    sender = np.where(c.of_message(c.inbound_m, rows), 0, c.of_message(c.sender_m, rows))
    database = c.of_message(c.home_server_m, rows)
    facts = cat(
        "MDB:",
        guid_text(d.bits(database, S_STORE), d.bits(database, S_STORE2)),
        ", Mailbox:",
        guid_text(d.bits(sender, S_STORE3), d.bits(sender, S_STORE)),
        ", Event:",
        num_text(10**6 + d.below(c.message[rows], S_STORE2, 9 * 10**7)),
        ", MessageClass:IPM.Note, CreationTime:",
        iso_ms(_origination(c, rows)),
        ", ClientType:",
        CLIENT_TYPES.take(pa.array(d.below(c.message[rows], S_CLIENT, 5))),
    )
    context.put(rows, facts)
    return {
        "client_ip": client_ip.done(),
        "client_hostname": client_host.done(),
        "server_ip": server_ip.done(),
        "server_hostname": server_host.done(),
        "source_context": context.done(),
        "connector_id": connector.done(),
    }


def _origination(c: Chunk, rows: np.ndarray) -> np.ndarray:
    """When the sender's client created the message: seconds to minutes before it was sent."""
    message = c.message[rows]
    return c.plan.start_ns[message] - c.draws.below(message, S_ORIGINATION, 120_000) * 1_000_000


def _hop_reply(c: Chunk, rows: np.ndarray, hostname: pa.Array, bytes_: np.ndarray) -> pa.Array:
    """``250 2.6.0 <message id> [InternalId=..., Hostname=...] ... Queued mail for delivery``."""
    keys = c.events[rows]
    ms = 20 + c.draws.below(keys, S_REPLY, 3000)
    rate = bytes_ * 1_000_000 // (1024 * ms)
    return cat(
        "250 2.6.0 ",
        c.of_message(c.message_id_m, rows),
        " [InternalId=",
        num_text(10**12 + c.draws.below(keys, S_REPLY2, 9 * 10**12)),
        ", Hostname=",
        hostname,
        "] ",
        num_text(bytes_),
        " bytes in ",
        decimal_text(ms),
        ", ",
        decimal_text(rate),
        " KB/sec Queued mail for delivery",
    )


def _replies(c: Chunk, size: np.ndarray) -> pa.Array:
    """The SMTP reply of each row that has one (once per row; repeated per recipient later)."""
    d, n = c.draws, c.n
    reply = Pieces(n)
    rows = c.rows(HOP_SEND)
    reply.put(rows, _hop_reply(c, rows, _second_server(c, rows), size[rows]))
    rows = c.rows(DEFER1, DEFER2, DEFER3)
    keys = c.events[rows]
    to_mailbox = c.of_message(c.route_deliver, rows)
    choice = d.below(keys, S_DEFER, 3)
    inside = rows[to_mailbox]
    text_in = DEFER_TO_MAILBOX.take(pa.array(choice[to_mailbox]))
    server = c.server_full(inside)
    tail_in = pc.if_else(
        pa.array(choice[to_mailbox] == 0), "", cat(_exo_ipv6(c, inside, 2), "] (", server, ")")
    )
    reply.put(inside, cat(text_in, tail_in))
    outside = rows[~to_mailbox]
    picked = choice[~to_mailbox]
    remote_ip, remote_host, _ = _remote(c, outside)
    seconds = num_text(60 * (1 + d.below(c.events[outside], S_DEFER2, 10)))
    tail_out = pc.if_else(
        pa.array(picked == 0),
        cat(remote_ip, ":25"),
        pc.if_else(pa.array(picked == 1), cat(remote_host, "]"), cat(seconds, " seconds")),
    )
    reply.put(outside, cat(DEFER_TO_OUTSIDE.take(pa.array(picked)), tail_out))
    rows = c.rows(SEND_OUT)
    _, _, hosting = _remote(c, rows)
    keys = c.events[rows]
    exo = c.world.outside_exo_full.take(
        pa.array(d.below(keys, S_REMOTE, len(c.world.outside_exo_full)))
    )
    google = cat(
        "250 2.0.0 OK  ",
        num_text(c.ns[rows] // 10**9),
        " ",
        hex_text(d.bits(keys, S_REPLY), 12),
        ".",
        num_text(d.below(keys, S_REPLY2, 900) + 100),
        " - gsmtp",
    )
    postfix = cat("250 2.0.0 Ok: queued as ", hex_text(d.bits(keys, S_REPLY), 10, True))
    accepted = cat(_hop_reply(c, rows, exo, size[rows]), " -> 250 2.1.5")
    reply.put(
        rows,
        pc.if_else(
            pa.array(hosting == M365),
            accepted,
            pc.if_else(pa.array(hosting == GOOGLE), google, postfix),
        ),
    )
    rows = c.rows(FAIL, DSN)
    failed = c.addresses.take(
        pa.array(c.plan.entry_address[c.of_message(c.first_entry_of(ORIG_FAIL), rows)])
    )
    _, _, hosting = _remote(c, rows)
    outbound = c.of_message(c.kind_m == OUTBOUND, rows)
    variant = d.below(c.message[rows], S_FAIL, 10)
    resolver = cat(
        "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient ",
        failed,
        " not found by SMTP address lookup",
    )
    short = repeat("550 5.1.1 RESOLVER.ADR.RecipNotFound; not found", len(rows))
    google = cat(
        "550 5.1.1 The email account that you tried to reach does not exist. ",
        hex_text(d.bits(c.message[rows], S_FAIL), 12),
        " - gsmtp",
    )
    postfix = cat(
        "550 5.1.1 <",
        failed,
        ">: Recipient address rejected: User unknown in virtual mailbox table",
    )
    inside = pc.if_else(pa.array(variant < 7), resolver, short)
    outside_text = pc.if_else(
        pa.array(hosting == M365),
        resolver,
        pc.if_else(pa.array(hosting == GOOGLE), google, postfix),
    )
    reply.put(rows, pc.if_else(pa.array(outbound), outside_text, inside))
    return reply.done()


def _recipients(c: Chunk, size: np.ndarray) -> dict[str, pa.Array]:
    """recipient_address, recipient_status (one per recipient, ``;``-separated), the count,
    related_recipient_address (EXPAND, REDIRECT) and reference (DSN)."""
    plan, d, n = c.plan, c.draws, c.n
    row, entry = c.entries
    counts = np.bincount(row, minlength=n)
    offsets = pa.array(np.concatenate([[0], np.cumsum(counts)]).astype(np.int32))
    names = c.addresses.take(pa.array(plan.entry_address[entry]))
    recipients = pc.binary_join(pa.ListArray.from_arrays(offsets, names), ";")

    replies = _replies(c, size)
    slot = c.slot[row]
    status = Pieces(len(row))
    listed = np.flatnonzero(np.isin(slot, (FROM_MAILBOX, AT_DOOR)))
    status.put(listed, RECIPIENT_TYPES.take(pa.array(plan.entry_type[entry[listed]])))
    status.put(np.flatnonzero(slot == HOP_RECEIVE), "To")
    replied = np.flatnonzero(np.isin(slot, (HOP_SEND, DEFER1, DEFER2, DEFER3, SEND_OUT, FAIL, DSN)))
    status.put(replied, replies.take(pa.array(row[replied])))
    with_status = np.isin(
        slot,
        (FROM_MAILBOX, AT_DOOR, HOP_SEND, HOP_RECEIVE, DEFER1, DEFER2, DEFER3, SEND_OUT, FAIL, DSN),
    )
    status_counts = np.bincount(row[with_status], minlength=n)
    status_offsets = pa.array(np.concatenate([[0], np.cumsum(status_counts)]).astype(np.int32))
    statuses = status.done().filter(pa.array(with_status))
    status_text = pc.binary_join(pa.ListArray.from_arrays(status_offsets, statuses), ";")

    related = Pieces(n)
    for slot_id, kind in ((EXPAND, ORIG_DL), (REDIRECT, ORIG_REDIRECTED)):
        rows = c.rows(slot_id)
        first = c.of_message(c.first_entry_of(kind), rows)
        related.put(rows, c.addresses.take(pa.array(plan.entry_address[first])))
    reference = Pieces(n)
    rows = c.rows(DSN)  # the DSN event names the non-delivery report it caused
    keys = c.message[rows]
    reference.put(
        rows,
        cat(
            "<",
            hex_text(d.bits(keys, S_REF), 16, True),
            hex_text(d.bits(keys, S_REF2), 16, True),
            "@",
            _second_server(c, rows),
            ">",
        ),
    )
    return {
        "recipient_address": recipients,
        "recipient_status": status_text,
        "recipient_count": num_text(counts),
        "related_recipient_address": related.done(),
        "reference": reference.done(),
    }


def _spam_verdicts(c: Chunk) -> pa.Array:
    """The spam filter's S:SFA section (and malware scan, latency) of each message."""
    w, d, um = c.world, c.draws, c.um
    verdict = d.pick(um, S_VERDICT, VERDICT_SHARE)
    verdict = np.where(c.inbound_m, verdict, 0)
    sfv, scl, di, category = (
        text([v[i] for v in VERDICTS]).take(pa.array(verdict)) for i in range(4)
    )
    category = pc.if_else(pa.array(c.bulk_m & (verdict == 0)), "BULK", category)
    score = np.where(verdict >= 2, 5 + d.below(um, S_SCORE, 5), d.below(um, S_SCORE, 8) - 6)
    sfs = cat(
        *[
            x
            for k in range(6)
            for x in ("(", num_text(SFS_RULES[d.below(um, S_SFS + 100 * k, 64)]), ")")
        ]
    )
    language = text(list(w.languages)).take(pa.array(c.plan.language[um]))
    home = w.server_full.take(pa.array(c.home_server_m))
    country = w.domain_country.take(pa.array(c.domain_m))
    inbound = cat(
        "S:SFA=SUM|SFV=",
        sfv,
        "|IPV=",
        pc.if_else(pa.array(d.uniform(um, S_AGENT) < 0.7), "CAL", "NLI"),
        "|SRV=",
        pc.if_else(pa.array(c.bulk_m), "BULK", ""),
        "|SFS=",
        sfs,
        "|SCL=",
        scl,
        "|SCORE=",
        num_text(score),
        "|LIST=0|DI=",
        di,
        "|RD=",
        c.helo_m,
        "|H=",
        c.helo_m,
        "|CIP=",
        c.sending_ip_m,
        "|SFP=1501|ASF=1|CTRY=",
        country,
        "|CLTCTRY=|LANG=",
        language,
        "|LAT=0|LAT=0|LAT=0|FPR=|TRC=|CSTM=|ADSC=|SEN=|RF=|SSC=|DIR=INB|CAT=",
        category,
    )
    internal = cat(
        "S:SFA=SUM|SFV=SKI|IPV=|SRV=|SFS=|SCL=-1|SCORE=-1|LIST=0|DI=SN|RD=|H=",
        home,
        "|CIP=|SFP=0000|ASF=0|CTRY=|CLTCTRY=|LANG=",
        language,
        "|LAT=0|LAT=0|LAT=0|FPR=|TRC=|CSTM=|ADSC=|SEN=|RF=|SSC=|DIR=INT|CAT=NONE",
    )
    outbound = cat(
        "S:SFA=SUM|SFV=NSPM|IPV=CAL|SRV=|SFS=",
        sfs,
        "|SCL=1|SCORE=",
        num_text(score),
        "|LIST=0|DI=SN|RD=|H=",
        home,
        "|CIP=",
        c.origin_ip_m,
        "|SFP=1501|ASF=0|CTRY=",
        TENANT_COUNTRY,
        "|CLTCTRY=",
        TENANT_COUNTRY,
        "|LANG=",
        language,
        "|LAT=0|LAT=0|LAT=0|FPR=|TRC=|CSTM=|ADSC=|SEN=|RF=|SSC=|DIR=OUT|CAT=NONE",
    )
    kind = c.kind_m
    section = pc.if_else(
        pa.array(kind == INBOUND),
        inbound,
        pc.if_else(pa.array(kind == OUTBOUND), outbound, internal),
    )
    attachments = c.plan.attachments[um]
    malware = pc.if_else(
        pa.array(attachments > 0),
        cat(";S:AMA=SUM|v=1|action=|error=|atch=", num_text(attachments)),
        "",
    )
    latency = decimal_text(100 + d.below(um, S_LATENCY, 20_000))
    return cat(
        section,
        malware,
        ";S:DeliveryPriority=Normal;S:AccountForest=",
        w.forest,
        ";S:E2ELatency=",
        latency,
    )


def _custom_data(c: Chunk) -> pa.Array:
    w, d, n = c.world, c.draws, c.n
    custom = Pieces(n)
    attachments = c.plan.attachments[c.message]
    mime = cat(
        "S:MimeParts=Att/Emb/MPt:",
        num_text(attachments),
        "/",
        num_text(d.below(c.message, S_MIME, 2)),
        "/",
        num_text(attachments + 1 + d.below(c.message, S_MIME2, 2)),
        ";S:MessageValue=",
        MESSAGE_VALUES.take(pa.array(d.below(c.message, S_MIME2, 3))),
    )
    rows = c.rows(AT_DOOR)
    custom.put(rows, cat(mime.take(pa.array(rows)), ";S:DeliveryPriority=Normal"))
    rows = c.rows(HOP_RECEIVE)
    custom.put(rows, cat(mime.take(pa.array(rows)), ";S:AccountForest=", w.forest))
    rows = c.rows(FROM_MAILBOX)
    client = CLIENT_TYPES.take(pa.array(d.below(c.message[rows], S_CLIENT, 5)))
    custom.put(rows, cat(mime.take(pa.array(rows)), ";S:ClientType=", client))
    rows = c.rows(SPAM_AGENT)
    custom.put(rows, c.of_message(_spam_verdicts(c), rows))
    rows = c.rows(RULE_AGENT)
    custom.put(rows, w.rule_text.take(pa.array(c.plan.rules[c.message[rows]])))
    rows = c.rows(FIRST_AGENT, MAILBOX_AGENT)
    custom.put(
        rows,
        cat(
            "S:CompCost=|ETR=",
            num_text(d.below(c.message[rows], S_AGENT, 12)),
            ";S:DeliveryPriority=Normal;S:AccountForest=",
            w.forest,
        ),
    )
    rows = c.rows(DELIVER)  # the store driver's section: where in which mailbox the item landed
    keys = c.events[rows]
    database = c.of_message(c.home_server_m, rows)
    custom.put(
        rows,
        cat(
            "S:MailboxDatabaseGuid=",
            guid_text(d.bits(database, S_STORE), d.bits(database, S_STORE2)),
            ";S:Mailboxes=",
            guid_text(d.bits(keys, S_STORE), d.bits(keys, S_STORE2)),
            ";S:StoreObjectIds=",
            hex_text(d.bits(keys, S_STORE3), 16, True),
            hex_text(d.bits(keys, S_REF), 16, True),
            ";S:FolderId=",
            hex_text(d.bits(database, S_STORE3), 16, True),
            ";S:ItemEntryId=",
            hex_text(d.bits(keys, S_REF2), 16, True),
            hex_text(d.bits(keys, S_IMID), 16, True),
            ";S:DeliveryLatency=",
            decimal_text(50 + d.below(keys, S_LATENCY, 5000)),
            ";S:AccountForest=",
            w.forest,
        ),
    )
    rows = c.rows(SEND_OUT)
    remote_ip, remote_host, _ = _remote(c, rows)
    custom.put(
        rows,
        cat(
            "S:E2ELatency=",
            decimal_text(200 + d.below(c.events[rows], S_LATENCY, 30_000)),
            ";S:ExternalOrganization=1;S:OutboundProxyTargetIP=",
            remote_ip,
            ";S:OutboundProxyTargetHostName=",
            remote_host,
        ),
    )
    custom.put(c.rows(DSN), "S:DsnType=Failure;S:DsnRecipients=1")
    return custom.done()


def _message_columns(c: Chunk, size: np.ndarray) -> dict[str, pa.Array]:
    w, d, n = c.world, c.draws, c.n
    every = np.arange(n)
    before_hop = c.slot < HOP_RECEIVE
    imid = np.where(
        before_hop,
        10**12 + d.below(c.message, S_IMID, 9 * 10**12),
        10**12 + d.below(c.message, S_IMID2, 9 * 10**12),
    )
    info = Pieces(n)
    rows = c.rows(FROM_MAILBOX, AT_DOOR)
    keys = c.events[rows]
    info.put(
        rows,
        cat(
            iso_ms(_origination(c, rows)),
            ";SRV=",
            c.first_server(rows),
            ":TOTAL-SUB=",
            decimal_text(d.below(keys, S_LATENCY, 2000)),
            "|SA=",
            decimal_text(d.below(keys, S_AGENT, 300)),
            "|MTSS-PEN=",
            decimal_text(d.below(keys, S_EXTRA, 1500)),
        ),
    )
    rows = c.rows(DELIVER)
    info.put(rows, iso_ms(_origination(c, rows)))
    return {
        "date_time_utc": iso_ticks(c.ns),
        "source": pc.if_else(
            pa.array((c.slot == FAIL) & (c.plan.kind[c.message] != OUTBOUND)),
            "ROUTING",
            SOURCES.take(pa.array(c.slot)),
        ),
        "event_id": EVENT_IDS.take(pa.array(c.slot)),
        "internal_message_id": num_text(imid),
        "message_id": c.of_message(c.message_id_m, every),
        "network_message_id": c.of_message(c.network_message_id_m, every),
        "total_bytes": num_text(size),
        "message_subject": c.of_message(c.subject_m, every),
        "sender_address": c.of_message(c.sender_address_m, every),
        "return_path": c.of_message(c.return_path_m, every),
        "message_info": info.done(),
        "directionality": pc.if_else(
            pa.array(c.plan.kind[c.message] == INBOUND), "Incoming", "Originating"
        ),
        "tenant_id": repeat(w.tenant_id, n),
        "original_client_ip": c.of_message(c.client_ip_m, every),
        "original_server_ip": repeat("", n),
    }


def chunk_table(plan: Plan, addresses: pa.Array, events: np.ndarray) -> pa.Table:
    """The 27 columns of the given events (indices into the plan's events, in file order)."""
    c = Chunk(plan, addresses, events)
    # the size grows by the headers each hop adds
    extra = 900 + c.draws.below(c.message, S_EXTRA, 1200)
    size = plan.size[c.message] + np.where(c.slot >= HOP_RECEIVE, extra, 0)
    columns = {
        **_hosts(c),
        **_recipients(c, size),
        **_message_columns(c, size),
        "custom_data": _custom_data(c),
    }
    return pa.table({name: columns[name] for name in HEADER})
