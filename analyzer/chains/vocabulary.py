"""The words of chains: final statuses, event kinds, reported statuses, directions.

Every other module of ``analyzer.chains`` reads its vocabulary from here. An event kind is one
``Kind`` member that carries both its lifecycle rank (the tie-break order of events logged in
the same tick) and the final status its terminal event decides; the numpy lookup tables the
vectorized rules index (``KIND_RANK``, ``KIND_STATUS``) are derived from the enum, never
written by hand.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np

#: Final statuses of a recipient, in the order used for lists and counts.
FINAL_STATUSES: tuple[str, ...] = (
    "Delivered",
    "Failed",
    "Pending",
    "Expanded",
    "Redirected",
    "Quarantined",
    "FilteredAsSpam",
    "Dropped",
    "Unknown",
)


class Status(IntEnum):
    """A final status as a code: its value indexes ``FINAL_STATUSES``."""

    DELIVERED = 0
    FAILED = 1
    PENDING = 2
    EXPANDED = 3
    REDIRECTED = 4
    QUARANTINED = 5
    FILTERED = 6
    DROPPED = 7
    UNKNOWN = 8

    @property
    def label(self) -> str:
        """The status as users read it: ``Delivered``, ``FilteredAsSpam``..."""
        return FINAL_STATUSES[self]


#: "No status" in the per-row and per-recipient status codes (numpy arrays of Status values).
NO_STATUS = -1

#: What each final status means, in words (used when no status code says more).
STATUS_WORDS: dict[str, str] = {
    "Delivered": "delivered",
    "Failed": "not delivered",
    "Pending": "not delivered yet: no final event in the data",
    "Expanded": "a distribution group, expanded to its members",
    "Redirected": "redirected to another address",
    "Quarantined": "held in quarantine",
    "FilteredAsSpam": "filtered as spam (delivered to the Junk Email folder)",
    "Dropped": "dropped without a delivery report",
    "Unknown": "no event or status in the data says what happened",
}

#: Directions of a recipient (``direction`` column).
DIRECTIONS: tuple[str, ...] = ("inbound", "outbound", "internal", "unknown")


class Kind(IntEnum):
    """The kind of an event row, with its lifecycle ``rank`` and the final ``status`` a
    terminal event of this kind decides (``NO_STATUS`` for kinds that never decide).

    DELIVER, SEND, FAIL, DROP, QUARANTINE and JUNK rows are always terminal; a DSN only with a
    5.x.x code; EXPAND, REDIRECT and RESOLVE only for the recipient they were logged for when
    it is the parent (see ``analyzer.chains.lineage``). STATUS is a summary row without an
    event id: the status an export reports.
    """

    rank: int
    status: int

    def __new__(cls, code: int, rank: int = 0, status: int = NO_STATUS) -> Kind:
        member = int.__new__(cls, code)
        member._value_ = code
        member.rank = rank
        member.status = status
        return member

    RECEIVE = 0, 0
    AGENT = 1, 1
    OTHER = 2, 2
    EXPAND = 3, 3, Status.EXPANDED
    REDIRECT = 4, 3, Status.REDIRECTED
    RESOLVE = 5, 3, Status.REDIRECTED
    TRANSFER = 6, 4
    DEFER = 7, 5
    DELIVER = 8, 6, Status.DELIVERED
    SEND = 9, 6, Status.DELIVERED  # handed to the next (usually outside) server
    FAIL = 10, 6, Status.FAILED
    DROP = 11, 6, Status.DROPPED
    QUARANTINE = 12, 6, Status.QUARANTINED
    JUNK = 13, 6, Status.FILTERED
    DSN = 14, 7, Status.FAILED  # only with a failure code
    STATUS = 15, 8


def _read_only(values: np.ndarray) -> np.ndarray:
    values.setflags(write=False)
    return values


#: Lifecycle rank of each kind, indexed by Kind value.
KIND_RANK: np.ndarray = _read_only(np.array([kind.rank for kind in Kind], dtype=np.int8))
#: Final status decided by a terminal event of each kind (NO_STATUS: none), by Kind value.
KIND_STATUS: np.ndarray = _read_only(np.array([kind.status for kind in Kind], dtype=np.int8))
#: Kinds whose rows are always terminal events of their recipient.
TERMINAL_KINDS: tuple[Kind, ...] = (
    Kind.DELIVER,
    Kind.SEND,
    Kind.FAIL,
    Kind.DROP,
    Kind.QUARANTINE,
    Kind.JUNK,
)
#: Kinds that name a second address: the parent or the child of the row's recipient.
RELATION_KINDS: tuple[Kind, ...] = (Kind.EXPAND, Kind.REDIRECT, Kind.RESOLVE)

#: Transport event ids by kind. Event ids not listed (PROCESS, NOTIFYMAPI, SETROUTE, Defender
#: action types, ...) are "other" events.
EVENT_KINDS: dict[str, Kind] = {
    **dict.fromkeys(
        ("RECEIVE", "SUBMIT", "HARECEIVE", "CLIENTSUBMISSION", "INITMESSAGECREATED", "RESUBMIT"),
        Kind.RECEIVE,
    ),
    "AGENTINFO": Kind.AGENT,
    "EXPAND": Kind.EXPAND,
    "REDIRECT": Kind.REDIRECT,
    "RESOLVE": Kind.RESOLVE,
    "TRANSFER": Kind.TRANSFER,
    **dict.fromkeys(("DEFER", "SUBMITDEFER", "RESUBMITDEFER"), Kind.DEFER),
    **dict.fromkeys(("DELIVER", "DUPLICATEDELIVER"), Kind.DELIVER),
    **dict.fromkeys(("SEND", "SENDEXTERNAL"), Kind.SEND),
    **dict.fromkeys(
        (
            "FAIL",
            "DELIVERFAIL",
            "SUBMITFAIL",
            "RESUBMITFAIL",
            "HAREDIRECTFAIL",
            "BADMAIL",
            "POISONMESSAGE",
            "MODERATORREJECT",
            "MODERATORSALLNDR",
            "MODERATIONEXPIRE",
        ),
        Kind.FAIL,
    ),
    **dict.fromkeys(("DROP", "SUPPRESSED"), Kind.DROP),
    **dict.fromkeys(("QUARANTINED", "QUARANTINE"), Kind.QUARANTINE),
    **dict.fromkeys(("FILTEREDASSPAM", "FILTEREDASJUNK"), Kind.JUNK),
    "DSN": Kind.DSN,
}

#: The documented tie-break order of events logged at the same time (``lifecycle_rank``).
LIFECYCLE_ORDER: tuple[tuple[int, str], ...] = (
    (0, "RECEIVE, SUBMIT (and HARECEIVE, CLIENTSUBMISSION, INITMESSAGECREATED, RESUBMIT)"),
    (1, "AGENTINFO"),
    (2, "any other event id (PROCESS, NOTIFYMAPI, SETROUTE, unknown ids, ...)"),
    (3, "EXPAND, REDIRECT, RESOLVE"),
    (4, "TRANSFER"),
    (5, "DEFER (and SUBMITDEFER, RESUBMITDEFER)"),
    (6, "SEND, DELIVER, FAIL, DROP (and their variants, QUARANTINED, FILTEREDASSPAM)"),
    (7, "DSN"),
    (8, "status rows of summary exports (no event id)"),
)

#: Reported statuses of summary-type exports, normalized (lower case, no spaces).
REPORTED_STATUSES: dict[str, Status] = {
    "delivered": Status.DELIVERED,
    "failed": Status.FAILED,
    "pending": Status.PENDING,
    "gettingstatus": Status.PENDING,
    "expanded": Status.EXPANDED,
    "redirected": Status.REDIRECTED,
    "resolved": Status.REDIRECTED,
    "quarantined": Status.QUARANTINED,
    "filteredasspam": Status.FILTERED,
    "dropped": Status.DROPPED,
    "none": Status.UNKNOWN,
    "unknown": Status.UNKNOWN,
}

#: How a report type is named in conflict sentences and status words.
REPORT_LABELS: dict[str, str] = {
    "summary": "summary",
    "enhanced_summary": "enhanced summary",
    "get_messagetrace": "Get-MessageTrace",
    "reporting_api_json": "message trace API",
    "defender_email_events": "Defender",
    "defender_email_post_delivery_events": "Defender",
}


def report_label(report_type: str | None) -> str:
    """How an export's report type is named in sentences (``an export`` when unknown)."""
    return REPORT_LABELS.get(report_type or "", report_type or "an export")
