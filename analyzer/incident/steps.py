"""Next steps: one de-duplicated checklist from the steps the findings in scope ask for.

Each rule declares its steps (``analyzer.findings.story.Step``). A step is repeated for each
value its ``each`` names (each actor mailbox, each delivered mailbox, IP, outside target,
outside sender, message id, subject, mail flow rule or input of the finding); the same step
for the same value asked by several findings is one item that names them all, over the time
range that covers all of theirs. Items come in the order of the first finding that asks
(most urgent first), then of its rule's declaration.

The time range of an item: the whole UTC days from the first to the last row of the findings
that ask (``exact``: to the second), ``lookback_days`` earlier, to the end of the data's last
day when ``until_end``. Commands are read-only (Get-*, Search-*), their values quoted by
``analyzer.incident.commands`` and their dates ISO 8601 UTC; a value no quoting makes safe
(a control character) gets the item without its command, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from analyzer.findings.story import Step
from analyzer.incident.base import FindingFacts, Investigation
from analyzer.incident.commands import (
    UnsafeValue,
    command_time,
    powershell_quote,
    sh_quote,
    signin_filter,
)
from analyzer.timestamps import iso_utc

#: Command values that hold the step's time range.
_DATED = ("start", "end", "user_signins", "ip_signins")
DAY_NS = 86_400 * 1_000_000_000
SECOND_NS = 1_000_000_000


@dataclass(frozen=True)
class NextStep:
    """One item of the checklist.

    Attributes:
        text: what to do (export values as written).
        command: the ready-to-run command, or None.
        shell: where it runs (``powershell`` or ``sh``).
        findings: the ids of the findings that ask for it, in list order.
        start_ns, end_ns: the time range its command covers (UTC), or None.
    """

    text: str
    command: str | None
    shell: str
    findings: tuple[str, ...]
    start_ns: int | None
    end_ns: int | None

    def to_json(self) -> dict[str, Any]:
        """``{"text", "command", "shell", "findings", "start", "end"}``."""
        return {
            "text": self.text,
            "command": self.command,
            "shell": self.shell,
            "findings": list(self.findings),
            "start": iso_utc(self.start_ns),
            "end": iso_utc(self.end_ns),
        }


def _values(facts: FindingFacts, each: str) -> list[str | None]:
    if each == "finding":
        return [None]
    found: dict[str, list[str]] = {
        "mailbox": facts.actor,
        "delivered": facts.delivered_mailboxes,
        "ip": facts.ips,
        "rule": facts.rules,
        "target": facts.targets,
        "sender": facts.senders,
        "message_id": facts.message_ids,
        "subject": facts.subjects,
        "input": facts.inputs,
    }
    return list(found[each])


def _span(facts: FindingFacts, step: Step, value: str | None) -> tuple[int | None, int | None]:
    if step.each == "delivered" and value is not None:
        times = facts.delivered.loc[facts.delivered["recipient_key"] == value, "delivered_ns"]
        return int(times.min()), int(times.max())
    return facts.first_ns, facts.last_ns


def _window(inv: Investigation, step: Step, first: int | None, last: int | None):
    if first is None or last is None:
        return None, None
    if step.exact:
        start, end = first // SECOND_NS * SECOND_NS, -(-last // SECOND_NS) * SECOND_NS
    else:
        start, end = first // DAY_NS * DAY_NS, (last // DAY_NS + 1) * DAY_NS
    if step.until_end and inv.data_end_ns is not None:
        end = max(end, (inv.data_end_ns // DAY_NS + 1) * DAY_NS)
    return start - step.lookback_days * DAY_NS, end


def _command(
    inv: Investigation, step: Step, value: str | None, start: int | None, end: int | None
) -> str | None:
    if step.command is None:
        return None
    quote = powershell_quote if step.shell == "powershell" else sh_quote
    fields: dict[str, str] = {}
    if value is not None:
        fields[step.each] = quote(value)
    if start is not None and end is not None:
        fields["start"] = quote(command_time(start))
        fields["end"] = quote(command_time(end))
        if value is not None and step.each in ("mailbox", "delivered"):
            fields["user_signins"] = signin_filter("userPrincipalName", value, start, end)
        if value is not None and step.each == "ip":
            fields["ip_signins"] = signin_filter("ipAddress", value, start, end)
    fields["sources"] = " ".join(sh_quote(source) for source in inv.sources)
    try:
        return step.command.format(**fields)
    except KeyError:  # a range the command needs is unknown (rows without times)
        return None


def _item(inv: Investigation, step: Step, value: str | None, span: list[Any]) -> NextStep:
    start, end = _window(inv, step, span[0], span[1])
    text = step.text.format(**({step.each: value} if value is not None else {}))
    try:
        command = _command(inv, step, value, start, end)
    except UnsafeValue as problem:
        command = None
        text += f" (no command: the value {problem}, which no quoting makes safe to paste)"
    too_long = start is not None and end is not None and end - start > (step.max_days or 0) * DAY_NS
    if command and step.max_days and too_long:
        text += f" (one query covers at most {step.max_days} days: split the range)"
    shell = step.shell if command else "none"
    dated = any(f"{{{name}}}" in (step.command or "") for name in _DATED)
    if not (command and dated):  # the range matters only to a command that takes it
        start = end = None
    return NextStep(text, command, shell, tuple(span[2]), start, end)


def next_steps(inv: Investigation) -> list[NextStep]:
    """The checklist of the findings in scope (see the module doc)."""
    merged: dict[tuple[Step, str | None], list[Any]] = {}
    for facts in inv.scoped_facts():
        for step in facts.story.steps:
            for value in _values(facts, step.each):
                first, last = _span(facts, step, value)
                span = merged.setdefault((step, value), [first, last, []])
                if first is not None:
                    span[0] = first if span[0] is None else min(span[0], first)
                    span[1] = last if span[1] is None else max(span[1], last)
                if facts.id not in span[2]:
                    span[2].append(facts.id)
    return [_item(inv, step, value, span) for (step, value), span in merged.items()]


__all__ = ["NextStep", "next_steps"]
