"""What every rule shares: the data it looks at, domains, times, and how evidence is built.

A rule is a function ``rule(context) -> list[Finding]`` declared with
``analyzer.findings.registry.rule``. It selects candidate rows with vectorized pyarrow/pandas
operations and hands them to ``Context.finding``, which turns at most
``Thresholds.max_evidence`` of them (in time order) into ``Evidence`` pointing at the input
file and line they came from, and counts them all.

What several rules need is computed once per run, on first use: cached properties of the
``Context`` for what any rule may read (domains, the tenant's domains, custom_data pairs), and
a ``Topic`` per rule module for what its rules share (``Context.topic``). No rule depends on
another having run first.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

from analyzer.arrays import fill_false
from analyzer.findings.model import Evidence, Finding
from analyzer.findings.thresholds import Thresholds
from analyzer.identifiers import domain_in, domain_of, in_domains
from analyzer.timestamps import UTC, DisplayZone, iso_utc

if TYPE_CHECKING:
    from analyzer.case import Case
    from analyzer.chains import Chains

_ENTRY_LIST = pa.list_(pa.struct([("key", pa.string()), ("value", pa.string())]))

#: Columns of an evidence candidate frame (any subset; ``time_ns`` is nanoseconds since the
#: epoch, UTC).
EVIDENCE_COLUMNS = (
    "network_message_id",
    "message_id",
    "message_key",
    "recipient_address",
    "event_id",
    "time_ns",
    "input_id",
    "line",
    "detail",
)

#: The columns of ``Chains.events`` that rules read (``Context.events`` holds only these).
RULE_EVENT_COLUMNS = (
    "event_time",
    "event_id",
    "source",
    "reported_status",
    "recipient_address",
    "status_code",
    "sender_address",
    "return_path",
    "message_subject",
    "message_id",
    "network_message_id",
    "related_recipient_address",
    "original_client_ip",
    "from_ip",
    "custom_data",
    "custom_data_fields",
    "threat_types",
    "input_id",
    "line",
    "report_type",
    "message_key",
    "recipient_key",
    "in_timeline",
)

#: Report types whose rows tell what happened to a message after it was delivered (Defender
#: EmailPostDeliveryEvents: ZAP, user-reported, ...). They never show a message arriving.
POST_DELIVERY_REPORTS = ("defender_email_post_delivery_events",)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 message``, ``3 messages``."""
    return f"{count:,} {word if count == 1 else (many or word + 's')}"


def listing(values: Iterable[str], limit: int = 3) -> str:
    """``a, b, c and 4 more``: the first few of a sorted list, for a title."""
    values = list(values)
    shown = ", ".join(values[:limit])
    return shown + (f" and {len(values) - limit} more" if len(values) > limit else "")


def pair_keys(message_keys: pd.Series, recipients: pd.Series) -> pd.Series:
    """``message_key + US + recipient_key`` per row: one message x recipient, as chains keys
    it (recipient trimmed and lower-cased; empty for rows about no recipient)."""
    recipient_keys = recipients.astype("str").str.strip().str.lower().fillna("")
    return message_keys.astype("str").fillna("") + "\x1f" + recipient_keys


def arrow_strings(values: pd.Series) -> pa.Array:
    """A pandas text column as an Arrow string array (missing values null), for the Arrow
    helpers of ``analyzer.arrays`` and ``analyzer.identifiers`` (pandas loops in Python over
    Arrow-backed strings where pyarrow does not)."""
    return pa.array(values.astype(object).where(values.notna(), None), pa.string())


def domain_series(addresses: pd.Series) -> pd.Series:
    """``domain_of`` for a pandas column (null where there is no domain)."""
    return pd.Series(domain_of(arrow_strings(addresses)).to_pandas().array, index=addresses.index)


class Topic:
    """What the rules of one module share, computed once per run: subclasses hold it in
    ``functools.cached_property`` attributes, and rules reach them with ``Context.topic``.

    Attributes:
        ctx: the run's context.
    """

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx


TopicT = TypeVar("TopicT", bound=Topic)


