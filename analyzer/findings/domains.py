"""Look-alike and first-seen domains.

A look-alike domain differs from one the organization trusts (its own domains, inferred from
internal recipients by ``analyzer.chains``, or a frequent correspondent) by one character, a
digit for a letter (0/o, 1/l/i, 5/s, ...), or a homoglyph (Cyrillic ``а`` for Latin ``a``,
``rn`` for ``m``, an IDN written as punycode ``xn--``). The organization's own domains are
never compared with each other: contoso.com and contoso.co.uk both internal are not
look-alikes. Comparisons run over distinct domains only (a few thousand at most).

A sender domain first seen in the last part of the case's time range is new to the
organization; in a business e-mail compromise the attacker's domain usually is.
"""

from __future__ import annotations

import contextlib
import functools
import unicodedata
from functools import cached_property

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.findings.base import Context, Topic, listing, pair_keys, plural
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import (
    TRACE_FROM_SENDER,
    TRACE_MESSAGE_DETAIL,
    Moment,
    Role,
    Story,
)
from analyzer.identifiers import domain_of

LOOKALIKE_RULE = "lookalike-domain"
FIRST_SEEN_RULE = "first-seen-domain"

# Characters that look like Latin letters or like each other, mapped to one representative.
# Digits for letters (0/o, 1/l/i, 3/e, 5/s) and the usual Cyrillic and Greek confusables.
_CONFUSABLES = str.maketrans(
    {
        "0": "o",
        "1": "l",
        "i": "l",
        "3": "e",
        "5": "s",
        "а": "a",  # Cyrillic
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "у": "y",
        "х": "x",
        "і": "l",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "һ": "h",
        "ӏ": "l",
        "ո": "n",  # Armenian
        "ɡ": "g",
        "ı": "l",
        "α": "a",  # Greek
        "ο": "o",
        "ρ": "p",
        "ν": "v",
        "τ": "t",
        "ι": "l",
        "κ": "k",
        "χ": "x",
        "ε": "e",
    }
)
_DIGITS = set("0135")


@functools.lru_cache(maxsize=65536)
def decode_idn(domain: str) -> str:
    """A domain with its punycode labels (``xn--``) decoded; unchanged when not decodable."""
    labels = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            with contextlib.suppress(UnicodeError):
                label = label.encode("ascii").decode("idna")
        labels.append(label)
    return ".".join(labels)


@functools.lru_cache(maxsize=65536)
def skeleton(domain: str) -> str:
    """What a domain looks like: IDN decoded, accents dropped, confusables folded."""
    text = unicodedata.normalize("NFKD", decode_idn(domain.lower()))
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = text.translate(_CONFUSABLES)
    return text.replace("rn", "m").replace("vv", "w").replace("cl", "d")


def within_one_edit(a: str, b: str) -> bool:
    """Whether ``a`` becomes ``b`` by one insertion, deletion, substitution or swap."""
    if a == b:
        return False
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) > len(b):
        a, b = b, a
    start = 0
    while start < len(a) and a[start] == b[start]:
        start += 1
    if len(a) == len(b):
        rest_a, rest_b = a[start + 1 :], b[start + 1 :]
        if rest_a == rest_b:
            return True  # one substitution
        # one swap of neighbours: ab -> ba
        return (
            start + 1 < len(a)
            and a[start] == b[start + 1]
            and a[start + 1] == b[start]
            and a[start + 2 :] == b[start + 2 :]
        )
    return a[start:] == b[start + 1 :]  # one insertion into a


def _name_part(domain: str) -> str:
    """The domain without its last label: ``contoso`` of contoso.com (for length checks)."""
    return domain.rsplit(".", 1)[0] if "." in domain else domain


