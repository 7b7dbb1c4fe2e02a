"""Many mailboxes in one pass (analyzer/incident/activity.py): each mailbox's lists are what
its own view alone would show."""

from __future__ import annotations

from pathlib import Path

from analyzer.incident import mailbox_view, mailbox_views
from analyzer.incident.activity import counts, exchanges, sides

PACKAGE = Path(__file__).resolve().parents[2] / "analyzer" / "incident"


def test_views_made_together_equal_views_made_alone(samples):
    addresses = ["victim@contoso.com", "grace.kim@contoso.com", "bob.smith@contoso.com"]
    together = mailbox_views(samples, addresses)
    for address in addresses:
        assert together[address].to_json() == mailbox_view(samples, address).to_json()


def test_sent_and_received_copies_are_counted_per_mailbox(samples):
    sent, received = sides(samples, ["victim@contoso.com", "grace.kim@contoso.com"])
    sent_counts = counts(sent)
    assert sent_counts["victim@contoso.com"]["copy_count"] == int(
        (sent["mailbox"] == "victim@contoso.com").sum()
    )
    assert sum(counts(received)["grace.kim@contoso.com"]["by_status"].values()) == int(
        (received["mailbox"] == "grace.kim@contoso.com").sum()
    )


def test_a_mailbox_is_not_its_own_correspondent(samples):
    rows = exchanges(*sides(samples, ["victim@contoso.com"]))
    assert not (rows["address"] == rows["mailbox"]).any()
    assert set(rows["how"]) == {"sent to", "received from"}


def test_every_module_of_the_package_has_its_test_module():
    modules = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__")
    tests = {p.stem for p in Path(__file__).parent.glob("test_*.py")}
    assert [m for m in modules if f"test_{m}" not in tests] == []
