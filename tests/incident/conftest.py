"""Fixtures of the incident tests: the bundled samples' investigation, built once."""

from __future__ import annotations

import pytest
from exports import SAMPLES

from analyzer.incident import Investigation, Summary, incident_summary, investigate
from analyzer.ingest import load_sources


@pytest.fixture(scope="session")
def samples() -> Investigation:
    """The tenant where victim@contoso.com is taken over (samples/README.md)."""
    return investigate(load_sources([str(SAMPLES)]), sources=("samples/",))


@pytest.fixture(scope="session")
def samples_summary(samples: Investigation) -> Summary:
    return incident_summary(samples)
