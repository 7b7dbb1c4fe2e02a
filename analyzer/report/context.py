"""What the report templates may use: ``ReportContext`` and the views it holds.

This is the one file a template author reads. ``reports/templates/report.html`` receives one
``ReportContext`` as ``r``; every value it shows is a field below, and a test
(``tests/report/test_context.py``) fails when a template names a field that is not here.

Every string is plain text taken from the exports or written by msgtrace: the templates
autoescape it, and none may be marked safe. Export text goes through the ``shown`` filter
(``breakable`` for addresses, ids and paths), which marks hidden characters (bidi, zero-width,
control) visibly; anything printed without them is marked as plain text
(``analyzer.report.marks``). Times are already formatted in the display zone and labelled
(``2024-05-01 10:15:30 UTC``), unless a field says it is UTC.

The chain model of the focused message (``MessageDetailView``: recipient order and depth,
relation words, gaps and their levels, related-message words) comes from
``analyzer.chains``; the views hold it formatted, and the templates only lay it out.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup


@dataclass(frozen=True)
class Tick:
    """An axis label of a chart, on one or two lines.

    Attributes:
        position: where the label stands on its axis (SVG user units).
        label: the first line (a day, or a count on the y axis).
        second_line: the second line (the time of day), "" when there is none.
    """

    position: float
    label: str
    second_line: str = ""


@dataclass(frozen=True)
class Bar:
    """A rectangle of a chart (SVG user units).

    Attributes:
        x: left edge.
        y: top edge.
        width: width.
        height: height.
        css_class: its colour: ``st-<final status>`` in the volume chart, ``cov`` or
            ``cov-warn`` (an input with rejected rows or warnings) for a coverage lane,
            ``gap`` for time no input covers.
        label: its tooltip and accessible name, e.g. ``2024-03-04 09:00 UTC (3 hours): 12
            Delivered``.
    """

    x: float
    y: float
    width: float
    height: float
    css_class: str
    label: str


@dataclass(frozen=True)
class CountRow:
    """One line of a count table.

    Attributes:
        label: what is counted (a status, a direction, an address, "events"...).
        count: how many.
        share: its share of the table's total, e.g. ``90.2 %`` ("" or "-" when not shown).
        css_class: the status colour (``st-Delivered``...), "" for rows without one.
    """

    label: str
    count: int
    share: str
    css_class: str = ""


@dataclass(frozen=True)
class TopList:
    """A "top N" table of the overview (senders, recipients, domains, IPs).

    Attributes:
        title: the table's caption, e.g. "Top senders".
        column: the heading of the value column, e.g. "Sender".
        counted: what the counts count, e.g. "messages".
        rows: the values, most frequent first (ties by value), at most ten.
    """

    title: str
    column: str
    counted: str
    rows: tuple[CountRow, ...]


@dataclass(frozen=True)
class VolumeChart:
    """Stacked bars of message x recipient rows per time bucket, by final status.

    Attributes:
        width: the SVG's width (viewBox units).
        height: the SVG's height.
        plot_left: left edge of the plot area.
        plot_top: top edge of the plot area.
        plot_width: width of the plot area.
        plot_height: height of the plot area.
        bucket: the bucket size in words ("minute", "3 hours", "day", "4 days"...).
        bars: one bar per bucket and final status that has rows.
        x_ticks: labels of bucket starts, in the display zone's wall time.
        y_ticks: labels of row counts.
        legend: rows per final status over the whole chart.
        statuses: the final statuses the chart shows, in the chains' order.
        table: the chart's figures for screen readers and print: (bucket start with the
            zone name, counts in ``statuses`` order) per bucket.
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
    """One input's lane in the coverage chart.

    Attributes:
        y: top of the lane (SVG user units).
        label: the lane's label, the input's number as ``#3``.
        bar: the time the input covers, None when it has no dated event.
    """

    y: float
    label: str
    bar: Bar | None


@dataclass(frozen=True)
class CoverageChart:
    """The time covered by each input on one axis, with the gaps no input covers.

    Attributes:
        width: the SVG's width (viewBox units).
        height: the SVG's height.
        plot_left: left edge of the time axis.
        plot_width: length of the time axis.
        lane_height: height of each lane.
        lanes: one lane per input, in the order of the evidence table.
        gaps: one band per time span between inputs that no input covers.
        x_ticks: about six time labels in the display zone.
    """

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
    """One input file as the evidence section shows it (loaded inputs, then unreadable ones).

    Attributes:
        number: its number in the report (1 for the first), also in the coverage chart.
        path: the file's path as given.
        size: its size in bytes.
        size_text: its size for reading, e.g. ``1.4 MB``.
        sha256: the sha256 (hex) of the file.
        format: the export format detected, "-" when unknown.
        encoding: the text encoding, with " with BOM" when it has one; "-" when unknown.
        rows_read: data rows read from the file.
        rows_ingested: rows that became events of the case.
        rows_duplicate: rows merged into an event already seen.
        rows_rejected: rows that could not be read (data quality lists them).
        first_event: time of its first event, "-" when none.
        last_event: time of its last event, "-" when none.
        status: its ingest status (``already_in_case`` for a file ingested before).
        error: why the file could not be loaded, "" when it was.
        warnings: warnings ingest raised about the file.
    """

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
class VerificationView:
    """When the case was last checked (``msgtrace verify``) and what was found.

    Attributes:
        summary: the line to show, e.g. ``last verified 2026-11-18T09:00:00.0000000Z: OK``,
            ``not verified: run msgtrace verify CASE``; for exports read directly (no case
            folder), a note saying there is no stored case to verify.
        state: ``ok`` (verified, everything held, the case unchanged since), ``problems``
            (problems found, or the record is unreadable), ``stale`` (verified, but the case
            changed since), ``never`` (a case folder never verified) or ``in_memory``.
    """

    summary: str
    state: str


