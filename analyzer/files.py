"""Inputs on disk: finding them, telling what a file is, and opening it safely.

This is the first stage of the flow (files -> encoding -> formats -> ingest). It knows nothing
of exports: it finds the files to read (``walk``), says what a file is from its first bytes
(magic numbers: a zip, a gzip, a PDF, an Office workbook...), and opens an input as a
read-only byte stream (``Source.open``), whether it is a file or a member of an archive.

- An input is opened read-only, non-blocking, and only when it is a regular file: a named
  pipe, a socket or a device named on the command line is reported, never waited on.
- Archives (``.zip``, ``.gz``; a download compressed by Start-HistoricalSearch -CompressFile
  or by an admin) are read in place, member by member, as decompressed streams: nothing is
  extracted to disk and memory stays bounded whatever a member's size. Each member is an
  input of its own, named ``archive!member``.
- Folders are searched recursively; a symbolic link to a folder is followed once (a link to a
  folder already searched, a loop, is skipped with a message).
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, BinaryIO, Literal

#: File name endings taken when a folder is searched (a file named explicitly is always read).
#: Workbooks are taken so that a user who saved an export as .xlsx is told to save it as CSV.
EXPORT_SUFFIXES = frozenset(
    {".csv", ".log", ".txt", ".json", ".ndjson", ".jsonl", ".tsv", ".zip", ".gz"}
    | {".xlsx", ".xls"}
)
#: Separates an archive's path from a member's name in the path shown for a member.
MEMBER_SEPARATOR = "!"
#: Bytes read to tell what a file is.
MAGIC_SIZE = 512
HASH_CHUNK = 4 * 1024 * 1024

Compression = Literal["zip", "gzip"]

#: (first bytes, what the file is, what to do) of binary files that are no export. Told by
#: what a file is, never by a few odd characters in it: an export's text is attacker-written.
BINARY_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"%PDF-", "a PDF document", "export the message trace as CSV"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", "export the message trace as CSV"),
    (b"\xff\xd8\xff", "a JPEG image", "export the message trace as CSV"),
    (b"GIF87a", "a GIF image", "export the message trace as CSV"),
    (b"GIF89a", "a GIF image", "export the message trace as CSV"),
    (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
        "an Office document in the old binary format (.xls, .doc or an Outlook .msg)",
        "open it in Excel and save it as CSV (UTF-8), then read the CSV",
    ),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first, then read the exports in it"),
    (b"Rar!\x1a\x07", "a RAR archive", "extract it first, then read the exports in it"),
    (b"\xfd7zXZ\x00", "an xz archive", "extract it first, then read the exports in it"),
    (b"BZh91AY&SY", "a bzip2 archive", "extract it first, then read the exports in it"),
    (b"SQLite format 3\x00", "an SQLite database", "export the message trace as CSV"),
    (b"PAR1", "a Parquet file", "give msgtrace the case folder or the original exports"),
    (b"\x7fELF", "a program (ELF)", "give msgtrace the exported CSV or JSON files"),
)
#: tar archives say ``ustar`` at byte 257.
TAR_MAGIC = (257, b"ustar")
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
GZIP_MAGIC = b"\x1f\x8b"
#: Members of an Office Open XML package, by which a zip is a workbook or a document.
OFFICE_PARTS = {"xl/": "an Excel workbook (.xlsx)", "word/": "a Word document (.docx)"}


class SourceProblem(OSError):
    """An input that cannot be opened or read as it is (the message names what to do)."""


def _open_regular(path: Path) -> BinaryIO:
    """``path`` opened read-only, refusing anything but a regular file without blocking.

    A named pipe opened for reading would wait for a writer forever: it is opened
    non-blocking, and ``fstat`` of the open descriptor (not of the name, which could change
    in between) decides.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SourceProblem(f"is {_kind_of(mode)}, not a file: msgtrace reads export files")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _kind_of(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


class _ArchiveMember(io.RawIOBase):
    """A member of a zip archive, decompressed as it is read.

    A damaged archive (a CRC that does not match, compressed data that ends early: a download
    cut off) does not lose the member: reading stops there as at the end of a file, and
    ``damage`` says what happened, so the rows read up to it are kept and the input warns.
    """

    def __init__(self, archive: IO[bytes], stream: IO[bytes], closing: Iterable[Any] = ()):
        super().__init__()
        self._archive = archive
        self._stream = stream
        self._closing = list(closing)
        self.damage: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.damage:
            return 0
        try:
            data = self._stream.read(len(target))
        except (EOFError, zlib.error, zipfile.BadZipFile, OSError) as error:  # a damaged zip
            self.damage = _damage_text(error)
            return 0
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            for handle in [self._stream, *self._closing, self._archive]:
                handle.close()
        super().close()


class _GzipMember(io.RawIOBase):
    """The decompressed bytes of a gzip file (concatenated gzip members in a row).

    Decompressed with zlib as the compressed bytes arrive, so a damaged or cut-off file keeps
    every byte before the damage (``gzip.GzipFile`` loses what it decompressed in the read
    that meets it); ``damage`` then says what happened. zlib checks each member's CRC-32.
    """

    READ = 1024 * 1024
    FEED = 64 * 1024  # compressed bytes given to zlib at a time

    def __init__(self, raw: IO[bytes]):
        super().__init__()
        self._raw = raw
        self._inflate = zlib.decompressobj(wbits=31)  # 31: a gzip header and trailer
        self._pending = b""  # compressed bytes not fed yet
        self._between = True  # before a member (at the start, or after one ended)
        self._salvaged = b""  # what could be decompressed before damage, still to hand out
        self.damage: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        out = self._next(len(target))
        target[: len(out)] = out
        return len(out)

    def _next(self, size: int) -> bytes:
        while True:
            if self._salvaged:
                out, self._salvaged = self._salvaged[:size], self._salvaged[size:]
                return out
            if self.damage:
                return b""
            data = self._pending or self._raw.read(self.READ)
            if not data:
                if not self._between:
                    self.damage = _damage_text(EOFError("the last gzip member has no end"))
                return b""
            if self._between:
                data = data.lstrip(b"\x00")  # padding after the last member
                if not data:
                    self._pending = b""
                    continue
                self._inflate = zlib.decompressobj(wbits=31)
                self._between = False
            fed, self._pending = data[: self.FEED], data[self.FEED :]
            before = self._inflate.copy()
            try:
                out = self._inflate.decompress(fed, size)
            except zlib.error as error:
                self.damage = _damage_text(error)
                self._salvaged = _inflate_until_error(before, fed)
                continue
            self._pending = self._inflate.unconsumed_tail + self._pending
            if self._inflate.eof:
                self._pending = self._inflate.unused_data + self._pending
                self._between = True
            if out:
                return out

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


def _inflate_until_error(inflate: Any, data: bytes) -> bytes:
    """What ``inflate`` gives for ``data`` fed a byte at a time, up to the byte it fails on."""
    pieces = []
    for k in range(len(data)):
        try:
            pieces.append(inflate.decompress(data[k : k + 1]))
        except zlib.error:
            break
    return b"".join(pieces)


def _damage_text(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, EOFError):
        return f"the compressed data ends early ({text}): the archive appears cut off"
    return f"the compressed data is damaged ({text})"


@dataclass(frozen=True)
class Source:
    """One input to read: a file, or a member of an archive.

    Attributes:
        path: how the input is named to the user (``exports/a.csv``,
            ``exports/a.zip!MTSummary.csv``).
        file: the file on disk (the archive, for a member).
        member: the member's name inside the archive, None for a plain file.
        compression: ``zip`` or ``gzip`` for a member, None for a plain file.
        size_hint: the member's decompressed size as the archive states it, before reading
            (gzip records it modulo 4 GiB): only for spotting an input already in a case.
        problem: why the input cannot be read at all, found while looking for inputs (a
            missing file, a named pipe, a folder without exports, an encrypted member...).
    """

    path: str
    file: Path
    member: str | None = None
    compression: Compression | None = None
    size_hint: int | None = None
    problem: str | None = None

    @property
    def in_archive(self) -> bool:
        return self.member is not None

    @property
    def seekable(self) -> bool:
        """Whether reading at any offset is cheap (a plain file; a member must be
        decompressed from its start)."""
        return self.compression is None

    def open(self) -> BinaryIO:
        """The input's bytes as a read-only stream (decompressed, for a member).

        Raises:
            SourceProblem: the input is not a regular file.
            OSError: it cannot be opened (permissions, a file removed meanwhile).
        """
        raw = _open_regular(self.file)
        if self.compression is None:
            return raw
        try:
            if self.compression == "gzip":
                return io.BufferedReader(_GzipMember(raw), HASH_CHUNK)
            archive = zipfile.ZipFile(raw)
            member = archive.open(self.member or "")
            return io.BufferedReader(_ArchiveMember(raw, member, closing=[archive]), HASH_CHUNK)
        except BaseException:
            raw.close()
            raise

    def size(self) -> int:
        """The size of a plain file in bytes (of a member: its stated decompressed size)."""
        if self.compression is None:
            return self.file.stat().st_size
        return self.size_hint or 0


def damage_of(stream: object) -> str | None:
    """What went wrong decompressing ``stream`` (a ``Source.open`` stream), if anything."""
    raw = getattr(stream, "raw", stream)
    return getattr(raw, "damage", None)


def as_source(path: str | Path | Source) -> Source:
    """A plain file as a ``Source`` (a ``Source`` is returned as it is)."""
    if isinstance(path, Source):
        return path
    return Source(str(path), Path(path))


def digest_of(source: Source) -> tuple[str, int]:
    """(sha256 in hex, size in bytes) of the input's bytes (a member's decompressed bytes)."""
    digest = hashlib.sha256()
    size = 0
    with source.open() as handle:
        while chunk := handle.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def file_sha256(path: Path) -> str:
    """sha256 of a file on disk, in hex (an archive, as it is)."""
    return digest_of(Source(str(path), path))[0]


# ----------------------------------------------------------------------------- what a file is


def sniff(head: bytes) -> tuple[str, str] | None:
    """(what the file is, what to do) when its first bytes are those of a binary format that
    no export is, else None (text, or an archive msgtrace reads)."""
    for magic, what, fix in BINARY_MAGIC:
        if head.startswith(magic):
            return what, fix
    offset, magic = TAR_MAGIC
    if head[offset : offset + len(magic)] == magic:
        return "a tar archive", "extract it first, then read the exports in it"
    return None


def compression_of(head: bytes) -> Compression | None:
    """``zip`` or ``gzip`` when the first bytes say so."""
    if head.startswith(ZIP_MAGIC):
        return "zip"
    if head.startswith(GZIP_MAGIC):
        return "gzip"
    return None


def _read_head(path: Path) -> bytes:
    with _open_regular(path) as handle:
        return handle.read(MAGIC_SIZE)


def _members(path: Path, shown: str, compression: Compression) -> list[Source]:
    """The inputs inside an archive (a member that cannot be read carries its problem)."""
    if compression == "gzip":
        # one member (concatenated gzip members decompress as one stream); the trailer's
        # last 4 bytes hold its decompressed size modulo 4 GiB
        with _open_regular(path) as handle:
            handle.seek(-4, io.SEEK_END)
            stated = int.from_bytes(handle.read(4), "little")
        name = path.name[:-3] if path.name.lower().endswith(".gz") else path.stem
        name = name or "member"
        return [_member(path, shown, name, "gzip", stated)]
    try:
        with _open_regular(path) as handle, zipfile.ZipFile(handle) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile as error:
        return [Source(shown, path, problem=f"is a damaged zip archive ({error}).")]
    names = [info.filename for info in infos]
    for prefix, what in OFFICE_PARTS.items():
        if "[Content_Types].xml" in names and any(n.startswith(prefix) for n in names):
            return [
                Source(
                    shown,
                    path,
                    problem=f"is {what}, not an export: open it in Excel and save it as CSV "
                    "(UTF-8), then read the CSV.",
                )
            ]
    found: list[Source] = []
    for info in sorted(infos, key=lambda i: i.filename):
        parts = info.filename.split("/")
        if info.is_dir() or any(p.startswith(".") or p == "__MACOSX" for p in parts):
            continue  # folders, hidden files and macOS resource forks hold no export
        member = _member(path, shown, info.filename, "zip", info.file_size)
        if info.flag_bits & 0x1:
            member = _with_problem(member, "is encrypted: extract it with its password first.")
        elif info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED) and (
            info.compress_type not in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
        ):
            member = _with_problem(
                member,
                f"uses a compression method msgtrace cannot read ({info.compress_type}): "
                "extract the archive first.",
            )
        found.append(member)
    if not found:
        return [Source(shown, path, problem="is a zip archive with no files in it.")]
    return found


