"""The msgtrace command line: a thin click layer over the analyzer library.

Each command parses its options, calls one library function and prints the result. Library
errors (``AnalyzerError``) become a one-line message and exit status 1, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from analyzer import __version__
from analyzer.case import MAX_LISTED_REJECTIONS
from analyzer.errors import AnalyzerError
from analyzer.progress import Progress, terminal_progress


def _handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into clean click errors (no traceback reaches a user)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AnalyzerError as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            raise click.Abort() from None
        except (MemoryError, OSError) as error:
            raise click.ClickException(f"{type(error).__name__}: {error}") from None

    return wrapper


def ingest_options_named(format_flag: str) -> Callable[..., Any]:
    """Options of every command that reads exports (raw files are ingested on the fly).

    Args:
        format_flag: the flag that forces an export format (``--format``, except where a
            command's own ``--format`` chooses its output).
    """
    return functools.partial(_add_ingest_options, format_flag=format_flag)


def _add_ingest_options(command: Callable[..., Any], format_flag: str) -> Callable[..., Any]:
    options = [
        click.option(
            "--encoding",
            help="Force the text encoding of every input (e.g. utf-16-le, cp1252) "
            "instead of detecting it.",
        ),
        click.option(
            format_flag,
            "format_name",
            help="Force the export format of every input instead of detecting it "
            "(see `msgtrace formats`).",
        ),
        click.option(
            "--dayfirst/--monthfirst",
            default=None,
            help="How to read locale dates such as 03/04/2024 when no value in the column "
            "decides it (a day above 12 decides on its own).",
        ),
        click.option(
            "--input-tz",
            default="UTC",
            show_default=True,
            help="Time zone of timestamps that carry no zone (locale-formatted summary "
            "downloads); ISO times with Z or an offset are unaffected.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


ingest_options = ingest_options_named("--format")


def _ingest_options_from(kwargs: dict[str, Any]):
    from analyzer.ingest import IngestOptions

    return IngestOptions(
        encoding=kwargs.pop("encoding", None),
        format=kwargs.pop("format_name", None),
        dayfirst=kwargs.pop("dayfirst", None),
        input_tz=kwargs.pop("input_tz", "UTC"),
        strict=kwargs.pop("strict", False),
    )


def _progress() -> Progress | None:
    return terminal_progress(sys.stderr)


def load_case(sources: tuple[str, ...], kwargs: dict[str, Any]):
    """Load a case folder or raw exports, reporting rejected inputs and rows on stderr."""
    from analyzer.ingest import load_sources

    case = load_sources(list(sources), _ingest_options_from(kwargs), progress=_progress())
    if case.path is None:  # a case folder's problems were reported when it was ingested
        _report_problems(case.inputs + case.rejected_inputs)
    return case


def _report_problems(inputs) -> None:
    for record in inputs:
        if record.error:
            click.echo(f"msgtrace: {record.path}: {record.error}", err=True)
            continue
        if record.rows_rejected:
            click.echo(
                f"msgtrace: {record.path}: {record.rows_rejected:,} row(s) rejected",
                err=True,
            )
            for row in record.rejected[:5]:
                where = f"line {row.line}" if row.line else "?"
                click.echo(f"  {where}: {row.reason}", err=True)
            if record.rows_rejected > 5:
                click.echo(
                    "  (the case manifest and the report list the first "
                    f"{min(record.rows_rejected, MAX_LISTED_REJECTIONS):,} with their reasons)",
                    err=True,
                )
        for warning in record.warnings:
            click.echo(f"msgtrace: {record.path}: warning: {warning}", err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="msgtrace")
def cli() -> None:
    """Analyze Microsoft 365 / Exchange message trace exports offline.

    Reads EAC summary, enhanced summary and extended reports, PowerShell and API exports,
    Exchange Server tracking logs and Defender email events, in any encoding.

    Example: msgtrace report samples/ -o report.html
    """


def main() -> None:
    """Entry point of the ``msgtrace`` console script."""
    cli(prog_name="msgtrace")


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False))


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@ingest_options
@_handle_errors
def inspect(files: tuple[Path, ...], as_json: bool, **kwargs: Any) -> None:
    """Say what each export file is: format, encoding, rows, time range, warnings.

    FILES may be files or folders (searched recursively). Nothing is written.

    Example: msgtrace inspect exports/MTSummary_Report.csv --json
    """
    from analyzer.ingest import inspect_files

    records = inspect_files(list(files), _ingest_options_from(kwargs), progress=_progress())
    if as_json:
        _echo_json([_inspect_json(r) for r in records])
    else:
        for record in records:
            click.echo(_inspect_text(record))
    if all(r.error for r in records):
        sys.exit(1)


def _inspect_json(record) -> dict[str, Any]:
    return {
        "path": record.path,
        "format": record.format,
        "encoding": record.encoding,
        "bom": record.bom,
        "encoding_detected_by": record.encoding_detected_by,
        "rows": record.rows_read,
        "rows_rejected": record.rows_rejected,
        "first_event": record.first_event,
        "last_event": record.last_event,
        "sha256": record.sha256,
        "size": record.size,
        "warnings": record.warnings,
        "error": record.error,
    }


def _inspect_text(record) -> str:
    if record.error:
        return f"{record.path}\n  error: {record.error}\n"
    lines = [
        record.path,
        f"  format:   {record.format}",
        f"  encoding: {record.encoding}{' (with BOM)' if record.bom else ' (no BOM)'}, "
        f"by {record.encoding_detected_by}",
        f"  rows:     {record.rows_read:,}"
        + (f" ({record.rows_rejected:,} rejected)" if record.rows_rejected else ""),
        f"  events:   {record.first_event or '-'} .. {record.last_event or '-'} (UTC)",
    ]
    lines += [f"  warning:  {w}" for w in record.warnings]
    return "\n".join(lines) + "\n"


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--case",
    "case_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Case folder to create or add to.",
)
@click.option("--strict", is_flag=True, help="Exit with status 1 if any input or row is rejected.")
@click.option(
    "--wait",
    is_flag=True,
    help="If another msgtrace is writing the case, wait for it to finish (without --wait, "
    "exit with status 1 at once).",
)
@ingest_options
@_handle_errors
def ingest(
    paths: tuple[Path, ...], case_dir: Path, strict: bool, wait: bool, **kwargs: Any
) -> None:
    """Ingest exports into a case folder (canonical events as Parquet + manifest.json).

    PATHS may be files or folders (searched recursively). Ingesting into an existing case adds
    to it; a file already in the case is skipped; events seen in two exports are kept once,
    with both provenances. One msgtrace writes a case at a time; each input is committed as it
    is done, so an interrupted ingest loses only the input it was reading (run it again).

    Example: msgtrace ingest exports/ --case cases/INC-1234
    """
    from analyzer.ingest import ingest_into_case

    def waiting(pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "pid unknown"
        click.echo(
            f"msgtrace: case {case_dir} is being written by another msgtrace ({holder}); "
            "waiting for it to finish...",
            err=True,
        )

    kwargs["strict"] = strict
    options = _ingest_options_from(kwargs)
    result = ingest_into_case(
        list(paths), case_dir, options, progress=_progress(), wait=wait, on_wait=waiting
    )
    for warning in result.warnings:
        click.echo(f"msgtrace: case {case_dir}: warning: {warning}", err=True)
    added = result.added
    _report_problems(added)
    for record in added:
        if record.status == "already_in_case":
            click.echo(f"{record.path}: already in the case, skipped")
        elif not record.error:
            click.echo(
                f"{record.path}: {record.format}, {record.encoding}: "
                f"{record.rows_read:,} rows read, {record.rows_ingested:,} ingested, "
                f"{record.rows_duplicate:,} duplicate, {record.rows_rejected:,} rejected"
            )
    if not any(r.status != "rejected" for r in added) and added:
        raise click.ClickException("nothing could be loaded (see the messages above)")
    click.echo(f"case {case_dir}: {result.events:,} events from {len(result.inputs)} input(s)")
    if strict and any(r.rows_rejected or r.error for r in added):
        sys.exit(1)


@cli.command()
@click.argument("case_dir", type=click.Path(file_okay=False, path_type=Path))
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--inputs",
    "check_inputs",
    is_flag=True,
    help="Hash the original exports PATH... (files or folders) again and compare them with "
    "the sha256 the case recorded: which input is missing, changed, or not in the case.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@_handle_errors
def verify(case_dir: Path, paths: tuple[Path, ...], check_inputs: bool, as_json: bool) -> None:
    """Check that a case holds exactly what its manifest says.

    Checks the manifest (shape, case format, unique input ids, rows read = ingested +
    duplicate + rejected for each input), every part it lists (present, sha256, schema, row
    count), that each input's events and duplicates agree with its counts, and that no file is
    left over from an interrupted ingest. With --inputs, the original files are hashed again.
    Prints one line per problem, naming the file; exits 0 only when everything holds. The
    result is recorded in CASE/verification.json (the report shows it).

    Example: msgtrace verify cases/INC-1234 --inputs exports/
    """
    from analyzer.verify import verify_case

    if paths and not check_inputs:
        raise click.UsageError(
            "give --inputs before the original exports: msgtrace verify CASE --inputs PATH..."
        )
    if check_inputs and not paths:
        raise click.UsageError("--inputs needs the original export files or folders after it")
    result = verify_case(case_dir, list(paths) if check_inputs else None)
    if as_json:
        _echo_json(result.to_json())
    else:
        for problem in result.problems:
            click.echo(problem.line())
        for note in result.notes:
            click.echo(f"msgtrace: note: {note}", err=True)
        checked = result.checked
        if result.ok:
            what = (
                f"{checked.get('inputs', 0):,} input(s), {checked.get('parts', 0):,} part(s), "
                f"{checked.get('events', 0):,} events and {checked.get('duplicates', 0):,} "
                "duplicate rows"
            )
            if "original_files" in checked:
                what += f"; {checked['original_files']:,} original file(s) hashed again"
            click.echo(f"case {case_dir}: OK ({what})")
        else:
            click.echo(f"case {case_dir}: {len(result.problems):,} problem(s)")
    if result.record_error:
        click.echo(f"msgtrace: warning: {result.record_error}", err=True)
    if not result.ok:
        sys.exit(1)


@cli.command()
def formats() -> None:
    """List the export formats msgtrace reads, with the columns that identify each.

    Example: msgtrace formats
    """
    from analyzer.formats import REGISTRY

    for spec in REGISTRY:
        signature = ", ".join(spec.columns[c][0] for c in spec.signature)
        click.echo(f"{spec.name}\n  {spec.title}\n  identified by: {signature}")


# Commands of the later stages (chain, search, findings, report) follow below, each a thin
# layer over its library module.


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--message",
    "message_id",
    required=True,
    help="Network message id or Internet message id (with or without <>, any case).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON instead of text.")
@ingest_options
@_handle_errors
def chain(sources: tuple[Path, ...], message_id: str, as_json: bool, **kwargs: Any) -> None:
    """Show what happened to one message, for each of its recipients.

    SOURCES are a case folder or raw export files/folders. Each recipient gets its final
    status in words, the SMTP reply that decided it, verdicts, and its events as a timeline
    in UTC with the input file and line of every row. Related messages (DSNs, inbox-rule
    forwards) are listed. An unknown id exits with status 1.

    Example: msgtrace chain --message "<CAF=x@mail.example.com>" cases/INC-1234
    """
    from analyzer.chains import chain_report
    from analyzer.text import CHAIN_TEXT_LEGEND, format_chain_text

    case = load_case(tuple(str(s) for s in sources), kwargs)
    data = chain_report(case, message_id)
    if as_json:
        _echo_json(data)
    else:
        click.echo(format_chain_text(data) + "\n" + CHAIN_TEXT_LEGEND)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--sender", "senders", multiple=True, help="Sender address or *@domain; repeatable.")
@click.option(
    "--recipient", "recipients", multiple=True, help="Recipient address or *@domain; repeatable."
)
@click.option("--start", help="Received at or after this ISO time (UTC unless an offset is given).")
@click.option("--end", help="Received before this ISO time; a date alone includes that day.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    help="Final status: Delivered, Failed, Pending, Expanded, Redirected, Quarantined, "
    "FilteredAsSpam, Dropped, Unknown (any case; GettingStatus means Pending); repeatable.",
)
@click.option("--message-id", help="Internet message id (with or without <>).")
@click.option("--network-message-id", help="Network message id.")
@click.option("--subject", help="Text the subject contains (any case).")
@click.option("--from-ip", help="IP the message came from.")
@click.option("--to-ip", help="IP the message was sent to.")
@click.option(
    "--direction", type=click.Choice(["inbound", "outbound", "internal"], case_sensitive=False)
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output: aligned text, CSV (safe to open in Excel) or JSON.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Show at most this many results, newest first (0: all).",
)
@click.option(
    "--display-tz", help="Show times in this IANA zone (e.g. Europe/Paris) instead of UTC."
)
@ingest_options_named("--export-format")  # here --format chooses the output, as in EAC
@_handle_errors
def search(
    sources: tuple[Path, ...],
    senders: tuple[str, ...],
    recipients: tuple[str, ...],
    start: str | None,
    end: str | None,
    statuses: tuple[str, ...],
    message_id: str | None,
    network_message_id: str | None,
    subject: str | None,
    from_ip: str | None,
    to_ip: str | None,
    direction: str | None,
    output_format: str,
    limit: int,
    display_tz: str | None,
    **kwargs: Any,
) -> None:
    """Find messages like the admin center's message trace: one row per message x recipient.

    SOURCES are a case folder or raw export files/folders. Results are newest first with the
    time received (UTC, or --display-tz, named in the heading), sender, recipient, subject,
    final status and ids. All criteria given must hold; a repeated option matches any of its
    values.

    Example: msgtrace search cases/INC-1234 --sender "*@contoso.com" --status Failed --format csv
    """
    from analyzer.search import SearchCriteria, search_case

    criteria = SearchCriteria.from_options(
        senders=senders,
        recipients=recipients,
        start=start,
        end=end,
        statuses=statuses,
        message_id=message_id,
        network_message_id=network_message_id,
        subject=subject,
        from_ip=from_ip,
        to_ip=to_ip,
        direction=direction,
    )
    case = load_case(tuple(str(s) for s in sources), kwargs)
    result = search_case(
        case, criteria, output_format=output_format, limit=limit, display_tz=display_tz
    )
    click.echo(result.text, nl=False)
    for note in result.notes:
        click.echo(f"msgtrace: {note}", err=True)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .html file to write (overwritten).",
)
@click.option("--title", help="Title of the report.")
@click.option("--case-id", help="Incident or case reference shown in the header.")
@click.option("--analyst", help="Who produced the report.")
@click.option(
    "--display-tz",
    default="UTC",
    show_default=True,
    help="IANA time zone to show times in (each labelled); raw rows stay UTC.",
)
@click.option(
    "--message",
    "message_id",
    help="Network or Internet message id: a focused report on that message, its related "
    "messages and the findings that cite them.",
)
@click.option(
    "--generated-at",
    help="ISO time to print as the generation time (default: SOURCE_DATE_EPOCH, else now), "
    "for byte-identical reports.",
)
@ingest_options
@_handle_errors
def report(
    sources: tuple[Path, ...],
    output: Path,
    title: str | None,
    case_id: str | None,
    analyst: str | None,
    display_tz: str,
    message_id: str | None,
    generated_at: str | None,
    **kwargs: Any,
) -> None:
    """Write the investigation report: one self-contained HTML file, safe to open offline.

    SOURCES are a case folder or raw export files/folders. The report holds the evidence
    (inputs, sha256, coverage), an overview, the findings, a searchable messages table and
    each message's chains. It loads nothing from any network. Prints the file's path and
    sha256; the same inputs and options (with --generated-at or SOURCE_DATE_EPOCH) give a
    byte-identical file.

    Example: msgtrace report samples/ -o report.html --case-id INC-1234 --analyst "A. Smith"
    """
    from analyzer.report import ReportOptions, report_case

    options = ReportOptions(
        title=title or ReportOptions.title,
        case_id=case_id,
        analyst=analyst,
        display_tz=display_tz,
        message=message_id,
        generated_at=generated_at,
    )
    case = load_case(tuple(str(s) for s in sources), kwargs)
    sha256 = report_case(case, options, output)
    click.echo(f"{output}\nsha256 {sha256}")


def _print_rules(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from analyzer.findings import rules_markdown

    click.echo(rules_markdown(), nl=False)
    ctx.exit()


def _threshold_overrides(pairs: tuple[str, ...]) -> dict[str, str]:
    overrides = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name.strip():
            raise click.BadParameter(f"{pair!r}: expected KEY=VALUE", param_hint="--set")
        overrides[name.strip()] = value
    return overrides


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the findings as a JSON list.")
@click.option(
    "--min-severity",
    type=click.Choice(["info", "low", "medium", "high"]),
    default="info",
    show_default=True,
    help="Leave out findings below this severity.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="TOML (or .json) file of threshold = value pairs.",
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="KEY=VALUE",
    help="Override one threshold (repeatable; wins over --config), e.g. "
    "--set burst_min_recipients=200.",
)
@click.option(
    "--rules",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_rules,
    help="Print every rule and threshold with its default (Markdown) and exit.",
)
@ingest_options
@_handle_errors
def findings(
    sources: tuple[Path, ...],
    as_json: bool,
    min_severity: str,
    config: Path | None,
    overrides: tuple[str, ...],
    **kwargs: Any,
) -> None:
    """Find what an investigator must see: forwarding, bursts, phish, look-alikes, gaps...

    SOURCES are a case folder or raw export files/folders. Each finding has a rule id, a
    severity, a title, an explanation (why it matters, what to check next), the mailboxes,
    domains and IPs involved, and its evidence: input file:line, time (UTC), message id and
    recipient of the rows behind it. Text is grouped by severity; --json prints
    [{"rule", "severity", "title", "explanation", "entities", "evidence": [{"network_message_id",
    "input", "line", ...}], "evidence_total"}].

    \b
    Example: msgtrace findings samples/ --min-severity medium --set burst_min_recipients=200
    """
    from analyzer.findings import case_findings, findings_json, findings_text, load_thresholds

    thresholds = load_thresholds(config, _threshold_overrides(overrides))
    case = load_case(tuple(str(s) for s in sources), kwargs)
    found = case_findings(case, thresholds, min_severity)
    if as_json:
        _echo_json(findings_json(found))
    else:
        click.echo(findings_text(found), nl=False)


# Commands of the incident stage (summary, mailbox, iocs): each a thin layer over
# analyzer.incident.


def _incident_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--display-tz, --config and --set, shared by summary, mailbox and iocs."""
    options = [
        click.option(
            "--display-tz",
            help="Show times in this IANA zone (e.g. Europe/Paris) instead of UTC; JSON and "
            "commands stay UTC.",
        ),
        click.option(
            "--config",
            type=click.Path(dir_okay=False, path_type=Path),
            help="TOML (or .json) file of threshold = value pairs (as for findings).",
        ),
        click.option(
            "--set",
            "overrides",
            multiple=True,
            metavar="KEY=VALUE",
            help="Override one threshold (repeatable; as for findings).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


_SCOPE_OPTION = click.option(
    "--min-severity",
    type=click.Choice(["info", "low", "medium", "high"]),
    default="medium",
    show_default=True,
    help="Findings of this severity or above are the incident (low and info are context).",
)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON instead of text.")
@_SCOPE_OPTION
@_incident_options
@ingest_options
@_handle_errors
def summary(
    sources: tuple[Path, ...],
    as_json: bool,
    min_severity: str,
    display_tz: str | None,
    config: Path | None,
    overrides: tuple[str, ...],
    **kwargs: Any,
) -> None:
    """Lead with the incident: affected mailboxes, one timeline, and what to do next.

    SOURCES are a case folder or raw export files/folders. Mailboxes that act (send a burst,
    forward or redirect mail out, send from an unusual IP) come before those that only
    received malicious mail, each with its roles, the findings naming it and its first and
    last suspicious time. The timeline merges every finding's key moments in time order, each
    with its input rows; next steps are one checklist of read-only commands, values quoted
    for PowerShell, dates UTC. --json prints {"mailboxes", "timeline", "next_steps", ...}.

    Example: msgtrace summary samples/ --display-tz Europe/Paris
    """
    from analyzer.findings import load_thresholds
    from analyzer.incident import case_summary, summary_text
    from analyzer.timestamps import DisplayZone

    zone = DisplayZone(display_tz)  # a bad zone fails before the work
    thresholds = load_thresholds(config, _threshold_overrides(overrides))
    case = load_case(tuple(str(s) for s in sources), kwargs)
    result = case_summary(case, thresholds, min_severity, tuple(str(s) for s in sources))
    if as_json:
        _echo_json(result.to_json())
    else:
        click.echo(summary_text(result, zone), nl=False)


@cli.command()
@click.argument("address")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--since",
    help="Count correspondents and domains as new from this ISO time (UTC unless it has an "
    "offset; default: the mailbox's first suspicious time).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON instead of text.")
@_incident_options
@ingest_options
@_handle_errors
def mailbox(
    address: str,
    sources: tuple[Path, ...],
    since: str | None,
    as_json: bool,
    display_tz: str | None,
    config: Path | None,
    overrides: tuple[str, ...],
    **kwargs: Any,
) -> None:
    """Show one mailbox: what it sent and received, who is new, its IPs, forwards, findings.

    SOURCES are a case folder or raw export files/folders. Sent and received mail by status
    with ids, correspondents and domains new since --since, the IPs it sent from, inbox-rule
    forwards and redirects out of it (with input rows), and every finding naming it. An
    address that sends and receives nothing in the data exits with status 1, naming close
    matches.

    Example: msgtrace mailbox victim@contoso.com samples/ --since 2026-11-18T09:00:00Z
    """
    from analyzer.findings import load_thresholds
    from analyzer.incident import case_mailbox, mailbox_text, parse_since
    from analyzer.timestamps import DisplayZone

    zone = DisplayZone(display_tz)
    parse_since(since)
    thresholds = load_thresholds(config, _threshold_overrides(overrides))
    case = load_case(tuple(str(s) for s in sources), kwargs)
    view = case_mailbox(case, address, since, thresholds, tuple(str(s) for s in sources))
    if as_json:
        _echo_json(view.to_json())
    else:
        click.echo(mailbox_text(view, zone), nl=False)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the documented JSON instead of text.")
@click.option(
    "--csv", "as_csv", is_flag=True, help="Print CSV (every cell quoted and formula-safe)."
)
@_SCOPE_OPTION
@_incident_options
@ingest_options
@_handle_errors
def iocs(
    sources: tuple[Path, ...],
    as_json: bool,
    as_csv: bool,
    min_severity: str,
    display_tz: str | None,
    config: Path | None,
    overrides: tuple[str, ...],
    **kwargs: Any,
) -> None:
    """List the indicators behind the findings, and who to notify.

    SOURCES are a case folder or raw export files/folders. Domains, sender addresses,
    outside forwarding addresses, IPs, subjects, Internet message ids (and URLs where
    Defender URL data exists), each with its first and last time in the data, how many
    messages have it and the findings behind it; then the recipients who had a malicious
    message delivered, with how long it stayed. --csv is safe to open in a spreadsheet.

    Example: msgtrace iocs samples/ --csv > iocs.csv
    """
    from analyzer.findings import load_thresholds
    from analyzer.incident import case_indicators, indicators_csv, indicators_text
    from analyzer.timestamps import DisplayZone

    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    zone = DisplayZone(display_tz)
    thresholds = load_thresholds(config, _threshold_overrides(overrides))
    case = load_case(tuple(str(s) for s in sources), kwargs)
    found = case_indicators(case, thresholds, min_severity)
    if as_json:
        _echo_json(found.to_json())
    elif as_csv:
        click.echo(indicators_csv(found), nl=False)
    else:
        click.echo(indicators_text(found, zone), nl=False)
