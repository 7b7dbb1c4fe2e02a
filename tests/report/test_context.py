"""Every field a template uses exists on the context dataclass it reads, and every field of
the context is shown by some template.

The templates are parsed with jinja2 (no rendering, so every branch counts): starting from
``report.html`` with ``r`` a ``ReportContext``, each name gets a type (``{% set %}``,
``{% with %}``, ``{% for %}`` targets, tuple unpacking, ``[i]``), includes and the base
template are followed with the names in scope, and each ``a.b`` is checked against the
fields of ``a``'s dataclass.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jinja2
import pytest
from jinja2 import nodes

from analyzer.report import ReportContext
from analyzer.report import context as report_context
from analyzer.report.render import environment, template_root


class _Unchecked:
    """The type of a value whose attributes are not checked (a filter's or an operator's
    result, a constant)."""


class _Loop:
    """The type of jinja2's ``loop`` variable inside ``{% for %}``."""

    ATTRIBUTES = frozenset(
        {
            "index",
            "index0",
            "revindex",
            "revindex0",
            "first",
            "last",
            "length",
            "cycle",
            "depth",
            "depth0",
            "previtem",
            "nextitem",
            "changed",
        }
    )


#: What the filters the templates use return (the others are unchecked).
_FILTER_RESULTS: dict[str, Any] = {
    "length": int,
    "count": int,
    "lower": str,
    "upper": str,
    "capitalize": str,
    "sentence": str,
    "quote_id": str,
    "thousands": str,
    "shown": str,
    "breakable": str,
}


@dataclass
class Problem:
    """A template expression naming something its value does not have."""

    template: str
    line: int
    expression: str
    owner: str
    name: str

    def __str__(self) -> str:
        return (
            f"{self.template}:{self.line}: {self.expression}: {self.owner} has no field "
            f"{self.name!r}"
        )


@dataclass
class FieldCheck:
    """Walks templates with the type of each name in scope."""

    env: jinja2.Environment
    problems: list[Problem] = field(default_factory=list)
    used: set[tuple[type, str]] = field(default_factory=set)
    visited: set[str] = field(default_factory=set)

    def check(self, name: str, scope: dict[str, Any]) -> None:
        """Walk template ``name`` with these names in scope (following its includes)."""
        self.visited.add(name)
        source = self.env.loader.get_source(self.env, name)[0]
        self._body(self.env.parse(source, name), dict(scope), name, scope)

    # -- statements -----------------------------------------------------------------------

    def _body(self, node: nodes.Node, scope: dict[str, Any], template: str, root: dict) -> None:
        for child in node.iter_child_nodes():
            self._statement(child, scope, template, root)

    def _statement(self, node: nodes.Node, scope: dict, template: str, root: dict) -> None:
        if isinstance(node, nodes.For):
            item = _element(self._type(node.iter, scope, template))
            inner = dict(scope)
            self._assign(node.target, item, inner)
            inner["loop"] = _Loop
            if node.test is not None:
                self._type(node.test, inner, template)
            for child in node.body:
                self._statement(child, inner, template, root)
            for child in node.else_:
                self._statement(child, scope, template, root)
        elif isinstance(node, nodes.Assign):
            self._assign(node.target, self._type(node.node, scope, template), scope)
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=True):
                self._assign(target, self._type(value, scope, template), inner)
            for child in node.body:
                self._statement(child, inner, template, root)
        elif isinstance(node, nodes.Include | nodes.Extends):
            if not isinstance(node.template, nodes.Const):
                raise AssertionError(f"{template}:{node.lineno}: only literal template names")
            # an included template sees the includer's names; a base template the root's
            self.check(node.template.value, scope if isinstance(node, nodes.Include) else root)
        elif isinstance(node, nodes.Expr):
            self._type(node, scope, template)
        else:
            self._body(node, scope, template, root)

    def _assign(self, target: nodes.Node, value: Any, scope: dict[str, Any]) -> None:
        if isinstance(target, nodes.Name):
            scope[target.name] = value
        elif isinstance(target, nodes.Tuple):
            parts = _tuple_parts(value, len(target.items))
            for item, part in zip(target.items, parts, strict=True):
                self._assign(item, part, scope)

    # -- expressions ----------------------------------------------------------------------

    def _type(self, node: nodes.Node, scope: dict[str, Any], template: str) -> Any:
        """The type of an expression, recording each attribute that its owner lacks."""
        if isinstance(node, nodes.Name):
            if node.name not in scope:
                self.problems.append(Problem(template, node.lineno, node.name, "scope", node.name))
                return _Unchecked
            return scope[node.name]
        if isinstance(node, nodes.Getattr):
            owner = _without_none(self._type(node.node, scope, template))
            return self._attribute(owner, node.attr, node, template)
        if isinstance(node, nodes.Getitem):
            owner = _without_none(self._type(node.node, scope, template))
            self._type(node.arg, scope, template)
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, int):
                return _item(owner, node.arg.value)
            return _Unchecked
        if isinstance(node, nodes.Filter):
            for child in node.iter_child_nodes():
                self._type(child, scope, template)
            if node.name in ("min", "max") and node.node is not None:
                return _element(self._type(node.node, scope, template))
            return _FILTER_RESULTS.get(node.name, _Unchecked)
        if isinstance(node, nodes.Const):
            return type(node.value)
        for child in node.iter_child_nodes():
            self._type(child, scope, template)
        return _Unchecked

    def _attribute(self, owner: Any, name: str, node: nodes.Getattr, template: str) -> Any:
        if owner is _Unchecked:
            return _Unchecked
        if owner is _Loop:
            if name not in _Loop.ATTRIBUTES:
                self._problem(node, template, "loop", name)
            return _Unchecked
        if isinstance(owner, type) and dataclasses.is_dataclass(owner):
            hints = typing.get_type_hints(owner)
            if name in {f.name for f in dataclasses.fields(owner)}:
                self.used.add((owner, name))
                return hints[name]
            self._problem(node, template, owner.__name__, name)
            return _Unchecked
        origin = typing.get_origin(owner) or owner
        if not hasattr(origin, name):  # e.g. a str's method is fine, a made-up field is not
            self._problem(node, template, getattr(origin, "__name__", str(owner)), name)
        return _Unchecked

    def _problem(self, node: nodes.Getattr, template: str, owner: str, name: str) -> None:
        self.problems.append(Problem(template, node.lineno, _expression(node), owner, name))


