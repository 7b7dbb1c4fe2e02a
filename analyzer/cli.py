"""The msgtrace command line: a thin click layer over the analyzer library.

Each command parses its options, calls one library function and prints the result. Library
errors (``AnalyzerError``) become a one-line message and exit status 1, never a traceback.

Every command shares one vocabulary, defined here once (new commands use the same pieces):

- ``ingest_options``: ``--encoding``, ``--format`` (always the export format), ``--dayfirst``,
  ``--input-tz``, for every command that reads exports;
- ``json_option`` / ``csv_option`` choose the output of a command that prints records;
  ``output_option`` (``-o FILE``) writes it to a file atomically (``analyzer.store``) and
  prints the file's path and sha256, as ``report`` does;
- ``display_tz_option``: the zone every printed time is shown in (JSON times stay ISO UTC);
- ``emit`` prints (or writes) what a command produced: text already safe for a terminal
  (``analyzer.text.terminal_safe``), CSV from ``analyzer.text.csv_text``, JSON from
  ``analyzer.text.json_text``; ``say`` prints a message (file names in it made safe).
"""

from __future__ import annotations

import functools
import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from analyzer import __version__
from analyzer.case import MAX_LISTED_REJECTIONS
from analyzer.errors import AnalyzerError
from analyzer.progress import Progress, terminal_progress
from analyzer.text import json_text, terminal_safe
from analyzer.timestamps import DisplayZone


def _handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into clean click errors (no traceback reaches a user)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except AnalyzerError as error:
            raise click.ClickException(terminal_safe(str(error))) from None
        except KeyboardInterrupt:
            raise click.Abort() from None
        except (MemoryError, OSError) as error:
            raise click.ClickException(terminal_safe(f"{type(error).__name__}: {error}")) from None

    return wrapper


def say(message: str, err: bool = True) -> None:
    """Print a one-line message (on stderr unless ``err=False``); the file names and export
    values in it are shown with their hidden characters visible, line breaks included."""
    click.echo(terminal_safe(message), err=err)


def stdout_is_terminal() -> bool:
    """Whether standard output is a terminal (not a file or a pipe)."""
    return sys.stdout.isatty()


def emit(text: str, output: Path | None = None, *, byte_order_mark: bool = False) -> None:
    """Print a command's output, or write it to ``output``.

    Args:
        text: the output, already in its final form (terminal text made safe, CSV or JSON
            from ``analyzer.text``).
        output: write it to this file instead, atomically (a failure leaves the previous
            file as it was), then print the file's path and its sha256.
        byte_order_mark: start the file with a UTF-8 byte order mark (CSV files: Excel then
            reads them as UTF-8); never on standard output.

    Raises:
        click.ClickException: the file cannot be written.
    """
    if output is None:
        # color=True: click would otherwise strip what looks like an ANSI sequence from output
        # that is not a terminal, silently altering exact CSV (terminal text has none left)
        click.echo(text, nl=False, color=True)
        return
    from analyzer.store import atomic_write_bytes

    data = ("\ufeff" if byte_order_mark else "").encode() + text.encode("utf-8")
    try:
        atomic_write_bytes(output, data)
    except OSError as error:
        raise click.ClickException(
            terminal_safe(
                f"{output}: cannot write the output ({error.strerror or error}); the previous "
                "file, if any, is untouched; choose another -o path or free some space"
            )
        ) from None
    say(str(output), err=False)
    say(f"sha256 {hashlib.sha256(data).hexdigest()}", err=False)


def json_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--json``: print the command's documented JSON (times ISO 8601 UTC)."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print JSON (exact text; every time ISO 8601 UTC with 7 fractional digits and Z).",
    )(command)


def csv_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--csv``: print the command's table as CSV."""
    return click.option(
        "--csv",
        "as_csv",
        is_flag=True,
        help="Print CSV: every field quoted, exact text behind a formula guard (safe to open "
        "in Excel, whatever its separator).",
    )(command)


