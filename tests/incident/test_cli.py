"""The summary, mailbox and iocs commands (analyzer/cli.py): thin layers that print the
library's views as text, JSON or CSV, and turn user errors into one line and status 1."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner
from exports import SAMPLES

from analyzer.cli import cli

ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z")


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_summary_json_leads_with_the_victim_and_is_byte_identical_twice():
    first = invoke("summary", str(SAMPLES), "--json")
    assert first.exit_code == 0, first.output
    data = json.loads(first.stdout)
    assert data["mailboxes"][0]["address"] == "victim@contoso.com"
    assert data["timeline"][0]["rule"] == "phish-detected"
    assert any(
        s["command"] and s["command"].startswith("Get-InboxRule -Mailbox 'victim@contoso.com'")
        for s in data["next_steps"]
    )
    times = [e["time"] for e in data["timeline"]]
    assert all(ISO.fullmatch(t) for t in times)
    assert invoke("summary", str(SAMPLES), "--json").stdout == first.stdout


def test_summary_text_in_a_display_zone():
    result = invoke("summary", str(SAMPLES), "--display-tz", "Europe/Paris")
    assert result.exit_code == 0
    assert "Times are shown in Europe/Paris" in result.output
    assert "2026-11-18 10:12:04 CET  [phish-detected]" in result.output


def test_mailbox_text_and_an_unknown_address():
    result = invoke("mailbox", "victim@contoso.com", str(SAMPLES), "--since", "2026-11-18T09:00Z")
    assert result.exit_code == 0, result.output
    assert "Forwards out (inbox rules) (1):" in result.output
    assert "to x.collector.4471@gmail.com" in result.output
    assert "203.0.113.66  11 messages" in result.output
    missing = CliRunner().invoke(cli, ["mailbox", "victim@contso.com", str(SAMPLES)])
    assert missing.exit_code == 1
    assert "did you mean victim@contoso.com?" in missing.output
    assert "Traceback" not in missing.output


def test_iocs_csv_and_json():
    result = invoke("iocs", str(SAMPLES), "--csv")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith('"type","value","first_seen"')
    assert any(line.startswith('"domain","c0ntoso.com",') for line in lines)
    data = json.loads(invoke("iocs", str(SAMPLES), "--json").stdout)
    assert {"ip", "203.0.113.66"} <= {
        v for i in data["indicators"] for v in (i["type"], i["value"])
    }
    both = CliRunner().invoke(cli, ["iocs", str(SAMPLES), "--json", "--csv"])
    assert both.exit_code == 2 and "give --json or --csv, not both" in both.output


@pytest.mark.parametrize("command", ["summary", "mailbox", "iocs"])
def test_help_ends_with_an_example_and_bad_options_fail_cleanly(command):
    help_text = invoke(command, "--help").output
    assert re.search(r"Example: msgtrace " + command + r" ", help_text)
    args = [command, *(["victim@contoso.com"] if command == "mailbox" else []), str(SAMPLES)]
    bad_zone = CliRunner().invoke(cli, [*args, "--display-tz", "PST"])
    assert bad_zone.exit_code == 1 and "'PST' is an abbreviation" in bad_zone.output
