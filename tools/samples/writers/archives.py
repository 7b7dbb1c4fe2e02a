"""Compressed downloads: an export zipped, or gzipped, before it was handed over.

Both are byte-for-byte deterministic: the time in their headers is the file record's
``modified``, never the clock, and nothing else in them varies. Members are *stored*
(uncompressed) rather than deflated, because deflate's output is not the same from one
zlib to another (zlib-ng, which some Python builds use, compresses differently): a
deflated sample would regenerate differently on such a machine. Readers take both alike;
msgtrace's own tests read deflated archives.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from datetime import datetime
from typing import Any

from ..clock import ticks_of, unix_seconds
from ..model import World
from . import encode, render, writer

#: The largest block of a stored deflate stream (its length is a 16-bit field).
STORED_BLOCK = 65_535


def _member(world: World, name: str, encoding: str, bom: bool, options: dict[str, Any]) -> bytes:
    return encode(render(name, world, options), encoding, bom)


@writer("zip_archive")
def zip_archive(
    world: World,
    member: str,
    member_writer: str,
    modified: datetime,
    encoding: str = "utf-8",
    bom: bool = False,
    member_options: dict[str, Any] | None = None,
) -> bytes:
    """A zip holding one member, ``member``: what the writer ``member_writer`` writes with
    ``member_options``, in ``encoding`` (after a BOM if ``bom``), dated ``modified`` (UTC)."""
    data = _member(world, member_writer, encoding, bom, member_options or {})
    info = zipfile.ZipInfo(member, date_time=modified.timetuple()[:6])
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 0  # MS-DOS/Windows, as Windows' "Send to > Compressed folder" writes
    info.external_attr = 0x20  # the DOS archive attribute
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(info, data)
    return buffer.getvalue()


def _stored_deflate(data: bytes) -> bytes:
    """``data`` as a deflate stream of stored (uncompressed) blocks (RFC 1951, 3.2.4)."""
    blocks = []
    for start in range(0, max(len(data), 1), STORED_BLOCK):
        chunk = data[start : start + STORED_BLOCK]
        final = start + STORED_BLOCK >= len(data)
        length = len(chunk)
        blocks.append(struct.pack("<BHH", int(final), length, length ^ 0xFFFF) + chunk)
    return b"".join(blocks)


@writer("gzip_file")
def gzip_file(
    world: World,
    member: str,
    member_writer: str,
    modified: datetime,
    encoding: str = "utf-8",
    bom: bool = False,
    member_options: dict[str, Any] | None = None,
) -> bytes:
    """A gzip file (RFC 1952) of what the writer ``member_writer`` writes with
    ``member_options``, in ``encoding``; its header names the original file ``member`` and
    dates it ``modified``."""
    data = _member(world, member_writer, encoding, bom, member_options or {})
    flags = 0x08  # FNAME: the original file name follows the header
    mtime = unix_seconds(ticks_of(modified))
    # ID1 ID2, CM 8 (deflate), FLG, MTIME, XFL 0, OS 0 (FAT: an admin's Windows machine)
    header = struct.pack("<BBBBIBB", 0x1F, 0x8B, 8, flags, mtime, 0, 0)
    trailer = struct.pack("<II", zlib.crc32(data), len(data) & 0xFFFFFFFF)
    return header + member.encode("latin-1") + b"\x00" + _stored_deflate(data) + trailer
