"""rare-client-ip and shared-unusual-ip (analyzer/findings/ips.py)."""

from __future__ import annotations

from analyzer.case import Case
from analyzer.findings import load_thresholds

from .builders import Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline

HOURS = 60


def sends_from(
    trace: Trace, sender: str, ip: str, count: int, start: float, tag: str, every: float = 6 * HOURS
) -> list[int]:
    """``count`` messages from ``ip``, one every ``every`` minutes from ``start``."""
    return [
        trace.mail(
            start + i * every,
            sender,
            f"c{i}@fabrikam.com",
            f"{tag}{i}",
            final="SEND",
            original_client_ip=ip,
        )
        for i in range(count)
    ]


@near_miss("shared-unusual-ip")
def test_sender_from_an_ip_nobody_uses_is_rare():
    trace = Trace()
    tenant_baseline(trace)
    sends_from(trace, "alice@contoso.com", "10.1.1.1", 12, 0, "a")
    sends_from(trace, "bob@contoso.com", "10.1.1.2", 12, 0, "b")
    odd = sends_from(trace, "alice@contoso.com", "203.0.113.9", 3, 30 * HOURS, "odd", every=5)
    findings = run(case_of(trace))
    [finding] = of_rule(findings, "rare-client-ip")
    assert finding.title == "alice@contoso.com sent from unusual IP 203.0.113.9 (3 of 15 messages)"
    assert finding.entities == {"ip": ["203.0.113.9"], "mailbox": ["alice@contoso.com"]}
    assert lines(finding) == {line - 1 for line in odd}  # each message's first row
    assert of_rule(findings, "shared-unusual-ip") == []


@near_miss("rare-client-ip")
def test_an_ip_colleagues_use_is_not_rare():
    trace = Trace()
    tenant_baseline(trace)
    sends_from(trace, "alice@contoso.com", "10.1.1.1", 12, 0, "a")
    sends_from(trace, "bob@contoso.com", "10.1.1.2", 12, 0, "b")
    sends_from(trace, "alice@contoso.com", "10.1.1.2", 1, 100, "visit")  # at bob's office
    assert of_rule(run(case_of(trace)), "rare-client-ip") == []


@near_miss("rare-client-ip")
def test_a_second_place_someone_works_from_is_not_rare():
    trace = Trace()
    tenant_baseline(trace)
    sends_from(trace, "alice@contoso.com", "10.1.1.1", 12, 0, "a")
    sends_from(trace, "alice@contoso.com", "192.0.2.44", 3, 5, "home", every=30 * HOURS)
    assert of_rule(run(case_of(trace)), "rare-client-ip") == []
    # home: 60 h of use; office: 66 h. An episode of up to 65 h makes home the odd one out.
    wide = load_thresholds(overrides={"rare_ip_max_span_hours": "65"})
    assert len(of_rule(run(case_of(trace), wide), "rare-client-ip")) == 1


def shared_ip_case(accounts: int) -> Case:
    trace = Trace()
    tenant_baseline(trace)
    for n in range(accounts):
        sends_from(trace, f"user{n}@contoso.com", f"10.2.0.{n}", 12, n * 20, f"u{n}-")
        sends_from(trace, f"user{n}@contoso.com", "198.51.100.7", 1, 30 * HOURS + n, f"x{n}-")
    return case_of(trace)


def test_one_unusual_ip_for_several_accounts_is_shared():
    findings = run(shared_ip_case(5))
    [finding] = of_rule(findings, "shared-unusual-ip")
    assert finding.severity == "high"
    assert finding.title == "5 internal senders used the unusual IP 198.51.100.7"
    assert finding.entities["ip"] == ["198.51.100.7"]
    assert len(finding.entities["mailbox"]) == 5
    assert finding.evidence_total == 5
    assert of_rule(findings, "rare-client-ip") == []


@near_miss("shared-unusual-ip")
def test_shared_ip_needs_enough_accounts_unless_configured():
    case = shared_ip_case(4)
    assert of_rule(run(case), "shared-unusual-ip") == []
    loose = load_thresholds(overrides={"shared_ip_min_senders": "4"})
    assert len(of_rule(run(case, loose), "shared-unusual-ip")) == 1
