"""build_chains end to end: no events, and the bundled samples of every format."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pytest

from analyzer.case import Case
from analyzer.chains import build_chains


def test_no_events_gives_empty_tables():
    chains = build_chains(Case.empty())
    assert chains.recipients.num_rows == chains.messages.num_rows == chains.links.num_rows == 0
    assert chains.tenant_domains == ()


# the bundled samples: every format of the same tenant, scenarios with known outcomes
# (samples/README.md lists them)

SAMPLES = Path(__file__).resolve().parent.parent.parent / "samples"


@pytest.fixture(scope="module")
def sample_chains():
    from analyzer.ingest import IngestOptions, load_sources

    return build_chains(load_sources([SAMPLES], IngestOptions()))


def _sample_recipients(chains, prefix: str) -> dict[str, tuple]:
    return {
        r["recipient_address"]: (
            r["final_status"],
            r["status_code"],
            r["parent_recipient"],
            r["recipient_relation"],
            r["deferral_count"],
        )
        for r in chains.recipients.to_pylist()
        if r["message_key"].startswith(prefix)
    }


@pytest.mark.parametrize(
    ("scenario", "prefix", "expected"),
    [
        (
            "partial_failure",
            "b006c93f",
            {
                "carol.jones@contoso.com": ("Delivered", "2.1.5", None, None, 0),
                "mark.jonson@contoso.com": ("Failed", "5.1.1", None, None, 0),
            },
        ),
        (
            "group_expansion",
            "904023d8",
            {
                "sales@contoso.com": ("Expanded", None, None, None, 0),
                **{
                    member: ("Delivered", "2.1.5", "sales@contoso.com", "expanded_from", 0)
                    for member in (
                        "dan.miller@contoso.com",
                        "erin.garcia@contoso.com",
                        "frank.lee@contoso.com",
                    )
                },
            },
        ),
        (
            "deferred_then_delivered",
            "41dec90c",
            {"grace.kim@contoso.com": ("Delivered", "2.1.5", None, None, 2)},
        ),
        (
            "pending_deferral",
            "8d5dfa7c",
            {"orders@proseware.com": ("Pending", "4.4.0", None, None, 3)},
        ),
        (
            "spam_quarantined",
            "c80b16d3",
            {"henry.patel@contoso.com": ("Quarantined", None, None, None, 0)},
        ),
        (
            "bulk_junked",
            "65419878",
            {"carol.jones@contoso.com": ("FilteredAsSpam", None, None, None, 0)},
        ),
        (
            "mailbox_redirect",
            "3e7b00e0",
            {
                "victim@contoso.com": ("Delivered", "2.1.5", None, None, 0),
                "x.collector.4471@gmail.com": (
                    "Delivered",
                    "2.0.0",
                    "victim@contoso.com",
                    "redirected_from",
                    0,
                ),
            },
        ),
    ],
)
def test_sample_scenarios_end_as_the_samples_readme_says(sample_chains, scenario, prefix, expected):
    assert _sample_recipients(sample_chains, prefix) == expected, scenario


def test_samples_in_every_format_make_one_chain_per_message(sample_chains):
    keys = sample_chains.messages.column("message_key").to_pylist()
    # the partial failure is in the extended report, enhanced summary, both summaries,
    # Get-MessageTrace(Detail), the API and Defender: one message
    assert sum(key.startswith("b006c93f") for key in keys) == 1
    # summary rows without a network message id all found their message
    assert not [key for key in keys if "|" in key]
    # the events the two overlapping extended reports share are in the chains once
    event_keys = sample_chains.events.column("event_key").to_pylist()
    assert len(event_keys) == len(set(event_keys))


def test_samples_link_the_dsn_and_the_inbox_rule_forward(sample_chains):
    links = [
        (x["message_key"][:8], x["related_message_key"][:8], x["relation"])
        for x in sample_chains.links.to_pylist()
    ]
    assert links == [
        ("930beadd", "b006c93f", "dsn_for"),
        ("9fa2baa7", "6ae1af81", "inbox_rule_forward_of"),
    ]
    malware = _sample_recipients(sample_chains, "d107033f")
    assert malware == {"alice.wong@contoso.com": ("Quarantined", None, None, None, 0)}
    rules = sample_chains.recipients.filter(
        pc.starts_with(sample_chains.recipients["message_key"], "92a25d95")
    )
    assert rules.column("transport_rules").to_pylist()[0][0].endswith(" ApplyHtmlDisclaimer")
