"""The findings section: findings grouped by severity, each with its first evidence rows."""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa

from analyzer.case import Case
from analyzer.findings.model import SEVERITIES, Finding
from analyzer.report.context import EvidenceView, FindingView, SeverityGroup
from analyzer.report.evidence import parse_time
from analyzer.timestamps import DisplayZone

#: The order the report shows severities in: most urgent first (the findings model lists
#: them least urgent first).
SEVERITIES_MOST_URGENT_FIRST = tuple(reversed(SEVERITIES))


def severity_groups(
    findings: Sequence[Finding],
    messages: pa.Table,
    link_ids: list[str],
    case: Case,
    zone: DisplayZone,
    max_evidence_rows: int,
) -> tuple[SeverityGroup, ...]:
    """The findings by severity, most urgent first, in the rules' order within a severity.

    Args:
        findings: the findings to show.
        messages: the report's messages (row ``m``), to link evidence to.
        link_ids: per message, the id it is linked by.
        case: the case (for input paths).
        zone: the display zone.
        max_evidence_rows: evidence rows shown under each finding.

    Returns:
        One group per severity that has findings.
    """
    link_by_key = dict(zip(messages.column("message_key").to_pylist(), link_ids, strict=True))
    paths = case.input_paths()
    rank = {severity: index for index, severity in enumerate(SEVERITIES_MOST_URGENT_FIRST)}
    ordered = sorted(
        enumerate(findings), key=lambda pair: (rank.get(pair[1].severity, len(rank)), pair[0])
    )
    groups: dict[str, list[FindingView]] = {}
    for number, (_, finding) in enumerate(ordered, start=1):
        evidence = []
        for item in finding.evidence[:max_evidence_rows]:
            link = link_by_key.get(item.message_key or "", "")
            evidence.append(
                EvidenceView(
                    time=zone.format(parse_time(item.time)),
                    message_link=link,
                    message_label=item.network_message_id or item.message_id or "",
                    recipient=item.recipient_address or "",
                    event_id=item.event_id or "",
                    input=item.input or paths.get(item.input_id or "", ""),
                    line="" if item.line is None else str(item.line),
                    detail=item.detail or "",
                )
            )
        groups.setdefault(finding.severity, []).append(
            FindingView(
                anchor=f"finding-{number}",
                rule=finding.rule,
                severity=finding.severity,
                title=finding.title,
                explanation=finding.explanation,
                entities=tuple(
                    (kind, tuple(values)) for kind, values in sorted(finding.entities.items())
                ),
                evidence=tuple(evidence),
                evidence_total=max(finding.evidence_total, len(finding.evidence)),
            )
        )
    order = list(SEVERITIES_MOST_URGENT_FIRST) + sorted(
        set(groups) - set(SEVERITIES_MOST_URGENT_FIRST)
    )
    return tuple(SeverityGroup(s, tuple(groups[s])) for s in order if s in groups)
