"""Addresses, domains and message ids: how msgtrace compares them, defined once.

Exports write the same thing several ways: ``Bob@Contoso.com``, ``<bob@contoso.com>``,
`` bob@contoso.com ``; an Internet message id with or without ``<>``; a network message id in
upper or lower case. Chains group rows by these keys, findings tell internal from outside
mail by the domains, search and ``chain --message`` match what a user types against them:
every one of them goes through this module, so they can never disagree.

Each comparison form exists for Arrow columns (vectorized, for the hot paths) and for one
Python string (for what a user types).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Characters that surround an address in exports and are not part of it: white space, the
#: angle brackets of ``<bob@contoso.com>`` and quotes.
ADDRESS_TRIM = " \t\r\n<>\"'"

_NULL_STRING = pa.scalar(None, pa.string())

Column = TypeVar("Column", pa.Array, pa.ChunkedArray)


def _null_if_empty(text: Column) -> Column:
    return pc.if_else(pc.equal(text, ""), _NULL_STRING, text)


def address_key(addresses: Column) -> Column:
    """Addresses as mail systems compare them: without surrounding white space, ``<>`` and
    quotes, lower-cased; empty values become null."""
    return _null_if_empty(pc.utf8_lower(pc.utf8_trim(addresses, ADDRESS_TRIM)))


def address_text(address: str | None) -> str | None:
    """``address_key`` of one address."""
    if address is None:
        return None
    return address.strip(ADDRESS_TRIM).lower() or None


def domain_of(addresses: Column) -> Column:
    """The domain of each address: what follows its last ``@``, lower-cased (null when there
    is no ``@`` or nothing after it)."""
    found = pc.extract_regex(address_key(addresses), r"@(?P<domain>[^@]+)$")
    return pc.struct_field(found, "domain")


def domain_text(address: str | None) -> str | None:
    """``domain_of`` one address."""
    key = address_text(address)
    if not key or "@" not in key:
        return None
    return key.rsplit("@", 1)[1] or None


def message_id_key(message_ids: Column) -> Column:
    """Internet message ids compared the way users write them: without ``<>``, any case."""
    text = pc.utf8_lower(pc.utf8_trim_whitespace(message_ids))
    text = pc.utf8_trim_whitespace(pc.replace_substring_regex(text, r"^<|>$", ""))
    return _null_if_empty(text)


def message_id_text(message_id: str | None) -> str | None:
    """``message_id_key`` of one id."""
    if message_id is None:
        return None
    text = message_id.strip().lower().removeprefix("<").removesuffix(">").strip()
    return text or None


def id_key(ids: Column) -> Column:
    """Network message ids, message trace ids and other GUID-like ids: trimmed, any case."""
    return _null_if_empty(pc.utf8_lower(pc.utf8_trim_whitespace(ids)))


def id_text(value: str | None) -> str | None:
    """``id_key`` of one id."""
    if value is None:
        return None
    return value.strip().lower() or None


def in_domains(domains: Column, tenant_domains: Iterable[str]) -> Column:
    """True where a domain is one of ``tenant_domains`` or a subdomain of one (mail to
    ``eu.contoso.com`` is as internal as mail to ``contoso.com``); null counts as False."""
    tenant = sorted({d.lower() for d in tenant_domains if d})
    if not tenant:
        return _all_false(domains)
    mask = pc.is_in(domains, value_set=pa.array(tenant, pa.string()))
    for domain in tenant:
        mask = pc.or_(mask, pc.ends_with(domains, "." + domain))
    return pc.fill_null(mask, False)


def _all_false(like: Column) -> Column:
    falses = pa.array(np.zeros(len(like), dtype=bool))
    return pa.chunked_array([falses]) if isinstance(like, pa.ChunkedArray) else falses


def domain_in(domain: str | None, tenant_domains: Iterable[str]) -> bool:
    """``in_domains`` for one domain."""
    if not domain:
        return False
    domain = domain.lower()
    return any(domain == d.lower() or domain.endswith("." + d.lower()) for d in tenant_domains)
