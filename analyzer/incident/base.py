"""What every view of the incident reads: the case, its chains and findings, computed once.

``Investigation`` holds a case with its chains and findings (``investigate`` builds both), the
severity from which findings are part of the incident (``min_severity``, default medium: low
and info findings are context, such as protection working or data notes), and, per finding,
the facts its story is told from (``FindingFacts``): its actor mailboxes, the internal
recipients and outside addresses of its evidence rows, the messages it cites and their
senders, subjects and ids, and who had a copy of them delivered and when it was removed.

A finding's id is ``finding-<n>``, its place in the findings list (most urgent first, as
``run_findings`` sorts them and the report numbers them): the same inputs and thresholds give
the same ids.

Nothing here loops over events: the cited messages are looked up in the chains once, for all
findings, by message key.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false, to_numpy_bool
from analyzer.case import Case
from analyzer.chains import Chains, build_chains
from analyzer.findings import RULES, Evidence, Finding, Thresholds, at_least, run_findings
from analyzer.findings.story import Story
from analyzer.identifiers import (
    address_key,
    address_text,
    domain_in,
    domain_of,
    domain_text,
    in_domains,
)
from analyzer.incident.delivery import delivery_facts
from analyzer.timestamps import UTC, DisplayZone

_STORIES: dict[str, Story] = {r.id: r.story or Story() for r in RULES}

#: Columns of the cited messages' recipients that the views read.
_MESSAGE_COLUMNS = (
    "message_key",
    "network_message_id",
    "message_id",
    "sender_address",
    "message_subject",
    "recipient_address",
    "from_ip",
    "first_time",
)


def story_of(rule_id: str) -> Story:
    """The story its rule declares (an empty one for a rule no longer registered)."""
    return _STORIES.get(rule_id, Story())


def time_ns(item: Evidence) -> int | None:
    """An evidence row's time in nanoseconds since the epoch (UTC), or None."""
    if not item.time:
        return None
    stamp = pd.Timestamp(item.time)
    return int((stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp).value)


def cited_rows(finding: Finding) -> list[Evidence]:
    """The rows a finding cites: its evidence and, when the cap left it out, its last row."""
    return [*finding.evidence, *([finding.evidence_last] if finding.evidence_last else [])]


@dataclass(frozen=True)
class FindingFacts:
    """What one finding's story is told from.

    Attributes:
        index: its place in ``Investigation.findings``.
        id: ``finding-<index + 1>``.
        finding: the finding.
        story: its rule's story.
        rows: the rows it cites (``cited_rows``).
        actor: its internal mailboxes (``entities["mailbox"]``), sorted.
        recipients: the internal recipients of its rows, sorted.
        targets: the outside addresses it points at: the outside recipients of its rows and
            the outside mailboxes it names (a redirect's row may name only the internal
            mailbox; its finding names the target), sorted.
        message_keys: the messages its rows cite, sorted.
        delivered: delivery facts (``analyzer.incident.delivery``) of its messages' internal
            recipients.
        senders: the outside senders of its messages, sorted.
        subjects: their subjects; message_ids: their Internet message ids; sender_ips: the
            IPs they came from (each sorted).
        domains: its outside domains (``entities["domain"]``); ips, rules: its entities.
        inputs: the inputs of its rows.
        first_ns, last_ns: the earliest and latest time of its rows (None without times).
    """

    index: int
    id: str
    finding: Finding
    story: Story
    rows: list[Evidence]
    actor: list[str]
    recipients: list[str]
    targets: list[str]
    message_keys: list[str]
    delivered: pd.DataFrame
    senders: list[str]
    subjects: list[str]
    message_ids: list[str]
    sender_ips: list[str]
    domains: list[str]
    ips: list[str]
    rules: list[str]
    inputs: list[str]
    first_ns: int | None
    last_ns: int | None

    @property
    def active(self) -> bool:
        """Whether it gives roles and moments: a threat whose story needs a delivery gives
        none while no copy was delivered."""
        return not self.story.needs_delivery or not self.delivered.empty

    @property
    def delivered_mailboxes(self) -> list[str]:
        """The internal recipients who had a copy delivered, sorted."""
        return sorted(set(self.delivered["recipient_key"]))


