"""The overview: final statuses, directions and the top lists."""

from __future__ import annotations

import re

import pandas as pd
import pyarrow as pa

from analyzer.chains import DIRECTIONS
from analyzer.identifiers import address_text, domain_text
from analyzer.report import ReportOptions, build_report_context
from analyzer.report.overview import top_lists
from report.page import GENERATED_AT, parse


def test_overview_counts(full_html):
    visible = re.sub(r"\s+", " ", " ".join(parse(full_html).text))
    # 133 message x recipient rows: 12 failed (11 routine + nobody@fabrikam.com), 1 group
    assert re.search(r"Failed 12 9\.0 %", visible)
    assert re.search(r"Expanded 1 0\.8 %", visible)
    assert re.search(r"Delivered 120 90\.2 %", visible)
    assert "Top sender domains" in visible and "contoso-1ogin.com" in visible
    assert "Top sending IPs" in visible and "203.0.113.9" in visible


def _top(values: pd.Series, total: int) -> list[tuple[str, int, str]]:
    counts = values.dropna()[values.dropna() != ""].value_counts()
    pairs = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))[:10]
    return [(value, count, f"{100 * count / total:.1f} %") for value, count in pairs]


def test_top_lists_count_messages(story_case):
    case, chains, findings = story_case
    context = build_report_context(case, chains, findings, ReportOptions(generated_at=GENERATED_AT))
    shown = {
        top.title: [(row.label, row.count, row.share) for row in top.rows]
        for top in context.top_lists
    }
    messages = chains.messages.to_pandas()
    recipients = chains.recipients.to_pandas()
    total = len(messages)
    assert shown["Top senders"] == _top(messages["sender_address"].map(address_text), total)
    assert shown["Top sender domains"] == _top(messages["sender_address"].map(domain_text), total)
    # a recipient or IP counts once per message, however many rows it has there
    pairs = recipients.assign(r=recipients["recipient_address"].map(address_text))
    pairs = pairs.drop_duplicates(["message_key", "r"])
    assert shown["Top recipients"] == _top(pairs["r"], total)
    ips = recipients.drop_duplicates(["message_key", "from_ip"])
    assert shown["Top sending IPs"] == _top(ips["from_ip"], total)
    assert all(len(rows) <= 10 for rows in shown.values())


def test_top_lists_compare_addresses_as_every_stage_does():
    # one sender written three ways, as exports do: the same sender and domain
    messages = pa.table(
        {
            "message_key": ["m1", "m2", "m3", "m4"],
            "sender_address": ["<Bob@Contoso.com>", " bob@contoso.com ", "bob@contoso.com", None],
        }
    )
    recipients = pa.table(
        {
            "message_key": ["m1", "m1", "m2"],
            "recipient_address": ["Ann@Fabrikam.com", "<ann@fabrikam.com>", "ann@fabrikam.com"],
        }
    )
    senders, top_recipients, domains, ips = top_lists(messages, recipients)
    assert [(row.label, row.count, row.share) for row in senders.rows] == [
        ("bob@contoso.com", 3, "75.0 %")
    ]
    assert [(row.label, row.count) for row in domains.rows] == [("contoso.com", 3)]
    assert [(row.label, row.count) for row in top_recipients.rows] == [("ann@fabrikam.com", 2)]
    assert ips.rows == ()


def test_directions_count_messages_in_the_chains_order(story_case):
    case, chains, findings = story_case
    context = build_report_context(case, chains, findings, ReportOptions(generated_at=GENERATED_AT))
    counts = chains.messages.to_pandas()["direction"].value_counts()
    assert [(row.label, row.count) for row in context.direction_counts] == [
        (direction, int(counts[direction])) for direction in DIRECTIONS if direction in counts
    ]
    assert sum(row.count for row in context.direction_counts) == chains.messages.num_rows
