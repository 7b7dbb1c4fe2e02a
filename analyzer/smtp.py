"""Plain-language meanings of SMTP reply codes and enhanced status codes (RFC 3463 x.y.z).

Exchange and Exchange Online put an enhanced status code in every SMTP reply they log
(``550 5.1.1 RESOLVER.ADR.RecipNotFound; not found``). ``meaning`` turns a code into words an
investigator can act on: first from a table of the codes that matter most in practice, then
from the class (2 success, 4 temporary, 5 permanent) and subject (the middle digit) of any
other code, so that no code is left without an explanation.
"""

from __future__ import annotations

#: Enhanced status codes seen in Exchange / Exchange Online replies and NDRs, with what they
#: mean to a user. Codes not listed here fall back to their class and subject.
KNOWN_CODES: dict[str, str] = {
    "2.0.0": "accepted",
    "2.1.5": "recipient accepted",
    "2.6.0": "message accepted for delivery",
    "4.2.2": "the recipient's mailbox is full (temporary; delivery is retried)",
    "4.3.1": "the receiving server is short of resources (temporary)",
    "4.3.2": "the receiving server is not accepting mail right now (temporary)",
    "4.4.0": "the receiving server could not be reached: routing, DNS or connection problem "
    "(temporary)",
    "4.4.1": "no answer from the receiving server: the connection timed out (temporary)",
    "4.4.2": "the connection to the receiving server was dropped (temporary)",
    "4.4.7": "the message expired: it could not be delivered before the retry period ended",
    "4.5.3": "too many recipients in one connection (temporary)",
    "4.7.0": "temporarily rejected by the receiving server (throttling or greylisting)",
    "5.0.0": "permanent failure without a more specific reason",
    "5.1.0": "the sender or recipient address was rejected",
    "5.1.1": "unknown recipient: the address does not exist at the receiving organization",
    "5.1.8": "the sender was blocked from sending (for example after sending spam)",
    "5.1.10": "unknown recipient: the address was not found in the recipient's Microsoft 365 "
    "organization",
    "5.1.90": "the sender reached their daily limit of recipients",
    "5.2.1": "the recipient's mailbox is disabled or unavailable",
    "5.2.2": "the recipient's mailbox is full",
    "5.2.3": "the message is larger than the recipient accepts",
    "5.3.4": "the message is larger than the receiving system accepts",
    "5.4.1": "recipient address rejected: access denied (the address does not exist, or "
    "relaying to it is not allowed)",
    "5.4.4": "no route to the recipient's domain (unable to route)",
    "5.4.6": "a routing loop was detected",
    "5.4.14": "the hop count was exceeded: a mail loop",
    "5.5.0": "the receiving server rejected a command (protocol error)",
    "5.6.0": "the message content was rejected",
    "5.7.0": "rejected for a security reason",
    "5.7.1": "rejected by policy: the sender is not allowed to send to this recipient",
    "5.7.12": "the recipient (usually a group) accepts mail only from authenticated senders",
    "5.7.23": "rejected by the recipient's SPF check (the sending server is not authorized)",
    "5.7.57": "the client was not authenticated to send mail",
    "5.7.64": "relay access denied: the connector does not accept mail for this tenant",
    "5.7.124": "the sender is not in the group's list of allowed senders",
    "5.7.133": "the group accepts mail only from authenticated senders",
    "5.7.509": "rejected by the sender domain's DMARC policy",
    "5.7.520": "blocked: the organization does not allow automatic external forwarding",
    "5.7.606": "the sending IP address is on Microsoft's block list (banned sending IP)",
    "5.7.700": "the sending tenant was blocked for exceeding its sending threshold",
    "5.7.705": "the sending tenant was blocked for sending too much spam",
    "5.7.708": "the sending IP address has a poor reputation: traffic not accepted",
    "5.7.750": "the tenant was blocked from sending from unregistered domains",
}

#: Ranges of codes that share one meaning (5.7.606 to 5.7.649 are all banned sending IPs).
CODE_RANGES: tuple[tuple[str, int, int, str], ...] = (
    ("5.7", 606, 649, "the sending IP address is on Microsoft's block list (banned sending IP)"),
    ("5.7", 700, 749, "the sending tenant was blocked for exceeding its sending threshold"),
)

CLASS_WORDS = {
    "2": "success",
    "4": "temporary failure (delivery is retried)",
    "5": "permanent failure",
}

SUBJECT_WORDS = {
    "0": "no specific reason given",
    "1": "problem with an address",
    "2": "problem with the recipient's mailbox",
    "3": "problem with the receiving mail system",
    "4": "network or routing problem",
    "5": "mail protocol problem",
    "6": "problem with the message content",
    "7": "security or policy problem",
}

#: Three-digit SMTP reply codes, for replies that carry no enhanced code.
REPLY_CODES: dict[int, str] = {
    250: "accepted",
    251: "accepted; forwarded to another address",
    421: "the receiving server is closing the connection (temporary)",
    450: "mailbox unavailable (temporary)",
    451: "local error at the receiving server (temporary)",
    452: "the receiving server is short of storage (temporary)",
    550: "mailbox unavailable or rejected by policy",
    551: "the recipient is not local to the receiving server",
    552: "the recipient's mailbox is over its storage limit",
    553: "the mailbox name is not allowed",
    554: "the transaction failed",
}


def meaning(code: str | None, reply_code: int | None = None) -> str | None:
    """What an enhanced status code (or, lacking one, a reply code) means, in plain words.

    Args:
        code: an enhanced status code such as ``5.1.1`` (surrounding spaces are ignored).
        reply_code: the three-digit SMTP reply code, used when ``code`` is missing.

    Returns:
        A short sentence fragment, e.g. ``"unknown recipient: the address does not exist at
        the receiving organization"``; for codes not in the table, their class and subject
        (``"permanent failure: security or policy problem"``); None when neither argument is a
        code.
    """
    if code:
        code = code.strip()
        if code in KNOWN_CODES:
            return KNOWN_CODES[code]
        parts = code.split(".")
        if len(parts) == 3 and all(p.isdigit() for p in parts) and parts[0] in CLASS_WORDS:
            for prefix, low, high, words in CODE_RANGES:
                if f"{parts[0]}.{parts[1]}" == prefix and low <= int(parts[2]) <= high:
                    return words
            subject = SUBJECT_WORDS.get(parts[1][:1] if len(parts[1]) == 1 else "")
            subject = subject or "other problem"
            return f"{CLASS_WORDS[parts[0]]}: {subject}"
    if reply_code is not None:
        if reply_code in REPLY_CODES:
            return REPLY_CODES[reply_code]
        first = str(reply_code)[:1]
        if first in CLASS_WORDS:
            return CLASS_WORDS[first]
    return None
