"""Every threshold of every findings rule, with its default and meaning, in this one place.

A user overrides them with a small config file (TOML or JSON, flat ``key = value`` pairs, or
the same pairs under a ``[thresholds]`` table) and/or ``--set KEY=VALUE`` options::

    # findings.toml
    burst_min_recipients = 200
    coverage_gap_hours = 6
    sensitive_transport_actions = ["RedirectMessage", "BlindCopyTo"]

Unknown keys and unusable values are an ``OptionError`` that names the key and the fix.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from analyzer.errors import OptionError


def _setting(
    default: Any, meaning: str, *, minimum: float | None = 0, maximum: float | None = None
):
    """A threshold: its default, what it means, and the range of usable values."""
    if isinstance(default, tuple):
        return field(
            default_factory=lambda: default,
            metadata={"meaning": meaning, "minimum": None, "maximum": None},
        )
    return field(
        default=default,
        metadata={"meaning": meaning, "minimum": minimum, "maximum": maximum},
    )


@dataclass(frozen=True)
class Thresholds:
    """The thresholds of the findings rules (see each field's meaning in ``describe()``)."""

    # Shape of every finding
    max_evidence: int = _setting(
        25, "Evidence rows listed per finding (all are counted in evidence_total).", minimum=1
    )
    max_entities: int = _setting(
        50, "Entities (mailboxes, domains, IPs) listed per kind per finding.", minimum=1
    )
    # outbound-burst, mass-subject
    burst_window_minutes: int = _setting(
        60, "outbound-burst: length of the sliding window, in minutes.", minimum=1
    )
    burst_min_recipients: int = _setting(
        30,
        "outbound-burst: distinct outside recipients one internal sender must mail within "
        "the window.",
        minimum=1,
    )
    mass_subject_window_hours: int = _setting(
        24, "mass-subject: length of the sliding window, in hours.", minimum=1
    )
    mass_subject_min_recipients: int = _setting(
        50,
        "mass-subject: distinct outside recipients that must get the same subject from "
        "internal senders within the window.",
        minimum=1,
    )
    # failure-spike
    failure_bucket_minutes: int = _setting(
        60, "failure-spike: length of a time bucket, in minutes.", minimum=1
    )
    failure_spike_factor: float = _setting(
        3.0, "failure-spike: a bucket's failure rate must be at least this many times the case's."
    )
    failure_spike_min_rate: float = _setting(
        0.2, "failure-spike: and at least this failure rate (0..1).", maximum=1
    )
    failure_spike_min_failures: int = _setting(
        10, "failure-spike: and at least this many failed recipients.", minimum=1
    )
    top_ndr_codes: int = _setting(
        5, "failure-spike: how many of the most frequent NDR status codes to name.", minimum=1
    )
    # threat verdicts
    high_scl: int = _setting(
        5,
        "spam-verdict, delivered-despite-high-scl: spam confidence level (SCL) from which a "
        "message counts as spam (EOP: 5-6 spam, 9 high confidence spam).",
        minimum=-1,
        maximum=9,
    )
    # lookalike-domain, first-seen-domain
    lookalike_min_length: int = _setting(
        4,
        "lookalike-domain: shortest domain (without its last label, e.g. 'contoso' of "
        "contoso.com) compared, so short names do not match everything.",
        minimum=1,
    )
    frequent_correspondent_min_messages: int = _setting(
        10,
        "lookalike-domain: messages a domain must exchange with the tenant to be a frequent "
        "correspondent that look-alikes are compared to.",
        minimum=1,
    )
    first_seen_tail_fraction: float = _setting(
        0.33,
        "first-seen-domain: the last part of the case's time range (0..1) in which a sender "
        "domain seen for the first time is reported.",
        maximum=1,
    )
    first_seen_min_span_hours: int = _setting(
        48,
        "first-seen-domain: the case must span at least this many hours, or every domain "
        "would be new.",
    )
    # transport-rule-hit
    sensitive_transport_actions: tuple[str, ...] = _setting(
        (
            "AddManagerAsRecipientType",
            "AddToRecipient",
            "BlindCopyTo",
            "CopyTo",
            "DeleteMessage",
            "RedirectMessage",
            "RouteMessageOutboundConnector",
            "SetSCL",
        ),
        "transport-rule-hit: rule actions reported as medium severity (they copy, redirect, "
        "delete mail or bypass spam filtering); other actions are info.",
    )
    # rare-client-ip, shared-unusual-ip
    rare_ip_max_span_hours: float = _setting(
        24.0,
        "rare-client-ip, shared-unusual-ip: a sender's messages from the IP all fall within "
        "this many hours (one episode, not a second place the user works from).",
    )
    rare_ip_min_history: int = _setting(
        3,
        "rare-client-ip, shared-unusual-ip: the sender sent at least this many messages from "
        "other IPs.",
        minimum=1,
    )
    shared_ip_min_senders: int = _setting(
        5,
        "shared-unusual-ip: internal senders for whom the same IP is rare.",
        minimum=2,
    )
    # long-deferral, pending-at-end, mail-loop
    long_deferral_minutes: int = _setting(
        60, "long-deferral: total deferral time of a recipient, in minutes.", minimum=1
    )
    pending_min_age_minutes: int = _setting(
        15,
        "pending-at-end: a recipient still pending that was received at least this many "
        "minutes before the end of the data (younger mail may just be in transit).",
    )
    loop_min_receives: int = _setting(
        10,
        "mail-loop: RECEIVE events of one Internet message id for one recipient.",
        minimum=2,
    )
    # evidence quality
    coverage_gap_hours: float = _setting(
        24.0, "coverage-gap: hours without any input covering them, between two inputs."
    )
    rejected_rows_medium_fraction: float = _setting(
        0.01,
        "rejected-rows: share of an input's rows rejected (0..1) from which the finding is "
        "medium rather than low.",
        maximum=1,
    )


def describe() -> list[tuple[str, Any, str]]:
    """Every threshold as (name, default, meaning), in documentation order."""
    defaults = Thresholds()
    return [(f.name, getattr(defaults, f.name), f.metadata["meaning"]) for f in fields(Thresholds)]


def _coerce(name: str, raw: Any) -> Any:
    """Turn a config or --set value into the type of the threshold ``name``."""
    annotation = str(Thresholds.__dataclass_fields__[name].type)
    if annotation.startswith("tuple"):
        if isinstance(raw, str):
            values = [part.strip() for part in raw.split(",")]
        elif isinstance(raw, list | tuple) and all(isinstance(v, str) for v in raw):
            values = [v.strip() for v in raw]
        else:
            raise OptionError(
                f"threshold {name}: expected a list of names (or a comma-separated string), "
                f"got {raw!r}"
            )
        return tuple(v for v in values if v)
    kind = int if annotation == "int" else float
    if isinstance(raw, bool):
        raise OptionError(f"threshold {name}: expected a number, got {raw!r}")
    try:
        if kind is int and isinstance(raw, float) and not raw.is_integer():
            raise ValueError
        value = kind(raw) if not isinstance(raw, str) else kind(raw.strip())
    except (TypeError, ValueError):
        expected = "a whole number" if kind is int else "a number"
        raise OptionError(f"threshold {name}: expected {expected}, got {raw!r}") from None
    return value


def _check_range(name: str, value: Any) -> None:
    meta = Thresholds.__dataclass_fields__[name].metadata
    minimum, maximum = meta["minimum"], meta["maximum"]
    if minimum is not None and value < minimum:
        raise OptionError(f"threshold {name}: {value!r} is below its minimum {minimum}")
    if maximum is not None and value > maximum:
        raise OptionError(f"threshold {name}: {value!r} is above its maximum {maximum}")


def _apply(thresholds: Thresholds, values: dict[str, Any], where: str) -> Thresholds:
    known = [f.name for f in fields(Thresholds)]
    changes: dict[str, Any] = {}
    for name in sorted(values):
        key = name.strip().replace("-", "_")
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise OptionError(
                f"{where}: unknown threshold {name!r}{hint}; `msgtrace findings --rules` "
                "lists them all"
            )
        value = _coerce(key, values[name])
        _check_range(key, value)
        changes[key] = value
    return replace(thresholds, **changes)


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise OptionError(f"{path}: cannot read the findings config: {error.strerror}") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as error:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise OptionError(f"{path}: not valid {kind}: {error}") from None
    if not isinstance(data, dict):
        raise OptionError(f"{path}: expected key = value pairs, got {type(data).__name__}")
    if set(data) == {"thresholds"} and isinstance(data["thresholds"], dict):
        data = data["thresholds"]
    return data


def load_thresholds(
    path: Path | None = None, overrides: dict[str, str] | None = None
) -> Thresholds:
    """The default thresholds, changed by a config file and then by overrides.

    Args:
        path: a TOML file (or JSON when it ends in ``.json``) of ``name = value`` pairs, at
            top level or under ``[thresholds]``.
        overrides: ``name -> value`` pairs as typed on the command line (``--set``); they win
            over the file. Lists are comma-separated.

    Returns:
        The thresholds to pass to ``run_findings``.

    Raises:
        OptionError: unreadable file, unknown name, or a value of the wrong type or range.
    """
    thresholds = Thresholds()
    if path is not None:
        thresholds = _apply(thresholds, _read_config(Path(path)), str(path))
    if overrides:
        thresholds = _apply(thresholds, dict(overrides), "--set")
    return thresholds
