"""Outbound bursts: one internal mailbox, or one subject, mailing many outside recipients fast.

A hijacked mailbox is typically used to send spam or phishing to hundreds of outside addresses
within minutes. Only mail from internal senders to outside recipients counts: a newsletter to
many internal recipients is not a burst.

The densest window is found per sender (or subject) with one sorted search over all rows
(``densest_windows``); a recipient mailed again within the window counts once.
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from analyzer.arrays import fill_false
from analyzer.findings.base import Context, Topic, domain_series, listing, plural
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import (
    MAILBOX_VIEW,
    SENDER_RESTRICTED,
    TRACE_SENT,
    USER_SIGNINS,
    Moment,
    Role,
    Step,
    Story,
)

BURST_RULE = "outbound-burst"
SUBJECT_RULE = "mass-subject"

_COLUMNS = (
    "message_key",
    "network_message_id",
    "message_id",
    "sender_address",
    "recipient_address",
    "message_subject",
    "first_time",
    "final_time",
    "decided_input_id",
    "decided_line",
)


def densest_windows(frame: pd.DataFrame, group: str, window_ns: int) -> pd.DataFrame:
    """Per group, the window of ``window_ns`` that holds the most distinct recipients.

    Args:
        frame: rows with ``group``, ``recipient`` and ``time_ns`` columns.
        group: the column that groups rows (sender or subject).
        window_ns: window length in nanoseconds.

    Returns:
        One row per group: ``group``, ``start`` and ``end`` (the window's rows are
        ``start:end`` of the de-duplicated, sorted frame returned as ``frame.attrs['rows']``),
        ``recipients``: how many distinct recipients the window holds.
    """
    rows = frame.sort_values([group, "recipient", "time_ns"], kind="stable")
    # a recipient mailed again within the window counts once
    same_pair = (rows[group] == rows[group].shift()) & (
        rows["recipient"] == rows["recipient"].shift()
    )
    gap = rows["time_ns"] - rows["time_ns"].shift()
    rows = rows[~(same_pair & (gap <= window_ns))]
    rows = rows.sort_values([group, "time_ns", "recipient"], kind="stable").reset_index(drop=True)
    codes = pd.factorize(rows[group], sort=True)[0].astype(np.int64)
    times = rows["time_ns"].to_numpy(dtype=np.int64)
    offset = times - times.min()
    stride = int(offset.max()) + window_ns + 1
    key = codes * stride + offset  # groups never overlap: each lives in its own stride
    ends = np.searchsorted(key, key + window_ns, side="right")
    counts = pd.Series(ends - np.arange(len(key)))
    best = counts.groupby(codes).idxmax()  # earliest densest window per group
    result = pd.DataFrame(
        {group: rows[group].to_numpy()[best.to_numpy()], "start": best.to_numpy()}
    )
    result["recipients"] = counts.to_numpy()[result["start"]]
    result["end"] = ends[result["start"]]
    result.attrs["rows"] = rows
    return result


class Window(NamedTuple):
    """One group's densest window: rows ``start:end`` of the sorted rows, and how many distinct
    recipients they hold."""

    group: str
    start: int
    end: int
    recipients: int


def windows_of(hits: pd.DataFrame, group: str) -> list[Window]:
    """The rows of a ``densest_windows`` result as ``Window`` tuples."""
    if hits.empty:
        return []
    columns = (hits[group], hits["start"], hits["end"], hits["recipients"])
    return [Window(str(g), int(s), int(e), int(r)) for g, s, e, r in zip(*columns, strict=True)]


def _select_outbound_rows(ctx: Context) -> pd.DataFrame:
    """Message x recipient rows from internal senders to outside recipients."""
    if not ctx.tenant_domains or ctx.recipients.num_rows == 0:
        return pd.DataFrame()
    mask = pc.and_(
        pc.and_(
            ctx.internal_mask(ctx.recipient_sender_domain),
            pc.invert(ctx.internal_mask(ctx.recipient_domain)),
        ),
        pc.and_(pc.is_valid(ctx.recipient_domain), pc.is_valid(ctx.recipients["first_time"])),
    )
    frame = ctx.recipient_frame(fill_false(mask), _COLUMNS)
    if frame.empty:
        return frame
    frame["time_ns"] = frame["first_time_ns"].astype("int64")
    frame["sender"] = frame["sender_address"].str.strip("<> ").str.lower()
    frame["recipient"] = frame["recipient_address"].str.strip("<> ").str.lower()
    return frame


class Outbound(Topic):
    """Mail from internal senders to outside recipients, and the senders' densest windows:
    outbound-burst reports the bursts, mass-subject leaves out what they already say."""

    @cached_property
    def rows(self) -> pd.DataFrame:
        """Message x recipient rows from internal senders to outside recipients."""
        return _select_outbound_rows(self.ctx)

    @cached_property
    def bursts(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The senders' windows with at least ``burst_min_recipients`` distinct recipients
        (see ``densest_windows``), and the sorted rows the windows index."""
        t = self.ctx.thresholds
        if self.rows.empty:
            return pd.DataFrame(), pd.DataFrame()
        window_ns = t.burst_window_minutes * 60 * 1_000_000_000
        windows = densest_windows(self.rows, "sender", window_ns)
        hits = windows[windows["recipients"] >= t.burst_min_recipients]
        return hits, windows.attrs["rows"]

    @cached_property
    def burst_senders(self) -> set[str]:
        """The senders with an outbound burst."""
        hits, _ = self.bursts
        return set(hits["sender"]) if not hits.empty else set()


