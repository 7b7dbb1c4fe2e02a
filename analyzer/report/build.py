"""Build the report: options, the context of the templates, the written file."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from markupsafe import Markup

from analyzer import __version__
from analyzer.case import Case
from analyzer.chains import (
    DIRECTIONS,
    FINAL_STATUSES,
    RELATED_RECIPIENT_WORDS,
    Chains,
    build_chains,
)
from analyzer.errors import AnalyzerError, OptionError
from analyzer.findings.model import Finding
from analyzer.report.charts import coverage_chart, volume_chart
from analyzer.report.context import CountRow, ReportContext
from analyzer.report.coverage import coverage_gaps, coverage_overlaps
from analyzer.report.detail import RAW_EVENT_HEADINGS, message_detail
from analyzer.report.embed import embedded_data, json_for_script
from analyzer.report.evidence import (
    input_spans,
    input_views,
    truncation_warnings,
    verification_view,
)
from analyzer.report.findings_view import severity_groups
from analyzer.report.overview import direction_counts, status_counts, top_lists
from analyzer.report.quality import caps_text, quality_view
from analyzer.report.render import inline_assets, render_report
from analyzer.report.selection import (
    also_seen,
    cited_message_keys,
    detail_events,
    select_rows,
    time_bounds,
)
from analyzer.store import atomic_write_bytes
from analyzer.timestamps import DisplayZone

_SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"


@dataclass(frozen=True)
class ReportOptions:
    """What the analyst chooses about a report.

    Attributes:
        title: the report's title (first heading and the browser tab).
        case_id: the incident or case reference shown in the header.
        analyst: who produced the report.
        display_tz: IANA time zone every time is shown in (labelled); raw rows stay UTC.
        message: a network or Internet message id: make a focused report on that message
            (its chains, its related messages and the findings that cite it).
        generated_at: ISO time to print as the generation time (naive means UTC); when
            None, ``SOURCE_DATE_EPOCH``, else the current time.
        max_detail_events: event rows embedded for the detail view, across all messages.
        max_events_per_message: event rows embedded for any one message.
        max_evidence_rows: evidence rows shown under each finding.
        max_listed_rejections: rejected rows listed in the data quality section.
    """

    title: str = "Message trace investigation report"
    case_id: str | None = None
    analyst: str | None = None
    display_tz: str = "UTC"
    message: str | None = None
    generated_at: str | None = None
    max_detail_events: int = 150_000
    max_events_per_message: int = 2_000
    max_evidence_rows: int = 25
    max_listed_rejections: int = 500


def resolve_generated_at(value: str | None, environ: Mapping[str, str] | None = None) -> datetime:
    """The report's generation time: ``value``, else ``SOURCE_DATE_EPOCH``, else now (UTC).

    Args:
        value: an ISO 8601 time (naive means UTC), or None.
        environ: the environment to read ``SOURCE_DATE_EPOCH`` from (default: os.environ).

    Returns:
        An aware UTC datetime, to the second.

    Raises:
        OptionError: the time or ``SOURCE_DATE_EPOCH`` cannot be read.
    """
    environ = os.environ if environ is None else environ
    if value:
        try:
            stamp = pd.Timestamp(value)
        except (ValueError, TypeError):
            raise OptionError(
                f"--generated-at {value!r} is not an ISO time; use e.g. 2024-05-01T12:00:00Z"
            ) from None
        stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
        return stamp.to_pydatetime().replace(microsecond=0)
    epoch = environ.get(_SOURCE_DATE_EPOCH, "").strip()
    if epoch:
        try:
            return datetime.fromtimestamp(int(epoch), UTC)
        except (ValueError, OverflowError, OSError):
            raise OptionError(
                f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds since 1970; "
                "unset it or give --generated-at"
            ) from None
    return datetime.now(UTC).replace(microsecond=0)


def build_report_context(
    case: Case, chains: Chains, findings: Sequence[Finding], options: ReportOptions
) -> ReportContext:
    """Turn a case, its chains and its findings into what the templates show.

    Args:
        case: the ingested case (inputs, events, duplicates, warnings).
        chains: the case's chains (``analyzer.chains.build_chains``).
        findings: the findings (``analyzer.findings.run_findings``).
        options: the analyst's choices.

    Returns:
        The report context.

    Raises:
        OptionError: an unknown display time zone or a bad generation time.
        NotFoundError: ``options.message`` is not in the case.
    """
    zone = DisplayZone(options.display_tz)
    generated = resolve_generated_at(options.generated_at)
    rows = select_rows(chains, findings, options.message)
    messages, recipients, focus_key = rows.messages, rows.recipients, rows.focus_key
    embedded = detail_events(
        chains.events,
        messages,
        recipients,
        cited_message_keys(rows.findings),
        focus_key is not None,
        options.max_detail_events,
        options.max_events_per_message,
    )
    seen_elsewhere = also_seen(case, embedded.events)
    spans = input_spans(case)
    inputs = input_views(case, spans, zone)
    focus_view = None
    if focus_key is not None:
        focus_view = message_detail(
            focus_key,
            messages,
            recipients,
            embedded.events,
            seen_elsewhere,
            rows.links,
            rows.link_ids,
            case,
            zone,
            embedded.note,
        )
    data = embedded_data(
        case,
        messages,
        recipients,
        embedded.events,
        seen_elsewhere,
        rows.links,
        embedded.state,
        rows.link_ids,
        zone,
        options.max_detail_events,
        options.max_events_per_message,
    )
    css, js, csp = inline_assets()
    times = time_bounds(messages)
    groups = severity_groups(
        rows.findings, messages, rows.link_ids, case, zone, options.max_evidence_rows
    )
    return ReportContext(
        title=options.title or ReportOptions.title,
        case_id=options.case_id or "",
        analyst=options.analyst or "",
        tool_version=__version__,
        generated_at=zone.format(generated)
        + ("" if zone.is_utc else f" ({generated:%Y-%m-%d %H:%M:%S} UTC)"),
        generated_at_utc=generated.strftime("%Y-%m-%dT%H:%M:%SZ"),
        zone_name=zone.name,
        zone_note=zone.note(),
        focus=focus_view,
        focus_query=options.message or "",
        totals=(
            CountRow("events", rows.event_count, ""),
            CountRow("messages", messages.num_rows, ""),
            CountRow("message × recipient rows", recipients.num_rows, ""),
            CountRow("input files", len(case.inputs), ""),
        ),
        time_range=(
            f"{zone.format(times[0])} to {zone.format(times[1])}" if times else "no dated events"
        ),
        inputs=inputs,
        verification=verification_view(case),
        coverage=coverage_chart(inputs, spans, zone),
        coverage_gaps=coverage_gaps(spans, zone),
        coverage_overlaps=coverage_overlaps(spans),
        truncation_warnings=truncation_warnings(case),
        status_counts=status_counts(recipients),
        direction_counts=direction_counts(messages),
        volume=None if focus_key else volume_chart(recipients, zone),
        top_lists=() if focus_key else top_lists(messages, recipients),
        severity_groups=groups,
        findings_total=sum(len(g.findings) for g in groups),
        quality=quality_view(
            case, recipients, messages, rows.link_ids, options.max_listed_rejections
        ),
        caps=caps_text(
            embedded.note, options.max_evidence_rows, rows.findings, focus_key is not None
        ),
        statuses=FINAL_STATUSES,
        directions=DIRECTIONS,
        raw_event_headings=RAW_EVENT_HEADINGS,
        related_recipient_words=RELATED_RECIPIENT_WORDS,
        table_rows=recipients.num_rows,
        data_json=Markup(json_for_script(data)),
        css=Markup(css),
        js=Markup(js),
        csp=csp,
    )


def write_report(
    case: Case,
    chains: Chains,
    findings: Sequence[Finding],
    options: ReportOptions,
    path: str | os.PathLike[str],
) -> str:
    """Build, render and write the report to ``path`` (UTF-8).

    Args:
        case: the ingested case.
        chains: its chains.
        findings: its findings.
        options: the analyst's choices.
        path: the ``.html`` file to write (overwritten).

    Returns:
        The sha256 (hex) of the written file.

    Raises:
        AnalyzerError: a bad option, an unknown message, or the file cannot be written.
    """
    html = render_report(build_report_context(case, chains, findings, options))
    payload = html.encode("utf-8")
    target = Path(path)
    try:
        atomic_write_bytes(target, payload)
    except OSError as error:
        raise AnalyzerError(
            f"{target}: cannot write the report ({error.strerror or error}); choose another -o path"
        ) from None
    return hashlib.sha256(payload).hexdigest()


def report_case(case: Case, options: ReportOptions, path: str | os.PathLike[str]) -> str:
    """Run the chains and findings stages on ``case`` and write its report to ``path``.

    Args:
        case: the ingested case.
        options: the analyst's choices.
        path: the ``.html`` file to write.

    Returns:
        The sha256 (hex) of the written file.
    """
    from analyzer.findings import run_findings  # the rules are only needed here

    chains = build_chains(case)
    zone = DisplayZone(options.display_tz)  # finding texts give their times in it too
    return write_report(case, chains, run_findings(case, chains, zone=zone), options, path)