@dataclass(frozen=True)
class EvidenceView:
    """One evidence row under a finding.

    Attributes:
        time: the time of the row, "-" when it has none.
        message_link: the message's id for a ``#message=`` link, "" when the message is not
            in the report.
        message_label: the network (else Internet) message id shown, "" when none.
        recipient: the recipient's address, "" when the row is about no recipient.
        event_id: the row's event (DELIVER, FAIL...), "" when none.
        input: the input file the row was read from.
        line: its line in that file, "" when unknown.
        detail: what the rule says about the row.
    """

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
    """One finding with its explanation, entities and (capped) evidence.

    Attributes:
        anchor: its element id, ``finding-<n>`` in the order shown.
        rule: the id of the rule that raised it.
        severity: high, medium, low or info.
        title: one line saying what was found.
        explanation: why it matters and what to check.
        entities: (kind, values) pairs sorted by kind, e.g. ("mailbox", ("a@x.com",)).
        evidence: the first ``max_evidence_rows`` evidence rows.
        evidence_total: how many evidence rows the finding has in all.
    """

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
    """The findings of one severity.

    Attributes:
        severity: high, medium, low or info.
        findings: its findings in the order the rules raised them.
    """

    severity: str
    findings: tuple[FindingView, ...]


@dataclass(frozen=True)
class RejectedView:
    """A rejected input row.

    Attributes:
        input: the input file's path.
        line: the row's line in that file, "" when unknown.
        reason: why it was rejected.
    """

    input: str
    line: str
    reason: str


@dataclass(frozen=True)
class QualityView:
    """The data quality section.

    Attributes:
        rejected: rejected rows, at most ``max_listed_rejections``.
        rejected_total: rejected rows in all inputs (every one counted).
        input_errors: (path, why) of each file that could not be loaded.
        warnings: (where, warning) of the case's and each input's ingest warnings.
        conflicts: (message link id, subject, recipient, what disagrees) of recipients whose
            exports report conflicting facts, at most 200.
        conflicts_total: such recipients in all.
    """

    rejected: tuple[RejectedView, ...]
    rejected_total: int
    input_errors: tuple[tuple[str, str], ...]
    warnings: tuple[tuple[str, str], ...]
    conflicts: tuple[tuple[str, str, str, str], ...]
    conflicts_total: int


@dataclass(frozen=True)
class EventView:
    """One event row of the focused message: in a recipient's timeline and in the raw rows.

    Attributes:
        time: the event's time in the display zone, "-" when it has none.
        time_utc: the same as ISO 8601 UTC with 7 fractional digits, "-" when none.
        recipient: the recipient address of the row.
        event_id: the event (RECEIVE, DELIVER, FAIL...), "" for a status row without one.
        source: the component that logged it (SMTP, AGENT...).
        status: the recipient status the row reports.
        related_recipient: the second address of an EXPAND, REDIRECT or RESOLVE row
            (shown after ``ReportContext.related_recipient_words``, without an arrow: its
            direction depends on the export).
        gap: the chain model's gap since the recipient's previous timeline event with its
            own time, e.g. ``+12 min 5 s``; "" under a second, for the first event and
            outside the timeline.
        gap_level: the model's level of that gap: "", "gap" (from 5 minutes) or "long-gap"
            (from an hour).
        message_time_only: True when the export gives only the message's time, not the
            event's.
        in_timeline: False for a fact another export timed better: shown in the raw rows
            only.
        input: the input file the row was read from.
        line: its line in that file, "" when unknown.
        report_type: the export format of that file.
        also_seen: the other places (file:line; ...) the same event was read from.
        detail: the row's detail text, delivery action or reported status.
        reference: the row's reference field.
        client: the client's host name and IP, ``host (ip)``, or either alone.
        server: the server's host name and IP, likewise.
        custom_data: the row's custom data, cut to 1,000 characters.
    """

    time: str
    time_utc: str
    recipient: str
    event_id: str
    source: str
    status: str
    related_recipient: str
    gap: str
    gap_level: str
    message_time_only: bool
    in_timeline: bool
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
    """One recipient of the focused message with its chain.

    Attributes:
        address: the recipient's address, "" when the export names none.
        depth: the chain model's depth in the recipient tree (0 for an addressed recipient,
            1 for a member of an expanded group...).
        parent: the address it came from (a group, a redirecting mailbox), "" for none.
        relation: the model's words for how it came from ``parent`` ("expanded from",
            "redirected from"...); "from" when the chains give none.
        final_status: the chains' final status of this recipient.
        status_code: the enhanced status code of the deciding reply (``5.1.1``), "" for none.
        smtp_reply: the deciding SMTP reply, "" for none.
        status_meaning: what that reply means, "" when unknown.
        route: (label, value) of the route facts (From IP, To IP, country, connector, size)
            that differ between the message's recipients, this recipient's value; the ones
            they share are ``MessageDetailView.route``.
        verdicts: (label, value with its meaning) of the filtering verdicts the exports give
            (SFV, SCL, PCL, DI, malware, transport rules).
        duration: first to last event, e.g. ``4 min 10 s``; "" when unknown.
        deferrals: e.g. ``2 deferral(s), 35 min``; "" for none.
        conflict: what the exports disagree about, "" when they agree.
        events: the recipient's event rows in time order (the template shows those with
            ``in_timeline``).
    """

    address: str
    depth: int
    parent: str
    relation: str
    final_status: str
    status_code: str
    smtp_reply: str
    status_meaning: str
    route: tuple[tuple[str, str], ...]
    verdicts: tuple[tuple[str, str], ...]
    duration: str
    deferrals: str
    conflict: str
    events: tuple[EventView, ...]


