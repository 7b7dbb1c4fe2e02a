"""The incident: what the findings say together, led by the mailboxes that acted.

The stage after findings. From a case, its chains and its findings (``investigate``; or
``Investigation(case, chains, findings)`` when they are built already) it computes:

- the incident summary (``incident_summary``, ``msgtrace summary``): the affected mailboxes,
  ranked, each with its roles and the findings naming it; one timeline of the key moments of
  every finding in scope; one de-duplicated checklist of next steps with ready-to-run,
  read-only commands (``summary``, ``timeline``, ``steps``);
- the view of a mailbox (``mailbox_view``, ``msgtrace mailbox``): what it sent and received,
  new correspondents, sending IPs, forwards and redirects out, its findings (``mailbox``);
- the indicators behind the findings and who to notify (``indicators``, ``msgtrace iocs``;
  ``iocs``);
- the report's links both ways (``case_links``; ``links``).

How a finding enters the incident is declared by its rule (``analyzer.findings.story``): its
mailbox roles, key moments, next steps and indicators. Every moment, role and time comes from
input rows (evidence rows, the row the evidence cap left out, and the rows that delivered and
removed copies of the cited messages, ``delivery``); nothing is assumed. Every JSON time is
ISO 8601 UTC with 7 fractional digits and ``Z`` (``analyzer.timestamps.iso_utc``); text shows
times in a ``DisplayZone``, export text made terminal-safe; commands quote every value
(``commands``).

Scope: findings of ``min_severity`` or above (medium by default); low and info findings are
context, shown by ``msgtrace findings``. A finding's id is ``finding-<n>``, its place in the
findings list, most urgent first.
"""

from __future__ import annotations

from collections.abc import Sequence

from analyzer.case import Case
from analyzer.findings import Thresholds
from analyzer.incident.base import FindingFacts, Investigation, investigate
from analyzer.incident.iocs import (
    Indicator,
    Indicators,
    Notify,
    indicators,
    indicators_csv,
    indicators_text,
)
from analyzer.incident.links import CaseLinks, FindingLinks, case_links, findings_by_message
from analyzer.incident.mailbox import (
    MailboxView,
    mailbox_text,
    mailbox_view,
    mailbox_views,
    parse_since,
)
from analyzer.incident.steps import NextStep, next_steps
from analyzer.incident.summary import (
    AffectedMailbox,
    MailboxRole,
    Summary,
    affected_mailboxes,
    incident_summary,
    summary_text,
)
from analyzer.incident.timeline import Entry, Row, incident_timeline
from analyzer.timestamps import UTC, DisplayZone


def case_summary(
    case: Case,
    thresholds: Thresholds | None = None,
    min_severity: str = "medium",
    sources: Sequence[str] = (),
    zone: DisplayZone = UTC,
) -> Summary:
    """Build the chains and findings of a case and summarize the incident.

    Args:
        case: the case.
        thresholds: thresholds in force (default: ``Thresholds()``).
        min_severity: findings of this severity or above are the incident.
        sources: the sources as the user gave them (for the msgtrace commands).

    Raises:
        OptionError: an unknown severity.
    """
    return incident_summary(investigate(case, thresholds, min_severity, sources, zone))


def case_mailbox(
    case: Case,
    address: str,
    since: str | None = None,
    thresholds: Thresholds | None = None,
    sources: Sequence[str] = (),
    zone: DisplayZone = UTC,
) -> MailboxView:
    """The view of one mailbox of a case.

    Args:
        case: the case.
        address: the mailbox (any case, with or without ``<>``).
        since: ISO time to count new correspondents from (default: its first suspicious
            time).
        thresholds: thresholds in force.
        sources: the sources as the user gave them.

    Raises:
        OptionError: ``since`` is not a time.
        NotFoundError: the address sends and receives nothing in the data.
    """
    since_ns = parse_since(since)  # a bad time fails before the work
    return mailbox_view(
        investigate(case, thresholds, sources=sources, zone=zone), address, since_ns
    )


def case_indicators(
    case: Case,
    thresholds: Thresholds | None = None,
    min_severity: str = "medium",
    zone: DisplayZone = UTC,
) -> Indicators:
    """The indicators behind a case's findings in scope, and who to notify.

    Raises:
        OptionError: an unknown severity.
    """
    return indicators(investigate(case, thresholds, min_severity, zone=zone))


__all__ = [
    "AffectedMailbox",
    "CaseLinks",
    "Entry",
    "FindingFacts",
    "FindingLinks",
    "Indicator",
    "Indicators",
    "Investigation",
    "MailboxRole",
    "MailboxView",
    "NextStep",
    "Notify",
    "Row",
    "Summary",
    "affected_mailboxes",
    "case_indicators",
    "case_links",
    "case_mailbox",
    "case_summary",
    "findings_by_message",
    "incident_summary",
    "incident_timeline",
    "indicators",
    "indicators_csv",
    "indicators_text",
    "investigate",
    "mailbox_text",
    "mailbox_view",
    "mailbox_views",
    "next_steps",
    "parse_since",
    "summary_text",
]