def _member(path: Path, shown: str, name: str, compression: Compression, size: int) -> Source:
    return Source(
        f"{shown}{MEMBER_SEPARATOR}{name}", path, name, compression, size_hint=size, problem=None
    )


def _with_problem(source: Source, problem: str) -> Source:
    return Source(
        source.path, source.file, source.member, source.compression, source.size_hint, problem
    )


def _inputs_of_file(path: Path, shown: str) -> list[Source]:
    """A file as inputs: itself, or the members of the archive it is."""
    try:
        head = _read_head(path)
    except SourceProblem as problem:
        return [Source(shown, path, problem=f"{problem}.")]
    except OSError as error:
        return [Source(shown, path, problem=f"cannot be opened: {error.strerror or error}.")]
    compression = compression_of(head)
    if compression is None:
        return [Source(shown, path)]
    try:
        return _members(path, shown, compression)
    except OSError as error:
        return [Source(shown, path, problem=f"cannot be read: {error.strerror or error}.")]


# ----------------------------------------------------------------------------- finding inputs


@dataclass
class Walk:
    """What searching the paths found.

    Attributes:
        sources: the inputs, in order: each path as given, folders searched in sorted order,
            archives expanded into their members.
        skipped: (path, why) of folders not searched (a link to a folder already searched).
    """

    sources: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