@dataclass(frozen=True)
class MessageDetailView:
    """The focused message, rendered on the server so it prints and reads without script.

    Attributes:
        network_message_id: its network message id, "" when none.
        message_id: its Internet message id, "" when none.
        sender: the sender's address.
        subject: the subject, "" when none.
        first_time: when it was first seen.
        last_time: when it was last seen.
        direction: inbound, outbound or internal ("unknown" when the chains cannot tell).
        route: (label, value) of what the admin center's details page shows of its route:
            From IP, To IP, country (CTRY), connector and size (``12,345 bytes``), each when
            known; a value that differs between recipients reads ``per recipient (below)``
            and each recipient shows its own (``RecipientView.route``).
        recipients: its recipients in the chain model's lineage order: each parent followed
            by the recipients it led to.
        related: (link id, the model's words, id, subject) of each message linked to it (a
            DSN, an inbox-rule forward); the link id is "" for a message not in the data.
        events_note: why its event rows are not embedded, "" when they are.
        raw_events: every embedded event row of the message, of any recipient.
    """

    network_message_id: str
    message_id: str
    sender: str
    subject: str
    first_time: str
    last_time: str
    direction: str
    route: tuple[tuple[str, str], ...]
    recipients: tuple[RecipientView, ...]
    related: tuple[tuple[str, str, str, str], ...]
    events_note: str
    raw_events: tuple[EventView, ...]


@dataclass(frozen=True)
class ReportContext:
    """Everything the report templates may use, and nothing else (``r`` in the templates).

    The three ``Markup`` fields are produced by msgtrace and safe by construction:
    ``data_json`` by ``json_for_script``, ``css`` and ``js`` from the package's own files
    (checked not to contain a closing tag).

    Attributes:
        title: the report's title (first heading and the browser tab).
        case_id: the incident or case reference, "" when not given.
        analyst: who produced the report, "" when not given.
        tool_version: the msgtrace version.
        generated_at: the generation time in the display zone, labelled (with UTC after it
            when the zone is not UTC).
        generated_at_utc: the same as ISO 8601 UTC to the second, for ``<time datetime>``.
        zone_name: the display time zone (IANA name, or UTC).
        zone_note: one sentence on how times are shown.
        focus: the focused message (``--message``), else None.
        focus_query: the id the analyst asked for, "" in a full report.
        totals: headline counts (events, messages, message x recipient rows, input files).
        time_range: first to last event time, or "no dated events".
        inputs: every input file (evidence section).
        verification: when the case was last verified and the result (evidence section).
        coverage: the coverage chart, None when no input has a dated event.
        coverage_gaps: the times no input covers, in words.
        coverage_overlaps: per input, the inputs whose time ranges overlap it, in words.
        truncation_warnings: inputs that probably stop at an export limit, in words.
        status_counts: message x recipient rows by final status.
        direction_counts: messages by direction.
        volume: the volume chart, None without dated rows or in a focused report.
        top_lists: top senders, recipients, sender domains and sending IPs; empty in a
            focused report.
        severity_groups: findings by severity, most urgent first.
        findings_total: the number of findings shown.
        quality: the data quality section.
        caps: what this report leaves out, in words.
        statuses: the final statuses, the choices of the messages table's status filter.
        directions: the directions, the choices of its direction filter.
        raw_event_headings: column headings of a message's raw event rows.
        related_recipient_words: the words before an event's related recipient (the chain
            model's ``RELATED_RECIPIENT_WORDS``).
        table_rows: rows of the messages table (message x recipient).
        data_json: the embedded data block the page's script reads.
        css: the inline stylesheet.
        js: the inline script.
        csp: the Content-Security-Policy, pinning ``css`` and ``js`` by their sha256.
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
    verification: VerificationView
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
    related_recipient_words: str
    table_rows: int
    data_json: Markup
    css: Markup
    js: Markup
    csp: str