def lookalike_kind(candidate: str, reference: str, min_length: int) -> str | None:
    """How ``candidate`` imitates ``reference`` (a phrase for the title), or None."""
    if candidate == reference:
        return None
    if min(len(_name_part(decode_idn(candidate))), len(_name_part(reference))) < min_length:
        return None
    if candidate.endswith("." + reference) or reference.endswith("." + candidate):
        return None  # a subdomain, not an imitation
    decoded = decode_idn(candidate)
    if skeleton(candidate) == skeleton(reference):
        if decoded != candidate or not decoded.isascii():
            return "homoglyph (internationalized domain name)"
        if any(ch in _DIGITS for ch in candidate) and not any(ch in _DIGITS for ch in reference):
            return "digit for a letter"
        return "look-alike characters"
    if _without_digits(candidate) == _without_digits(reference):
        return None  # mail2.example and mail3.example: numbered, not imitated
    if within_one_edit(candidate, reference):
        return "one character differs"
    return None


@functools.lru_cache(maxsize=65536)
def _without_digits(text: str) -> str:
    return "".join(ch for ch in text if not ch.isdigit())


def _deletions(text: str) -> set[str]:
    """``text`` and every string one character shorter: two strings within one edit of each
    other share one of these (the symmetric-delete index)."""
    return {text} | {text[:i] + text[i + 1 :] for i in range(len(text))}


def _near(candidates: list[str], references: list[str], min_length: int) -> dict[str, list[str]]:
    """Per candidate, the references that may be within one edit or share its skeleton.

    An index of the references' one-character deletions and skeletons makes this one lookup
    per deletion of each candidate, not a comparison with every reference.
    """
    by_deletion: dict[str, set[str]] = {}
    by_skeleton: dict[str, set[str]] = {}
    references = [r for r in references if len(_name_part(r)) >= min_length]
    candidates = [c for c in candidates if len(_name_part(decode_idn(c))) >= min_length]
    for reference in references:
        for key in _deletions(reference):
            by_deletion.setdefault(key, set()).add(reference)
        by_skeleton.setdefault(skeleton(reference), set()).add(reference)
    near = {}
    for candidate in candidates:
        found = set(by_skeleton.get(skeleton(candidate), ()))
        for key in _deletions(candidate):
            found |= by_deletion.get(key, set())
        if found:
            near[candidate] = sorted(found)
    return near


class Domains(Topic):
    """Who the organization exchanges mail with: lookalike-domain compares these domains,
    first-seen-domain dates them."""

    @cached_property
    def counts(self) -> pd.DataFrame:
        """Per domain (internal or outside), sorted: ``sent`` (messages from it),
        ``first_sent``, ``received`` (messages to it), ``messages`` and ``internal``."""
        counts = _domain_counts(self.ctx)
        counts["internal"] = counts["domain"].map(self.ctx.is_internal).astype(bool)
        return counts


def _domain_counts(ctx: Context) -> pd.DataFrame:
    """Per external or internal domain: messages sent from it, to it, first time sending."""
    r = ctx.recipients
    table = pa.table(
        {
            "message_key": r["message_key"],
            "sender_domain": ctx.recipient_sender_domain,
            "recipient_domain": ctx.recipient_domain,
            "first_time": r["first_time"],
        }
    )
    sent = (
        table.group_by("sender_domain")
        .aggregate([("message_key", "count_distinct"), ("first_time", "min")])
        .to_pandas()
        .rename(
            columns={
                "sender_domain": "domain",
                "message_key_count_distinct": "sent",
                "first_time_min": "first_sent",
            }
        )
    )
    received = (
        table.group_by("recipient_domain")
        .aggregate([("message_key", "count_distinct")])
        .to_pandas()
        .rename(columns={"recipient_domain": "domain", "message_key_count_distinct": "received"})
    )
    counts = sent.merge(received, on="domain", how="outer").dropna(subset=["domain"])
    counts[["sent", "received"]] = counts[["sent", "received"]].fillna(0).astype("int64")
    counts["messages"] = counts["sent"] + counts["received"]
    return counts.sort_values("domain", kind="stable").reset_index(drop=True)


