"""Fixtures of the report tests: the story case, its full report, the bundled samples."""

from __future__ import annotations

import pytest

from analyzer.chains import build_chains
from report.page import SAMPLES, render, story


@pytest.fixture(scope="session")
def story_case(tmp_path_factory):
    """(case, chains, findings) of the story, through the real pipeline."""
    return story.build(tmp_path_factory.mktemp("exports"))


@pytest.fixture(scope="session")
def full_html(story_case) -> str:
    """The full report of the story, with a title, case id and analyst."""
    return render(story_case, title="Story", case_id="INC-7", analyst="A. Analyst")


@pytest.fixture(scope="session")
def samples_case():
    """(case, chains, findings) of the bundled samples."""
    from analyzer.findings import run_findings
    from analyzer.ingest import load_sources

    case = load_sources([SAMPLES])
    chains = build_chains(case)
    return case, chains, run_findings(case, chains)


@pytest.fixture(scope="session")
def edge_case(tmp_path_factory):
    """(case, chains, findings) of the edge cases: a nested expansion and hostile text."""
    return story.build_edge(tmp_path_factory.mktemp("edge-exports"))
