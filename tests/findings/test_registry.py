"""The rule registry (analyzer/findings/registry.py): every rule declared once, documented,
tested on a near miss, and giving the same findings alone as in a full run."""

from __future__ import annotations

import importlib
from dataclasses import fields
from pathlib import Path

import pytest
from exports import REAL_SAMPLES, SAMPLES

from analyzer.case import Case
from analyzer.chains import Chains, build_chains
from analyzer.findings import (
    RULE_MODULES,
    RULES,
    Thresholds,
    registry,
    rules_markdown,
    run_findings,
)
from analyzer.findings import forwarding as forwarding_rules
from analyzer.findings.base import Context
from analyzer.ingest import load_sources

from .builders import busy_case

PACKAGE = Path(__file__).resolve().parents[2] / "analyzer" / "findings"
RULE_IDS = [r.id for r in RULES]


def test_rules_markdown_documents_every_rule_and_threshold():
    text = rules_markdown()
    for rule in RULES:
        assert f"| `{rule.id}` |" in text
    for name in Thresholds.__dataclass_fields__:
        assert f"| `{name}` |" in text


def test_every_rule_is_declared_once_with_known_severities():
    assert len(RULE_IDS) == len(set(RULE_IDS)) == 24
    for declared in RULES:
        assert declared.severities and set(declared.severities) <= {
            "info",
            "low",
            "medium",
            "high",
        }
        assert declared.summary and "\n" not in declared.summary
        assert declared.function.__module__ in {m.__name__ for m in RULE_MODULES}


def test_every_declared_threshold_exists_and_every_threshold_is_read_by_a_rule():
    names = {f.name for f in fields(Thresholds)}
    declared = {t for r in RULES for t in r.thresholds}
    assert declared <= names
    assert names - declared == set(registry.SHAPE_THRESHOLDS)
    # a threshold's meaning that names its rules ("outbound-burst: ...") names rules that
    # declare it
    readers = {name: {r.id for r in RULES if name in r.thresholds} for name in names}
    for field in fields(Thresholds):
        named, colon, _ = field.metadata["meaning"].partition(": ")
        ids = {part.strip() for part in named.split(",")} if colon else set()
        assert ids & set(RULE_IDS) == ids, field.name
        assert ids <= readers[field.name], field.name


def test_a_bad_declaration_fails_at_import():
    def nothing(ctx):
        return []

    for bad in (
        {"id": "external-forwarding", "severity": "high"},  # taken
        {"id": "new-rule", "severity": "urgent"},
        {"id": "new-rule", "severity": "low", "thresholds": ("burst_min_recipent",)},
    ):
        with pytest.raises(ValueError, match="rule '"):
            registry.rule(summary="x", **bad)(nothing)
    assert "new-rule" not in {r.id for r in registry.collect(RULE_MODULES)}
    with pytest.raises(ValueError, match="outside the listed rule modules: outbound-burst"):
        registry.collect([forwarding_rules])


def test_every_rule_has_a_near_miss_test():
    """Each rule stays quiet on a near miss: some test marked ``@near_miss(rule id)``."""
    covered: dict[str, list[str]] = {}
    for path in sorted(Path(__file__).parent.glob("test_*.py")):
        module = importlib.import_module(f"{__package__}.{path.stem}")
        for name, value in vars(module).items():
            for rule_id in getattr(value, "near_miss", ()):
                covered.setdefault(rule_id, []).append(name)
    assert set(covered) - set(RULE_IDS) == set()  # no mark names an unknown rule
    assert [r for r in RULE_IDS if r not in covered] == []


def test_every_module_of_the_package_has_its_test_module():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    tests = {p.stem for p in Path(__file__).parent.glob("test_*.py")}
    assert [m for m in modules if f"test_{m}" not in tests] == []
    assert {m.__name__.rsplit(".", 1)[1] for m in RULE_MODULES} <= set(modules)


@pytest.fixture(scope="module", params=["busy", "samples", "real-samples"])
def analysed(request) -> tuple[Case, Chains]:
    if request.param == "busy":
        case = busy_case()
    else:
        case = load_sources([SAMPLES if request.param == "samples" else REAL_SAMPLES])
    return case, build_chains(case)


def test_findings_carry_their_rules_declared_id_and_severity(analysed):
    case, chains = analysed
    findings = run_findings(case, chains)
    assert findings
    by_id = {r.id: r for r in RULES}
    for finding in findings:
        assert finding.severity in by_id[finding.rule].severities, finding.rule


def test_each_rule_alone_gives_exactly_its_findings_of_the_full_run(analysed):
    case, chains = analysed
    full = run_findings(case, chains)
    for declared in RULES:
        alone = declared.function(Context(case=case, chains=chains, thresholds=Thresholds()))
        expected = [f for f in full if f.rule == declared.id]
        assert sorted(alone, key=lambda f: f.sort_key()) == expected, declared.id


def test_rules_in_reverse_order_on_one_context_give_the_same_findings(analysed):
    case, chains = analysed
    context = Context(case=case, chains=chains, thresholds=Thresholds())
    backwards = [f for declared in reversed(RULES) for f in declared.function(context)]
    assert sorted(backwards, key=lambda f: f.sort_key()) == run_findings(case, chains)
