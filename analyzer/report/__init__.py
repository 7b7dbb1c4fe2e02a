"""The static HTML investigation report: one self-contained, safe, deterministic file.

The last stage of the pipeline (case -> chains -> findings -> report). ``build_report_context``
turns a case, its chains and its findings into a ``ReportContext``, the one documented object
the templates (``reports/templates/``) may use; ``render_report`` renders it; ``write_report``
writes the file and returns its sha256; ``report_case`` runs chains and findings first.

What the page holds:

- Server-rendered (jinja2, autoescaped): header, evidence (inputs, when the case was last
  verified, coverage chart), overview (counts, volume chart, top lists), findings, data
  quality, and in a focused report (``--message``) the chosen message's chains. Charts are
  inline SVG drawn from geometry computed here, so every label goes through autoescaping too.
  Hidden characters of export text (bidi, zero-width, control) show as markers (``marks``).
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

The modules, in the order the data flows:

- ``context``: ``ReportContext`` and every view it holds (what a template author reads);
- ``selection``: which messages, recipients, links and event rows the report holds;
- ``evidence``, ``coverage``: the inputs, the time they cover, gaps, overlaps, truncation;
- ``overview``, ``charts``: count tables, top lists, the coverage and volume charts;
- ``findings_view``, ``quality``: findings by severity; data quality and what was capped;
- ``detail``: the focused message, formatting the chain model of ``analyzer.chains`` (lineage
  order and depth, gaps and their levels, relation words; ``selection`` computes them for
  every selected row, so the page's script gets the same model) and its route facts;
- ``embed``: the JSON data block of the page's script;
- ``marks``: export text made visible: hidden characters as markers, breakable addresses;
- ``render``: templates, inline assets and the Content-Security-Policy;
- ``build``: ``ReportOptions`` and the functions above, which run them in order.
"""

from analyzer.report.build import (
    ReportOptions,
    build_report_context,
    report_case,
    resolve_generated_at,
    write_report,
)
from analyzer.report.context import ReportContext
from analyzer.report.embed import json_for_script
from analyzer.report.render import render_report

__all__ = [
    "ReportContext",
    "ReportOptions",
    "build_report_context",
    "json_for_script",
    "render_report",
    "report_case",
    "resolve_generated_at",
    "write_report",
]
