"""The final status of each recipient in plain words (``status_meaning``).

In this order:

- a failure or deferral with a 4.x.x / 5.x.x status code or SMTP reply: the meaning of the
  code (``not delivered: unknown recipient: ... (5.1.1)``, ``deferred: ...``);
- a status reported by an export: the status words and who reports it, saying whether the
  events in the data stop before a final one or there are none;
- a quarantine with a malware name: the anti-malware agent found malware; a quarantine or
  junk verdict of the spam filter: ``DI=SQ`` / ``DI=SJ``;
- a failing DSN: a non-delivery report was sent;
- otherwise what the deciding event says (``KIND_WORDS``), or the status words
  (``STATUS_WORDS``).

Rows that name no message say so. The words are computed once per distinct combination of
the facts they depend on, not per recipient.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import smtp
from analyzer.arrays import one_array
from analyzer.chains.vocabulary import FINAL_STATUSES, STATUS_WORDS, Kind, Status, report_label

#: What a deciding event of each kind says, when no status code says more.
KIND_WORDS: dict[Kind, str] = {
    Kind.DELIVER: "delivered to the recipient's mailbox",
    Kind.SEND: "sent to the next mail server (outside the organization or the next hop)",
    Kind.DROP: "dropped without a delivery report",
    Kind.QUARANTINE: "held in quarantine",
    Kind.JUNK: "filtered as spam (delivered to the Junk Email folder)",
    Kind.EXPAND: "a distribution group, expanded to its members",
    Kind.REDIRECT: "redirected to another address",
    Kind.RESOLVE: "address rewritten to another address",
    Kind.DEFER: "delivery deferred, no final event yet",
}
#: ``status_meaning`` of a recipient whose rows name no message.
NO_MESSAGE_WORDS = "the row names no message (the export gives it no message id)"


def _dictionary_codes(values: pa.Array) -> tuple[np.ndarray, list[Any]]:
    """Integer code of each value (-1 for null) and the distinct values."""
    encoded = pc.dictionary_encode(one_array(values))
    codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, encoded.dictionary.to_pylist()


def _distinct_combinations(*codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For integer columns (each >= -1): one row index per distinct combination, and the
    number of each row's combination."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for column in codes:
        combined = combined * (int(column.max(initial=-1)) + 2) + (column + 1)
    _, first, inverse = np.unique(combined, return_index=True, return_inverse=True)
    return first, inverse


def status_meanings(
    final: np.ndarray,
    decider_kind: np.ndarray,
    code: pa.Array,
    reply_code: pa.Array,
    di: np.ndarray,
    report_type: pa.Array,
    *,
    has_events: np.ndarray,
    malware: np.ndarray,
) -> pa.Array:
    """The final status of each recipient in plain words (see the module documentation).

    Args:
        final: the ``Status`` of each recipient.
        decider_kind: the ``Kind`` of its deciding row (-1: none).
        code: the deciding row's enhanced status code.
        reply_code: its SMTP reply code.
        di: the recipient's disposition (DI), upper case.
        report_type: the deciding row's report type.
        has_events: the recipient has transport events (not only reported statuses).
        malware: the anti-malware agent named a malware.
    """
    code_codes, code_values = _dictionary_codes(code)
    reply = pc.fill_null(one_array(reply_code).cast(pa.int64()), -1).to_numpy(zero_copy_only=False)
    di_codes, di_values = _dictionary_codes(pa.array(di, pa.string()))
    report_codes, report_values = _dictionary_codes(report_type)
    flags = has_events.astype(np.int64) + 2 * malware.astype(np.int64)
    first, inverse = _distinct_combinations(
        final, decider_kind + 1, code_codes, reply, di_codes, report_codes, flags
    )

    def value(values: list[Any], index: int) -> Any:
        return values[index] if index >= 0 else None

    words = np.array(
        [
            one_meaning(
                int(final[i]),
                int(decider_kind[i]),
                value(code_values, code_codes[i]),
                None if reply[i] < 0 else int(reply[i]),
                value(di_values, di_codes[i]) or "",
                value(report_values, report_codes[i]),
                has_events=bool(flags[i] & 1),
                malware=bool(flags[i] & 2),
            )
            for i in first
        ],
        dtype=object,
    )
    return pa.array(words[inverse], pa.string())


def one_meaning(
    final: int,
    kind: int,
    code: str | None,
    reply: int | None,
    di: str,
    report: str | None,
    *,
    has_events: bool = False,
    malware: bool = False,
) -> str:
    """The words of one combination of facts (``status_meanings``)."""
    status = FINAL_STATUSES[final]
    code = code if isinstance(code, str) and code else None
    reply = int(reply) if reply is not None and not pd.isna(reply) else None
    explained = smtp.meaning(code, reply)
    if final in (Status.FAILED, Status.PENDING) and explained and (code or reply):
        first = (code or str(reply))[:1]
        if first in ("4", "5"):
            said = STATUS_WORDS[status] if final == Status.FAILED else "deferred"
            return f"{said}: {explained}" + (f" ({code})" if code else "")
    if kind == Kind.STATUS:
        events = (
            "the events in the data stop before a final one"
            if has_events
            else "no events in the data"
        )
        return f"{STATUS_WORDS[status]} (as the {report_label(report)} reports it; {events})"
    if final == Status.QUARANTINED and malware:
        # the anti-malware agent's verdict says why, whichever row put it in quarantine
        return "held in quarantine: the anti-malware agent found malware" + (
            " (DI=SQ)" if di == "SQ" else ""
        )
    if final == Status.QUARANTINED and kind != Kind.QUARANTINE and di == "SQ":
        return "held in quarantine by the spam filter (DI=SQ)"
    if final == Status.FILTERED and kind != Kind.JUNK and di == "SJ":
        return "filtered as spam: delivered to the Junk Email folder (DI=SJ)"
    if final == Status.FAILED and kind == Kind.DSN:
        return "not delivered: a non-delivery report was sent"
    if kind in KIND_WORDS and final != Status.PENDING:
        return KIND_WORDS[Kind(kind)]
    if final == Status.PENDING and kind == Kind.DEFER:
        return KIND_WORDS[Kind.DEFER]
    return STATUS_WORDS[status]