def walk(
    paths: Iterable[str | Path], not_exports: Callable[[Path], str | None] | None = None
) -> Walk:
    """Find the inputs: each file as given, export-like files found in folders (sorted).

    Args:
        paths: files and folders, as the user named them.
        not_exports: for a folder, why its files are not exports (a msgtrace case folder),
            or None; such a folder given explicitly is an input with that problem, one found
            inside a searched folder is left out.

    A path that cannot be read is an input carrying its problem, so that it is reported like
    any other bad input and the run goes on.
    """
    result = Walk()
    visited: set[tuple[int, int]] = set()
    for given in paths:
        path = Path(given)
        shown = str(given)
        try:
            info = path.stat()
        except OSError as error:
            result.sources.append(_unreachable(path, shown, error))
            continue
        if stat.S_ISDIR(info.st_mode):
            why = not_exports(path) if not_exports else None
            if why:
                result.sources.append(Source(shown, path, problem=why))
                continue
            before = (len(result.sources), len(result.skipped))
            _search(path, visited, result, not_exports)
            if (len(result.sources), len(result.skipped)) == before:
                result.sources.append(
                    Source(shown, path, problem="is a folder with no export files in it.")
                )
        elif not stat.S_ISREG(info.st_mode):
            result.sources.append(
                Source(
                    shown,
                    path,
                    problem=f"is {_kind_of(info.st_mode)}, not a file: "
                    "msgtrace reads export files.",
                )
            )
        else:
            result.sources.extend(_inputs_of_file(path, shown))
    return result