def output_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``-o FILE``: write the output to a file (atomically) instead of printing it."""
    return click.option(
        "-o",
        "--output",
        type=click.Path(dir_okay=False, path_type=Path),
        help="Write the output to this file (replaced atomically: a failure leaves the "
        "previous file intact) and print its path and sha256.",
    )(command)


def display_tz_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--display-tz ZONE``: the zone every printed time is shown in."""
    return click.option(
        "--display-tz",
        default="UTC",
        show_default=True,
        help="IANA time zone to show times in, each labelled (e.g. Europe/Paris, "
        "America/New_York; abbreviations such as EST are refused). JSON times stay UTC.",
    )(command)


def _zone(name: str | None) -> DisplayZone:
    """The display zone, checked before any work."""
    return DisplayZone(name)


def _one_output(as_json: bool, as_csv: bool) -> str:
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")
    return "json" if as_json else "csv" if as_csv else "table"


def ingest_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options of every command that reads exports (raw files are ingested on the fly):
    ``--encoding``, ``--format`` (the export format, on every command), ``--dayfirst`` /
    ``--monthfirst``, ``--input-tz``."""
    options = [
        click.option(
            "--encoding",
            help="Force the text encoding of every input (e.g. utf-16-le, cp1252) "
            "instead of detecting it.",
        ),
        click.option(
            "--format",
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
            help="IANA time zone of timestamps that carry no zone (locale-formatted summary "
            "downloads); ISO times with Z or an offset are unaffected.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _ingest_options_from(kwargs: dict[str, Any]):
    from analyzer.ingest import IngestOptions

    return IngestOptions(
        encoding=kwargs.pop("encoding", None),
        format=kwargs.pop("format_name", None),
        dayfirst=kwargs.pop("dayfirst", None),
        input_tz=kwargs.pop("input_tz", "UTC"),
    )


class _SafeLabels:
    """A progress bar whose labels (file names) show their hidden characters visibly."""

    def __init__(self, bar: Progress) -> None:
        self.bar = bar

    def start(self, label: str, total: int) -> None:
        self.bar.start(terminal_safe(label), total)

    def advance(self, amount: int) -> None:
        self.bar.advance(amount)

    def finish(self) -> None:
        self.bar.finish()


def _progress() -> Progress | None:
    bar = terminal_progress(sys.stderr)
    return None if bar is None else _SafeLabels(bar)


def load_case(sources: tuple[str, ...], kwargs: dict[str, Any]):
    """Load a case folder or raw exports, reporting on stderr rejected inputs and rows (raw
    exports) or the case's warnings (a case folder: leftovers of an interrupted ingest, an
    old case format).

    When raw files were read and some could not be, or rows were rejected, the last line on
    stderr says how many (a clean read adds nothing to the command's output).
    """
    from analyzer.ingest import ingest_summary, load_sources

    case = load_sources(list(sources), _ingest_options_from(kwargs), progress=_progress())
    for warning in case.warnings:
        click.echo(f"msgtrace: {warning}", err=True)
    if case.path is None:  # a case folder's problems were reported when it was ingested
        records = case.inputs + case.rejected_inputs
        _report_problems(records)
        if case.rejected_inputs or any(r.rows_rejected for r in records):
            say(f"msgtrace: read {ingest_summary(records)}")
    else:
        for warning in case.warnings:
            say(f"msgtrace: case {case.path}: warning: {warning}")
    return case


def _report_problems(inputs) -> None:
    for record in inputs:
        if record.status == "skipped":
            click.echo(f"msgtrace: {record.path}: {record.warnings[0]}", err=True)
            continue
        if record.error:
            say(f"msgtrace: {record.path}: {record.error}")
            continue
        if record.rows_rejected:
            say(f"msgtrace: {record.path}: {record.rows_rejected:,} row(s) rejected")
            for line in _rejected_lines(record):
                say(f"  {line}")
            if record.rows_rejected > 5:
                say(
                    "  (the case manifest and the report list the first "
                    f"{min(record.rows_rejected, MAX_LISTED_REJECTIONS):,} with their reasons)"
                )
        for warning in record.warnings:
            say(f"msgtrace: {record.path}: warning: {warning}")


def _rejected_lines(record, first: int = 5) -> list[str]:
    """The first rejected rows of an input, each as ``line N: reason``."""
    return [
        f"{f'line {row.line}' if row.line else '?'}: {row.reason}"
        for row in record.rejected[:first]
    ]


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


@cli.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@output_option
@display_tz_option
@ingest_options
@_handle_errors
def inspect(
    files: tuple[Path, ...],
    as_json: bool,
    output: Path | None,
    display_tz: str,
    **kwargs: Any,
) -> None:
    """Say what each export file is: format, encoding, rows, time range, warnings.

    FILES may be files or folders (searched recursively). Nothing is written (but -o).

    Example: msgtrace inspect exports/MTSummary_Report.csv --json
    """
    from analyzer.ingest import ingest_summary, inspect_files, loaded_nothing

    zone = _zone(display_tz)
    records = inspect_files(list(files), _ingest_options_from(kwargs), progress=_progress())
    if as_json:
        emit(json_text([_inspect_json(r) for r in records]), output)
    else:
        emit("".join(_inspect_text(record, zone) for record in records), output)
    say(f"msgtrace: {ingest_summary(records)}")
    if any(loaded_nothing(r) for r in records):
        sys.exit(1)


def _inspect_json(record) -> dict[str, Any]:
    return {
        "path": record.path,
        "status": record.status,
        "format": record.format,
        "encoding": record.encoding,
        "bom": record.bom,
        "encoding_detected_by": record.encoding_detected_by,
        "rows": record.rows_read,
        "rows_rejected": record.rows_rejected,
        "rejected": [{"line": r.line, "reason": r.reason} for r in record.rejected[:5]],
        "first_event": record.first_event,
        "last_event": record.last_event,
        "sha256": record.sha256,
        "size": record.size,
        "archive": record.archive,
        "archive_sha256": record.archive_sha256,
        "member": record.member,
        "warnings": record.warnings,
        "error": record.error,
    }


def _inspect_text(record, zone: DisplayZone) -> str:
    if record.status == "skipped":
        lines = [record.path, f"  {record.warnings[0]}"]
    elif record.error:
        lines = [record.path, f"  error: {record.error}"]
    else:
        lines = [
            record.path,
            f"  format:   {record.format}",
            f"  encoding: {record.encoding}{' (with BOM)' if record.bom else ' (no BOM)'}, "
            f"by {record.encoding_detected_by}",
            f"  rows:     {record.rows_read:,}"
            + (f" ({record.rows_rejected:,} rejected)" if record.rows_rejected else ""),
            f"  events:   {zone.format(record.first_event)} .. {zone.format(record.last_event)}",
        ]
        if record.archive:
            lines.append(f"  archive:  {record.archive} (sha256 {record.archive_sha256})")
        lines += [f"  rejected: {line}" for line in _rejected_lines(record)]
        if record.rows_rejected > 5:
            lines.append(f"  rejected: ... {record.rows_rejected - 5:,} more")
        lines += [f"  warning:  {w}" for w in record.warnings]
    return "".join(terminal_safe(line) + "\n" for line in lines)


#: Exit status of ``ingest`` when the case was written but some inputs gave it nothing.
PARTIAL_INGEST = 3


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

    PATHS may be files, folders (searched recursively) or archives (.zip, .gz: read in place).
    Ingesting into an existing case adds to it; a file already in the case is skipped; events
    seen in two exports are kept once, with both provenances. One msgtrace writes a case at a
    time; each input is committed as it is done, so an interrupted ingest loses only the input
    it was reading (run it again). The last line says how many inputs could not be read and how
    many rows were rejected. Exit status: 0 when every input was read; 3 when the case was
    written but some inputs could not be read (or had every row rejected); 1 when nothing could
    be loaded, when another msgtrace is writing the case (without --wait), or with --strict
    when any input or row was rejected.

    Example: msgtrace ingest exports/ --case cases/INC-1234
    """
    from analyzer.ingest import ingest_into_case, ingest_summary, loaded_nothing

    def waiting(pid: int | None) -> None:
        holder = f"pid {pid}" if pid else "pid unknown"
        say(
            f"msgtrace: case {case_dir} is being written by another msgtrace ({holder}); "
            "waiting for it to finish..."
        )

    options = _ingest_options_from(kwargs)
    result = ingest_into_case(
        list(paths), case_dir, options, progress=_progress(), wait=wait, on_wait=waiting
    )
    for warning in result.warnings:
        say(f"msgtrace: case {case_dir}: warning: {warning}")
    added = result.added
    _report_problems(added)
    for record in added:
        if record.status == "already_in_case":
            say(f"{record.path}: already in the case, skipped", err=False)
        elif record.status == "ingested":
            say(
                f"{record.path}: {record.format}, {record.encoding}: "
                f"{record.rows_read:,} rows read, {record.rows_ingested:,} ingested, "
                f"{record.rows_duplicate:,} duplicate, {record.rows_rejected:,} rejected",
                err=False,
            )
    inputs = [r for r in added if r.status != "skipped"]
    summary = ingest_summary(added)
    if inputs and all(loaded_nothing(r) for r in inputs):
        raise click.ClickException(f"nothing could be loaded ({summary}; see the messages above)")
    say(
        f"case {case_dir}: {result.events:,} events from {len(result.inputs)} input(s); "
        f"this run: {summary}",
        err=False,
    )
    if strict and any(r.rows_rejected or r.error for r in inputs):
        sys.exit(1)
    if any(loaded_nothing(r) for r in inputs):
        sys.exit(PARTIAL_INGEST)


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
@json_option
@output_option
@_handle_errors
def verify(
    case_dir: Path,
    paths: tuple[Path, ...],
    check_inputs: bool,
    as_json: bool,
    output: Path | None,
) -> None:
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
        emit(json_text(result.to_json()), output)
    else:
        lines = [problem.line() for problem in result.problems]
        for note in result.notes:
            say(f"msgtrace: note: {note}")
        checked = result.checked
        if result.ok:
            what = (
                f"{checked.get('inputs', 0):,} input(s), {checked.get('parts', 0):,} part(s), "
                f"{checked.get('events', 0):,} events and {checked.get('duplicates', 0):,} "
                "duplicate rows"
            )
            if "original_files" in checked:
                what += f"; {checked['original_files']:,} original file(s) hashed again"
            lines.append(f"case {case_dir}: OK ({what})")
        else:
            lines.append(f"case {case_dir}: {len(result.problems):,} problem(s)")
        emit("".join(terminal_safe(line) + "\n" for line in lines), output)
    if result.record_error:
        say(f"msgtrace: warning: {result.record_error}")
    if not result.ok:
        sys.exit(1)


@cli.command()
@json_option
def formats(as_json: bool) -> None:
    """List the export formats msgtrace reads, with the columns that identify each.

    Example: msgtrace formats
    """
    from analyzer.formats import CONTAINER_WORDS, REGISTRY

    if as_json:
        emit(
            json_text(
                [
                    {
                        "name": spec.name,
                        "title": spec.title,
                        "identified_by": [spec.columns[c][0] for c in spec.signature],
                        "read_from": list(spec.containers),
                        "category": spec.category,
                    }
                    for spec in REGISTRY
                ]
            )
        )
        return
    for spec in REGISTRY:
        signature = ", ".join(spec.columns[c][0] for c in spec.signature)
        read_from = ", ".join(CONTAINER_WORDS[c] for c in spec.containers)
        say(spec.name, err=False)
        say(f"  {spec.title}", err=False)
        say(f"  read from: {read_from}", err=False)
        say(f"  identified by: {signature}", err=False)
        if spec.category:
            say(f"  streaming records of category: {spec.category}", err=False)


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
@json_option
@output_option
@display_tz_option
@ingest_options
@_handle_errors
def chain(
    sources: tuple[Path, ...],
    message_id: str,
    as_json: bool,
    output: Path | None,
    display_tz: str,
    **kwargs: Any,
) -> None:
    """Show what happened to one message, for each of its recipients.

    SOURCES are a case folder or raw export files/folders. Each recipient gets its final
    status in words, the SMTP reply that decided it, verdicts, and its events as a timeline
    (UTC, or --display-tz, each time labelled) with the input file and line of every row.
    Related messages (DSNs, inbox-rule forwards) are listed. An unknown id exits with status 1.

    Example: msgtrace chain --message "<CAF=x@mail.example.com>" cases/INC-1234
    """
    from analyzer.chains import chain_report
    from analyzer.text import CHAIN_TEXT_LEGEND, format_chain_text

    zone = _zone(display_tz)
    case = load_case(tuple(str(s) for s in sources), kwargs)
    data = chain_report(case, message_id)
    if as_json:
        emit(json_text(data), output)
    else:
        emit(format_chain_text(data, zone) + "\n" + CHAIN_TEXT_LEGEND + "\n", output)


#: What ``search --format`` chose before it meant the export format, as on every command.
_OLD_SEARCH_OUTPUTS = ("table", "csv", "json")


def _refuse_old_export_format(ctx: click.Context, _param: click.Parameter, value: Any) -> None:
    if value is not None and not ctx.resilient_parsing:
        raise click.UsageError(
            "--export-format is now --format, the export format, as on every command "
            "(the output is chosen with --csv or --json)",
            ctx=ctx,
        )


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
@json_option
@csv_option
@output_option
@click.option(
    "--limit",
    type=click.IntRange(min=0),
    help="Show at most this many results, the newest (0: all). Default: 1000 for the table, "
    "all for --csv and --json; a cut is announced on stderr.",
)
@display_tz_option
@click.option(
    "--export-format",
    hidden=True,
    expose_value=False,
    callback=_refuse_old_export_format,
)
@ingest_options
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
    as_json: bool,
    as_csv: bool,
    output: Path | None,
    limit: int | None,
    display_tz: str,
    **kwargs: Any,
) -> None:
    """Find messages like the admin center's message trace: one row per message x recipient.

    SOURCES are a case folder or raw export files/folders. Results are newest first with the
    time received (UTC, or --display-tz, each labelled), sender, recipient, subject, final
    status and ids. All criteria given must hold; a repeated option matches any of its
    values.

    Example: msgtrace search cases/INC-1234 --sender "*@contoso.com" --status Failed --csv
    """
    from analyzer.search import SearchCriteria, search_case

    if (kwargs.get("format_name") or "").lower() in _OLD_SEARCH_OUTPUTS:
        raise click.UsageError(
            f"--format {kwargs['format_name']} no longer chooses the output: --format is the "
            "export format, as on every command; use --csv or --json (the table is the "
            "default)"
        )
    chosen = _one_output(as_json, as_csv)
    zone = _zone(display_tz)
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
    terminal = chosen == "csv" and output is None and stdout_is_terminal()
    result = search_case(case, criteria, output=chosen, limit=limit, zone=zone, terminal=terminal)
    emit(result.text, output, byte_order_mark=chosen == "csv")
    for note in result.notes:
        say(f"msgtrace: {note}")
    if terminal:
        say(
            "msgtrace: CSV shown on a terminal, with hidden characters made visible (\\x1b, "
            "<U+202E>); redirect it to a file or use -o for the exact text"
        )


