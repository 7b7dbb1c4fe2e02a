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


def ingest_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options of every command that reads exports (raw files are ingested on the fly)."""
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
            help="Time zone of timestamps that carry no zone (locale-formatted summary "
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
        strict=kwargs.pop("strict", False),
    )


def _progress() -> Progress | None:
    return terminal_progress(sys.stderr)


def load_case(sources: tuple[str, ...], kwargs: dict[str, Any]):
    """Load a case folder or raw exports, reporting rejected inputs and rows on stderr."""
    from analyzer.ingest import load_sources

    case = load_sources(list(sources), _ingest_options_from(kwargs), progress=_progress())
    _report_problems(case.inputs)
    return case


def _report_problems(inputs) -> None:
    for record in inputs:
        if record.error:
            click.echo(f"msgtrace: {record.path}: {record.error}", err=True)
            continue
        if record.rows_rejected:
            click.echo(
                f"msgtrace: {record.path}: {record.rows_rejected} row(s) rejected",
                err=True,
            )
            for row in record.rejected[:5]:
                where = f"line {row.line}" if row.line else "?"
                click.echo(f"  {where}: {row.reason}", err=True)
            if record.rows_rejected > 5:
                click.echo("  (all are listed in the case manifest and report)", err=True)
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
        f"  encoding: {record.encoding}{' (with BOM)' if record.bom else ' (no BOM)'}",
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
@ingest_options
@_handle_errors
def ingest(paths: tuple[Path, ...], case_dir: Path, strict: bool, **kwargs: Any) -> None:
    """Ingest exports into a case folder (canonical events as Parquet + manifest.json).

    PATHS may be files or folders (searched recursively). Ingesting into an existing case adds
    to it; a file already in the case is skipped; events seen in two exports are kept once,
    with both provenances.

    Example: msgtrace ingest exports/ --case cases/INC-1234
    """
    from analyzer.ingest import ingest_into_case

    kwargs["strict"] = strict
    options = _ingest_options_from(kwargs)
    case, added = ingest_into_case(list(paths), case_dir, options, progress=_progress())
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
    click.echo(f"case {case_dir}: {case.events.num_rows:,} events from {len(case.inputs)} input(s)")
    if not any(r.status != "rejected" for r in added) and added:
        raise click.ClickException("nothing could be loaded (see the messages above)")
    if strict and any(r.rows_rejected or r.error for r in added):
        sys.exit(1)


@cli.command()
def formats() -> None:
    """List the export formats msgtrace reads, with the columns that identify each.

    Example: msgtrace formats
    """
    from analyzer.formats import REGISTRY

    for spec in REGISTRY:
        click.echo(f"{spec.name:26} {spec.title}")


# Commands of the later stages (chain, search, findings, report) follow below, each a thin
# layer over its library module.
