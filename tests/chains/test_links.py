"""Links between messages: DSNs and inbox-rule forwards (analyzer.chains.links)."""

from __future__ import annotations

import pytest

from analyzer.chains import build_chains, message_chain
from analyzer.text import format_chain_text
from chains.helpers import event, make_case, recipients_of


def test_inbox_rule_forward_to_an_outside_address_is_linked_to_its_trigger():
    trigger = dict(
        nmid="T1", message_id="<trigger@fabrikam.example>", sender_address="ceo@fabrikam.example"
    )
    forward = dict(nmid="F1", message_id="<fw@contoso.com>", sender_address="victim@contoso.com")
    rows = [
        event("RECEIVE", "victim@contoso.com", 0, direction="inbound", **trigger),
        event("DELIVER", "victim@contoso.com", 1, **trigger),
        event(
            "RECEIVE",
            "collector@gmail.example",
            3,
            source="MAILBOXRULE",
            reference="<Trigger@fabrikam.example>",
            direction="originating",
            line=40,
            **forward,
        ),
        event(
            "SEND",
            "collector@gmail.example",
            5,
            recipient_status="250 2.0.0 OK",
            direction="originating",
            **forward,
        ),
    ]
    chains = build_chains(make_case(rows))
    links = chains.links.to_pylist()
    assert [
        (x["message_key"], x["related_message_key"], x["relation"], x["line"]) for x in links
    ] == [("f1", "t1", "inbox_rule_forward_of", 40)]
    out = recipients_of(chains, "f1")["collector@gmail.example"]
    assert (out["final_status"], out["direction"]) == ("Delivered", "outbound")
    counts = {m["message_key"]: m["related_count"] for m in chains.messages.to_pylist()}
    assert counts == {"f1": 1, "t1": 1}
    case = make_case(rows)
    trigger_json = message_chain(chains, case, "t1")
    assert trigger_json["related_messages"][0]["relation"] == "inbox_rule_forward_of"
    assert trigger_json["related_messages"][0]["message_id"] == "<fw@contoso.com>"
    text = format_chain_text(message_chain(chains, case, "f1"))
    assert "forwarded by an inbox rule from T1" in text


@pytest.mark.parametrize("logged_on", ["dsn", "original", "both"])
def test_dsn_is_linked_to_its_original(logged_on):
    original = dict(nmid="O1", message_id="<orig@contoso.com>")
    dsn = dict(
        nmid="D1",
        message_id="<dsn@contoso.com>",
        sender_address="postmaster@contoso.com",
        message_subject="Undeliverable: Quarterly report",
    )
    rows = [
        event("RECEIVE", "mark@contoso.com", 0, **original),
        event("FAIL", "mark@contoso.com", 0.4, status_code="5.1.1", **original),
        event("RECEIVE", "alice@contoso.com", 1, **dsn),
        event("DELIVER", "alice@contoso.com", 2, **dsn),
    ]
    if logged_on in ("dsn", "both"):
        rows.append(
            event(
                "RECEIVE",
                "alice@contoso.com",
                1,
                source="DSN",
                reference="<orig@contoso.com>",
                **dsn,
            )
        )
    if logged_on in ("original", "both"):
        rows.append(
            event(
                "DSN",
                "mark@contoso.com",
                0.5,
                source="DSN",
                reference="<dsn@contoso.com>",
                **original,
            )
        )
    chains = build_chains(make_case(rows))
    links = [
        (x["message_key"], x["related_message_key"], x["relation"])
        for x in chains.links.to_pylist()
    ]
    assert links == [("d1", "o1", "dsn_for")]
    assert recipients_of(chains, "o1")["mark@contoso.com"]["final_status"] == "Failed"
