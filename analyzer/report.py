"""The static HTML investigation report: one self-contained, safe, deterministic file.

The last stage of the pipeline (case -> chains -> findings -> report). ``build_report_context``
turns a case, its chains and its findings into a ``ReportContext``, the one documented object
the templates (``reports/templates/``) may use; ``render_report`` renders it; ``write_report``
writes the file and returns its sha256.

What the page holds:

- Server-rendered (jinja2, autoescaped): header, evidence (inputs, coverage chart), overview
  (counts, volume chart, top lists), findings, data quality, and in a focused report
  (``--message``) the chosen message's chains. Charts are inline SVG drawn from geometry
  computed here, so every label goes through autoescaping too.
- One JSON data block (``<script type="application/json" id="report-data">``, escaped by
  ``json_for_script``) from which ``report.js`` renders the messages table and the message
  detail view. It is compact: tables are a column list plus arrays of rows, and every string
  is interned in one list (``s``, most frequent first) so rows hold small integers.

What is capped (``ReportOptions``): the messages table and the message list are complete; the
event rows behind the detail view are embedded for every message cited by a finding first,
then for the newest messages, until ``max_detail_events`` events, and at most
``max_events_per_message`` per message. A message without embedded events still shows its
recipients, final statuses, SMTP replies and verdicts. Findings show at most
``max_evidence_rows`` evidence rows each; data quality lists at most ``max_listed_rejections``
rejected rows. The report says what was capped.

Determinism: no clock unless no time is given (``--generated-at``, else
``SOURCE_DATE_EPOCH``), every list sorted with explicit tie-breakers, no random ids, so the
same inputs and options give a byte-identical file.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from markupsafe import Markup

from analyzer import __version__
from analyzer.case import Case
from analyzer.chains import DIRECTIONS, FINAL_STATUSES, Chains, build_chains, resolve_message
from analyzer.errors import AnalyzerError, OptionError
from analyzer.findings.model import SEVERITIES as FINDING_SEVERITIES
from analyzer.findings.model import Finding
from analyzer.timestamps import DisplayZone, duration_text, iso_utc

#: Final statuses and directions in the order the report lists them (the chains vocabulary).
STATUSES = FINAL_STATUSES
#: Severities, most urgent first (the findings model lists them least urgent first).
SEVERITIES = tuple(reversed(FINDING_SEVERITIES))

#: The Content-Security-Policy of every report: nothing may be fetched, posted or framed.
#: Only the page's own inline style and script run, pinned by their sha256.
CSP_TEMPLATE = (
    "default-src 'none'; style-src '{style}'; script-src '{script}'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)

_SOURCE_DATE_EPOCH = "SOURCE_DATE_EPOCH"
_STRING = pa.string()
_NS_PER_MS = 1_000_000
_TICKS_PER_MS = 10_000  # event times are embedded in 100 ns ticks: all 7 fractional digits


# ---------------------------------------------------------------------------------------------
# Options and the context the templates receive
# ---------------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class Tick:
    """An axis label of a chart at ``position`` (SVG user units), on one or two lines."""

    position: float
    label: str
    second_line: str = ""


@dataclass(frozen=True)
class Bar:
    """A rectangle of a chart; ``label`` is its tooltip and accessible name."""

    x: float
    y: float
    width: float
    height: float
    css_class: str
    label: str


@dataclass(frozen=True)
class CountRow:
    """One line of a count table: a label, its count and its share of the total."""

    label: str
    count: int
    share: str
    css_class: str = ""


@dataclass(frozen=True)
class TopList:
    """A "top N" table of the overview (senders, recipients, domains, IPs)."""

    title: str
    column: str
    counted: str
    rows: tuple[CountRow, ...]


@dataclass(frozen=True)
class VolumeChart:
    """Stacked bars of message x recipient rows per time bucket, by final status.

    ``table`` repeats the figures as rows of (bucket label, counts in ``statuses`` order) for
    screen readers and print.
    """

    width: int
    height: int
    plot_left: float
    plot_top: float
    plot_width: float
    plot_height: float
    bucket: str
    bars: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    legend: tuple[CountRow, ...]
    statuses: tuple[str, ...]
    table: tuple[tuple[str, tuple[int, ...]], ...]


@dataclass(frozen=True)
class CoverageLane:
    """One input's lane in the coverage chart: its number, label and covered span (if any)."""

    y: float
    number: int
    label: str
    bar: Bar | None


@dataclass(frozen=True)
class CoverageChart:
    """Time covered by each input on one axis, with the gaps no input covers."""

    width: int
    height: int
    plot_left: float
    plot_width: float
    lane_height: float
    lanes: tuple[CoverageLane, ...]
    gaps: tuple[Bar, ...]
    x_ticks: tuple[Tick, ...]


@dataclass(frozen=True)
class InputView:
    """One input file as the evidence section shows it."""

    number: int
    path: str
    size: int
    size_text: str
    sha256: str
    format: str
    encoding: str
    rows_read: int
    rows_ingested: int
    rows_duplicate: int
    rows_rejected: int
    first_event: str
    last_event: str
    status: str
    error: str
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class EvidenceView:
    """One evidence row under a finding; ``message_link`` is the id for ``#message=``."""

    time: str
    message_link: str
    message_label: str
    recipient: str
    event_id: str
    input: str
    line: str
    detail: str


@dataclass(frozen=True)
class FindingView:
    """One finding with its explanation, entities and (capped) evidence."""

    anchor: str
    rule: str
    severity: str
    title: str
    explanation: str
    entities: tuple[tuple[str, tuple[str, ...]], ...]
    evidence: tuple[EvidenceView, ...]
    evidence_total: int


@dataclass(frozen=True)
class SeverityGroup:
    """The findings of one severity."""

    severity: str
    findings: tuple[FindingView, ...]


@dataclass(frozen=True)
class RejectedView:
    """A rejected input row: where it stood and why it was rejected."""

    input: str
    line: str
    reason: str


@dataclass(frozen=True)
class QualityView:
    """Data quality: rejected rows (capped), warnings, and recipients with conflicting facts."""

    rejected: tuple[RejectedView, ...]
    rejected_total: int
    input_errors: tuple[tuple[str, str], ...]
    warnings: tuple[tuple[str, str], ...]
    conflicts: tuple[tuple[str, str, str, str], ...]  # (link id, message, recipient, conflict)
    conflicts_total: int


@dataclass(frozen=True)
class EventView:
    """One event row of the focused message: in a recipient's chain and in the raw rows."""

    time: str
    time_utc: str
    recipient: str
    event_id: str
    source: str
    status: str
    related_recipient: str
    gap: str
    gap_level: str  # "", "gap" (>= 5 minutes) or "long-gap" (>= 1 hour)
    message_time_only: bool
    in_timeline: bool  # False: a fact another export timed better (raw rows only)
    input: str
    line: str
    report_type: str
    also_seen: str
    detail: str
    reference: str
    client: str
    server: str
    custom_data: str


@dataclass(frozen=True)
class RecipientView:
    """One recipient of the focused message with its chain."""

    address: str
    depth: int
    parent: str
    relation: str
    final_status: str
    status_code: str
    smtp_reply: str
    status_meaning: str
    verdicts: tuple[tuple[str, str], ...]
    duration: str
    deferrals: str
    conflict: str
    events: tuple[EventView, ...]


@dataclass(frozen=True)
class MessageDetailView:
    """The focused message, rendered on the server so it prints and reads without script."""

    link: str
    network_message_id: str
    message_id: str
    sender: str
    subject: str
    first_time: str
    last_time: str
    direction: str
    total_bytes: str
    recipients: tuple[RecipientView, ...]
    related: tuple[tuple[str, str, str, str], ...]  # (link id, relation words, id, subject)
    events_note: str
    raw_events: tuple[EventView, ...]  # every embedded row of the message, any recipient


