"""Delivery failure spikes: time buckets whose failure rate is well above the case's own.

A sudden rise in failed recipients is how a spam run (many bounces from invalid addresses), a
blocklisting of the tenant's outbound IPs, or a broken connector shows in a trace. The NDR
status codes behind a spike say which it is.

Counted per recipient by its final status (``Chains.recipients``): recipients whose outcome is
decided (Delivered, Failed, Quarantined, FilteredAsSpam, Dropped) make the denominator; Failed
ones the numerator. Each recipient falls in the bucket of its final event.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.findings.base import Context, domain_series, plural
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import Moment, Step, Story

RULE = "failure-spike"
DECIDED = ("Delivered", "Failed", "Quarantined", "FilteredAsSpam", "Dropped")
FAILURE_EVENTS = ("FAIL", "DELIVERFAIL", "SUBMITFAIL", "RESUBMITFAIL", "HAREDIRECTFAIL")


@rule(
    id=RULE,
    severity="medium",
    summary="Time buckets whose failure rate is well above the case's baseline, with the top "
    "NDR codes",
    thresholds=(
        "failure_bucket_minutes",
        "failure_spike_factor",
        "failure_spike_min_rate",
        "failure_spike_min_failures",
        "top_ndr_codes",
    ),
    story=Story(
        moments=(
            Moment("{title}: first failure cited", about="none"),
            Moment("Last failure of the spike cited", rows="last", about="none"),
        ),
        steps=(
            Step(
                "Pull every failed message of the spike, with its NDR",
                "Get-MessageTraceV2 -Status Failed -StartDate {start} -EndDate {end} "
                "-ResultSize 5000",
                max_days=10,
            ),
        ),
    ),
)
def failure_spike(ctx: Context) -> list[Finding]:
    """Buckets of time whose failure rate is a multiple of the case's baseline."""
    t = ctx.thresholds
    recipients = ctx.recipients
    if recipients.num_rows == 0:
        return []
    mask = pc.and_(
        pc.is_in(recipients["final_status"], value_set=pa.array(DECIDED)),
        pc.is_valid(recipients["final_time"]),
    )
    frame = ctx.recipient_frame(
        mask,
        (
            "message_key",
            "network_message_id",
            "message_id",
            "sender_address",
            "recipient_address",
            "final_status",
            "status_code",
            "status_meaning",
            "final_time",
        ),
    )
    if frame.empty:
        return []
    bucket_ns = t.failure_bucket_minutes * 60 * 1_000_000_000
    frame["bucket"] = frame["final_time_ns"].astype("int64") // bucket_ns
    frame["failed"] = (frame["final_status"] == "Failed").to_numpy()
    per_bucket = frame.groupby("bucket")["failed"].agg(["size", "sum"])
    total, failed = int(per_bucket["size"].sum()), int(per_bucket["sum"].sum())
    if failed == 0:
        return []
    baseline = failed / total
    per_bucket["rate"] = per_bucket["sum"] / per_bucket["size"]
    spikes = per_bucket[
        (per_bucket["sum"] >= t.failure_spike_min_failures)
        & (per_bucket["rate"] >= t.failure_spike_min_rate)
        & (per_bucket["rate"] >= t.failure_spike_factor * baseline)
    ]
    if spikes.empty:
        return []
    # adjacent spike buckets make one spike
    buckets = spikes.index.to_numpy()
    run_ids = np.cumsum(np.r_[True, np.diff(buckets) != 1])
    findings = []
    for run in np.unique(run_ids):
        run_buckets = buckets[run_ids == run]
        in_run = frame[frame["bucket"].isin(run_buckets)]
        failures = in_run[in_run["failed"]]
        rate = len(failures) / len(in_run)
        start = int(run_buckets.min()) * bucket_ns
        end = (int(run_buckets.max()) + 1) * bucket_ns
        codes = _top_codes(failures, t.top_ndr_codes)
        domains = domain_series(failures["recipient_address"])
        evidence = ctx.pair_event_frame(
            ctx.earliest(failures, "final_time_ns")[["message_key", "recipient_address"]],
            prefer_events=FAILURE_EVENTS,
            prefer_statuses=("failed",),
        )
        evidence["detail"] = "failed: " + evidence["status_code"].fillna("no status code")
        finding = ctx.finding(
            RULE,
            "medium",
            f"Delivery failures at {rate:.0%} from {ctx.time_text(start)} to {ctx.time_text(end)} "
            f"(baseline {baseline:.0%})",
            f"{plural(len(failures), 'recipient')} of {len(in_run):,} failed between "
            f"{ctx.time_text(start)} and {ctx.time_text(end)}, against {baseline:.1%} over the "
            f"whole case. Most frequent NDR codes: {codes}. A spike of failures follows a "
            "spam run from a compromised mailbox (bounces from invalid addresses), a block of "
            "the organization's sending IPs or domain, or a broken connector. Check who sent "
            "the failed messages and what the NDRs say.",
            ctx.entities(mailbox=failures["sender_address"].str.lower(), domain=domains),
            evidence,
            total=len(failures),
        )
        if finding:
            findings.append(finding)
    return findings


def _top_codes(failures: pd.DataFrame, top: int) -> str:
    """``5.1.1 unknown recipient (40), 5.7.1 rejected by policy (12)``."""
    codes = failures["status_code"].fillna("none")
    counts = codes.value_counts()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    meanings = (
        failures.dropna(subset=["status_code"]).groupby("status_code")["status_meaning"].first()
    )
    parts = []
    for code, count in ranked:
        meaning = meanings.get(code)
        label = str(code) if code != "none" else "no status code"
        if isinstance(meaning, str) and meaning:
            label += f" {meaning}"
        parts.append(f"{label} ({count:,})")
    return ", ".join(parts)


__all__ = ["failure_spike"]
