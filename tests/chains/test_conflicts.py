"""Facts that disagree with the final status are flagged (analyzer.chains.conflicts)."""

from __future__ import annotations

from analyzer.chains import build_chains
from chains.helpers import event, make_case, recipients_of


def test_conflicting_exports_are_flagged_not_resolved():
    rows = [
        event("RECEIVE", "bob@contoso.com", 0),
        event("FAIL", "bob@contoso.com", 1, status_code="5.7.1"),
        event(
            None,
            "bob@contoso.com",
            0,
            reported_status="Delivered",
            time_basis="message",
            input_id="sum",
            report_type="summary",
        ),
        event(
            "RECEIVE",
            "bob@contoso.com",
            0,
            time_basis="message",
            event_seq=0,
            input_id="enh",
            report_type="enhanced_summary",
        ),
        event(
            "DELIVER",
            "bob@contoso.com",
            0,
            time_basis="message",
            event_seq=1,
            input_id="enh",
            report_type="enhanced_summary",
        ),
    ]
    bob = recipients_of(build_chains(make_case(rows)))["bob@contoso.com"]
    assert bob["final_status"] == "Failed"
    assert bob["conflict"] == (
        "summary says Delivered; events end in FAIL; "
        "enhanced summary says Delivered; events end in FAIL"
    )
