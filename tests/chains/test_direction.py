"""Direction of each recipient and the tenant's domains (analyzer.chains.direction)."""

from __future__ import annotations

from analyzer.chains import build_chains
from chains.helpers import event, make_case, recipients_of


def _forwarded_internal_mail() -> list[dict]:
    """bob's mailbox redirects a copy of internal mail outside: Exchange gives the copy the
    message's direction (internal); later alice mails that outside address herself."""
    internal = dict(nmid="I1", direction="internal")
    return [
        event("RECEIVE", "bob@contoso.com", 0, **internal),
        event("DELIVER", "bob@contoso.com", 1, **internal),
        event(
            "REDIRECT",
            "x.collector@gmail.example",
            1,
            related_recipient_address="bob@contoso.com",
            **internal,
        ),
        event("SEND", "x.collector@gmail.example", 2, **internal),
        event("RECEIVE", "x.collector@gmail.example", 60, nmid="O1", direction="originating"),
        event("SEND", "x.collector@gmail.example", 61, nmid="O1", direction="originating"),
    ]


def test_a_domain_only_ever_handed_on_is_not_the_tenants():
    chains = build_chains(make_case(_forwarded_internal_mail()))
    # gmail.example recipients are only ever sent on (SEND), never delivered, and nobody
    # submits mail from there: an outside hop, although the export called that copy internal
    assert chains.tenant_domains == ("contoso.com",)
    # so alice's own mail to it is outbound, not internal
    assert recipients_of(chains, "o1")["x.collector@gmail.example"]["direction"] == "outbound"
    # the export's own direction of the redirected copy is kept
    assert recipients_of(chains, "i1")["x.collector@gmail.example"]["direction"] == "internal"


def test_a_domain_whose_mailboxes_submit_stays_the_tenants():
    submit = event("SUBMIT", "x@gmail.example", 90, nmid="S1", sender_address="y@gmail.example")
    rows = [*_forwarded_internal_mail(), submit]
    assert build_chains(make_case(rows)).tenant_domains == ("contoso.com", "gmail.example")


def test_a_domain_with_a_mailbox_delivery_stays_the_tenants():
    rows = [*_forwarded_internal_mail(), event("DELIVER", "z@gmail.example", 90, nmid="D1")]
    assert build_chains(make_case(rows)).tenant_domains == ("contoso.com", "gmail.example")
