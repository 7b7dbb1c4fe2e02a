"""Findings: explainable detections an investigator must see, each with the rows behind it.

``run_findings(case, chains)`` runs every rule over a case and its chains and returns
``Finding`` objects, most urgent first. Each finding has a stable rule id, a severity, a
one-line title naming the entity, a plain-words explanation (why it matters, what to check
next), the entities involved, and evidence: the input rows (file and line) that triggered it.
No finding is made without evidence, and evidence is never invented. Every threshold lives in
``analyzer.findings.thresholds`` and can be overridden (``load_thresholds``).

Each rule declares itself where its function is defined (``analyzer.findings.registry``);
``RULES`` is every declaration, in documentation order, and ``rules_markdown()`` renders them
and every threshold with its default as Markdown tables for the README.

Evidence is capped at ``max_evidence`` rows per finding (25 by default), in time order;
``evidence_total`` says how many rows supported the finding in all. Entity lists are capped at
``max_entities`` per kind (50 by default).

Titles and explanations give times in the run's display zone (``run_findings(...,
zone=DisplayZone("America/New_York"))``, ``--display-tz``), each labelled; evidence times and
everything else in the JSON stay ISO 8601 UTC.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING

from analyzer.errors import OptionError
from analyzer.findings import (
    bursts,
    deceptive_text,
    deferrals,
    domains,
    evidence_quality,
    failures,
    forwarding,
    ips,
    transport_rules,
    verdicts,
)
from analyzer.findings.base import Context
from analyzer.findings.model import SEVERITIES, SEVERITY_RANK, Evidence, Finding
from analyzer.findings.registry import Rule, collect
from analyzer.findings.thresholds import Thresholds, describe, load_thresholds
from analyzer.text import terminal_safe
from analyzer.timestamps import UTC, DisplayZone

if TYPE_CHECKING:
    from analyzer.case import Case
    from analyzer.chains import Chains


#: The rule modules, in the order their rules are documented and run: what an attacker does
#: with a mailbox first, then verdicts, correspondents, delivery, and the data's own gaps.
RULE_MODULES = (
    forwarding,
    bursts,
    failures,
    verdicts,
    domains,
    deceptive_text,
    transport_rules,
    ips,
    deferrals,
    evidence_quality,
)

#: Every rule (id, severities, what it finds, thresholds, function), as its function declares
#: it (``analyzer.findings.registry.rule``), in documentation and run order.
RULES: tuple[Rule, ...] = collect(RULE_MODULES)


def run_findings(
    case: Case,
    chains: Chains,
    thresholds: Thresholds | None = None,
    zone: DisplayZone = UTC,
) -> list[Finding]:
    """Run every rule over a case and its chains.

    Args:
        case: the case (its inputs' records feed the evidence-quality rules).
        chains: ``analyzer.chains.build_chains(case)``.
        thresholds: thresholds in force (default: ``Thresholds()``).
        zone: the zone titles and explanations give times in (default UTC).

    Returns:
        Findings sorted by severity (high first), then rule id, then title.
    """
    context = Context(case=case, chains=chains, thresholds=thresholds or Thresholds(), zone=zone)
    findings = [finding for rule in RULES for finding in rule.function(context)]
    return sorted(findings, key=Finding.sort_key)


def case_findings(
    case: Case,
    thresholds: Thresholds | None = None,
    min_severity: str = "info",
    zone: DisplayZone = UTC,
) -> list[Finding]:
    """Build the case's chains and run every rule: what ``msgtrace findings`` prints.

    Args:
        case: the case.
        thresholds: thresholds in force (default: ``Thresholds()``).
        min_severity: leave out findings below this severity.
        zone: the zone titles and explanations give times in (default UTC).

    Returns:
        The findings of ``min_severity`` or above, most urgent first.

    Raises:
        OptionError: an unknown severity.
    """
    from analyzer.chains import build_chains

    at_least([], min_severity)  # reject a bad severity before the work
    return at_least(run_findings(case, build_chains(case), thresholds, zone), min_severity)


def at_least(findings: list[Finding], min_severity: str) -> list[Finding]:
    """The findings of ``min_severity`` or above.

    Raises:
        OptionError: an unknown severity.
    """
    if min_severity not in SEVERITY_RANK:
        raise OptionError(f"unknown severity {min_severity!r}; use one of {', '.join(SEVERITIES)}")
    floor = SEVERITY_RANK[min_severity]
    return [f for f in findings if SEVERITY_RANK[f.severity] >= floor]


def findings_json(findings: list[Finding]) -> list[dict]:
    """The documented JSON list: ``[{"rule", "severity", "title", "explanation", "entities",
    "evidence": [{"network_message_id", "message_id", "message_key", "recipient_address",
    "event_id", "time", "input", "input_id", "line", "detail"}], "evidence_total"}]``."""
    return [finding.to_json() for finding in findings]


def _evidence_line(item: Evidence, zone: DisplayZone) -> str:
    where = f"{item.input or '?'}:{item.line}" if item.line is not None else (item.input or "?")
    ident = item.message_id or item.network_message_id or "-"
    parts = [where, zone.format(item.time), ident, item.recipient_address or "-"]
    text = "  ".join(parts)
    return text + (f"  ({item.detail})" if item.detail else "")


def findings_text(findings: list[Finding], width: int = 100, zone: DisplayZone = UTC) -> str:
    """Findings as text for a terminal, grouped by severity (most urgent first).

    Each finding: its title, explanation, entities, and evidence lines
    ``input:line  time  message id  recipient  (detail)``, times in ``zone`` (labelled).
    Every value is shown with its hidden characters visible (``analyzer.text.terminal_safe``):
    an export's line break or escape sequence cannot fake or rewrite a line.
    """
    if not findings:
        return "No findings.\n"
    out: list[str] = []
    for severity in reversed(SEVERITIES):
        group = [f for f in findings if f.severity == severity]
        if not group:
            continue
        out.append(f"{severity.upper()} ({len(group)})")
        out.append("")
        for finding in group:
            out.append(f"  [{finding.rule}] {terminal_safe(finding.title)}")
            out += textwrap.wrap(
                terminal_safe(finding.explanation),
                width,
                initial_indent="    ",
                subsequent_indent="    ",
            )
            for kind, values in sorted(finding.entities.items()):
                out += textwrap.wrap(
                    terminal_safe(f"{kind}: {', '.join(values)}"),
                    width,
                    initial_indent="    ",
                    subsequent_indent="      ",
                    break_on_hyphens=False,
                )
            shown = len(finding.evidence)
            out.append(f"    evidence ({shown} of {finding.evidence_total}):")
            out += [f"      {terminal_safe(_evidence_line(i, zone))}" for i in finding.evidence]
            out.append("")
    return "\n".join(out)


def rules_markdown() -> str:
    """The rules and every threshold with its default, as Markdown tables (for the README)."""
    lines = ["| rule | severity | what it finds |", "|---|---|---|"]
    lines += [f"| `{r.id}` | {r.severity} | {r.summary} |" for r in RULES]
    lines += ["", "| threshold | default | meaning |", "|---|---|---|"]
    for name, default, meaning in describe():
        shown = ", ".join(default) if isinstance(default, tuple) else default
        lines.append(f"| `{name}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


__all__ = [
    "RULES",
    "RULE_MODULES",
    "SEVERITIES",
    "Evidence",
    "Finding",
    "Rule",
    "Thresholds",
    "at_least",
    "case_findings",
    "findings_json",
    "findings_text",
    "load_thresholds",
    "rules_markdown",
    "run_findings",
]