@dataclass(frozen=True)
class ReportContext:
    """Everything the report templates may use, and nothing else.

    Every string is plain text: the templates autoescape it. The three ``Markup`` fields are
    produced here and are safe by construction: ``data_json`` by ``json_for_script``, ``css``
    and ``js`` from the package's own files (checked not to contain a closing tag).

    Attributes:
        title, case_id, analyst, tool_version: header fields ("" when not given).
        generated_at: the generation time in the display zone, labelled.
        generated_at_utc: the same as ISO 8601 UTC.
        zone_name: the display time zone (IANA name).
        zone_note: one sentence on how times are shown.
        focus: the focused message (``--message``), else None.
        focus_query: the id the analyst asked for, else "".
        totals: headline counts (events, messages, message x recipient rows, inputs).
        time_range: first and last event time, labelled.
        inputs: every input file (evidence section).
        coverage: the coverage chart (None without any dated input).
        coverage_gaps, coverage_overlaps: the gaps and overlaps in words.
        truncation_warnings: inputs that probably stop at an export limit, in words.
        status_counts: message x recipient rows by final status.
        direction_counts: messages by direction.
        volume: the volume chart (None without dated rows).
        top_lists: top senders, recipients, sender domains, sending IPs.
        severity_groups: findings by severity, highest first.
        findings_total: number of findings shown.
        quality: the data quality section.
        caps: what this report left out, in words.
        statuses, directions: filter choices of the messages table.
        raw_event_headings: column headings of a message's raw event rows.
        table_rows: rows of the messages table.
        data_json: the embedded data block.
        css, js, csp: the inline stylesheet, script and the Content-Security-Policy.
    """

    title: str
    case_id: str
    analyst: str
    tool_version: str
    generated_at: str
    generated_at_utc: str
    zone_name: str
    zone_note: str
    focus: MessageDetailView | None
    focus_query: str
    totals: tuple[CountRow, ...]
    time_range: str
    inputs: tuple[InputView, ...]
    coverage: CoverageChart | None
    coverage_gaps: tuple[str, ...]
    coverage_overlaps: tuple[str, ...]
    truncation_warnings: tuple[str, ...]
    status_counts: tuple[CountRow, ...]
    direction_counts: tuple[CountRow, ...]
    volume: VolumeChart | None
    top_lists: tuple[TopList, ...]
    severity_groups: tuple[SeverityGroup, ...]
    findings_total: int
    quality: QualityView
    caps: tuple[str, ...]
    statuses: tuple[str, ...]
    directions: tuple[str, ...]
    raw_event_headings: tuple[str, ...]
    table_rows: int
    data_json: Markup
    css: Markup
    js: Markup
    csp: str


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def json_for_script(obj: Any) -> str:
    """Serialize ``obj`` as JSON that is safe inside a ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c``, ``\\u003e``, ``\\u0026`` (so ``</script>`` or
    ``<!--`` in a subject cannot end or alter the element), and U+2028 / U+2029 are escaped
    too. The output is compact and deterministic (keys keep their insertion order, which the
    report builds in a fixed order).

    Args:
        obj: JSON-serializable data.

    Returns:
        The JSON text, ready to place between ``<script type="application/json">`` tags.
    """
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    # These characters only ever occur inside JSON strings, where \uXXXX means the same.
    return (
        text.replace("&", "\\u0026")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


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
    messages = _sorted_messages(chains.messages)
    message_keys = messages.column("message_key")

    focus_key = None
    selected_keys = message_keys
    if options.message:
        focus_key = resolve_message(chains, options.message)
        selected_keys = pa.array(_focus_keys(chains.links, focus_key), pa.string())
        keep = pc.is_in(message_keys, value_set=selected_keys)
        messages = messages.filter(keep)
        message_keys = messages.column("message_key")
        selected = set(selected_keys.to_pylist())
        findings = [f for f in findings if any(e.message_key in selected for e in f.evidence)]

    recipients = chains.recipients.filter(
        pc.is_in(chains.recipients.column("message_key"), value_set=message_keys)
    )
    recipients = _with_message_index(recipients, message_keys)
    recipients = recipients.sort_by(
        [("m", "ascending"), ("_address_lower", "ascending"), ("recipient_address", "ascending")]
    )

    cited = _cited_message_keys(findings)
    events, detail_state, events_note = _detail_events(
        chains.events, messages, cited, focus_key is not None, options
    )
    also_seen = _also_seen(case, events)
    # A link is shown from both of its messages; its original may be missing from the data.
    links = chains.links.filter(
        pc.or_(
            pc.is_in(chains.links.column("message_key"), value_set=message_keys),
            pc.is_in(chains.links.column("related_message_key"), value_set=message_keys),
        )
    )

    spans = _input_spans(case)
    inputs = _input_views(case, spans, zone)
    link_ids = _message_link_ids(messages)
    focus_view = None
    if focus_key is not None:
        focus_view = _message_detail(
            focus_key,
            messages,
            recipients,
            events,
            also_seen,
            links,
            link_ids,
            case,
            zone,
            events_note,
        )
    data = _embedded_data(
        case,
        messages,
        recipients,
        events,
        also_seen,
        links,
        detail_state,
        link_ids,
        zone,
        options,
    )
    css, js = _static_text("report.css"), _static_text("report.js")
    csp = CSP_TEMPLATE.format(style=_csp_hash(css), script=_csp_hash(js))
    times = _time_bounds(messages)
    status_counts = _status_counts(recipients)
    severity_groups = _severity_groups(findings, messages, link_ids, case, zone, options)
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
            CountRow("events", _event_count(chains, selected_keys, focus_key), ""),
            CountRow("messages", messages.num_rows, ""),
            CountRow("message × recipient rows", recipients.num_rows, ""),
            CountRow("input files", len(case.inputs), ""),
        ),
        time_range=(
            f"{zone.format(times[0])} to {zone.format(times[1])}" if times else "no dated events"
        ),
        inputs=inputs,
        coverage=_coverage_chart(inputs, spans, zone),
        coverage_gaps=_coverage_gaps(spans, zone),
        coverage_overlaps=_coverage_overlaps(spans),
        truncation_warnings=_truncation_warnings(case),
        status_counts=status_counts,
        direction_counts=_direction_counts(messages),
        volume=None if focus_key else _volume_chart(recipients, zone),
        top_lists=() if focus_key else _top_lists(messages, recipients),
        severity_groups=severity_groups,
        findings_total=sum(len(g.findings) for g in severity_groups),
        quality=_quality(case, recipients, messages, link_ids, options),
        caps=_caps_text(events_note, options, findings, focus_key is not None),
        statuses=STATUSES,
        directions=DIRECTIONS,
        raw_event_headings=RAW_EVENT_HEADINGS,
        table_rows=recipients.num_rows,
        data_json=Markup(json_for_script(data)),
        css=Markup(css),
        js=Markup(js),
        csp=csp,
    )


def render_report(context: ReportContext) -> str:
    """Render the report page.

    Args:
        context: what to show (``build_report_context``).

    Returns:
        The HTML text of the page.
    """
    return _environment().get_template("report.html").render(r=context)


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
        target.write_bytes(payload)
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
    return write_report(case, chains, run_findings(case, chains), options, path)


# ---------------------------------------------------------------------------------------------
# Time zone
# ---------------------------------------------------------------------------------------------


def zone_offsets(zone: DisplayZone, first_ns: int, last_ns: int, base_ms: int) -> list[list[Any]]:
    """UTC offsets of ``zone`` over a time range, for the page's script:
    ``[[from_ms, minutes, label]]``.

    ``from_ms`` is relative to ``base_ms``; each entry holds until the next. Sampled per
    hour (per day for ranges over 20 years), which catches every real zone transition.
    """
    if zone.is_utc or last_ns < first_ns:
        return [[0, 0, "UTC"]]
    step = "h" if last_ns - first_ns < 20 * 366 * 86_400 * 10**9 else "D"
    start = pd.Timestamp(first_ns, tz="UTC").floor("D") - pd.Timedelta(days=1)
    end = pd.Timestamp(last_ns, tz="UTC").ceil("D") + pd.Timedelta(days=1)
    points = pd.date_range(start, end, freq=step, tz="UTC")
    local = points.tz_convert(zone.zone)
    minutes = ((local.tz_localize(None) - points.tz_localize(None)).total_seconds() // 60).astype(
        "int64"
    )
    minutes = np.asarray(minutes)
    change = np.flatnonzero(np.r_[True, minutes[1:] != minutes[:-1]])
    result = []
    for index in change:
        start_ms = points[index].value // _NS_PER_MS - base_ms
        result.append([int(start_ms), int(minutes[index]), local[index].strftime("%Z")])
    result[0][0] = min(result[0][0], -(10**15))  # the first entry holds for all earlier times
    return result


# ---------------------------------------------------------------------------------------------
# Messages, recipients and events to embed
# ---------------------------------------------------------------------------------------------


def _sorted_messages(messages: pa.Table) -> pa.Table:
    """Messages in time order (unknown time last), ties broken by key: index ``m`` in the page."""
    first = messages.column("first_time")
    no_time = pc.is_null(first)
    table = messages.append_column("_no_time", no_time)
    return table.sort_by(
        [("_no_time", "ascending"), ("first_time", "ascending"), ("message_key", "ascending")]
    ).drop_columns(["_no_time"])