def _domain_rows(ctx: Context, domain: str) -> pd.DataFrame:
    """Evidence candidates: the first message x recipient rows from or to ``domain``."""
    mask = pc.or_(
        fill_false(pc.equal(ctx.recipient_sender_domain, domain)),
        fill_false(pc.equal(ctx.recipient_domain, domain)),
    )
    frame = ctx.recipient_frame(
        mask,
        (
            "message_key",
            "network_message_id",
            "message_id",
            "sender_address",
            "recipient_address",
            "final_status",
            "first_time",
        ),
    )
    return frame


def _arrival_evidence(ctx: Context, rows: pd.DataFrame, detail: pd.Series) -> pd.DataFrame:
    """Evidence candidates for messages from or to a domain: per message x recipient of
    ``rows`` (a recipients frame), the input row that shows the message arriving
    (``Context.arrival_event_frame``), with ``detail`` (aligned with ``rows``) as its note."""
    evidence = ctx.arrival_event_frame(rows[["message_key", "recipient_address"]])
    notes = dict(
        zip(pair_keys(rows["message_key"], rows["recipient_address"]), detail, strict=True)
    )
    evidence["detail"] = pair_keys(evidence["message_key"], evidence["recipient_key"]).map(notes)
    return evidence


@rule(
    id=LOOKALIKE_RULE,
    severity="high",
    summary="Outside domains one character, a digit for a letter, or a homoglyph (IDN) away "
    "from the tenant's domains or a frequent correspondent",
    thresholds=("lookalike_min_length", "frequent_correspondent_min_messages"),
    story=Story(
        roles=(Role("received mail from a look-alike domain", acts=False, of="recipients"),),
        moments=(Moment("{title}: first message cited", about="recipients"),),
        steps=(TRACE_FROM_SENDER, TRACE_MESSAGE_DETAIL),
        indicators=("domain", "sender", "subject", "message_id", "sender_ip", "url"),
        malicious_mail=True,
    ),
)
def lookalike_domains(ctx: Context) -> list[Finding]:
    """Outside domains one character, digit or homoglyph away from a trusted domain."""
    t = ctx.thresholds
    if ctx.recipients.num_rows == 0:
        return []
    counts = ctx.topic(Domains).counts
    frequent = counts[
        ~counts["internal"] & (counts["messages"] >= t.frequent_correspondent_min_messages)
    ]
    # every outside domain is compared with the tenant's own; those that are not frequent
    # correspondents themselves also with the frequent correspondents (a busy look-alike of
    # contoso.com is still a look-alike, but two busy partners are not look-alikes)
    outside = sorted(counts.loc[~counts["internal"], "domain"])
    occasional = sorted(set(outside) - set(frequent["domain"]))
    shortest = t.lookalike_min_length
    near = _near(outside, list(ctx.tenant_domains), shortest)
    for candidate, references in _near(occasional, sorted(frequent["domain"]), shortest).items():
        near[candidate] = sorted(set(near.get(candidate, [])) | set(references))
    findings = []
    for candidate in sorted(near):  # distinct domains, a few thousand at most
        matches = []
        for reference in near[candidate]:
            kind = lookalike_kind(candidate, reference, t.lookalike_min_length)
            if kind:
                matches.append((reference, kind))
        if not matches:
            continue
        rows = _domain_rows(ctx, candidate)
        inbound = rows[rows["sender_address"].str.lower().str.endswith("@" + candidate)]
        outbound = rows[~rows.index.isin(inbound.index)]
        imitated = [ref for ref, _ in matches]
        whose = {True: "one of the organization's domains", False: "a frequent correspondent"}
        what = "; ".join(f"{ref} ({whose[ctx.is_internal(ref)]}: {kind})" for ref, kind in matches)
        decoded = decode_idn(candidate)
        shown_text = f" (shown as {decoded})" if decoded != candidate else ""
        # evidence: the rows that show each message arriving, not what happened later (a
        # ZAP decides the final status, but it is no proof of who sent the message)
        shown = ctx.earliest(rows, "first_time_ns")
        evidence = _arrival_evidence(
            ctx,
            shown,
            "from "
            + shown["sender_address"].fillna("?")
            + " to "
            + shown["recipient_address"].fillna("?")
            + "; final status "
            + shown["final_status"].fillna("Unknown"),
        )
        finding = ctx.finding(
            LOOKALIKE_RULE,
            "high",
            f"Look-alike domain {candidate}{shown_text} imitates {listing(imitated)}",
            f"The domain {candidate}{shown_text} looks like {what}. The organization received "
            f"{plural(inbound['message_key'].nunique(), 'message')} from it and sent "
            f"{plural(outbound['message_key'].nunique(), 'message')} to it. "
            "Look-alike domains are the tool of business e-mail compromise and invoice fraud: "
            "check what these messages asked for, warn the recipients, and block the domain.",
            ctx.entities(
                domain=[candidate, *imitated],
                mailbox=[
                    *rows["sender_address"].str.lower(),
                    *rows["recipient_address"].str.lower(),
                ],
            ),
            evidence,
            total=len(rows),
        )
        if finding:
            findings.append(finding)
    return findings


