"""Template words (analyzer/incident/words.py): counts with their word, short lists, and every
rule's moments filled."""

from __future__ import annotations

from analyzer.findings import RULES
from analyzer.findings.story import MOMENT_FIELDS
from analyzer.incident.words import Count, Names, fill


def test_counts_and_names_read_as_words():
    assert fill(
        "{n:send}, {m:copy/copies}, {k}", {"n": Count(1), "m": Count(3), "k": Count(1200)}
    ) == ("1 send, 3 copies, 1,200")
    assert f"{Names(['a', 'b', 'c', 'd', 'e'])}" == "a, b, c and 2 more"
    assert f"{Names([])}" == "(none)"


def test_every_rules_moments_fill_with_the_documented_values():
    values: dict[str, object] = {name: Names(["a@x.example"]) for name in MOMENT_FIELDS}
    values["total"] = values["count"] = Count(2)
    for declared in RULES:
        assert declared.story is not None
        for moment in declared.story.moments:
            text = fill(moment.what, values)
            assert "{" not in text and "}" not in text, (declared.id, text)
            assert "2 " in text or "{total" not in moment.what, (declared.id, text)