def _focus_keys(links: pa.Table, focus_key: str) -> list[str]:
    """The focused message and the messages linked to it (either direction), sorted."""
    keys = {focus_key}
    forward = links.filter(pc.equal(links.column("message_key"), focus_key))
    backward = links.filter(pc.equal(links.column("related_message_key"), focus_key))
    keys.update(forward.column("related_message_key").to_pylist())
    keys.update(backward.column("message_key").to_pylist())
    return sorted(k for k in keys if k is not None)


def _with_message_index(table: pa.Table, message_keys: pa.ChunkedArray) -> pa.Table:
    index = pc.index_in(table.column("message_key"), value_set=message_keys)
    table = table.append_column("m", index.cast(pa.int64()))
    return table.append_column("_address_lower", pc.utf8_lower(table.column("recipient_address")))


def _cited_message_keys(findings: Sequence[Finding]) -> list[str]:
    return sorted({e.message_key for f in findings for e in f.evidence if e.message_key})


#: Event columns the detail view uses (the rest of a chains event stays in the case).
_DETAIL_EVENT_COLUMNS = (
    "message_key",
    "recipient_address",
    "event_time",
    "time_basis",
    "event_id",
    "source",
    "recipient_status",
    "status_code",
    "related_recipient_address",
    "reference",
    "client_hostname",
    "client_ip",
    "server_hostname",
    "server_ip",
    "report_type",
    "input_id",
    "line",
    "event_key",
    "event_detail",
    "delivery_action",
    "reported_status",
    "custom_data",
    "lifecycle_rank",
    "in_timeline",
)


def _detail_events(
    chain_events: pa.Table,
    messages: pa.Table,
    cited: list[str],
    focused: bool,
    options: ReportOptions,
) -> tuple[pa.Table, np.ndarray, str]:
    """Pick the event rows to embed for the detail view, within the caps.

    Messages cited by findings come first, then the newest messages; events are taken per
    message (at most ``max_events_per_message``) until ``max_detail_events``. A focused
    report embeds its few messages in full up to the same caps.

    Returns:
        The events (sorted by message index, recipient, time, lifecycle rank, input, line)
        with a column ``m``; per message 0 (no events embedded), 1 (all) or 2 (cut at the
        per-message cap); and a note on what was left out ("" when nothing).
    """
    message_keys = messages.column("message_key")
    state = np.zeros(messages.num_rows, dtype=np.int64)
    # only the columns the page shows: filtering every column of a big case costs seconds
    shown = [name for name in _DETAIL_EVENT_COLUMNS if name in chain_events.column_names]
    m = _int_column(pc.index_in(chain_events.column("message_key"), value_set=message_keys))
    events = chain_events.select(shown).append_column("m", pa.array(m))
    per_message = np.bincount(m[m >= 0], minlength=messages.num_rows).astype(np.int64)
    if messages.num_rows == 0 or not per_message.any():
        events = events.slice(0, 0)
        return events.append_column("detail", _event_detail(events)), state, ""
    capped = np.minimum(per_message, options.max_events_per_message)
    cited_mask = np.asarray(
        pc.is_in(message_keys, value_set=pa.array(cited, pa.string())).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    # Priority: cited messages first, then newest first (messages are in time order, so a
    # larger index is newer); the index breaks ties.
    order = np.lexsort((-np.arange(messages.num_rows), ~cited_mask))
    order = order[capped[order] > 0]
    within = np.cumsum(capped[order]) <= options.max_detail_events
    chosen = order[within] if not focused else order
    state[chosen] = np.where(per_message[chosen] > capped[chosen], 2, 1)

    keep = pc.is_in(events.column("m"), value_set=pa.array(np.sort(chosen), pa.int64()))
    events = events.filter(keep)
    events = events.append_column(
        "_recipient_lower", pc.utf8_lower(pc.fill_null(events.column("recipient_address"), ""))
    )
    events = events.append_column("_input", pc.fill_null(events.column("input_id"), ""))
    events = events.sort_by(
        [
            ("m", "ascending"),
            ("_recipient_lower", "ascending"),
            ("event_time", "ascending"),
            ("lifecycle_rank", "ascending"),
            ("_input", "ascending"),
            ("line", "ascending"),
        ]
    )
    m_sorted = events.column("m").to_numpy()
    position = np.arange(len(m_sorted)) - np.searchsorted(m_sorted, m_sorted, side="left")
    events = events.filter(pa.array(position < options.max_events_per_message))
    events = events.append_column("detail", _event_detail(events))

    notes = []
    left_out = int(np.count_nonzero(state == 0) - np.count_nonzero(per_message == 0))
    if left_out:
        notes.append(
            f"event rows of {left_out:,} message(s) are not embedded (at most "
            f"{options.max_detail_events:,} event rows in all, messages cited by findings "
            "first, then the newest)"
        )
    cut = int(np.count_nonzero(state == 2))
    if cut:
        notes.append(
            f"{cut:,} message(s) have more than {options.max_events_per_message:,} event rows; "
            "only their first rows are embedded"
        )
    return events, state, "; ".join(notes)


def _also_seen(case: Case, events: pa.Table) -> dict[str, str]:
    """Other places each embedded event was seen (duplicate rows merged at ingest)."""
    duplicates = case.duplicates
    if duplicates.num_rows == 0 or events.num_rows == 0:
        return {}
    keys = pc.unique(pc.drop_null(events.column("event_key")))
    rows = duplicates.filter(pc.is_in(duplicates.column("event_key"), value_set=keys))
    if rows.num_rows == 0:
        return {}
    paths = case.input_paths()
    frame = rows.to_pandas()
    frame["where"] = (
        frame["input_id"].map(lambda i: paths.get(i, i)).astype(str)
        + ":"
        + frame["line"].astype("Int64").astype(str)
    )
    frame = frame.sort_values(["event_key", "input_id", "line"], kind="stable")
    return frame.groupby("event_key", sort=True)["where"].agg("; ".join).to_dict()


def _message_link_ids(messages: pa.Table) -> list[str]:
    """The id each message is linked by (``#message=``): its network id, else its key."""
    network = messages.column("network_message_id").to_pylist()
    keys = messages.column("message_key").to_pylist()
    return [n or k for n, k in zip(network, keys, strict=True)]


def _event_count(chains: Chains, selected_keys: pa.Array, focus_key: str | None) -> int:
    if focus_key is None:
        return chains.events.num_rows
    return int(
        pc.sum(pc.is_in(chains.events.column("message_key"), value_set=selected_keys)).as_py() or 0
    )


def _time_bounds(messages: pa.Table) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    values = [
        pc.min(messages.column("first_time")).as_py() if messages.num_rows else None,
        pc.max(messages.column("last_time")).as_py() if messages.num_rows else None,
    ]
    if values[0] is None or values[1] is None:
        return None
    return pd.Timestamp(values[0]), pd.Timestamp(values[1])


# ---------------------------------------------------------------------------------------------
# The embedded data block
# ---------------------------------------------------------------------------------------------


class _Interner:
    """Interns strings from many columns into one list, most frequent first.

    Index 0 is the empty string (null shows as empty); then strings by how often they occur,
    ties in case-insensitive order, so the common values (statuses, directions, replies) get
    one- or two-digit indexes and the data block stays small. All columns are encoded in one
    hashing pass (``add`` them all, ``freeze``, then ``index`` each).
    """

    def __init__(self) -> None:
        self._pending: list[pa.ChunkedArray] = []
        self._indexes: np.ndarray | None = None
        self._starts: list[int] = []
        self.add(pa.array([""], pa.string()))

    def add(self, values: pa.ChunkedArray | pa.Array) -> int:
        """Queue a column; returns the token to ``index`` it by after ``freeze``."""
        if isinstance(values, pa.Array):
            values = pa.chunked_array([values])
        self._pending.append(values.cast(pa.string()))
        return len(self._pending) - 1

    def freeze(self) -> list[str]:
        """Encode every queued column; returns the strings in index order."""
        chunks = [chunk for values in self._pending for chunk in values.chunks]
        encoded = pc.dictionary_encode(pa.chunked_array(chunks, pa.string()))
        dictionary = encoded.chunk(0).dictionary  # one dictionary for all chunks
        # null means "": dictionary entry 0 (the first value queued)
        codes = pa.chunked_array([chunk.indices for chunk in encoded.chunks], pa.int32())
        codes = np.asarray(pc.fill_null(codes, 0).to_numpy(), dtype=np.int64)
        alphabetical = pc.sort_indices(
            pa.table({"lower": pc.utf8_lower(dictionary), "value": dictionary}),
            sort_keys=[("lower", "ascending"), ("value", "ascending")],
        ).to_numpy()
        alpha_rank = np.empty(len(dictionary), dtype=np.int64)
        alpha_rank[alphabetical] = np.arange(len(dictionary))
        counts = np.bincount(codes, minlength=len(dictionary))
        counts[0] = np.iinfo(np.int64).max  # "" first
        order = np.lexsort((alpha_rank, -counts))
        ranks = np.empty(len(dictionary), dtype=np.int64)
        ranks[order] = np.arange(len(dictionary))
        self._indexes = ranks[codes]
        self._starts = list(np.cumsum([0] + [len(values) for values in self._pending]))
        return dictionary.take(pa.array(order)).to_pylist()

    def index(self, token: int) -> np.ndarray:
        """The string indexes of the column queued as ``token``."""
        assert self._indexes is not None, "freeze() first"
        return self._indexes[self._starts[token] : self._starts[token + 1]]


def _int_column(values: pa.ChunkedArray | pa.Array, missing: int = -1) -> np.ndarray:
    filled = pc.fill_null(values.cast(pa.int64()), missing)
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int64)


