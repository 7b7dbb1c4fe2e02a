"""Links both ways (analyzer/incident/links.py): a message to the findings citing it, a
finding to its mailboxes, domains and IPs, a mailbox to its view."""

from __future__ import annotations

from analyzer.incident import case_links, findings_by_message

PHISH = "34349d2d-14c6-414b-9771-08de2a7c7180"


def test_a_message_lists_every_finding_citing_it(samples):
    citing = findings_by_message(samples)
    rules = {samples.findings[samples.ids.index(i)].rule for i in citing[PHISH]}
    assert {"phish-detected", "lookalike-domain", "quarantined"} <= rules
    for key, ids in citing.items():
        for finding_id in ids:  # each really cites it
            finding = samples.findings[samples.ids.index(finding_id)]
            cited = [*finding.evidence, *([finding.evidence_last] if finding.evidence_last else [])]
            assert key in {e.message_key for e in cited}


def test_a_finding_links_to_its_mailboxes_domains_ips_and_mailbox_pages(samples):
    links = case_links(samples)
    [rare] = [n for n, f in enumerate(samples.findings) if f.rule == "rare-client-ip"]
    target = links.findings[samples.ids[rare]]
    assert target.ips == ("203.0.113.66",)
    assert target.mailbox_pages == ("victim@contoso.com",)
    [forward] = [
        n
        for n, f in enumerate(samples.findings)
        if f.rule == "external-forwarding" and "Inbox rule" in f.title
    ]
    forwarding = links.findings[samples.ids[forward]]
    assert forwarding.mailboxes == ("victim@contoso.com", "x.collector.4471@gmail.com")
    assert forwarding.mailbox_pages == ("victim@contoso.com",)  # the outside one has no page
    assert forwarding.domains == ("gmail.com",)
    assert links.mailboxes["victim@contoso.com"].to_json()["forwards"]
    assert {"grace.kim@contoso.com", "henry.patel@contoso.com"} <= set(links.mailboxes)