#: The file name endings ``report -o`` accepts: it writes one HTML file.
REPORT_SUFFIXES = (".html", ".htm")


def _report_path(output: Path) -> Path:
    suffix = output.suffix.lower()
    if suffix == ".pdf":
        raise click.BadParameter(
            f"{terminal_safe(str(output))}: msgtrace writes HTML: write "
            f"{terminal_safe(output.with_suffix('.html').name)}, open it and print it to PDF "
            "from the browser",
            param_hint="-o",
        )
    if suffix not in REPORT_SUFFIXES:
        raise click.BadParameter(
            f"{terminal_safe(str(output))}: the report is one HTML file; give a name ending "
            "in .html (e.g. report.html) so that it opens in a browser",
            param_hint="-o",
        )
    return output


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The .html file to write (replaced atomically; .pdf and other endings are refused).",
)
@click.option("--title", help="Title of the report.")
@click.option("--case-id", help="Incident or case reference shown in the header.")
@click.option("--analyst", help="Who produced the report.")
@display_tz_option
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

    _report_path(output)
    _zone(display_tz)
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
    say(str(output), err=False)
    say(f"sha256 {sha256}", err=False)


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
@json_option
@output_option
@display_tz_option
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
    output: Path | None,
    display_tz: str,
    min_severity: str,
    config: Path | None,
    overrides: tuple[str, ...],
    **kwargs: Any,
) -> None:
    """Find what an investigator must see: forwarding, bursts, phish, look-alikes, gaps...

    SOURCES are a case folder or raw export files/folders. Each finding has a rule id, a
    severity, a title, an explanation (why it matters, what to check next), the mailboxes,
    domains and IPs involved, and its evidence: input file:line, time, message id and
    recipient of the rows behind it. Times are UTC, or --display-tz (each labelled); in the
    JSON they are ISO 8601 UTC. Text is grouped by severity; --json prints
    [{"rule", "severity", "title", "explanation", "entities", "evidence": [{"network_message_id",
    "input", "line", ...}], "evidence_total"}].

    \b
    Example: msgtrace findings samples/ --min-severity medium --set burst_min_recipients=200
    """
    from analyzer.findings import case_findings, findings_json, findings_text, load_thresholds

    zone = _zone(display_tz)
    thresholds = load_thresholds(config, _threshold_overrides(overrides))
    case = load_case(tuple(str(s) for s in sources), kwargs)
    found = case_findings(case, thresholds, min_severity, zone)
    if as_json:
        emit(json_text(findings_json(found)), output)
    else:
        emit(findings_text(found, zone=zone), output)