def _time_column(values: pa.ChunkedArray, base_ms: int, per_ms: int = 1) -> np.ndarray:
    """Times as integers after ``base_ms``: milliseconds (``per_ms`` 1) or 100 ns ticks."""
    nanos = values.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())
    array = np.asarray(pc.fill_null(nanos, np.iinfo(np.int64).min).to_numpy(zero_copy_only=False))
    missing = array == np.iinfo(np.int64).min
    relative = (array - base_ms * _NS_PER_MS) // (_NS_PER_MS // per_ms)
    relative[missing] = -1
    return relative


def _join_list(values: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
        return pc.binary_join(values, ", ")
    return values.cast(pa.string())


def _seconds_to_ms(values: pa.ChunkedArray) -> np.ndarray:
    milliseconds = pc.round(pc.multiply(values.cast(pa.float64()), 1000.0))
    return _int_column(milliseconds)


def _column(table: pa.Table, name: str, type_: pa.DataType = _STRING) -> pa.ChunkedArray:
    """A column of ``table``, or nulls when the producer did not fill it."""
    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, type_)])


def _rows(columns: list[np.ndarray]) -> list[list[int]]:
    if not columns or len(columns[0]) == 0:
        return []
    return np.column_stack(columns).tolist()


# Columns of the embedded tables. "s:" marks interned strings, "t:" times in ms after the
# base, "e:" event times in 100 ns ticks after the base, everything else plain integers
# (-1 means unknown).
MESSAGE_COLUMNS = (
    "s:key",
    "s:network_message_id",
    "s:message_id",
    "s:sender",
    "s:subject",
    "t:first_time",
    "t:last_time",
    "s:direction",
    "recipient_count",
    "total_bytes",
    "detail",  # 0 no events embedded, 1 all, 2 cut at the per-message cap
    "s:link",
)
RECIPIENT_COLUMNS = (
    "m",
    "s:recipient",
    "t:first_time",
    "s:final_status",
    "s:direction",
    "s:status_code",
    "s:smtp_reply",
    "s:status_meaning",
    "s:parent",
    "s:relation",
    "s:from_ip",
    "s:to_ip",
    "total_bytes",
    "duration_ms",
    "deferral_count",
    "deferral_ms",
    "s:sfv",
    "s:scl",
    "s:pcl",
    "s:di",
    "s:country",
    "s:malware",
    "s:transport_rules",
    "s:conflict",
)
EVENT_COLUMNS = (
    "m",
    "s:recipient",
    "e:time",
    "s:time_basis",
    "timeline",  # 1 when the row is part of its recipient's timeline (chains in_timeline)
    "s:event_id",
    "s:source",
    "s:status",
    "s:status_code",
    "s:related_recipient",
    "s:reference",
    "s:client",
    "s:server",
    "s:report_type",
    "input",
    "line",
    "s:also_seen",
    "s:detail",
    "s:custom_data",
)
#: Columns of a message's raw event rows (server-rendered and in the page's detail view): the
#: row's place in its input file comes right after its time, so it shows without scrolling.
RAW_EVENT_HEADINGS = (
    "Time (UTC)",
    "Input file, line",
    "Recipient",
    "Event",
    "In timeline",
    "Status",
    "Detail",
    "Source",
    "Related recipient",
    "Reference",
    "Client",
    "Server",
    "Also seen in",
    "custom_data",
)
LINK_COLUMNS = ("m", "related_m", "s:relation", "s:reference", "input", "line")
#: custom_data is cut to this many characters in the page (the case keeps it whole).
CUSTOM_DATA_CHARS = 1_000


