"""Links both ways, for the report: messages to the findings citing them, findings to the
mailboxes, domains and IPs they name, and each of those mailboxes to its view.

``case_links`` computes them once for a whole case: the citing findings from the findings'
own rows (evidence, and the last row the evidence cap left out), the mailbox views in one
vectorized pass (``analyzer.incident.mailbox.mailbox_views``) for every internal mailbox any
finding names. A renderer looks things up; it derives nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzer.identifiers import address_text
from analyzer.incident.base import Investigation, cited_rows
from analyzer.incident.mailbox import MailboxView, mailbox_views


@dataclass(frozen=True)
class FindingLinks:
    """What one finding links to.

    Attributes:
        mailboxes: every mailbox it names (its entities), sorted: each filters the messages
            table.
        mailbox_pages: those of them that have a mailbox view (internal mailboxes in the data).
        domains, ips: the domains and IPs it names.
    """

    mailboxes: tuple[str, ...]
    mailbox_pages: tuple[str, ...]
    domains: tuple[str, ...]
    ips: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "mailboxes": list(self.mailboxes),
            "mailbox_pages": list(self.mailbox_pages),
            "domains": list(self.domains),
            "ips": list(self.ips),
        }


@dataclass(frozen=True)
class CaseLinks:
    """The report's links of a case.

    Attributes:
        findings_by_message: message_key -> the ids of the findings citing it, in the
            findings' order.
        findings: finding id -> what it links to.
        mailboxes: mailbox -> its view, for every internal mailbox a finding names.
    """

    findings_by_message: dict[str, tuple[str, ...]]
    findings: dict[str, FindingLinks]
    mailboxes: dict[str, MailboxView]


def findings_by_message(inv: Investigation) -> dict[str, tuple[str, ...]]:
    """message_key -> the ids of the findings whose rows cite it (all severities)."""
    citing: dict[str, list[str]] = {}
    for finding, finding_id in zip(inv.findings, inv.ids, strict=True):
        for item in cited_rows(finding):
            if item.message_key:
                ids = citing.setdefault(item.message_key, [])
                if finding_id not in ids:
                    ids.append(finding_id)
    return {key: tuple(ids) for key, ids in sorted(citing.items())}


def case_links(inv: Investigation) -> CaseLinks:
    """Every link the report needs, for the whole case (see the module doc)."""
    named: list[str] = []
    for index in range(len(inv.findings)):
        facts = inv.facts(index)
        named += [*facts.actor, *facts.recipients, *facts.delivered_mailboxes]
    views = mailbox_views(inv, sorted(set(named)))
    links = {}
    for finding, finding_id in zip(inv.findings, inv.ids, strict=True):
        mailboxes = sorted({a for a in map(address_text, finding.entities.get("mailbox", [])) if a})
        links[finding_id] = FindingLinks(
            mailboxes=tuple(mailboxes),
            mailbox_pages=tuple(m for m in mailboxes if m in views),
            domains=tuple(sorted(finding.entities.get("domain", []))),
            ips=tuple(sorted(finding.entities.get("ip", []))),
        )
    return CaseLinks(findings_by_message(inv), links, views)


__all__ = ["CaseLinks", "FindingLinks", "case_links", "findings_by_message"]
