"""The rule registry: every rule declares itself once, where its function is defined.

A rule module decorates each rule function with ``@rule(...)``: the stable id of the findings
it makes, its severities, the thresholds it reads, the line the README and
``msgtrace findings --rules`` show for it, and its story: how its findings enter the incident
summary (``analyzer.findings.story``). ``analyzer.findings`` collects the declarations of
its rule modules in documentation order (``collect``); ``RULES`` and ``rules_markdown()`` are
derived from them, and ``run_findings`` runs them in that order.

Each rule function makes findings of its own id only, and reads what it shares with other rules
from cached properties of the ``Context`` (or of a ``Topic`` hanging off it), so it gives the
same findings run alone, in any order, or with all the others.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from types import ModuleType
from typing import TYPE_CHECKING

from analyzer.findings.model import SEVERITIES, Finding
from analyzer.findings.story import Story
from analyzer.findings.thresholds import Thresholds

if TYPE_CHECKING:
    from analyzer.findings.base import Context

RuleFunction = Callable[["Context"], list[Finding]]

#: Thresholds every rule reads through ``Context.finding`` and ``Context.entities``: the shape
#: of every finding, not a decision of any one rule.
SHAPE_THRESHOLDS: tuple[str, ...] = ("max_evidence", "max_entities")


@dataclass(frozen=True)
class Rule:
    """One rule as declared by its function.

    Attributes:
        id: the stable rule id of every finding the function makes (``Finding.rule``).
        severity: its severity, or ``a/b`` when the data decides (``high/medium``).
        summary: what it finds, in one line (the README's rules table).
        thresholds: the ``Thresholds`` fields its decision reads, besides ``SHAPE_THRESHOLDS``.
        function: ``function(context) -> list[Finding]``.
        story: its findings' roles, key moments, next steps and indicators in the incident
            summary (``analyzer.findings.story``); every rule declares one.
    """

    id: str
    severity: str
    summary: str
    thresholds: tuple[str, ...]
    function: RuleFunction
    story: Story | None = None

    @property
    def severities(self) -> tuple[str, ...]:
        """The severities its findings may have."""
        return tuple(self.severity.split("/"))

    @property
    def name(self) -> str:
        """``module.function`` of the rule function (for benchmarks and messages)."""
        return f"{self.function.__module__}.{self.function.__qualname__}"


# Declarations in the order their modules defined them; ``collect`` puts them in order.
_DECLARED: list[Rule] = []
_THRESHOLD_NAMES = frozenset(f.name for f in fields(Thresholds))


def rule(
    *,
    id: str,
    severity: str,
    summary: str,
    thresholds: tuple[str, ...] = (),
    story: Story | None = None,
) -> Callable[[RuleFunction], RuleFunction]:
    """Declare the decorated function as the rule ``id``.

    Args:
        id: the rule id of the findings it makes.
        severity: one of ``SEVERITIES``, or several joined by ``/`` when the data decides.
        summary: what it finds, one line for the README.
        thresholds: the ``Thresholds`` fields it reads, besides ``SHAPE_THRESHOLDS``.
        story: how its findings enter the incident summary (``Story``).

    Raises:
        ValueError: a repeated id, an unknown severity or threshold (a mistake in the code,
            found at import).
    """

    def declare(function: RuleFunction) -> RuleFunction:
        unknown = [s for s in severity.split("/") if s not in SEVERITIES]
        unknown += [t for t in thresholds if t not in _THRESHOLD_NAMES]
        if unknown or any(r.id == id for r in _DECLARED):
            raise ValueError(f"rule {id!r}: repeated id or unknown {', '.join(unknown)}")
        summary_line = " ".join(summary.split())
        _DECLARED.append(Rule(id, severity, summary_line, thresholds, function, story))
        return function

    return declare


def collect(modules: Iterable[ModuleType]) -> tuple[Rule, ...]:
    """The rules declared in ``modules``, module by module in that order, each module's in the
    order it defines them.

    Raises:
        ValueError: a rule declared in a module that is not listed (it would never run).
    """
    order = {module.__name__: n for n, module in enumerate(modules)}
    stray = [r.id for r in _DECLARED if r.function.__module__ not in order]
    if stray:
        raise ValueError(f"rules declared outside the listed rule modules: {', '.join(stray)}")
    ranked = sorted(
        enumerate(_DECLARED), key=lambda item: (order[item[1].function.__module__], item[0])
    )
    return tuple(declared for _, declared in ranked)


__all__ = ["SHAPE_THRESHOLDS", "Rule", "RuleFunction", "collect", "rule"]