def _embedded_data(
    case: Case,
    messages: pa.Table,
    recipients: pa.Table,
    events: pa.Table,
    also_seen: dict[str, str],
    links: pa.Table,
    detail_state: np.ndarray,
    link_ids: list[str],
    zone: DisplayZone,
    options: ReportOptions,
) -> dict[str, Any]:
    """The one JSON object the page's script reads (see the column lists above)."""
    first_ns = _bound_ns([messages.column("first_time"), events.column("event_time")], pc.min)
    last_ns = _bound_ns(
        [
            messages.column("last_time"),
            recipients.column("final_time"),
            events.column("event_time"),
        ],
        pc.max,
    )
    base_ms = (first_ns // (86_400_000 * _NS_PER_MS)) * 86_400_000 if first_ns is not None else 0

    interner = _Interner()
    message_strings = {
        "key": messages.column("message_key"),
        "network_message_id": messages.column("network_message_id"),
        "message_id": messages.column("message_id"),
        "sender": messages.column("sender_address"),
        "subject": messages.column("message_subject"),
        "direction": messages.column("direction"),
        "link": pa.array(link_ids, pa.string()),
    }
    recipient_strings = {
        "recipient": recipients.column("recipient_address"),
        "final_status": recipients.column("final_status"),
        "direction": recipients.column("direction"),
        "status_code": recipients.column("status_code"),
        "smtp_reply": _column(recipients, "smtp_reply"),
        "status_meaning": _column(recipients, "status_meaning"),
        "parent": _column(recipients, "parent_recipient"),
        "relation": _column(recipients, "recipient_relation"),
        "from_ip": _column(recipients, "from_ip"),
        "to_ip": _column(recipients, "to_ip"),
        "sfv": _column(recipients, "sfv"),
        "scl": _column(recipients, "scl", pa.int64()).cast(pa.string()),
        "pcl": _column(recipients, "pcl", pa.int64()).cast(pa.string()),
        "di": _column(recipients, "di"),
        "country": _column(recipients, "country"),
        "malware": _column(recipients, "malware_name"),
        "transport_rules": _join_list(_column(recipients, "transport_rules")),
        "conflict": _column(recipients, "conflict"),
    }
    event_keys = events.column("event_key").to_pylist() if also_seen else []
    event_strings = {
        "recipient": events.column("recipient_address"),
        "time_basis": events.column("time_basis"),
        "event_id": events.column("event_id"),
        "source": events.column("source"),
        "status": events.column("recipient_status"),
        "status_code": events.column("status_code"),
        "related_recipient": events.column("related_recipient_address"),
        "reference": events.column("reference"),
        "client": _host(events, "client_hostname", "client_ip"),
        "server": _host(events, "server_hostname", "server_ip"),
        "report_type": events.column("report_type"),
        "also_seen": pa.array(
            [also_seen.get(k or "") for k in event_keys] or [None] * events.num_rows, pa.string()
        ),
        "detail": events.column("detail"),
        "custom_data": pc.utf8_slice_codeunits(events.column("custom_data"), 0, CUSTOM_DATA_CHARS),
    }
    keys = messages.column("message_key")
    link_m = _int_column(pc.index_in(links.column("message_key"), value_set=keys))
    link_related = _int_column(pc.index_in(links.column("related_message_key"), value_set=keys))
    link_order = np.lexsort((_int_column(links.column("line")), link_related, link_m))
    links = links.take(pa.array(link_order))
    link_m, link_related = link_m[link_order], link_related[link_order]
    link_strings = {"relation": links.column("relation"), "reference": links.column("reference")}
    tokens = [
        {name: interner.add(values) for name, values in group.items()}
        for group in (message_strings, recipient_strings, event_strings, link_strings)
    ]
    strings = interner.freeze()

    input_ids = [record.input_id for record in case.inputs]
    input_index = pa.array(input_ids, pa.string())

    def encode(
        names: Sequence[str],
        string_tokens: dict[str, int],
        plain: dict[str, np.ndarray],
        times: dict[str, np.ndarray],
    ) -> dict[str, Any]:
        columns = []
        for name in names:
            kind, _, key = name.rpartition(":")
            if kind == "s":
                columns.append(interner.index(string_tokens[key]))
            elif kind in ("t", "e"):
                columns.append(times[key])
            else:
                columns.append(plain[key])
        return {"cols": list(names), "rows": _rows(columns)}

    message_tokens, recipient_tokens, event_tokens, link_tokens = tokens
    message_block = encode(
        MESSAGE_COLUMNS,
        message_tokens,
        {
            "recipient_count": _int_column(_column(messages, "recipient_count", pa.int64())),
            "total_bytes": _int_column(_column(messages, "total_bytes", pa.int64())),
            "detail": detail_state,
        },
        {
            "first_time": _time_column(messages.column("first_time"), base_ms),
            "last_time": _time_column(messages.column("last_time"), base_ms),
        },
    )
    recipient_block = encode(
        RECIPIENT_COLUMNS,
        recipient_tokens,
        {
            "m": _int_column(recipients.column("m")),
            "total_bytes": _int_column(_column(recipients, "total_bytes", pa.int64())),
            "deferral_count": _int_column(_column(recipients, "deferral_count", pa.int64())),
            "duration_ms": _seconds_to_ms(_column(recipients, "duration_seconds", pa.float64())),
            "deferral_ms": _seconds_to_ms(_column(recipients, "deferral_seconds", pa.float64())),
        },
        {
            "first_time": _time_column(recipients.column("first_time"), base_ms),
        },
    )
    event_block = encode(
        EVENT_COLUMNS,
        event_tokens,
        {
            "m": _int_column(events.column("m")),
            "input": _int_column(pc.index_in(events.column("input_id"), value_set=input_index)),
            "line": _int_column(events.column("line")),
            "timeline": _int_column(_column(events, "in_timeline", pa.bool_()).cast(pa.int8()), 1),
        },
        {"time": _time_column(events.column("event_time"), base_ms, _TICKS_PER_MS)},
    )
    link_block = encode(
        LINK_COLUMNS,
        link_tokens,
        {
            "m": link_m,
            "related_m": link_related,
            "input": _int_column(pc.index_in(_column(links, "input_id"), value_set=input_index)),
            "line": _int_column(_column(links, "line", pa.int64())),
        },
        {},
    )

    embedded_messages = int(np.count_nonzero(detail_state))
    return {
        "schema": 1,
        "base": int(base_ms),
        "zone": {
            "name": zone.name,
            "offsets": zone_offsets(zone, first_ns or 0, last_ns or 0, base_ms),
        },
        "s": strings,
        "inputs": [record.path for record in case.inputs],
        "statuses": list(STATUSES),
        "directions": list(DIRECTIONS),
        "words": {
            "relations": {k: list(v) for k, v in sorted(_RELATION_WORDS.items())},
            "verdicts": [[key, label] for key, label in _VERDICT_LABELS],
            "verdict_meanings": _VERDICT_WORDS,
            "gap_notable_ms": GAP_NOTABLE * 1000,
            "gap_long_ms": GAP_LONG * 1000,
            "raw_headings": list(RAW_EVENT_HEADINGS),
        },
        "messages": message_block,
        "recipients": recipient_block,
        "events": event_block,
        "links": link_block,
        "caps": {
            "max_detail_events": options.max_detail_events,
            "max_events_per_message": options.max_events_per_message,
            "events_embedded": events.num_rows,
            "messages_with_events": embedded_messages,
            "messages": messages.num_rows,
        },
    }


def _bound_ns(columns: Iterable[pa.ChunkedArray], bound: Callable[..., pa.Scalar]) -> int | None:
    """The earliest (``pc.min``) or latest (``pc.max``) time of several columns, in ns."""
    values = [bound(c.cast(pa.timestamp("ns", tz="UTC")).cast(pa.int64())).as_py() for c in columns]
    values = [v for v in values if v is not None]
    return (min if bound is pc.min else max)(values) if values else None


def _host(events: pa.Table, hostname: str, ip: str) -> pa.ChunkedArray:
    """``host (ip)``, or whichever of the two the event has."""
    host = events.column(hostname)
    address = events.column(ip)
    both = pc.binary_join_element_wise(
        host, pc.binary_join_element_wise("(", address, ")", ""), " "
    )
    return pc.coalesce(both, host, address)


def _event_detail(events: pa.Table) -> pa.ChunkedArray:
    """Detail text of rows that have one (Get-MessageTraceDetail, Defender), or reported status."""
    return pc.coalesce(
        events.column("event_detail"),
        events.column("delivery_action"),
        events.column("reported_status"),
    )


# ---------------------------------------------------------------------------------------------
# Evidence: inputs and their coverage
# ---------------------------------------------------------------------------------------------


def _size_text(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size:,} bytes"


def _parse_time(value: str | None) -> pd.Timestamp | None:
    if not value:
        return None
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError):
        return None
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


#: (input number, first, last): the time an input covers, as aware UTC timestamps.
Span = tuple[int, pd.Timestamp, pd.Timestamp]


def _input_spans(case: Case) -> list[Span]:
    """The time each input covers, in time order: its own events and its duplicate rows.

    A row merged into an event first seen in another input is still evidence that this input
    covers that time, so overlaps between exports show. Inputs without events in the case
    fall back to the manifest's first/last event.
    """
    events = case.events
    times = events.select(["input_id", "event_time", "event_key"])
    parts = [times.select(["input_id", "event_time"])]
    if case.duplicates.num_rows:
        keyed = times.select(["event_key", "event_time"]).filter(pc.is_valid(times["event_key"]))
        joined = case.duplicates.select(["event_key", "input_id"]).join(
            keyed.group_by("event_key").aggregate([("event_time", "min")]), "event_key"
        )
        parts.append(
            joined.select(["input_id", "event_time_min"]).rename_columns(["input_id", "event_time"])
        )
    covered = pa.concat_tables(parts).filter(pc.is_valid(pc.field("event_time")))
    ranges = covered.group_by("input_id").aggregate([("event_time", "min"), ("event_time", "max")])
    by_input = {
        row["input_id"]: (pd.Timestamp(row["event_time_min"]), pd.Timestamp(row["event_time_max"]))
        for row in ranges.to_pylist()
    }
    spans = []
    for number, record in enumerate(case.inputs, start=1):
        first, last = by_input.get(record.input_id, (None, None))
        if first is None:
            first, last = _parse_time(record.first_event), _parse_time(record.last_event)
        if first is not None and last is not None:
            spans.append((number, first, max(first, last)))
    return sorted(spans, key=lambda span: (span[1], span[2], span[0]))


def _input_views(case: Case, spans: list[Span], zone: DisplayZone) -> tuple[InputView, ...]:
    by_number = {number: (first, last) for number, first, last in spans}
    views = []
    # files that could not be read at all are listed too, after the loaded ones, with why
    for number, record in enumerate([*case.inputs, *case.rejected_inputs], start=1):
        first, last = by_number.get(number, (None, None))
        views.append(
            InputView(
                number=number,
                path=record.path,
                size=record.size,
                size_text=_size_text(record.size),
                sha256=record.sha256,
                format=record.format or "-",
                encoding=(record.encoding or "-") + (" with BOM" if record.bom else ""),
                rows_read=record.rows_read,
                rows_ingested=record.rows_ingested,
                rows_duplicate=record.rows_duplicate,
                rows_rejected=record.rows_rejected,
                first_event=zone.format(first),
                last_event=zone.format(last),
                status=record.status,
                error=record.error or "",
                warnings=tuple(record.warnings),
            )
        )
    return tuple(views)


def _covered_intervals(spans: list[Span]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    merged: list[list[pd.Timestamp]] = []
    for _, first, last in spans:
        if merged and first <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], last)
        else:
            merged.append([first, last])
    return [(a, b) for a, b in merged]


def _coverage_gaps(spans: list[Span], zone: DisplayZone) -> tuple[str, ...]:
    covered = _covered_intervals(spans)
    return tuple(
        f"No input covers {zone.format(end)} to {zone.format(start)} "
        f"({duration_text((start - end).total_seconds())})."
        for (_, end), (start, _) in itertools.pairwise(covered)
    )


