"""Findings: explainable detections an investigator must see, each with the rows behind it.

``run_findings(case, chains)`` runs every rule over a case and its chains and returns
``Finding`` objects, most urgent first. Each finding has a stable rule id, a severity, a
one-line title naming the entity, a plain-words explanation (why it matters, what to check
next), the entities involved, and evidence: the input rows (file and line) that triggered it.
No finding is made without evidence, and evidence is never invented. Every threshold lives in
``analyzer.findings.thresholds`` and can be overridden (``load_thresholds``).

``RULES`` lists every rule (id, default severity, what it finds); ``rules_markdown()`` renders
them and every threshold with its default as Markdown tables for the README.

Evidence is capped at ``max_evidence`` rows per finding (25 by default), in time order;
``evidence_total`` says how many rows supported the finding in all. Entity lists are capped at
``max_entities`` per kind (50 by default).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from analyzer.errors import OptionError
from analyzer.findings import (
    bursts,
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
from analyzer.findings.thresholds import Thresholds, describe, load_thresholds

if TYPE_CHECKING:
    from analyzer.case import Case
    from analyzer.chains import Chains


@dataclass(frozen=True)
class Rule:
    """One rule as documented: stable id, default severity, what it finds."""

    id: str
    severity: str
    description: str


#: Every rule: id, default severity (``a/b`` when it depends on the data), what it finds.
RULES: list[Rule] = [
    Rule(
        "external-forwarding",
        "high",
        "Inbox rules (MAILBOXRULE) and redirects (REDIRECT) sending an internal mailbox's "
        "mail to outside addresses, with the inbound messages that triggered them",
    ),
    Rule(
        "sender-rewritten-relay",
        "medium",
        "Outside mail relayed on to an outside address with a return path that differs from "
        "the sender (how Exchange Online rewrites the sender of mail it forwards)",
    ),
    Rule(
        "outbound-burst",
        "high",
        "One internal sender mailing many distinct outside recipients within a short window",
    ),
    Rule(
        "mass-subject",
        "medium",
        "One subject sent by internal senders to many distinct outside recipients (not "
        "repeated when every sender already has an outbound-burst finding)",
    ),
    Rule(
        "failure-spike",
        "medium",
        "Time buckets whose failure rate is well above the case's baseline, with the top NDR codes",
    ),
    Rule(
        "malware-detected",
        "high/medium",
        "Messages with a malware verdict (high when a copy was delivered)",
    ),
    Rule(
        "phish-detected",
        "high/medium",
        "Messages classified as phish or spoofing (high when a copy was delivered)",
    ),
    Rule(
        "outbound-spam",
        "high",
        "Mail from internal senders to outside recipients with a spam verdict",
    ),
    Rule("spam-verdict", "low", "Inbound and internal messages with a spam verdict (SFV, SCL)"),
    Rule("bulk-mail", "info", "Messages with a bulk verdict"),
    Rule("quarantined", "low", "Messages held in quarantine"),
    Rule(
        "delivered-despite-high-scl",
        "medium",
        "Messages delivered to an internal inbox although their SCL says spam",
    ),
    Rule(
        "lookalike-domain",
        "high",
        "Outside domains one character, a digit for a letter, or a homoglyph (IDN) away from "
        "the tenant's domains or a frequent correspondent",
    ),
    Rule(
        "first-seen-domain",
        "info",
        "Outside sender domains first seen in the last part of the case's time range",
    ),
    Rule(
        "transport-rule-hit",
        "medium/info",
        "Which transport rule acted on which messages with what action (medium for actions "
        "that copy, redirect, delete mail or set the SCL)",
    ),
    Rule(
        "rare-client-ip",
        "medium",
        "An internal sender seen from an IP that it, and every other internal sender, "
        "otherwise never uses",
    ),
    Rule(
        "shared-unusual-ip",
        "high",
        "Several internal senders each sending a few messages from one IP that is rare for "
        "each of them",
    ),
    Rule(
        "long-deferral",
        "low",
        "Recipients whose delivery was deferred for long, by recipient domain",
    ),
    Rule(
        "pending-at-end",
        "low",
        "Recipients still pending at the end of the data, by recipient domain",
    ),
    Rule(
        "mail-loop",
        "medium",
        "The same Internet message id received many times for one recipient, or a loop NDR "
        "(5.4.14, 5.4.6, 4.4.6)",
    ),
    Rule(
        "export-limit",
        "medium",
        "Inputs that stop exactly at an export limit (rows, or messages): probably truncated",
    ),
    Rule("coverage-gap", "medium", "Stretches of time between inputs that no input covers"),
    Rule("rejected-rows", "low/medium", "Rows or whole files rejected at ingest"),
]

#: The rule functions, in the order they run; each returns findings of one or more rule ids.
RULE_FUNCTIONS: tuple[Callable[[Context], list[Finding]], ...] = (
    forwarding.external_forwarding,
    forwarding.sender_rewritten_relay,
    bursts.outbound_burst,
    bursts.mass_subject,
    failures.failure_spike,
    verdicts.threat_verdicts,
    domains.lookalike_domains,
    domains.first_seen_domains,
    transport_rules.transport_rule_hits,
    ips.rare_ips,
    deferrals.long_deferrals,
    deferrals.pending_at_end,
    deferrals.mail_loops,
    evidence_quality.export_limits,
    evidence_quality.coverage_gaps,
    evidence_quality.rejected_rows,
)


def run_findings(case: Case, chains: Chains, thresholds: Thresholds | None = None) -> list[Finding]:
    """Run every rule over a case and its chains.

    Args:
        case: the case (its inputs' records feed the evidence-quality rules).
        chains: ``analyzer.chains.build_chains(case)``.
        thresholds: thresholds in force (default: ``Thresholds()``).

    Returns:
        Findings sorted by severity (high first), then rule id, then title.
    """
    context = Context(case=case, chains=chains, thresholds=thresholds or Thresholds())
    findings = [finding for rule in RULE_FUNCTIONS for finding in rule(context)]
    return sorted(findings, key=Finding.sort_key)


def case_findings(
    case: Case, thresholds: Thresholds | None = None, min_severity: str = "info"
) -> list[Finding]:
    """Build the case's chains and run every rule: what ``msgtrace findings`` prints.

    Args:
        case: the case.
        thresholds: thresholds in force (default: ``Thresholds()``).
        min_severity: leave out findings below this severity.

    Returns:
        The findings of ``min_severity`` or above, most urgent first.

    Raises:
        OptionError: an unknown severity.
    """
    from analyzer.chains import build_chains

    at_least([], min_severity)  # reject a bad severity before the work
    return at_least(run_findings(case, build_chains(case), thresholds), min_severity)


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


def _evidence_line(item: Evidence) -> str:
    where = f"{item.input or '?'}:{item.line}" if item.line is not None else (item.input or "?")
    when = (item.time or "").replace("T", " ").rstrip("Z")
    when = (when.split(".")[0] + " UTC") if when else "-"
    ident = item.message_id or item.network_message_id or "-"
    parts = [where, when, ident, item.recipient_address or "-"]
    text = "  ".join(parts)
    return text + (f"  ({item.detail})" if item.detail else "")


def findings_text(findings: list[Finding], width: int = 100) -> str:
    """Findings as text for a terminal, grouped by severity (most urgent first).

    Each finding: its title, explanation, entities, and evidence lines
    ``input:line  time UTC  message id  recipient  (detail)``.
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
            out.append(f"  [{finding.rule}] {finding.title}")
            out += textwrap.wrap(
                finding.explanation, width, initial_indent="    ", subsequent_indent="    "
            )
            for kind, values in sorted(finding.entities.items()):
                out += textwrap.wrap(
                    f"{kind}: {', '.join(values)}",
                    width,
                    initial_indent="    ",
                    subsequent_indent="      ",
                    break_on_hyphens=False,
                )
            shown = len(finding.evidence)
            out.append(f"    evidence ({shown} of {finding.evidence_total}):")
            out += [f"      {_evidence_line(item)}" for item in finding.evidence]
            out.append("")
    return "\n".join(out)


def rules_markdown() -> str:
    """The rules and every threshold with its default, as Markdown tables (for the README)."""
    lines = ["| rule | severity | what it finds |", "|---|---|---|"]
    lines += [f"| `{r.id}` | {r.severity} | {r.description} |" for r in RULES]
    lines += ["", "| threshold | default | meaning |", "|---|---|---|"]
    for name, default, meaning in describe():
        shown = ", ".join(default) if isinstance(default, tuple) else default
        lines.append(f"| `{name}` | {shown} | {meaning} |")
    return "\n".join(lines) + "\n"


__all__ = [
    "RULES",
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