@rule(
    id=FIRST_SEEN_RULE,
    severity="info",
    summary="Outside sender domains first seen in the last part of the case's time range",
    thresholds=("first_seen_tail_fraction", "first_seen_min_span_hours"),
    story=Story(
        moments=(Moment("First message from the new sender domain {domains}", about="recipients"),),
        steps=(TRACE_FROM_SENDER,),
        indicators=("domain",),
    ),
)
def first_seen_domains(ctx: Context) -> list[Finding]:
    """Outside sender domains whose first message falls in the last part of the data."""
    t = ctx.thresholds
    start, end = ctx.data_start_ns, ctx.data_end_ns
    if start is None or end is None or ctx.recipients.num_rows == 0:
        return []
    span = end - start
    if span < t.first_seen_min_span_hours * 3600 * 1_000_000_000:
        return []
    cutoff = end - int(span * t.first_seen_tail_fraction)
    counts = ctx.topic(Domains).counts
    counts = counts[(counts["sent"] > 0) & counts["first_sent"].notna()]
    counts = counts[~counts["internal"]]
    first_ns = pd.Series(
        pa.array(counts["first_sent"]).cast(pa.int64()).to_numpy(zero_copy_only=False),
        index=counts.index,
    )
    new = counts[first_ns >= cutoff]
    if new.empty:
        return []
    domains = sorted(new["domain"])
    # evidence: each new domain's first message x recipient row
    mask = fill_false(pc.is_in(ctx.recipient_sender_domain, value_set=pa.array(domains)))
    frame = ctx.recipient_frame(
        mask,
        (
            "message_key",
            "network_message_id",
            "message_id",
            "sender_address",
            "recipient_address",
            "first_time",
        ),
    )
    frame["domain"] = domain_of(pa.array(frame["sender_address"], pa.string())).to_pandas()
    frame = frame.sort_values(
        ["domain", "first_time_ns", "message_key", "recipient_address"],
        kind="stable",
        na_position="last",
    )
    firsts = frame.drop_duplicates("domain")
    evidence = _arrival_evidence(ctx, firsts, "first message from " + firsts["domain"])
    messages = int(new["sent"].sum())
    finding = ctx.finding(
        FIRST_SEEN_RULE,
        "info",
        f"{plural(len(domains), 'sender domain')} first seen after {ctx.time_text(cutoff)}: "
        f"{listing(domains)}",
        f"These outside domains sent their first message in the last "
        f"{t.first_seen_tail_fraction:.0%} of the data (after {ctx.time_text(cutoff)}), "
        f"{plural(messages, 'message')} in all. A domain new to the organization late in an "
        "incident's time range may belong to the attacker (look-alike domains usually are). "
        "Check when each domain was registered and what its messages asked for.",
        ctx.entities(domain=domains),
        evidence,
    )
    return [finding] if finding else []


__all__ = [
    "decode_idn",
    "first_seen_domains",
    "lookalike_domains",
    "lookalike_kind",
    "skeleton",
    "within_one_edit",
]