def _coverage_overlaps(spans: list[Span]) -> tuple[str, ...]:
    """Per input, the other inputs whose time range overlaps its own (one line per input)."""
    overlapping: dict[int, list[int]] = {}
    for index, (number, first, last) in enumerate(spans):
        for other, other_first, other_last in spans[index + 1 :]:
            if max(first, other_first) <= min(last, other_last):
                overlapping.setdefault(number, []).append(other)
                overlapping.setdefault(other, []).append(number)
    lines = []
    for number in sorted(overlapping):
        others = [str(n) for n in sorted(overlapping[number])]
        listed = others[0] if len(others) == 1 else ", ".join(others[:-1]) + " and " + others[-1]
        lines.append(f"Input {number} overlaps input{'s' if len(others) > 1 else ''} {listed}.")
    return tuple(lines)


def _truncation_warnings(case: Case) -> tuple[str, ...]:
    warnings = []
    for number, record in enumerate(case.inputs, start=1):
        if record.export_limit:
            warnings.append(
                f"Input {number} ({record.path}) holds exactly {record.export_limit}, an "
                f"export limit of {record.format} reports: it is probably truncated. Export "
                "the rest of the time range separately."
            )
    return tuple(warnings)


def _nice_step(span: float, target: int) -> float:
    raw = span / max(target, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for factor in (1, 2, 5, 10):
        if factor * magnitude >= raw:
            return factor * magnitude
    return 10 * magnitude


def _time_ticks(
    start: pd.Timestamp, end: pd.Timestamp, zone: DisplayZone, x0: float, width: float
) -> tuple[Tick, ...]:
    """About six labelled ticks between ``start`` and ``end`` (aware UTC timestamps)."""
    span = max((end - start).total_seconds(), 1.0)
    ticks = []
    for index in range(6):
        moment = start + pd.Timedelta(seconds=span * index / 5)
        day, time_of_day = zone.format(moment, seconds=False).split(" ", 1)
        ticks.append(Tick(round(x0 + width * index / 5, 1), day, time_of_day))
    return tuple(ticks)


def _coverage_chart(
    inputs: tuple[InputView, ...], input_spans: list[Span], zone: DisplayZone
) -> CoverageChart | None:
    spans = {number: (first, last) for number, first, last in input_spans}
    if not spans:
        return None
    start = min(first for first, _ in spans.values())
    end = max(last for _, last in spans.values())
    total = max((end - start).total_seconds(), 1.0)
    width, left, right, lane = 960, 70, 50, 26
    plot_width = width - left - right

    def x_of(moment: pd.Timestamp) -> float:
        return round(left + plot_width * (moment - start).total_seconds() / total, 1)

    lanes = []
    for index, view in enumerate(inputs):
        y = 10 + index * lane
        bar = None
        if view.number in spans:
            first, last = spans[view.number]
            x = x_of(first)
            bar = Bar(
                x,
                y + 4,
                max(x_of(last) - x, 2.0),
                lane - 8,
                "cov-warn" if view.rows_rejected or view.warnings else "cov",
                f"Input {view.number}: {view.path}: {zone.format(first)} to {zone.format(last)}",
            )
        lanes.append(CoverageLane(y, view.number, f"#{view.number}", bar))
    height = 10 + len(inputs) * lane + 44
    gaps = []
    covered = _covered_intervals(input_spans)
    for (_, gap_start), (gap_end, _) in itertools.pairwise(covered):
        x = x_of(gap_start)
        gaps.append(
            Bar(
                x,
                6,
                max(x_of(gap_end) - x, 2.0),
                height - 50,
                "gap",
                f"Gap: no input covers {zone.format(gap_start)} to {zone.format(gap_end)}",
            )
        )
    return CoverageChart(
        width=width,
        height=height,
        plot_left=left,
        plot_width=plot_width,
        lane_height=lane,
        lanes=tuple(lanes),
        gaps=tuple(gaps),
        x_ticks=_time_ticks(start, end, zone, left, plot_width),
    )


# ---------------------------------------------------------------------------------------------
# Overview
# ---------------------------------------------------------------------------------------------


def _share(count: int, total: int) -> str:
    return f"{100 * count / total:.1f} %" if total else "-"


def _value_counts(values: pa.ChunkedArray | pa.Array) -> list[tuple[str, int]]:
    """(value, count) pairs, most frequent first, ties by value; null counts as ''."""
    counts = pc.value_counts(pc.fill_null(values.cast(pa.string()), ""))
    pairs = zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True)
    return sorted(pairs, key=lambda pair: (-pair[1], pair[0]))


def _status_counts(recipients: pa.Table) -> tuple[CountRow, ...]:
    counts = dict(_value_counts(recipients.column("final_status")))
    total = recipients.num_rows
    order = list(STATUSES) + sorted(set(counts) - set(STATUSES))
    return tuple(
        CountRow(
            status or "Unknown",
            counts[status],
            _share(counts[status], total),
            _status_class(status),
        )
        for status in order
        if counts.get(status)
    )


def _status_class(status: str) -> str:
    return "st-" + (status if status in STATUSES else "Unknown")


def _direction_counts(messages: pa.Table) -> tuple[CountRow, ...]:
    counts = dict(_value_counts(messages.column("direction")))
    total = messages.num_rows
    order = list(DIRECTIONS) + sorted(set(counts) - set(DIRECTIONS))
    return tuple(
        CountRow(direction or "unknown", counts[direction], _share(counts[direction], total))
        for direction in order
        if counts.get(direction)
    )


#: Bucket sizes of the volume chart, smallest first: the first giving at most 72 bars wins.
_BUCKETS = (
    (60, "minute"),
    (300, "5 minutes"),
    (900, "15 minutes"),
    (3_600, "hour"),
    (3 * 3_600, "3 hours"),
    (6 * 3_600, "6 hours"),
    (12 * 3_600, "12 hours"),
    (86_400, "day"),
    (7 * 86_400, "week"),
    (30 * 86_400, "30 days"),
)
# Buckets count from a Monday midnight of the display zone, so days and weeks start there.
_BUCKET_ORIGIN = pd.Timestamp("1970-01-05")