@dataclass
class Context:
    """The data one run of the rules looks at, with shared, cached derived columns.

    Attributes:
        case: the case (inputs and their records).
        chains: its chains (``analyzer.chains.build_chains``).
        thresholds: the thresholds in force.
        zone: the zone the titles and explanations give times in (``--display-tz``), each
            labelled; evidence times stay ISO 8601 UTC (``Evidence.time``).
    """

    case: Case
    chains: Chains
    thresholds: Thresholds
    zone: DisplayZone = UTC
    _topics: dict[type[Topic], Topic] = field(default_factory=dict, init=False, repr=False)

    def topic(self, kind: type[TopicT]) -> TopicT:
        """The shared computations ``kind`` of this run, made on first use."""
        if kind not in self._topics:
            self._topics[kind] = kind(self)
        return cast(TopicT, self._topics[kind])

    def time_text(self, time_ns: float | None) -> str:
        """A time for titles and explanations, in the run's zone: ``2024-03-01 10:15 UTC``
        (``unknown time`` when missing)."""
        return self.zone.format(time_ns, seconds=False, missing="unknown time")

    # ----- the data -------------------------------------------------------------------
    @cached_property
    def input_paths(self) -> dict[str, str]:
        return self.case.input_paths()

    @cached_property
    def tenant_domains(self) -> tuple[str, ...]:
        """The tenant's domains, as chains inferred them (``analyzer.chains.direction``: the
        one definition, outside hops of forwarded mail already left out)."""
        return tuple(sorted({d.lower() for d in self.chains.tenant_domains if d}))

    @cached_property
    def events(self) -> pa.Table:
        """``Chains.events`` with the columns the rules read."""
        table = self.chains.events
        present = [c for c in RULE_EVENT_COLUMNS if c in table.column_names]
        return table.select(present)

    @cached_property
    def recipients(self) -> pa.Table:
        return self.chains.recipients

    @cached_property
    def event_time_ns(self) -> pa.ChunkedArray:
        return self.events["event_time"].cast(pa.int64())

    @cached_property
    def data_start_ns(self) -> int | None:
        value = pc.min(self.event_time_ns).as_py()
        return value

    @cached_property
    def data_end_ns(self) -> int | None:
        return pc.max(self.event_time_ns).as_py()

    @cached_property
    def event_sender_domain(self) -> pa.ChunkedArray:
        return domain_of(self.events["sender_address"])

    @cached_property
    def event_recipient_domain(self) -> pa.ChunkedArray:
        return domain_of(self.events["recipient_address"])

    @cached_property
    def event_sender_internal(self) -> pa.ChunkedArray:
        return self.internal_mask(self.event_sender_domain)

    @cached_property
    def event_recipient_internal(self) -> pa.ChunkedArray:
        return self.internal_mask(self.event_recipient_domain)

    @cached_property
    def recipient_sender_domain(self) -> pa.ChunkedArray:
        return domain_of(self.recipients["sender_address"])

    @cached_property
    def recipient_domain(self) -> pa.ChunkedArray:
        return domain_of(self.recipients["recipient_address"])

    # ----- domains --------------------------------------------------------------------
    def internal_mask(self, domains: pa.ChunkedArray) -> pa.ChunkedArray:
        """True where a domain is a tenant domain or a subdomain of one (null -> False)."""
        return in_domains(domains, self.tenant_domains)

    def is_internal(self, domain: str | None) -> bool:
        """Whether one domain is a tenant domain or a subdomain of one."""
        return domain_in(domain, self.tenant_domains)

    # ----- evidence -------------------------------------------------------------------
    def event_frame(self, mask: pa.ChunkedArray | pa.Array, columns: Iterable[str]) -> pd.DataFrame:
        """The events where ``mask`` holds, as pandas (see ``event_rows``)."""
        mask = fill_false(mask)
        if isinstance(mask, pa.ChunkedArray):
            mask = mask.combine_chunks() if mask.num_chunks else pa.array([], pa.bool_())
        return self.event_rows(pc.indices_nonzero(mask).to_numpy(), columns)

    def event_rows(self, rows: np.ndarray, columns: Iterable[str]) -> pd.DataFrame:
        """The events at positions ``rows`` of ``Chains.events``, as pandas.

        Adds ``row`` (the position, a stable tie-breaker) and ``time_ns`` (the event time in
        nanoseconds since the epoch, UTC).
        """
        wanted = [c for c in dict.fromkeys(columns) if c in self.events.column_names]
        rows = np.asarray(rows, dtype=np.int64)
        table = self.events.select(wanted).take(pa.array(rows, pa.int64()))
        frame = table.to_pandas()
        frame["row"] = rows
        if "event_time" in table.column_names:
            frame["time_ns"] = _ns(table["event_time"])
        return frame

    def recipient_frame(
        self, mask: pa.ChunkedArray | pa.Array, columns: Iterable[str]
    ) -> pd.DataFrame:
        """Rows of ``Chains.recipients`` where ``mask`` holds, as pandas."""
        wanted = [c for c in dict.fromkeys(columns) if c in self.recipients.column_names]
        table = self.recipients.select(wanted).filter(fill_false(mask))
        frame = table.to_pandas()
        for name in ("first_time", "final_time"):
            if name in table.column_names:
                frame[name + "_ns"] = _ns(table[name])
        return frame

    def recipient_evidence_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Evidence candidates from recipients rows: the row that decided each recipient's
        final status (``decided_input_id``/``decided_line``), at its time: the final time, or the
        receive time for summary-type rows, which have no time of their own."""
        time_ns = frame.get("first_time_ns")
        if "final_time_ns" in frame:
            time_ns = frame["final_time_ns"].fillna(frame.get("first_time_ns"))
        return pd.DataFrame(
            {
                "network_message_id": frame.get("network_message_id"),
                "message_id": frame.get("message_id"),
                "message_key": frame.get("message_key"),
                "recipient_address": frame.get("recipient_address"),
                "time_ns": time_ns,
                "input_id": frame.get("decided_input_id"),
                "line": frame.get("decided_line"),
            }
        )

    def pair_event_frame(
        self,
        pairs: pd.DataFrame,
        prefer_events: tuple[str, ...] = (),
        prefer_statuses: tuple[str, ...] = (),
        last: bool = True,
    ) -> pd.DataFrame:
        """One event row per (message_key, recipient_key) pair, for evidence.

        Among a pair's events those whose event id is in ``prefer_events`` or whose reported
        status is in ``prefer_statuses`` are preferred; among those, the last (or the first)
        in time order wins.

        Args:
            pairs: a frame with ``message_key`` and ``recipient_key`` (or ``recipient_address``).
            prefer_events: event ids that make a row the evidence of choice.
            prefer_statuses: reported statuses (lower case) that do the same.
            last: take the latest preferred row (else the earliest).

        Returns:
            An events frame (see ``event_frame``), one row per pair found.
        """
        if pairs.empty:
            return self.event_frame(pa.array([], pa.bool_()), RULE_EVENT_COLUMNS)
        recipients = (
            pairs["recipient_key"] if "recipient_key" in pairs else pairs["recipient_address"]
        )
        wanted = pa.array(sorted(set(pair_keys(pairs["message_key"], recipients))), pa.string())
        mask = pc.is_in(self.event_pair_key, value_set=wanted)
        frame = self.event_frame(mask, RULE_EVENT_COLUMNS)
        if frame.empty:
            return frame
        preferred = np.zeros(len(frame), dtype=bool)
        if prefer_events:
            preferred |= frame["event_id"].fillna("").str.upper().isin(prefer_events).to_numpy()
        if prefer_statuses:
            status = frame["reported_status"].fillna("").str.lower()
            preferred |= status.isin(prefer_statuses).to_numpy()
        # rows to keep sort last: preferred ones, then the latest (or the earliest) of them
        frame["rank_preferred"] = preferred
        frame["rank_time"] = frame["time_ns"] if last else -frame["time_ns"]
        frame["rank_row"] = frame["row"] if last else -frame["row"]
        frame = frame.sort_values(
            ["message_key", "recipient_key", "rank_preferred", "rank_time", "rank_row"],
            kind="stable",
        )
        frame = frame.drop_duplicates(["message_key", "recipient_key"], keep="last")
        return frame.drop(columns=["rank_preferred", "rank_time", "rank_row"])

    def arrival_event_frame(self, pairs: pd.DataFrame) -> pd.DataFrame:
        """One event row per (message_key, recipient) pair that shows the message arriving.

        The row of choice is a RECEIVE (or SUBMIT) on the recipient's timeline, then any other
        RECEIVE or SUBMIT, then a DELIVER or SEND, then a summary-type status row (summary,
        Get-MessageTrace, API, Defender EmailEvents), then any other row; the earliest wins.
        Post-delivery rows (``POST_DELIVERY_REPORTS``: a ZAP, a user report) come last of
        all: they say what happened after delivery, so they are cited only when nothing else
        about the pair is in the data.

        Args:
            pairs: a frame with ``message_key`` and ``recipient_key`` (or
                ``recipient_address``).

        Returns:
            An events frame (see ``event_frame``), one row per pair found.
        """
        if pairs.empty:
            return self.event_frame(pa.array([], pa.bool_()), RULE_EVENT_COLUMNS)
        recipients = (
            pairs["recipient_key"] if "recipient_key" in pairs else pairs["recipient_address"]
        )
        wanted = pa.array(sorted(set(pair_keys(pairs["message_key"], recipients))), pa.string())
        mask = pc.is_in(self.event_pair_key, value_set=wanted)
        frame = self.event_frame(mask, RULE_EVENT_COLUMNS)
        if frame.empty:
            return frame
        event_id = frame["event_id"].fillna("").str.upper()
        arriving = event_id.isin(("RECEIVE", "SUBMIT")).to_numpy()
        timeline = frame["in_timeline"].fillna(False).astype(bool).to_numpy()
        passing = event_id.isin(("DELIVER", "SEND")).to_numpy()
        status_row = ((event_id == "") & frame["reported_status"].notna()).to_numpy()
        post_delivery = frame["report_type"].isin(POST_DELIVERY_REPORTS).to_numpy()
        rank = np.select(
            [post_delivery, arriving & timeline, arriving, passing, status_row],
            [5, 0, 1, 2, 3],
            default=4,
        )
        frame["rank_arrival"] = rank
        frame = frame.sort_values(
            ["message_key", "recipient_key", "rank_arrival", "time_ns", "row"], kind="stable"
        )
        frame = frame.drop_duplicates(["message_key", "recipient_key"], keep="first")
        return frame.drop(columns=["rank_arrival"])

    @cached_property
    def custom_data_entries(self) -> pd.DataFrame:
        """Every parsed custom_data pair: ``row`` (event position), ``key`` (lower case),
        ``value``, in the order they appear in the export."""
        if "custom_data_fields" not in self.events.column_names:
            return pd.DataFrame({"row": [], "key": [], "value": []})
        fields = self.events["custom_data_fields"]
        has = fill_false(pc.greater(pc.list_value_length(fields.cast(_ENTRY_LIST)), 0))
        rows = pc.indices_nonzero(has.combine_chunks() if isinstance(has, pa.ChunkedArray) else has)
        entries = fields.take(rows).combine_chunks().cast(_ENTRY_LIST)
        flat = pc.list_flatten(entries)
        return pd.DataFrame(
            {
                "row": rows.to_numpy()[pc.list_parent_indices(entries).to_numpy()],
                "key": pc.utf8_lower(flat.field("key")).to_pandas(),
                "value": flat.field("value").to_pandas(),
            }
        )

    def custom_value(self, key: str) -> pa.ChunkedArray:
        """Per event, the first value of custom_data key ``key`` (case-insensitive), or null."""
        entries = self.custom_data_entries
        hits = entries[entries["key"] == key.lower()].drop_duplicates("row")
        values = np.full(self.events.num_rows, None, dtype=object)
        values[hits["row"].to_numpy(dtype=np.int64)] = hits["value"].to_numpy(dtype=object)
        return pa.chunked_array([pa.array(values, pa.string())])

    @cached_property
    def event_pair_key(self) -> pa.ChunkedArray:
        return pc.binary_join_element_wise(
            pc.fill_null(self.events["message_key"], ""),
            pc.fill_null(self.events["recipient_key"], ""),
            "\x1f",
        )

    def entities(self, **kinds: Iterable[str | None]) -> dict[str, list[str]]:
        """Entities by kind: unique, sorted, capped at ``max_entities``; empty kinds dropped."""
        result = {}
        for kind, values in kinds.items():
            unique = sorted({v for v in values if isinstance(v, str) and v})
            if unique:
                result[kind] = unique[: self.thresholds.max_entities]
        return result

    def finding(
        self,
        rule: str,
        severity: str,
        title: str,
        explanation: str,
        entities: dict[str, list[str]],
        candidates: pd.DataFrame | list[pd.DataFrame] | None = None,
        detail: str | None = None,
        extra: list[Evidence] | None = None,
        extra_total: int | None = None,
        total: int | None = None,
    ) -> Finding | None:
        """A finding whose evidence is the candidate rows, de-duplicated, in time order, capped.

        Args:
            rule, severity, title, explanation, entities: as in ``Finding``.
            candidates: evidence candidate frames (``EVIDENCE_COLUMNS``); rows that point at
                the same input row for the same recipient and event count once.
            detail: the note for rows whose frame has no ``detail`` of its own.
            extra: evidence that is not an event row (e.g. a rejected input row).
            extra_total: how many such items exist in all (default: ``len(extra)``).
            total: how many evidence rows exist in all, when the rule passed only the
                earliest of them (``earliest``); default: the rows passed.

        Returns:
            The finding, or None when there is no evidence: no finding without evidence.
        """
        frames = [candidates] if isinstance(candidates, pd.DataFrame) else list(candidates or [])
        frames = [f for f in frames if f is not None and not f.empty]
        items: list[Evidence] = list(extra or [])
        last: Evidence | None = None
        counted = extra_total if extra_total is not None else len(items)
        if frames:
            frame = pd.concat(
                [f.reindex(columns=list(EVIDENCE_COLUMNS)) for f in frames], ignore_index=True
            )
            frame = frame.drop_duplicates(
                ["input_id", "line", "recipient_address", "event_id", "message_key"]
            )
            counted += len(frame)
            frame["input"] = frame["input_id"].map(self.input_paths)
            frame = frame.sort_values(
                ["time_ns", "input", "line", "recipient_address", "event_id"],
                kind="stable",
                na_position="first",
            )
            head = frame.head(self.thresholds.max_evidence)
            items += [self._evidence_item(record, detail) for record in head.to_dict("records")]
            if len(frame) > len(head):  # the cap left the latest row out: keep it to cite
                last = self._evidence_item(frame.iloc[-1].to_dict(), detail)
        if not items:
            return None
        if total is not None:
            counted = max(total, len(items))
        items = sorted(items, key=Evidence.sort_key)[: self.thresholds.max_evidence]
        return Finding(
            rule=rule,
            severity=severity,
            title=title,
            explanation=" ".join(explanation.split()),
            entities=entities,
            evidence=items,
            evidence_total=counted,
            evidence_last=last if last is not None and last not in items else None,
        )

    def earliest(self, frame: pd.DataFrame, time_column: str) -> pd.DataFrame:
        """The ``max_evidence`` earliest rows of a recipients frame (ties by message and
        recipient): only these need their event rows looked up for evidence."""
        return frame.sort_values(
            [time_column, "message_key", "recipient_address"], kind="stable", na_position="last"
        ).head(self.thresholds.max_evidence)

    def _evidence_item(self, record: dict[Hashable, Any], detail: str | None) -> Evidence:
        line = record.get("line")
        return Evidence(
            network_message_id=_text(record.get("network_message_id")),
            message_id=_text(record.get("message_id")),
            message_key=_text(record.get("message_key")),
            recipient_address=_text(record.get("recipient_address")),
            event_id=_text(record.get("event_id")),
            time=iso_utc(record.get("time_ns")),
            input=_text(record.get("input")),
            input_id=_text(record.get("input_id")),
            line=None if line is None or pd.isna(line) else int(line),
            detail=_text(record.get("detail")) or detail,
        )


def _text(value: Any) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return str(value)


def _ns(column: pa.ChunkedArray) -> ExtensionArray:
    """A timestamp column as nanoseconds since the epoch (nullable integers, exact)."""
    values = column.cast(pa.int64())
    return pd.Series(values.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)).array