def _unreachable(path: Path, shown: str, error: OSError) -> Source:
    """An input whose name leads nowhere readable, with what the user can do about it."""
    if isinstance(error, FileNotFoundError):
        if path.is_symlink():
            target = os.readlink(path)
            return Source(
                shown, path, problem=f"is a symbolic link to {target}, which does not exist."
            )
        return Source(shown, path, problem="no such file or folder.")
    return Source(shown, path, problem=f"cannot be opened: {error.strerror or error}.")


def _search(
    folder: Path,
    visited: set[tuple[int, int]],
    result: Walk,
    not_exports: Callable[[Path], str | None] | None,
) -> None:
    """Add the export-like files under ``folder``, following links to folders once."""
    for root, dirs, files in _walk_once(folder, visited, result):
        here = Path(root)
        kept = []
        for name in sorted(dirs):
            if name.startswith("."):
                continue
            if not_exports and not_exports(here / name):
                continue  # a case folder inside: its parquet files are not exports
            kept.append(name)
        dirs[:] = kept
        for name in sorted(files):
            candidate = here / name
            if name.startswith(".") or candidate.suffix.lower() not in EXPORT_SUFFIXES:
                continue
            try:
                mode = candidate.stat().st_mode
            except OSError as error:  # a dangling link, or a file removed meanwhile
                result.sources.append(_unreachable(candidate, str(candidate), error))
                continue
            if stat.S_ISREG(mode):
                result.sources.extend(_inputs_of_file(candidate, str(candidate)))
            else:
                result.sources.append(
                    Source(
                        str(candidate),
                        candidate,
                        problem=f"is {_kind_of(mode)}, not a file: msgtrace reads export files.",
                    )
                )


def _walk_once(
    folder: Path, visited: set[tuple[int, int]], result: Walk
) -> Iterator[tuple[str, list[str], list[str]]]:
    """``os.walk`` following links to folders, each real folder once (a loop is skipped)."""

    def unreadable(error: OSError) -> None:
        shown = error.filename or str(folder)
        result.sources.append(
            Source(str(shown), Path(shown), problem=f"cannot be listed: {error.strerror or error}.")
        )

    for root, dirs, files in os.walk(folder, followlinks=True, onerror=unreadable):
        try:
            info = os.stat(root)
        except OSError:
            dirs[:] = []
            continue
        key = (info.st_dev, info.st_ino)
        if key in visited:
            result.skipped.append(
                (
                    root,
                    "skipped: a link to a folder already searched (a loop, or the same "
                    "folder twice)",
                )
            )
            dirs[:] = []
            continue
        visited.add(key)
        yield root, dirs, files
