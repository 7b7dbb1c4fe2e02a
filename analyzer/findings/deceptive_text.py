"""Hidden characters in addresses and subjects: text that does not display as what it is.

A bidirectional control reorders the text after it: the recipient
``invoice<U+202E>fdp.exe@evil.example`` displays as ``invoiceexe.pdf@evil.example``. A
zero-width character makes ``pay<U+200B>pal.com`` look like a known name while a search for
the name it shows finds nothing, and a control character in a subject can rewrite a terminal's
screen. No mail system needs them in an address; in a subject they are a known trick to slip
past filters and readers. The characters looked for are ``analyzer.text.HIDDEN_RANGES``
(control, bidi, zero-width and other invisible characters); accents, other scripts and emoji
are not among them (look-alike letters are ``lookalike-domain``'s).

Each address is matched once per distinct value of each address column, with one regex
(``analyzer.arrays.per_distinct``); so is each subject.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.arrays import fill_false, per_distinct
from analyzer.findings.base import RULE_EVENT_COLUMNS, Context, domain_series, listing, plural
from analyzer.findings.model import Finding
from analyzer.findings.registry import rule
from analyzer.findings.story import TRACE_FROM_SENDER, TRACE_MESSAGE_DETAIL, Moment, Role, Story
from analyzer.identifiers import address_key
from analyzer.text import HIDDEN_REGEX, SUBJECT_HIDDEN_REGEX, hidden_characters, terminal_safe

RULE = "hidden-characters"

#: The address columns looked at, with the words evidence rows use for them.
ADDRESS_COLUMNS = (
    ("sender_address", "sender address"),
    ("return_path", "return path"),
    ("recipient_address", "recipient address"),
    ("related_recipient_address", "related recipient (forward, redirect or group)"),
)

#: Subjects named in the title or explanation of the subjects finding.
SHOWN_SUBJECTS = 3


def _hidden_mask(
    ctx: Context, column: str, pattern: str = HIDDEN_REGEX
) -> pa.Array | pa.ChunkedArray:
    """Events whose ``column`` holds a hidden character (False where the column is missing)."""
    if column not in ctx.events.column_names or ctx.events.num_rows == 0:
        return pa.array([False] * ctx.events.num_rows, pa.bool_())
    values = ctx.events[column]
    return fill_false(
        per_distinct(values, lambda distinct: pc.match_substring_regex(distinct, pattern))
    )


def _names(values: pd.Series) -> str:
    """The hidden characters of some values, each named once: ``U+202E RIGHT-TO-LEFT
    OVERRIDE``."""
    named = dict.fromkeys(name for value in values.unique() for name in hidden_characters(value))
    return listing(list(named), 4)


def _address_rows(ctx: Context) -> pd.DataFrame:
    """Every event row with an address that carries hidden characters: the evidence columns,
    ``address`` (its ``address_key``), ``raw`` (as exported) and ``detail`` (which column)."""
    frames = []
    for column, words in ADDRESS_COLUMNS:
        mask = _hidden_mask(ctx, column)
        if not pc.any(mask).as_py():
            continue
        frame = ctx.event_frame(mask, [*RULE_EVENT_COLUMNS, column])
        frame["raw"] = frame[column]
        frame["address"] = address_key(pa.array(frame[column], pa.string())).to_pandas()
        frame["detail"] = words
        frame["role"] = column
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _address_finding(ctx: Context, address: str, rows: pd.DataFrame) -> Finding | None:
    visible = terminal_safe(address)
    names = _names(rows["raw"])
    messages = rows["message_key"].nunique()
    roles = [
        f"{words} of {plural(rows.loc[rows['role'] == column, 'message_key'].nunique(), 'message')}"
        for column, words in ADDRESS_COLUMNS
        if (rows["role"] == column).any()
    ]
    return ctx.finding(
        RULE,
        "medium",
        f"Address {visible} carries hidden characters ({names})",
        f"The address {visible} ({', '.join(roles)}) holds {names}: characters that are "
        "invisible or reorder the text around them, so the address displays as something "
        "else (a right-to-left override turns invoice<U+202E>fdp.exe into invoiceexe.pdf) and "
        "a search for what is displayed does not find it. No mail system needs them in an "
        f"address. Treat the {plural(messages, 'message')} as a spoofing attempt: check who "
        "received and opened them, block the address and its domain (Tenant Allow/Block "
        "List) and search the trace for other mail from that domain.",
        ctx.entities(mailbox=[address], domain=domain_series(pd.Series([address]))),
        rows,
    )


def _subject_finding(ctx: Context) -> Finding | None:
    # a line break in a subject is a folded header the export kept, not a trick
    mask = _hidden_mask(ctx, "message_subject", SUBJECT_HIDDEN_REGEX)
    if not pc.any(mask).as_py():
        return None
    rows = ctx.event_frame(mask, RULE_EVENT_COLUMNS)
    first = rows.sort_values(["time_ns", "row"], kind="stable").drop_duplicates("message_subject")
    subjects = [terminal_safe(s) for s in first["message_subject"]]
    messages = rows["message_key"].nunique()
    names = _names(rows["message_subject"])
    shown = "; ".join(f'"{s}"' for s in subjects[:SHOWN_SUBJECTS])
    more = f" and {len(subjects) - SHOWN_SUBJECTS} more" if len(subjects) > SHOWN_SUBJECTS else ""
    title = (
        f'Subject "{subjects[0]}" carries hidden characters ({names})'
        if len(subjects) == 1
        else f"{plural(len(subjects), 'subject')} of {plural(messages, 'message')} carry hidden "
        f"characters ({names})"
    )
    visible = dict(zip(first["message_subject"], subjects, strict=True))
    rows["detail"] = "subject " + rows["message_subject"].map(visible)
    senders = rows["sender_address"].dropna().str.strip().str.lower()
    return ctx.finding(
        RULE,
        "low",
        title,
        f"{plural(messages, 'message')} have a subject holding {names}, shown here made "
        f"visible: {shown}{more}. Such characters are invisible, reorder the text or control "
        "a terminal: they split words so that filters and searches miss them, or make a "
        "subject display as another. Marketing mail sometimes carries zero-width joiners in "
        "emoji; otherwise check the messages and their senders as likely phishing.",
        ctx.entities(mailbox=senders, domain=domain_series(senders)),
        rows,
    )


@rule(
    id=RULE,
    severity="medium/low",
    summary="Addresses (medium) and subjects (low) holding control, bidi or zero-width "
    "characters, which make them display as something else (a spoofing trick)",
    story=Story(
        roles=(
            Role(
                "received mail whose address or subject hides characters",
                acts=False,
                of="recipients",
            ),
        ),
        moments=(Moment("{title}: first message", about="recipients"),),
        steps=(TRACE_FROM_SENDER, TRACE_MESSAGE_DETAIL),
        indicators=("sender", "sender_domain", "subject", "message_id"),
    ),
)
def hidden_characters_rule(ctx: Context) -> list[Finding]:
    """One finding per address (any address column) with hidden characters, and one for all
    subjects with hidden characters."""
    findings = []
    rows = _address_rows(ctx)
    if not rows.empty:
        for address, group in rows.groupby("address", sort=True):
            finding = _address_finding(ctx, str(address), group)
            if finding:
                findings.append(finding)
    subject = _subject_finding(ctx)
    if subject:
        findings.append(subject)
    return findings


__all__ = ["hidden_characters_rule"]
