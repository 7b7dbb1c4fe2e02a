"""Transport (mail flow) rule hits: which rule acted on which messages, and how.

Exchange logs a rule hit in ``custom_data`` as
``S:TRA=ETR|ruleId=<guid>|st=<when the rule changed>|action=<action>|sev=1|mode=Enforce``;
the schema parses that section into ``TRA.ruleId`` and ``TRA.action`` keys, one pair per rule
(a row may carry several). Rules that copy, redirect or delete mail, or set the spam level,
are how an attacker with admin rights keeps access to mail: they are reported as medium
(``Thresholds.sensitive_transport_actions``), other rules as info.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.findings.base import RULE_EVENT_COLUMNS, Context, listing, plural
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import Moment, Step, Story

RULE = "transport-rule-hit"


def _rule_hits(ctx: Context) -> pd.DataFrame:
    """One row per rule hit: ``row`` (index into events), ``rule_id``, ``action``."""
    pairs = ctx.custom_data_entries
    pairs = pairs[pairs["key"].isin(["tra.ruleid", "tra.action"])].reset_index(drop=True)
    # each ruleId is followed, within its section, by that rule's action
    is_rule = pairs["key"] == "tra.ruleid"
    has_action = (
        is_rule
        & (pairs["key"].shift(-1) == "tra.action")
        & (pairs["row"].shift(-1) == pairs["row"])
    )
    hits = pd.DataFrame(
        {
            "row": pairs.loc[is_rule, "row"].to_numpy(),
            "rule_id": pairs.loc[is_rule, "value"].str.strip().to_numpy(),
            "action": pairs["value"].shift(-1).where(has_action)[is_rule].to_numpy(),
        }
    )
    return hits[hits["rule_id"].notna() & (hits["rule_id"] != "")]


@rule(
    id=RULE,
    severity="medium/info",
    summary="Which transport rule acted on which messages with what action (medium for actions "
    "that copy, redirect, delete mail or set the SCL)",
    thresholds=("sensitive_transport_actions",),
    story=Story(
        moments=(Moment("Mail flow rule {rules} acts on a message ({title})", about="none"),),
        steps=(
            Step(
                "Check that mail flow rule {rule} is expected: its conditions and actions",
                "Get-TransportRule -Identity {rule} | Format-List Name,State,Priority,"
                "Conditions,Actions,WhenChanged",
                each="rule",
            ),
            Step(
                "Find who created or changed mail flow rules, and when (unified audit log, "
                "from a week before the first hit)",
                "Search-UnifiedAuditLog -StartDate {start} -EndDate {end} -Operations "
                "New-TransportRule,Set-TransportRule,Enable-TransportRule -ResultSize 5000",
                lookback_days=7,
            ),
        ),
    ),
)
def transport_rule_hits(ctx: Context) -> list[Finding]:
    """One finding per transport rule id: the messages it acted on and its actions."""
    if ctx.events.num_rows == 0 or "custom_data_fields" not in ctx.events.column_names:
        return []
    hits = _rule_hits(ctx)
    if hits.empty:
        return []
    rows = ctx.event_rows(np.unique(hits["row"].to_numpy()), RULE_EVENT_COLUMNS)
    by_row = rows.set_index("row")
    sensitive = {a.lower() for a in ctx.thresholds.sensitive_transport_actions}
    findings = []
    for key, group in hits.groupby("rule_id", sort=True):
        rule_id = str(key)
        evidence = by_row.loc[sorted(set(group["row"]))].reset_index()
        actions = sorted(set(group["action"].dropna()))
        action_of = group.drop_duplicates("row").set_index("row")["action"]
        evidence["detail"] = (
            "rule " + rule_id + ", action " + evidence["row"].map(action_of).fillna("not logged")
        )
        messages = evidence["message_key"].nunique()
        risky = sorted(a for a in actions if a.lower() in sensitive)
        senders = evidence["sender_address"].dropna().str.lower()
        finding = ctx.finding(
            RULE,
            "medium" if risky else "info",
            f"Transport rule {rule_id} acted on {plural(messages, 'message')} "
            f"({listing(actions) or 'action not logged'})",
            f"The mail flow rule {rule_id} acted on {plural(messages, 'message')} with the "
            f"action(s) {', '.join(actions) or 'not logged'}, first at "
            f"{ctx.time_text(evidence['time_ns'].min())}. "
            + (
                f"{listing(risky)} can copy, redirect or delete mail or let spam through, "
                "which attackers with admin rights use to keep access to mail. "
                if risky
                else ""
            )
            + "Check that the rule (Get-TransportRule -Identity <id>) is expected, who last "
            "changed it and when (admin audit log), and that its conditions match only the "
            "mail it is meant for.",
            ctx.entities(rule=[rule_id], mailbox=senders),
            evidence,
        )
        if finding:
            findings.append(finding)
    return findings


__all__ = ["transport_rule_hits"]