@dataclass
class Investigation:
    """A case, its chains and findings, and the incident's scope.

    Attributes:
        case: the case.
        chains: its chains.
        findings: every finding, most urgent first (``run_findings``).
        min_severity: findings of this severity or above are the incident.
        sources: the sources as the user gave them (for the msgtrace commands of next
            steps); default: the case folder, else the inputs' paths.
    """

    case: Case
    chains: Chains
    findings: list[Finding]
    min_severity: str = "medium"
    sources: tuple[str, ...] = ()
    _facts: dict[int, FindingFacts] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        at_least([], self.min_severity)  # an unknown severity fails here
        if not self.sources:
            paths = [self.case.path] if self.case.path else list(self.case.input_paths().values())
            self.sources = tuple(str(p) for p in paths)

    @cached_property
    def ids(self) -> list[str]:
        """Each finding's id, in list order."""
        return [f"finding-{n}" for n in range(1, len(self.findings) + 1)]

    @cached_property
    def in_scope(self) -> list[int]:
        """The positions of the findings of ``min_severity`` or above."""
        kept = {id(f) for f in at_least(self.findings, self.min_severity)}
        return [n for n, f in enumerate(self.findings) if id(f) in kept]

    @cached_property
    def tenant_domains(self) -> tuple[str, ...]:
        return tuple(sorted({d.lower() for d in self.chains.tenant_domains if d}))

    def is_internal(self, address: object) -> bool:
        """Whether an address (or a bare domain) is of one of the tenant's domains."""
        if not isinstance(address, str) or not address:
            return False
        domain = domain_text(address) if "@" in address else address.lower()
        return domain_in(domain, self.tenant_domains)

    def internal_mask(self, addresses: pd.Series) -> np.ndarray:
        """``is_internal`` for a column of addresses, vectorized (missing: False)."""
        values = pa.array(addresses.astype(object).where(addresses.notna(), None), pa.string())
        return to_numpy_bool(in_domains(domain_of(values), self.tenant_domains))

    @cached_property
    def input_paths(self) -> dict[str, str]:
        return self.case.input_paths()

    @cached_property
    def data_end_ns(self) -> int | None:
        """The latest event time of the case."""
        if self.chains.events.num_rows == 0:
            return None
        return pc.max(self.chains.events["event_time"].cast(pa.int64())).as_py()

    @cached_property
    def cited_keys(self) -> list[str]:
        """Every message key any finding cites, sorted."""
        keys = {item.message_key for f in self.findings for item in cited_rows(f)}
        return sorted(k for k in keys if k)

    @cached_property
    def messages(self) -> pd.DataFrame:
        """The recipients rows of every cited message (``_MESSAGE_COLUMNS``), with
        ``sender_key`` and ``recipient_key`` (``analyzer.identifiers`` keys)."""
        recipients = self.chains.recipients
        wanted = pa.array(self.cited_keys, pa.string())
        mask = fill_false(pc.is_in(recipients["message_key"], value_set=wanted))
        table = recipients.select(list(_MESSAGE_COLUMNS)).filter(mask)
        frame = table.to_pandas()
        frame["sender_key"] = address_key(table["sender_address"]).to_pandas()
        frame["recipient_key"] = address_key(table["recipient_address"]).to_pandas()
        return frame

    @cached_property
    def delivery(self) -> pd.DataFrame:
        """Delivery facts of every cited message's internal recipients."""
        facts = delivery_facts(self.chains, self.cited_keys)
        return facts[self.internal_mask(facts["recipient_key"])].reset_index(drop=True)

    def facts(self, index: int) -> FindingFacts:
        """The facts of the finding at ``index`` (computed once)."""
        if index not in self._facts:
            self._facts[index] = self._finding_facts(index)
        return self._facts[index]

    def scoped_facts(self) -> list[FindingFacts]:
        """The facts of every finding in scope, in list order."""
        return [self.facts(n) for n in self.in_scope]

    def _finding_facts(self, index: int) -> FindingFacts:
        finding = self.findings[index]
        rows = cited_rows(finding)
        recipients = {a for a in (address_text(r.recipient_address) for r in rows) if a}
        keys = sorted({r.message_key for r in rows if r.message_key})
        messages = self.messages[self.messages["message_key"].isin(keys)]
        senders = {s for s in messages["sender_key"].dropna().unique() if not self.is_internal(s)}
        times = [t for t in map(time_ns, rows) if t is not None]
        entities = finding.entities
        return FindingFacts(
            index=index,
            id=self.ids[index],
            finding=finding,
            story=story_of(finding.rule),
            rows=rows,
            actor=sorted(
                {
                    a
                    for a in map(address_text, entities.get("mailbox", []))
                    if a and self.is_internal(a)
                }
            ),
            recipients=sorted(r for r in recipients if self.is_internal(r)),
            targets=sorted(
                {r for r in recipients if "@" in r and not self.is_internal(r)}
                | {
                    a
                    for a in map(address_text, entities.get("mailbox", []))
                    if a and "@" in a and not self.is_internal(a)
                }
            ),
            message_keys=keys,
            delivered=self.delivery[self.delivery["message_key"].isin(keys)],
            senders=sorted(senders),
            subjects=_distinct(messages["message_subject"]),
            message_ids=_distinct(messages["message_id"]),
            sender_ips=_distinct(messages.loc[messages["sender_key"].isin(senders), "from_ip"]),
            domains=sorted(
                {d.lower() for d in entities.get("domain", []) if not self.is_internal(d)}
            ),
            ips=sorted(entities.get("ip", [])),
            rules=sorted(entities.get("rule", [])),
            inputs=sorted({r.input for r in rows if r.input}),
            first_ns=min(times) if times else None,
            last_ns=max(times) if times else None,
        )

    def finding_ref(self, index: int) -> dict[str, str]:
        """``{"id", "rule", "severity", "title"}`` of a finding."""
        finding = self.findings[index]
        return {
            "id": self.ids[index],
            "rule": finding.rule,
            "severity": finding.severity,
            "title": finding.title,
        }


def _distinct(values: pd.Series) -> list[str]:
    """The distinct non-blank texts, as the export wrote them, sorted."""
    return sorted({v for v in values.dropna().unique() if isinstance(v, str) and v.strip()})


def investigate(
    case: Case,
    thresholds: Thresholds | None = None,
    min_severity: str = "medium",
    sources: Sequence[str] = (),
    zone: DisplayZone = UTC,
) -> Investigation:
    """Build a case's chains and findings, ready for the incident's views.

    Args:
        case: the case.
        thresholds: thresholds in force (default: ``Thresholds()``).
        min_severity: findings of this severity or above are the incident.
        sources: the sources as the user gave them (for msgtrace commands).
        zone: the zone the findings' texts give their times in.

    Raises:
        OptionError: an unknown severity.
    """
    at_least([], min_severity)  # a bad severity fails before the work
    chains = build_chains(case)
    findings = run_findings(case, chains, thresholds, zone)
    return Investigation(case, chains, findings, min_severity, tuple(sources))


__all__ = [
    "FindingFacts",
    "Investigation",
    "cited_rows",
    "investigate",
    "story_of",
    "time_ns",
]
