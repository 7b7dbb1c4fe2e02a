"""The rule registry (analyzer/findings/registry.py): every rule declared once, documented,
tested on a near miss, and giving the same findings alone as in a full run."""

from __future__ import annotations

from analyzer.findings import RULES, Thresholds, rules_markdown


def test_rules_markdown_documents_every_rule_and_threshold():
    text = rules_markdown()
    for rule in RULES:
        assert f"| `{rule.id}` |" in text
    for name in Thresholds.__dataclass_fields__:
        assert f"| `{name}` |" in text