# Commands of the incident stage (summary, mailbox, iocs): each a thin layer over
# analyzer.incident.


def _incident_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--display-tz, -o, --config and --set, shared by summary, mailbox and iocs."""
    options = [
        display_tz_option,
        output_option,
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
@json_option
@_SCOPE_OPTION
@_incident_options
@ingest_options
@_handle_errors
def summary(
    sources: tuple[Path, ...],
    as_json: bool,
    min_severity: str,
    display_tz: str | None,
    output: Path | None,
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

    zone = _zone(display_tz)  # a bad zone fails before the work
    thresholds = load_thresholds(config, _threshold_overrides(overrides))
    case = load_case(tuple(str(s) for s in sources), kwargs)
    result = case_summary(case, thresholds, min_severity, tuple(str(s) for s in sources), zone)
    if as_json:
        emit(json_text(result.to_json()), output)
    else:
        emit(summary_text(result, zone), output)


@cli.command()
@click.argument("address")
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--since",
    help="Count correspondents and domains as new from this ISO time (UTC unless it has an "
    "offset; default: the mailbox's first suspicious time).",
)
@json_option
@_incident_options
@ingest_options
@_handle_errors
def mailbox(
    address: str,
    sources: tuple[Path, ...],
    since: str | None,
    as_json: bool,
    display_tz: str | None,
    output: Path | None,
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

    zone = _zone(display_tz)
    parse_since(since)
    thresholds = load_thresholds(config, _threshold_overrides(overrides))
    case = load_case(tuple(str(s) for s in sources), kwargs)
    view = case_mailbox(case, address, since, thresholds, tuple(str(s) for s in sources), zone)
    if as_json:
        emit(json_text(view.to_json()), output)
    else:
        emit(mailbox_text(view, zone), output)


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@json_option
@csv_option
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
    output: Path | None,
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

    shape = _one_output(as_json, as_csv)
    zone = _zone(display_tz)
    thresholds = load_thresholds(config, _threshold_overrides(overrides))
    case = load_case(tuple(str(s) for s in sources), kwargs)
    found = case_indicators(case, thresholds, min_severity, zone)
    if shape == "json":
        emit(json_text(found.to_json()), output)
    elif shape == "csv":
        terminal = output is None and stdout_is_terminal()
        emit(indicators_csv(found, terminal=terminal), output, byte_order_mark=True)
    else:
        emit(indicators_text(found, zone), output)
