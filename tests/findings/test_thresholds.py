"""Thresholds (analyzer/findings/thresholds.py): config files, --set overrides, and clean
errors for bad names and values."""

from __future__ import annotations

import pytest

from analyzer.errors import OptionError
from analyzer.findings import Thresholds, load_thresholds


def test_thresholds_from_toml_and_json_files_and_overrides(tmp_path):
    toml = tmp_path / "findings.toml"
    toml.write_text(
        'burst_min_recipients = 200\nsensitive_transport_actions = ["RedirectMessage"]\n'
        "coverage_gap_hours = 6\n",
        encoding="utf-8",
    )
    loaded = load_thresholds(toml, {"burst_window_minutes": "15"})
    assert loaded.burst_min_recipients == 200
    assert loaded.sensitive_transport_actions == ("RedirectMessage",)
    assert loaded.coverage_gap_hours == 6.0
    assert loaded.burst_window_minutes == 15
    assert loaded.max_evidence == Thresholds().max_evidence

    as_json = tmp_path / "findings.json"
    as_json.write_text('{"thresholds": {"max_evidence": 5}}', encoding="utf-8")
    assert load_thresholds(as_json).max_evidence == 5


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"burst_min_recipent": "5"},
            "unknown threshold 'burst_min_recipent' \\(did you mean burst_min_recipients\\?\\)",
        ),
        ({"burst_min_recipients": "many"}, "expected a whole number, got 'many'"),
        ({"failure_spike_min_rate": "2"}, "above its maximum 1"),
        ({"max_evidence": "0"}, "below its minimum 1"),
    ],
)
def test_bad_thresholds_are_option_errors(overrides, message):
    with pytest.raises(OptionError, match=message):
        load_thresholds(overrides=overrides)


def test_bad_config_file_is_an_option_error(tmp_path):
    broken = tmp_path / "x.toml"
    broken.write_text("burst_min_recipients = = 3", encoding="utf-8")
    with pytest.raises(OptionError, match="not valid TOML"):
        load_thresholds(broken)
    with pytest.raises(OptionError, match="cannot read the findings config"):
        load_thresholds(tmp_path / "missing.toml")