def _volume_chart(recipients: pa.Table, zone: DisplayZone) -> VolumeChart | None:
    times = recipients.column("first_time")
    valid = pc.is_valid(times)
    if not pc.any(valid).as_py():
        return None
    table = recipients.filter(valid)
    utc = pd.DatetimeIndex(table.column("first_time").to_pandas())
    local_ns = np.asarray(utc.tz_convert(zone.zone).tz_localize(None).asi8, dtype=np.int64)
    origin = _BUCKET_ORIGIN.value
    span_s = (local_ns.max() - local_ns.min()) / 1e9
    fitting = [(seconds, name) for seconds, name in _BUCKETS if span_s / seconds < 72]
    if fitting:
        step, bucket_name = fitting[0]
    else:  # years of data (or a stray timestamp): whole days, at most 72 bars
        days = math.ceil(span_s / 72 / 86_400)
        step, bucket_name = days * 86_400, f"{days} days"
    step_ns = step * 10**9
    bucket = (local_ns - origin) // step_ns
    first_bucket, last_bucket = int(bucket.min()), int(bucket.max())
    buckets = last_bucket - first_bucket + 1
    statuses = pc.fill_null(table.column("final_status"), "Unknown")
    seen = set(pc.unique(statuses).to_pylist())
    present = [s for s in STATUSES if s in seen] + sorted(seen - set(STATUSES))
    codes = np.asarray(
        pc.index_in(statuses, value_set=pa.array(present, pa.string())).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.int64,
    )
    grid = np.zeros((buckets, len(present)), dtype=np.int64)
    np.add.at(grid, (bucket - first_bucket, codes), 1)

    width, height, left, top, right, bottom = 960, 300, 64, 16, 48, 64
    plot_width, plot_height = width - left - right, height - top - bottom
    peak = int(grid.sum(axis=1).max())
    step_y = _nice_step(peak, 4)
    y_max = max(step_y * math.ceil(peak / step_y), 1)
    slot = plot_width / buckets
    bar_width = max(slot * 0.8, 1.0)

    def bucket_label(index: int) -> tuple[str, str]:
        """The bucket's start in the display zone's wall time: (day, time and zone)."""
        start = pd.Timestamp(origin + (first_bucket + index) * step_ns)
        return start.strftime("%Y-%m-%d"), start.strftime("%H:%M")

    bars = []
    table_rows = []
    for index in range(buckets):
        label = " ".join(bucket_label(index)) + f" {zone.name}"
        table_rows.append((label, tuple(int(v) for v in grid[index])))
        y = top + plot_height
        for code, status in enumerate(present):
            count = int(grid[index, code])
            if not count:
                continue
            bar_height = plot_height * count / y_max
            y -= bar_height
            bars.append(
                Bar(
                    round(left + index * slot + (slot - bar_width) / 2, 2),
                    round(y, 2),
                    round(bar_width, 2),
                    round(bar_height, 2),
                    _status_class(status),
                    f"{label} ({bucket_name}): {count:,} {status}",
                )
            )
    y_ticks = tuple(
        Tick(round(top + plot_height - plot_height * value / y_max, 1), f"{int(value):,}")
        for value in np.arange(0, y_max + step_y / 2, step_y)
    )
    tick_count = min(buckets, 6)
    tick_buckets = [i * (buckets - 1) // max(tick_count - 1, 1) for i in range(tick_count)]
    x_ticks = tuple(
        Tick(round(left + slot * index + slot / 2, 1), *bucket_label(index))
        for index in tick_buckets
    )
    totals = grid.sum(axis=0)
    legend = tuple(
        CountRow(status, int(totals[i]), _share(int(totals[i]), len(codes)), _status_class(status))
        for i, status in enumerate(present)
    )
    return VolumeChart(
        width=width,
        height=height,
        plot_left=left,
        plot_top=top,
        plot_width=plot_width,
        plot_height=plot_height,
        bucket=bucket_name,
        bars=tuple(bars),
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        legend=legend,
        statuses=tuple(present),
        table=tuple(table_rows),
    )


_TOP = 10


def _top(values: pa.ChunkedArray | pa.Array, total: int) -> tuple[CountRow, ...]:
    rows = [(v, c) for v, c in _value_counts(values) if v][:_TOP]
    return tuple(CountRow(value, count, _share(count, total)) for value, count in rows)


def _top_lists(messages: pa.Table, recipients: pa.Table) -> tuple[TopList, ...]:
    senders = pc.utf8_lower(messages.column("sender_address"))
    domains = pc.struct_field(pc.extract_regex(senders, r"@(?P<domain>[^@]+)$"), [0])
    per_message_ip = (
        pa.table({"key": recipients.column("message_key"), "ip": _column(recipients, "from_ip")})
        .group_by(["key", "ip"])
        .aggregate([])
    )
    recipient_pairs = (
        pa.table(
            {"key": recipients.column("message_key"), "r": recipients.column("_address_lower")}
        )
        .group_by(["key", "r"])
        .aggregate([])
    )
    total = messages.num_rows
    return (
        TopList("Top senders", "Sender", "messages", _top(senders, total)),
        TopList(
            "Top recipients", "Recipient", "messages", _top(recipient_pairs.column("r"), total)
        ),
        TopList("Top sender domains", "Domain", "messages", _top(domains, total)),
        TopList("Top sending IPs", "IP", "messages", _top(per_message_ip.column("ip"), total)),
    )


# ---------------------------------------------------------------------------------------------
# Findings and data quality
# ---------------------------------------------------------------------------------------------


def _severity_groups(
    findings: Sequence[Finding],
    messages: pa.Table,
    link_ids: list[str],
    case: Case,
    zone: DisplayZone,
    options: ReportOptions,
) -> tuple[SeverityGroup, ...]:
    link_by_key = dict(zip(messages.column("message_key").to_pylist(), link_ids, strict=True))
    paths = case.input_paths()
    rank = {severity: index for index, severity in enumerate(SEVERITIES)}
    ordered = sorted(
        enumerate(findings), key=lambda pair: (rank.get(pair[1].severity, len(rank)), pair[0])
    )
    groups: dict[str, list[FindingView]] = {}
    for number, (_, finding) in enumerate(ordered, start=1):
        evidence = []
        for item in finding.evidence[: options.max_evidence_rows]:
            link = link_by_key.get(item.message_key or "", "")
            evidence.append(
                EvidenceView(
                    time=zone.format(_parse_time(item.time)),
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
    order = list(SEVERITIES) + sorted(set(groups) - set(SEVERITIES))
    return tuple(SeverityGroup(s, tuple(groups[s])) for s in order if s in groups)


def _quality(
    case: Case,
    recipients: pa.Table,
    messages: pa.Table,
    link_ids: list[str],
    options: ReportOptions,
) -> QualityView:
    rejected = []
    total = 0
    for record in case.inputs:
        total += record.rows_rejected
        for row in record.rejected:
            if len(rejected) < options.max_listed_rejections:
                rejected.append(
                    RejectedView(record.path, "" if row.line is None else str(row.line), row.reason)
                )
    errors = tuple((r.path, r.error) for r in case.inputs if r.error)
    warnings = tuple(("case", w) for w in case.warnings) + tuple(
        (r.path, w) for r in case.inputs for w in r.warnings
    )
    # chains describe disagreeing facts in `conflict` (null when the exports agree)
    flagged = recipients.filter(pc.is_valid(_column(recipients, "conflict")))
    subjects = messages.column("message_subject").to_pylist()
    shown = flagged.slice(0, _MAX_CONFLICTS)
    conflicts = [
        (link_ids[m], subjects[m] or "", address or "", what)
        for m, address, what in zip(
            shown.column("m").to_pylist(),
            shown.column("recipient_address").to_pylist(),
            shown.column("conflict").to_pylist(),
            strict=True,
        )
    ]
    return QualityView(
        rejected=tuple(rejected),
        rejected_total=total,
        input_errors=errors,
        warnings=warnings,
        conflicts=tuple(conflicts),
        conflicts_total=flagged.num_rows,
    )


_MAX_CONFLICTS = 200


def _caps_text(
    events_note: str,
    options: ReportOptions,
    findings: Sequence[Finding],
    focused: bool,
) -> tuple[str, ...]:
    notes = []
    if events_note:
        notes.append(
            f"Message detail: {events_note}. Those messages still show their recipients, "
            "final statuses, SMTP replies and verdicts; `msgtrace report SOURCE --message ID` "
            "makes a focused report with every event of one message."
        )
    cut = [
        f for f in findings if max(f.evidence_total, len(f.evidence)) > options.max_evidence_rows
    ]
    if cut:
        notes.append(
            f"{len(cut)} finding(s) cite more than {options.max_evidence_rows} evidence rows; "
            "the first are shown, and `msgtrace findings SOURCE --json` lists them all."
        )
    if focused:
        notes.append(
            "This is a focused report: it holds one message, the messages linked to it and "
            "the findings that cite them."
        )
    return tuple(notes)


# ---------------------------------------------------------------------------------------------
# The focused message, rendered on the server
# ---------------------------------------------------------------------------------------------


def _message_detail(
    focus_key: str,
    messages: pa.Table,
    recipients: pa.Table,
    events: pa.Table,
    also_seen: dict[str, str],
    links: pa.Table,
    link_ids: list[str],
    case: Case,
    zone: DisplayZone,
    events_note: str,
) -> MessageDetailView:
    keys = messages.column("message_key").to_pylist()
    m = keys.index(focus_key)
    message = messages.slice(m, 1).to_pylist()[0]
    paths = case.input_paths()
    rows = recipients.filter(pc.equal(recipients.column("m"), m)).to_pylist()
    message_events = events.filter(pc.equal(events.column("m"), m)).to_pylist()
    by_recipient: dict[str, list[dict[str, Any]]] = {}
    for event in message_events:
        by_recipient.setdefault((event["recipient_address"] or "").lower(), []).append(event)

    def event_views(items: list[dict[str, Any]]) -> tuple[EventView, ...]:
        views = []
        previous = None
        for event in items:
            stamp = event["event_time"]
            in_timeline = event.get("in_timeline") is not False
            own_time = event.get("time_basis") != "message"
            gap, level = "", ""
            if in_timeline and own_time and stamp is not None:
                if previous is not None:
                    seconds = (pd.Timestamp(stamp) - pd.Timestamp(previous)).total_seconds()
                    if seconds >= 1:
                        gap = "+" + duration_text(seconds)
                        level = _gap_level(seconds)
                previous = stamp
            views.append(event_view(event, gap, level))
        return tuple(views)

    def event_view(event: dict[str, Any], gap: str = "", level: str = "") -> EventView:
        stamp = event["event_time"]
        nanos = None if stamp is None else pd.Timestamp(stamp).value
        return EventView(
            time=zone.format(stamp),
            time_utc=iso_utc(nanos) or "-",
            recipient=event["recipient_address"] or "",
            event_id=event["event_id"] or "",
            source=event["source"] or "",
            status=event["recipient_status"] or "",
            related_recipient=event["related_recipient_address"] or "",
            gap=gap,
            gap_level=level,
            message_time_only=event.get("time_basis") == "message",
            in_timeline=event.get("in_timeline") is not False,
            input=paths.get(event["input_id"] or "", event["input_id"] or ""),
            line="" if event["line"] is None else str(event["line"]),
            report_type=event.get("report_type") or "",
            also_seen=also_seen.get(event.get("event_key") or "", ""),
            detail=event["detail"] or "",
            reference=event.get("reference") or "",
            client=_host_text(event.get("client_hostname"), event.get("client_ip")),
            server=_host_text(event.get("server_hostname"), event.get("server_ip")),
            custom_data=(event.get("custom_data") or "")[:CUSTOM_DATA_CHARS],
        )

    ordered = _lineage_order(rows)
    recipient_views = []
    for row, depth in ordered:
        verdicts = tuple(
            (label, _verdict_text(key, row.get(key)))
            for key, label in _VERDICT_LABELS
            if row.get(key) not in (None, "", [])
        )
        duration = row.get("duration_seconds")
        deferral_count = row.get("deferral_count") or 0
        recipient_views.append(
            RecipientView(
                address=row["recipient_address"] or "",
                depth=depth,
                parent=row.get("parent_recipient") or "",
                relation=(row.get("recipient_relation") or "from").replace("_", " "),
                final_status=row["final_status"] or "Unknown",
                status_code=row.get("status_code") or "",
                smtp_reply=row.get("smtp_reply") or "",
                status_meaning=row.get("status_meaning") or "",
                verdicts=verdicts,
                duration="" if duration is None else duration_text(duration),
                deferrals=(
                    f"{deferral_count} deferral(s), "
                    + duration_text(row.get("deferral_seconds") or 0)
                    if deferral_count
                    else ""
                ),
                conflict=row.get("conflict") or "",
                events=event_views(by_recipient.get((row["recipient_address"] or "").lower(), [])),
            )
        )
    related = []
    subjects = messages.column("message_subject").to_pylist()
    network_ids = messages.column("network_message_id").to_pylist()
    index_of = {key: index for index, key in enumerate(keys)}
    for link in links.to_pylist():
        words = _RELATION_WORDS.get(link["relation"], (link["relation"], link["relation"]))
        if link["message_key"] == focus_key:
            other, said = index_of.get(link["related_message_key"] or ""), words[0]
        elif link["related_message_key"] == focus_key:
            other, said = index_of.get(link["message_key"]), words[1]
        else:
            continue
        if other is None:
            related.append(("", said, link["reference"] or "", "a message not in the data"))
        else:
            related.append(
                (link_ids[other], said, network_ids[other] or keys[other], subjects[other] or "")
            )
    return MessageDetailView(
        link=link_ids[m],
        network_message_id=message.get("network_message_id") or "",
        message_id=message.get("message_id") or "",
        sender=message.get("sender_address") or "",
        subject=message.get("message_subject") or "",
        first_time=zone.format(message.get("first_time")),
        last_time=zone.format(message.get("last_time")),
        direction=message.get("direction") or "unknown",
        total_bytes=""
        if message.get("total_bytes") is None
        else f"{message['total_bytes']:,} bytes",
        recipients=tuple(recipient_views),
        related=tuple(sorted(set(related))),
        events_note=events_note if not message_events else "",
        # all rows, also those of an address no recipient row has (the timelines miss them)
        raw_events=tuple(event_view(event) for event in message_events),
    )


def _host_text(hostname: str | None, ip: str | None) -> str:
    """``host (ip)``, or whichever of the two an event has (as ``_host`` for the page)."""
    if hostname and ip:
        return f"{hostname} ({ip})"
    return hostname or ip or ""


#: How a link reads from each side: (from the message that has it, from the related message).
_RELATION_WORDS = {
    "dsn_for": (
        "delivery status notification (DSN) for",
        "has a delivery status notification (DSN)",
    ),
    "inbox_rule_forward_of": ("inbox-rule forward of", "forwarded by an inbox rule as"),
}

#: Gaps between events (seconds) from which the timeline marks them (the page's script too).
GAP_NOTABLE = 300
GAP_LONG = 3_600


def _gap_level(seconds: float) -> str:
    return "long-gap" if seconds >= GAP_LONG else "gap" if seconds >= GAP_NOTABLE else ""


_VERDICT_LABELS = (
    ("sfv", "Spam filter verdict (SFV)"),
    ("scl", "Spam confidence level (SCL)"),
    ("pcl", "Phishing confidence level (PCL)"),
    ("di", "Delivery disposition (DI)"),
    ("country", "Country of origin"),
    ("malware_name", "Malware"),
    ("transport_rules", "Transport rules"),
)

# Microsoft's anti-spam message header reference: what SFV and DI values mean.
_VERDICT_WORDS = {
    "sfv": {
        "BLK": "blocked: sender on the user's blocked senders list",
        "NSPM": "not spam",
        "SFE": "allowed: sender on the user's safe senders list",
        "SKA": "allowed by an allow list of the spam policy",
        "SKB": "blocked by a block list of the spam policy",
        "SKI": "skipped: internal mail of the organization",
        "SKN": "marked not spam before filtering (e.g. a transport rule)",
        "SKQ": "released from quarantine",
        "SKS": "marked spam before filtering (e.g. a transport rule)",
        "SPM": "spam",
    },
    "di": {
        "SB": "sender blocked",
        "SD": "message deleted",
        "SJ": "delivered to the Junk Email folder",
        "SN": "routed through the normal outbound pool",
        "SO": "routed through the high-risk outbound pool",
        "SQ": "quarantined",
    },
}


def _verdict_text(key: str, value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    meaning = _VERDICT_WORDS.get(key, {}).get(text.upper())
    return f"{text} ({meaning})" if meaning else text


def _lineage_order(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], int]]:
    """Recipients as a tree: each parent followed by its children (EXPAND, REDIRECT, RESOLVE)."""
    by_address = {(row["recipient_address"] or "").lower(): row for row in rows}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for row in rows:
        parent = (row.get("parent_recipient") or "").lower()
        if parent and parent in by_address and parent != (row["recipient_address"] or "").lower():
            children.setdefault(parent, []).append(row)
        else:
            roots.append(row)
    ordered: list[tuple[dict[str, Any], int]] = []
    seen: set[str] = set()

    def visit(row: dict[str, Any], depth: int) -> None:
        address = (row["recipient_address"] or "").lower()
        if address in seen:
            return
        seen.add(address)
        ordered.append((row, depth))
        for child in children.get(address, []):
            visit(child, depth + 1)

    for row in roots:
        visit(row, 0)
    for row in rows:  # a cycle of parents leaves rows unvisited: show them flat
        visit(row, 0)
    return ordered


# ---------------------------------------------------------------------------------------------
# Templates and static files
# ---------------------------------------------------------------------------------------------


def _template_root() -> Any:
    """The templates: package ``analyzer.templates`` when installed, else ``reports/templates``."""
    try:
        root = resources.files("analyzer.templates")
        if root.joinpath("report.html").is_file():
            return root
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parent.parent / "reports" / "templates"


def _read_template(name: str) -> str | None:
    path = _template_root().joinpath(name)
    return path.read_text(encoding="utf-8") if path.is_file() else None


_ENVIRONMENT: jinja2.Environment | None = None


def _environment() -> jinja2.Environment:
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        _ENVIRONMENT = jinja2.Environment(
            loader=jinja2.FunctionLoader(_read_template),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        _ENVIRONMENT.filters["quote_id"] = lambda value: quote(str(value), safe="")
        _ENVIRONMENT.filters["thousands"] = lambda value: f"{int(value):,}"
        _ENVIRONMENT.filters["sentence"] = lambda value: str(value)[:1].upper() + str(value)[1:]
    return _ENVIRONMENT


def _static_text(name: str) -> str:
    """The text of a stylesheet or script to inline (it must not close its element)."""
    text = _read_template(name)
    if text is None:
        raise AnalyzerError(f"the report template {name} is missing; reinstall msgtrace")
    if "</" in text:  # it would end the <style> or <script> element it is inlined in
        raise RuntimeError(f"{name} must not contain '</'")
    return text


def _csp_hash(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
