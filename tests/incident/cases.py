"""Small hand-built cases for the incident tests, on the findings tests' builders: rows
numbered like an export, so every moment can be traced to its line."""

from __future__ import annotations

from findings.builders import Trace, case_of, outbound_run, tenant_baseline

from analyzer.case import Case
from analyzer.incident import Investigation, investigate


def takeover(mailbox: str = "alice@contoso.com", target: str = "drop@evil.example") -> Trace:
    """A mailbox whose mail is redirected to an outside target, and that then sends a burst."""
    trace = Trace()
    tenant_baseline(trace)
    trace.add(20, "RECEIVE", "ceo@fabrikam.com", mailbox, "m1")
    trace.add(20.1, "REDIRECT", "ceo@fabrikam.com", mailbox, "m1", related_recipient_address=target)
    outbound_run(trace, mailbox, 40, 0.5, "Shared document", start=100)
    return trace


def benign() -> Case:
    """Ordinary internal mail and one ordinary outside correspondent: no finding at all."""
    trace = Trace()
    tenant_baseline(trace)
    trace.mail(30, "bob@contoso.com", "buyer@fabrikam.com", "out1", final="SEND")
    trace.mail(40, "buyer@fabrikam.com", "bob@contoso.com", "in1")
    return case_of(trace)


def investigation_of(trace: Trace, **options) -> Investigation:
    return investigate(case_of(trace), sources=("exports/",), **options)
