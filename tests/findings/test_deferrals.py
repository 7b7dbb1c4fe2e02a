"""long-deferral, pending-at-end and mail-loop (analyzer/findings/deferrals.py)."""

from __future__ import annotations

from .builders import Trace, case_of, lines, near_miss, of_rule, run, tenant_baseline


@near_miss("long-deferral")
def test_long_deferral_by_recipient_domain():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "alice@contoso.com", "bob@slow.example", "d1")
    trace.add(
        11,
        "DEFER",
        "alice@contoso.com",
        "bob@slow.example",
        "d1",
        recipient_status="451 4.4.0 DNS query failed",
        status_code="4.4.0",
    )
    last_defer = trace.add(
        71,
        "DEFER",
        "alice@contoso.com",
        "bob@slow.example",
        "d1",
        recipient_status="451 4.4.0 DNS query failed",
        status_code="4.4.0",
    )
    trace.add(140, "SEND", "alice@contoso.com", "bob@slow.example", "d1")
    # a short deferral elsewhere: not reported
    trace.add(10, "RECEIVE", "alice@contoso.com", "eve@quick.example", "d2")
    trace.add(11, "DEFER", "alice@contoso.com", "eve@quick.example", "d2")
    trace.add(16, "SEND", "alice@contoso.com", "eve@quick.example", "d2")
    [finding] = of_rule(run(case_of(trace)), "long-deferral")
    assert finding.title == "Delivery to slow.example deferred for up to 2 h 9 min (1 recipient)"
    assert lines(finding) == {last_defer}
    assert "final status Delivered" in finding.evidence[0].detail


@near_miss("pending-at-end")
def test_pending_at_end_only_when_old_enough():
    trace = Trace()
    tenant_baseline(trace)
    trace.add(10, "RECEIVE", "alice@contoso.com", "bob@down.example", "p1")
    stuck = trace.add(11, "DEFER", "alice@contoso.com", "bob@down.example", "p1")
    trace.add(290, "RECEIVE", "alice@contoso.com", "eve@later.example", "p2")
    trace.add(291, "DEFER", "alice@contoso.com", "eve@later.example", "p2")  # 9 min before end
    trace.mail(300, "bob@contoso.com", "alice@contoso.com", "end")
    [finding] = of_rule(run(case_of(trace)), "pending-at-end")
    assert finding.title == "1 recipient at down.example still pending at the end of the data"
    assert lines(finding) == {stuck}
    assert finding.entities["domain"] == ["down.example"]


def test_mail_loop_by_repeated_receives_and_by_ndr():
    trace = Trace()
    tenant_baseline(trace)
    loop_lines = []
    for i in range(12):
        loop_lines.append(
            trace.add(
                10 + i,
                "RECEIVE",
                "alice@contoso.com",
                "alias@partner.example",
                f"hop{i}",
                message_id="<loop-1@contoso.com>",
            )
        )
        trace.add(
            10.5 + i,
            "SEND",
            "alice@contoso.com",
            "alias@partner.example",
            f"hop{i}",
            message_id="<loop-1@contoso.com>",
        )
    ndr = trace.add(
        50,
        "FAIL",
        "bob@contoso.com",
        "x@partner.example",
        "n1",
        status_code="5.4.14",
        recipient_status="554 5.4.14 Hop count exceeded",
    )
    findings = of_rule(run(case_of(trace)), "mail-loop")
    assert len(findings) == 2
    repeated = next(f for f in findings if "<loop-1@contoso.com>" in f.title)
    assert "received 12 times for alias@partner.example" in repeated.title
    assert lines(repeated) == set(loop_lines)
    by_ndr = next(f for f in findings if "5.4.14" in f.title)
    assert lines(by_ndr) == {ndr}


@near_miss("mail-loop")
def test_a_few_receives_are_no_loop():
    trace = Trace()
    tenant_baseline(trace)
    for i in range(3):
        trace.mail(
            10 + i,
            "alice@contoso.com",
            "alias@partner.example",
            f"hop{i}",
            final="SEND",
            message_id="<again@contoso.com>",
        )
    assert of_rule(run(case_of(trace)), "mail-loop") == []
