"""The README's promises: its two commands, what CI runs, and generated reference sections."""

from __future__ import annotations

import re
from pathlib import Path

from analyzer.formats import REGISTRY, formats_markdown
from analyzer.schema import schema_markdown

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    return re.findall(r"```sh\n(.+?)\n```", README)


def test_readme_starts_with_one_sentence_then_exactly_two_commands():
    first_block = README.index("```")
    intro = README[:first_block].strip()
    assert intro.count(". ") == 0 and intro.endswith("."), intro
    commands = _commands()
    assert len(commands) == 2
    assert "msgtrace report samples/" in commands[0]
    assert "pytest" in commands[1] and "chromium" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert _commands()[1] in ci.splitlines()


def test_readme_schema_section_matches_the_schema():
    assert schema_markdown() in README


def test_readme_lists_every_format():
    assert formats_markdown() in README
    for spec in REGISTRY:
        assert f"`{spec.name}`" in README


def test_readme_lists_every_findings_rule_and_threshold():
    from analyzer.findings import rules_markdown

    assert rules_markdown() in README