def _expression(node: nodes.Node) -> str:
    """``a.b.c`` of a chain of attributes (other expressions as ``(...)``)."""
    if isinstance(node, nodes.Getattr):
        return f"{_expression(node.node)}.{node.attr}"
    if isinstance(node, nodes.Name):
        return node.name
    if isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
        return f"{_expression(node.node)}[{node.arg.value!r}]"
    return "(...)"


def _without_none(annotation: Any) -> Any:
    """``X`` of ``X | None``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        kept = [a for a in typing.get_args(annotation) if a is not type(None)]
        return kept[0] if len(kept) == 1 else _Unchecked
    return annotation


def _element(annotation: Any) -> Any:
    """The type of an item of ``tuple[X, ...]`` (unchecked for anything else)."""
    annotation = _without_none(annotation)
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
    return _Unchecked


def _item(annotation: Any, index: int) -> Any:
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) == 2 and args[1] is Ellipsis:
            return args[0]
        if -len(args) <= index < len(args):
            return args[index]
    return _Unchecked


def _tuple_parts(annotation: Any, count: int) -> list[Any]:
    if typing.get_origin(annotation) is tuple:
        args = typing.get_args(annotation)
        if len(args) == count and Ellipsis not in args:
            return list(args)
        if len(args) == 2 and args[1] is Ellipsis:
            return [args[0]] * count
    return [_Unchecked] * count


def check_templates(env: jinja2.Environment, page: str = "report.html") -> FieldCheck:
    """Check ``page`` (and everything it includes or extends) with ``r`` a ReportContext."""
    checker = FieldCheck(env)
    root = {"r": ReportContext}
    checker.check(page, root)
    return checker


def _context_dataclasses() -> Iterator[type]:
    for value in vars(report_context).values():
        is_view = isinstance(value, type) and dataclasses.is_dataclass(value)
        if is_view and value.__module__ == report_context.__name__:
            yield value


@pytest.fixture(scope="module")
def checked() -> FieldCheck:
    return check_templates(environment())


def test_every_field_a_template_uses_exists_on_its_context_dataclass(checked):
    assert [str(problem) for problem in checked.problems] == []


def test_every_template_is_checked(checked):
    pages = {path.name for path in template_root().iterdir() if path.name.endswith(".html")}
    assert checked.visited == pages


def test_every_context_field_is_shown_by_a_template(checked):
    unused = [
        f"{cls.__name__}.{f.name}"
        for cls in _context_dataclasses()
        for f in dataclasses.fields(cls)
        if (cls, f.name) not in checked.used
    ]
    assert unused == []


def _checked_source(templates: dict[str, str]) -> list[str]:
    env = jinja2.Environment(loader=jinja2.DictLoader(templates))
    return [str(problem) for problem in check_templates(env).problems]


def test_a_misspelt_field_is_named_with_its_template_and_dataclass():
    problems = _checked_source(
        {
            "report.html": "{{ r.title }}\n{% if r.focus %}{{ r.focus.subjct }}{% endif %}",
        }
    )
    assert problems == ["report.html:2: r.focus.subjct: MessageDetailView has no field 'subjct'"]


def test_fields_are_followed_through_loops_sets_withs_and_includes():
    problems = _checked_source(
        {
            "report.html": (
                "{% set q = r.quality %}{% for row in q.rejected %}{{ row.reasn }}{% endfor %}\n"
                "{% for group in r.severity_groups %}{% for f in group.findings %}"
                "{% for kind, values in f.entities %}{{ kind.nope }}{% endfor %}"
                "{% for e in f.evidence if e.tiem %}{{ loop.index }}{% endfor %}"
                "{% endfor %}{% endfor %}\n"
                '{% with d = r.focus %}{% include "_part.html" %}{% endwith %}'
            ),
            "_part.html": (
                "{% for rcpt in d.recipients %}{{ rcpt.events[0].gap_levle }}{% endfor %}\n"
                "{{ r.volume.table[0][1]|length }}{{ r.coverage.lanes[0].bar.wdth }}\n"
                "{{ undefined_name }}"
            ),
        }
    )
    assert problems == [
        "report.html:1: row.reasn: RejectedView has no field 'reasn'",
        "report.html:2: kind.nope: str has no field 'nope'",
        "report.html:2: e.tiem: EvidenceView has no field 'tiem'",
        "_part.html:1: rcpt.events[0].gap_levle: EventView has no field 'gap_levle'",
        "_part.html:2: r.coverage.lanes[0].bar.wdth: Bar has no field 'wdth'",
        "_part.html:3: undefined_name: scope has no field 'undefined_name'",
    ]


def test_a_field_used_nowhere_is_reported():
    env = jinja2.Environment(loader=jinja2.DictLoader({"report.html": "{{ r.title }}"}))
    used = check_templates(env).used
    assert (ReportContext, "title") in used
    assert (ReportContext, "csp") not in used
