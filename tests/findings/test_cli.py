"""The `findings` command: text and JSON output, severity filter, thresholds from options and
config files, and evidence that points at real input lines."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

from click.testing import CliRunner
from exports import EXTENDED_COLUMNS

from analyzer.cli import cli
from analyzer.encoding import detect_encoding

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def extended_row(**values: str) -> list[str]:
    row = {"source": "SMTP", "event_id": "RECEIVE", "recipient_status": "To", **values}
    return [row.get(column, "") for column in EXTENDED_COLUMNS]


def write_extended(path: Path, rows: list[list[str]]) -> Path:
    """An extended report as the EAC downloads it: every field quoted, CRLF, UTF-16 LE + BOM."""
    quoted = [
        ",".join('"' + v.replace('"', '""') + '"' for v in r) for r in [EXTENDED_COLUMNS, *rows]
    ]
    path.write_bytes(codecs.BOM_UTF16_LE + "".join(q + "\r\n" for q in quoted).encode("utf-16-le"))
    return path


def invoke(*args: str):
    return CliRunner().invoke(cli, ["findings", *args], catch_exceptions=False)


def decoded_lines(path: Path) -> list[str]:
    """The lines of an export file as a reader sees them (in its detected encoding: the
    samples hold UTF-16 without BOM and an Excel-saved cp1252 summary among others)."""
    encoding = detect_encoding(path)
    text = path.read_bytes()[encoding.bom_length :].decode(encoding.name)
    return text.splitlines()


def redirect_export(folder: Path) -> tuple[Path, int]:
    """An EAC-style extended report (UTF-16 LE with BOM) in which a mailbox's mail is redirected
    to an outside address; returns the file and the line of the REDIRECT row."""
    rows = []
    for n in range(3):  # ordinary internal mail: contoso.com is the tenant
        common = {
            "network_message_id": f"00000000-0000-0000-0000-00000000000{n}",
            "message_id": f"<internal{n}@contoso.com>",
            "sender_address": "bob@contoso.com",
            "recipient_address": "alice@contoso.com",
            "directionality": "Originating",
        }
        rows.append(extended_row(date_time_utc=f"2024-03-01T09:0{n}:00.0000000Z", **common))
        rows.append(
            extended_row(
                date_time_utc=f"2024-03-01T09:0{n}:01.0000000Z",
                event_id="DELIVER",
                source="STOREDRIVER",
                recipient_status="250 2.1.5 RecipientSuccessfullyDelivered",
                **common,
            )
        )
    inbound = {
        "network_message_id": "6ae1af81-00dd-369e-a0c5-08de7f3ddff2",
        "message_id": "<invoice@fabrikam.com>",
        "sender_address": "ceo@fabrikam.com",
        "recipient_address": "alice@contoso.com",
    }
    rows.append(extended_row(date_time_utc="2024-03-01T10:00:00.0000000Z", **inbound))
    rows.append(
        extended_row(
            date_time_utc="2024-03-01T10:00:01.0000000Z",
            event_id="REDIRECT",
            source="ROUTING",
            related_recipient_address="alice.private@gmail.example",
            **inbound,
        )
    )
    redirect_line = len(rows) + 1  # the header is line 1
    rows.append(
        extended_row(
            date_time_utc="2024-03-01T10:00:02.0000000Z",
            event_id="SEND",
            **{**inbound, "recipient_address": "alice.private@gmail.example"},
        )
    )
    return write_extended(folder / "extended.csv", rows), redirect_line


def test_json_output_cites_the_redirect_row_of_the_export(tmp_path):
    path, redirect_line = redirect_export(tmp_path)
    result = invoke(str(path), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    [finding] = [f for f in data if f["rule"] == "external-forwarding"]
    assert set(finding) == {
        "rule",
        "severity",
        "title",
        "explanation",
        "entities",
        "evidence",
        "evidence_total",
    }
    assert finding["severity"] == "high"
    assert finding["entities"]["mailbox"] == ["alice.private@gmail.example", "alice@contoso.com"]
    [evidence] = finding["evidence"]
    assert evidence["input"] == str(path)
    assert evidence["line"] == redirect_line
    assert evidence["network_message_id"] == "6ae1af81-00dd-369e-a0c5-08de7f3ddff2"
    assert evidence["time"] == "2024-03-01T10:00:01.0000000Z"
    assert "REDIRECT" in decoded_lines(path)[redirect_line - 1]


def test_text_output_groups_by_severity_with_evidence_lines(tmp_path):
    path, redirect_line = redirect_export(tmp_path)
    result = invoke(str(path))
    assert result.exit_code == 0
    assert result.stdout.startswith("HIGH (1)\n")
    assert "[external-forwarding] Mail to alice@contoso.com is redirected to outside" in (
        result.stdout
    )
    assert (
        f"{path}:{redirect_line}  2024-03-01 10:00:01 UTC  <invoice@fabrikam.com>  "
        "alice@contoso.com  (redirected to alice.private@gmail.example)"
    ) in result.stdout


def test_min_severity_keeps_only_the_urgent_findings():
    everything = json.loads(invoke(str(SAMPLES), "--json").stdout)
    assert {f["severity"] for f in everything} >= {"high", "medium", "low"}
    urgent = json.loads(invoke(str(SAMPLES), "--json", "--min-severity", "high").stdout)
    assert urgent and {f["severity"] for f in urgent} == {"high"}
    assert urgent == [f for f in everything if f["severity"] == "high"]
    text = invoke(str(SAMPLES), "--min-severity", "medium").stdout
    assert "HIGH (" in text and "MEDIUM (" in text and "LOW (" not in text


def test_samples_show_the_attack_story_with_evidence_on_real_lines():
    data = json.loads(invoke(str(SAMPLES), "--json").stdout)
    rules = {f["rule"] for f in data}
    assert {
        "external-forwarding",
        "lookalike-domain",
        "outbound-burst",
        "rare-client-ip",
        "phish-detected",
        "malware-detected",
        "pending-at-end",
    } <= rules
    forwarding = [f for f in data if f["rule"] == "external-forwarding"]
    assert all("victim@contoso.com" in f["entities"]["mailbox"] for f in forwarding)
    assert all("x.collector.4471@gmail.com" in f["entities"]["mailbox"] for f in forwarding)
    cache: dict[str, list[str]] = {}
    for finding in data:
        assert finding["evidence"], finding["rule"]
        for item in finding["evidence"]:
            if item["line"] is None:
                continue
            lines = cache.setdefault(item["input"], decoded_lines(Path(item["input"])))
            # a row starts at its line (a quoted subject may carry it over a few lines)
            record = "\n".join(lines[item["line"] - 1 : item["line"] + 3]).lower()
            ids = [i for i in (item["network_message_id"], item["message_id"]) if i]
            assert any(i.lower().strip("<>") in record for i in ids), (finding["rule"], item)
    # the look-alike phish was moved to quarantine later (a ZAP in EmailPostDeliveryEvents);
    # what shows the domain sending it is the extended report's RECEIVE row, cited as such
    [lookalike] = [f for f in data if f["rule"] == "lookalike-domain"]
    assert lookalike["title"] == "Look-alike domain c0ntoso.com imitates contoso.com"
    assert {(Path(e["input"]).name, e["event_id"]) for e in lookalike["evidence"]} == {
        ("extended_utf16le_nobom.csv", "RECEIVE")
    }
    [row] = {e["line"] for e in lookalike["evidence"]}
    receive = decoded_lines(SAMPLES / "extended_utf16le_nobom.csv")[row - 1]
    assert "it-support@c0ntoso.com" in receive and '"RECEIVE"' in receive
    # and the malware quarantined on arrival is not said to have reached a mailbox
    [malware] = [f for f in data if f["rule"] == "malware-detected"]
    assert malware["severity"] == "medium"
    assert "delivered to the mailbox" not in malware["explanation"]


def test_thresholds_from_set_and_config_change_the_outcome(tmp_path):
    def rules(*args):
        return {f["rule"] for f in json.loads(invoke(str(SAMPLES), "--json", *args).stdout)}

    assert "outbound-burst" in rules()
    assert "outbound-burst" not in rules("--set", "burst_min_recipients=500")
    config = tmp_path / "findings.toml"
    config.write_text("[thresholds]\nburst_min_recipients = 500\n", encoding="utf-8")
    assert "outbound-burst" not in rules("--config", str(config))
    # --set wins over the file
    assert "outbound-burst" in rules("--config", str(config), "--set", "burst_min_recipients=20")


def test_bad_threshold_is_a_clean_error():
    result = invoke(str(SAMPLES), "--set", "burst_min_recipent=5")
    assert result.exit_code == 1
    assert "unknown threshold 'burst_min_recipent'" in result.output
    assert "did you mean burst_min_recipients?" in result.output
    assert "Traceback" not in result.output
    result = invoke(str(SAMPLES), "--set", "burst_min_recipients")
    assert result.exit_code == 2
    assert "expected KEY=VALUE" in result.output


def test_rules_lists_every_rule_and_threshold_without_sources():
    result = CliRunner().invoke(cli, ["findings", "--rules"])
    assert result.exit_code == 0
    assert "| `external-forwarding` | high |" in result.output
    assert "| `burst_min_recipients` | 30 |" in result.output


def test_display_tz_gives_titles_explanations_and_evidence_lines_one_zone(tmp_path):
    path, redirect_line = redirect_export(tmp_path)
    text = invoke(str(path), "--display-tz", "America/New_York").stdout
    assert "the first at 2024-03-01 05:00 EST" in text
    assert f"{path}:{redirect_line}  2024-03-01 05:00:01 EST  <invoice@fabrikam.com>" in text
    assert " UTC" not in text
    # the JSON's machine times stay UTC; only the words follow the zone
    data = json.loads(invoke(str(path), "--json", "--display-tz", "America/New_York").stdout)
    [finding] = [f for f in data if f["rule"] == "external-forwarding"]
    assert "the first at 2024-03-01 05:00 EST" in finding["explanation"]
    assert finding["evidence"][0]["time"] == "2024-03-01T10:00:01.0000000Z"


def test_run_findings_takes_the_zone_and_defaults_to_utc(tmp_path):
    from analyzer.chains import build_chains
    from analyzer.findings import findings_text, run_findings
    from analyzer.ingest import load_sources
    from analyzer.timestamps import DisplayZone

    path, _ = redirect_export(tmp_path)
    case = load_sources([path])
    chains = build_chains(case)
    paris = DisplayZone("Europe/Paris")
    [utc] = [f for f in run_findings(case, chains) if f.rule == "external-forwarding"]
    [local] = [f for f in run_findings(case, chains, zone=paris) if f.rule == "external-forwarding"]
    assert "the first at 2024-03-01 10:00 UTC" in utc.explanation
    assert "the first at 2024-03-01 11:00 CET" in local.explanation
    assert local.evidence == utc.evidence
    assert "2024-03-01 11:00:01 CET" in findings_text([local], zone=paris)