@rule(
    id=BURST_RULE,
    severity="high",
    summary="One internal sender mailing many distinct outside recipients within a short window",
    thresholds=("burst_window_minutes", "burst_min_recipients"),
    story=Story(
        roles=(Role("sent the burst", acts=True),),
        moments=(
            Moment(
                "Outbound burst from {mailboxes} begins ({total:send} to outside recipients in all)"
            ),
            Moment("Outbound burst from {mailboxes} ends (last of {total:send})", rows="last"),
        ),
        steps=(USER_SIGNINS, TRACE_SENT, SENDER_RESTRICTED, MAILBOX_VIEW),
        indicators=("subject",),
    ),
)
def outbound_burst(ctx: Context) -> list[Finding]:
    """Internal senders mailing many distinct outside recipients within a short window."""
    t = ctx.thresholds
    hits, ordered = ctx.topic(Outbound).bursts
    findings = []
    for hit in windows_of(hits, "sender"):
        sender = hit.group
        window = ordered.iloc[hit.start : hit.end]
        first, last = window["time_ns"].min(), window["time_ns"].max()
        subjects = sorted(set(window["message_subject"].dropna()))
        finding = ctx.finding(
            BURST_RULE,
            "high",
            f"{sender} mailed {plural(hit.recipients, 'outside recipient')} within "
            f"{t.burst_window_minutes} min",
            f"The internal mailbox {sender} sent mail to {hit.recipients:,} distinct "
            f"recipients outside the organization between {ctx.time_text(first)} and "
            f"{ctx.time_text(last)} ({plural(window['message_key'].nunique(), 'message')}; "
            f"subjects: {listing(subjects) or 'none'}). A mailbox taken over by an attacker is "
            "often used this way for spam or phishing. Check the sign-ins to the mailbox "
            "before the burst, whether the user meant to send these messages, and whether "
            "outbound spam filtering restricted the account.",
            ctx.entities(
                mailbox=[sender],
                domain=domain_series(window["recipient"]),
            ),
            ctx.recipient_evidence_frame(window).assign(detail="sent to an outside recipient"),
        )
        if finding:
            findings.append(finding)
    return findings


def _normalized_subject(subjects: pd.Series) -> pd.Series:
    """Subjects compared case-insensitively, without RE:/FW: prefixes and extra spaces."""
    text = subjects.fillna("").str.lower().str.replace(r"\s+", " ", regex=True).str.strip()
    return text.str.replace(r"^((re|fw|fwd|aw|wg|sv|vs)\s*:\s*)+", "", regex=True).str.strip()


@rule(
    id=SUBJECT_RULE,
    severity="medium",
    summary="One subject sent by internal senders to many distinct outside recipients (not "
    "repeated when every sender already has an outbound-burst finding)",
    # the outbound-burst thresholds decide which senders already have a finding
    thresholds=(
        "mass_subject_window_hours",
        "mass_subject_min_recipients",
        "burst_window_minutes",
        "burst_min_recipients",
    ),
    story=Story(
        roles=(Role("sent one subject to many outside recipients", acts=True),),
        moments=(
            Moment(
                "{mailboxes} begin sending one subject to many outside recipients "
                "({total:send} in all)"
            ),
            Moment("Last send of the subject by {mailboxes}", rows="last"),
        ),
        steps=(
            Step(
                "Trace every message with the subject {subject}",
                "Get-MessageTraceV2 -Subject {subject} -SubjectFilterType StartsWith "
                "-StartDate {start} -EndDate {end} -ResultSize 5000",
                each="subject",
                max_days=10,
            ),
            USER_SIGNINS,
            TRACE_SENT,
            MAILBOX_VIEW,
        ),
        indicators=("subject",),
    ),
)
def mass_subject(ctx: Context) -> list[Finding]:
    """One subject sent by internal senders to many outside recipients within a window.

    A subject whose every sender already has an ``outbound-burst`` finding is not reported
    again.
    """
    t = ctx.thresholds
    outbound = ctx.topic(Outbound)
    rows = outbound.rows
    if rows.empty:
        return []
    burst_senders = outbound.burst_senders
    rows = rows.assign(subject=_normalized_subject(rows["message_subject"]))
    rows = rows[rows["subject"] != ""]
    if rows.empty:
        return []
    window_ns = t.mass_subject_window_hours * 3600 * 1_000_000_000
    windows = densest_windows(rows, "subject", window_ns)
    hits = windows[windows["recipients"] >= t.mass_subject_min_recipients]
    ordered = windows.attrs["rows"]
    findings = []
    for hit in windows_of(hits, "subject"):
        window = ordered.iloc[hit.start : hit.end]
        senders = sorted(set(window["sender"]))
        if set(senders) <= burst_senders:
            continue
        subject = window["message_subject"].dropna().iloc[0]
        first, last = window["time_ns"].min(), window["time_ns"].max()
        finding = ctx.finding(
            SUBJECT_RULE,
            "medium",
            f"Subject {subject!r} sent to {plural(hit.recipients, 'outside recipient')} by "
            f"{listing(senders)}",
            f"{plural(len(senders), 'internal sender')} ({listing(senders)}) sent the subject "
            f"{subject!r} to {hit.recipients:,} distinct outside recipients between "
            f"{ctx.time_text(first)} and {ctx.time_text(last)}. One subject to many outside "
            "addresses is what a spam or phishing run from compromised mailboxes looks like; "
            "it may also be a legitimate mailing. Ask the senders whether they sent it, and "
            "look at the messages' content and the sign-ins of the senders.",
            ctx.entities(mailbox=senders, domain=domain_series(window["recipient"])),
            ctx.recipient_evidence_frame(window).assign(detail="sent to an outside recipient"),
        )
        if finding:
            findings.append(finding)
    return findings


__all__ = ["densest_windows", "mass_subject", "outbound_burst"]
