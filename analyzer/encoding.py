"""Text encodings: detect a file's encoding on a bounded sample, and transcode it as a stream.

Detection order (the first that decides wins):

1. a byte order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE);
2. the NUL-byte pattern of BOM-less UTF-16 (Exchange Online downloads are commonly UTF-16 LE
   *without* a BOM, so a header reads ``d\\0a\\0t\\0e\\0`` as bytes);
3. UTF-8 on the sample (ASCII is UTF-8), also when its invalid byte sequences are no more
   than its well-formed multi-byte characters (UTF-8 with a few stray cp1252 bytes);
4. chardet on the sample, falling back to cp1252 (what Excel writes on Western Windows).

The sample is bounded (at most ``SAMPLE_SIZE`` bytes: the head of the file plus a few windows
spread through it, so a cp1252 accent on line 30,000 is still seen; the head alone for a member
of an archive, which would have to be decompressed to reach them); a whole file is never read
to detect its encoding.

A file is binary by what it is, never by a few odd characters in it (an export's text is
attacker-written: a subject can hold NUL and control characters): by its magic number
(``analyzer.files.sniff``), or by a sample that is almost all NUL bytes, which no text row can
be (every row holds its delimiters, its time and its addresses).

``TranscodingReader`` turns any input into UTF-8 for the CSV parser, chunk by chunk. Bytes that
are not valid in the detected encoding are never silently replaced: each is recorded with its
byte offset, and the rows that contain one are rejected at ingest with that offset.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import chardet

from analyzer.errors import InputError, OptionError
from analyzer.files import Source, as_source, compression_of, damage_of, sniff

SAMPLE_SIZE = 64 * 1024
HEAD_SIZE = 32 * 1024
WINDOWS = 4
CHUNK_SIZE = 4 * 1024 * 1024
#: The character undecodable bytes are replaced with in the stream handed to the parser; rows
#: holding it are rejected (see ``TranscodingReader.error_offsets``).
REPLACEMENT = "\ufffd"
#: A sample with at least this share of NUL bytes (that is not UTF-16 or UTF-32) is binary: a
#: text row holds its delimiters, time and addresses, and a subject at most 256 characters.
NUL_SHARE_OF_BINARY = 0.9

BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its LE BOM starts with the UTF-16 LE BOM.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


@dataclass(frozen=True)
class Encoding:
    """The detected (or forced) encoding of a file.

    Attributes:
        name: Python codec name without a BOM suffix (``utf-8``, ``utf-16-le``, ``cp1252``).
        bom: whether the file starts with a byte order mark.
        bom_length: how many bytes the BOM takes (skipped when reading).
        how: how it was decided, in words (shown by ``inspect``).
    """

    name: str
    bom: bool
    bom_length: int
    how: str


def read_sample(path: Path | Source, size: int = SAMPLE_SIZE) -> tuple[bytes, list[bytes]]:
    """The head of the input and a few windows spread through the rest (``size`` bytes in all).

    Returns:
        (head, windows); windows are empty for inputs that fit in the head, and for members
        of an archive (reaching them would decompress the member).
    """
    source = as_source(path)
    with source.open() as handle:
        head = handle.read(HEAD_SIZE)
        windows: list[bytes] = []
        if not source.seekable:
            return head, windows
        handle.seek(0, io.SEEK_END)
        total = handle.tell()
        if total > HEAD_SIZE:
            window = (size - HEAD_SIZE) // WINDOWS
            span = total - HEAD_SIZE - window
            for k in range(1, WINDOWS + 1):
                offset = HEAD_SIZE + (span * k) // WINDOWS
                handle.seek(max(HEAD_SIZE, offset))
                windows.append(handle.read(window))
    return head, windows


def _canonical_codec_name(name: str) -> str:
    codec = codecs.lookup(name).name  # e.g. 'windows-1252' -> 'cp1252', 'utf_8' -> 'utf-8'
    if codec in ("ascii", "utf-8-sig"):
        return "utf-8"
    if codec in ("utf-16", "utf-32"):  # these codecs refuse a stream without a BOM
        return codec + "-le"
    # ISO-8859-1 is what chardet calls most Western text; cp1252 is what Windows wrote (it also
    # holds the euro sign and curly quotes where Latin-1 has control characters).
    if codec in ("latin-1", "iso8859-1", "iso8859-15"):
        return "cp1252"
    return codec.replace("_", "-")


def _forced_codec_name(name: str) -> str:
    """The codec a user asked for, taken at its word (latin-1 stays latin-1)."""
    codec = codecs.lookup(name).name
    return {"utf-8-sig": "utf-8", "ascii": "utf-8"}.get(codec, codec.replace("_", "-"))


def _wide_by_nul_pattern(head: bytes) -> str | None:
    """utf-16-le/-be or utf-32-le/-be by where the NUL bytes of ASCII characters sit, else None.

    Only code units that hold one ASCII character count (an ASCII character in UTF-16 LE is a
    letter then a NUL): units that are all NUL (a NUL character, which a subject may hold) or
    all non-NUL (other scripts) say nothing about the byte order, so NUL characters in the
    text never hide a UTF-16 file.
    """
    sample = head[:4096]
    for width, names in ((4, ("utf-32-le", "utf-32-be")), (2, ("utf-16-le", "utf-16-be"))):
        units = [sample[k : len(sample) - len(sample) % width] for k in range(width)]
        if len(units[0]) < 2 * width:
            continue
        columns = [unit[0::width] for unit in units]
        zero = [[byte == 0 for byte in column] for column in columns]
        # an ASCII unit is non-NUL at its low byte and NUL everywhere else
        little = sum(1 for row in zip(*zero, strict=True) if not row[0] and all(row[1:]))
        big = sum(1 for row in zip(*zero, strict=True) if not row[-1] and all(row[:-1]))
        informative = sum(1 for row in zip(*zero, strict=True) if not all(row))
        if informative == 0:
            continue
        if little > 0.3 * informative and big < 0.05 * little:
            return names[0]
        if big > 0.3 * informative and little < 0.05 * big:
            return names[1]
    return None


def _mostly_nul(head: bytes) -> bool:
    return len(head) >= 16 and head.count(0) >= NUL_SHARE_OF_BINARY * len(head)


def _valid_utf8(head: bytes, windows: list[bytes]) -> bool:
    """Strict UTF-8 over the sample, tolerating characters cut at the window edges."""
    continuation = bytes(range(0x80, 0xC0))
    for k, part in enumerate([head, *windows]):
        if k:
            part = part.lstrip(continuation)  # a window may start inside a character
        try:
            # final=False: a character cut at the end of the window is not an error
            codecs.getincrementaldecoder("utf-8")().decode(part, final=False)
        except UnicodeDecodeError:
            return False
    return True


def _utf8_damage(head: bytes, windows: list[bytes]) -> tuple[int, int]:
    """(well-formed multi-byte UTF-8 characters, invalid byte sequences) in the sample."""
    continuation = bytes(range(0x80, 0xC0))
    characters = invalid = 0
    for k, part in enumerate([head, *windows]):
        if k:
            part = part.lstrip(continuation)
        text = codecs.getincrementaldecoder("utf-8")(errors="replace").decode(part, final=False)
        damaged = text.count("\ufffd")
        invalid += damaged
        characters += sum(ch > "\x7f" for ch in text) - damaged
    return characters, invalid


def _reads_as_western(sample: bytes) -> bool:
    """Whether the sample read as cp1252 looks like Western text.

    Western languages put one or two accented letters between plain ones (café, Grüße);
    Cyrillic, Greek or CJK bytes read as cp1252 give long runs of accented letters.
    """
    text = sample.decode("cp1252", errors="replace")
    accented = sum(1 for ch in text if ch > "\x7f")
    if not accented:
        return True
    in_long_runs = sum(len(run) for run in re.findall(r"[^\x00-\x7f]{3,}", text))
    return in_long_runs <= 0.2 * accented


def detect_encoding(path: Path | Source, forced: str | None = None) -> Encoding:
    """Detect the encoding of an input from a bounded sample (or validate a forced one).

    Raises:
        OptionError: ``forced`` is not a known encoding.
        InputError: the input is binary: a format no export is (by its magic number), or
            almost nothing but NUL bytes.
    """
    source = as_source(path)
    head, windows = read_sample(source)
    compressed = compression_of(head)
    if compressed:
        where = " inside an archive: extract the outer archive first" if source.in_archive else ""
        raise InputError(source.path, f"is a {compressed} archive{where}.")
    binary = sniff(head)
    if binary:
        what, fix = binary
        raise InputError(source.path, f"is {what}, not a message trace export: {fix}.")
    bom_name, bom_length = None, 0
    for bom, name in BOMS:
        if head.startswith(bom):
            bom_name, bom_length = name, len(bom)
            break
    if forced:
        return _forced(forced, head, bom_name, bom_length)
    if bom_name:
        return Encoding(bom_name, True, bom_length, "byte order mark")
    wide = _wide_by_nul_pattern(head)
    if wide:
        kind = "UTF-32" if wide.startswith("utf-32") else "UTF-16"
        return Encoding(wide, False, 0, f"NUL-byte pattern of {kind} without BOM")
    if _mostly_nul(head):
        raise InputError(
            source.path,
            "holds almost nothing but NUL bytes: it is binary, or a download that never "
            "completed. Download the export again.",
        )
    if _valid_utf8(head, windows):
        return Encoding("utf-8", False, 0, "valid UTF-8")
    characters, invalid = _utf8_damage(head, windows)
    if characters >= invalid:
        # UTF-8 text with a few stray bytes (a row pasted from a cp1252 file): read as UTF-8
        # so only the damaged rows are rejected, instead of garbling every accent as cp1252
        return Encoding("utf-8", False, 0, f"UTF-8 with {invalid} invalid byte sequence(s)")
    sample = head + b"\n".join(windows)
    guess = chardet.detect(sample)
    guessed = guess.get("encoding")
    confidence = guess.get("confidence") or 0.0
    if guessed and confidence >= 0.5:
        try:
            codec = _canonical_codec_name(guessed)
            if codec not in ("utf-8",):
                return Encoding(codec, False, 0, f"chardet ({confidence:.2f} confidence)")
        except LookupError:
            pass
    if _reads_as_western(sample):
        return Encoding("cp1252", False, 0, "cp1252: not UTF-8, accents read as Western text")
    try:
        suggested = _canonical_codec_name(guessed) if guessed else None
    except LookupError:
        suggested = None
    # Not sure: cp1252 is what Excel writes on Western Windows; ingest warns that it is a guess
    # (chardet's confidence on a few words of text is near zero, whatever it names).
    hint = f"; chardet's best guess {suggested} at {confidence:.2f}" if suggested else ""
    return Encoding("cp1252", False, 0, f"fallback (not UTF-8{hint})")


def _forced(forced: str, head: bytes, bom_name: str | None, bom_length: int) -> Encoding:
    """The encoding a user asked for, checked to be one that reads text."""
    try:
        name = _forced_codec_name(forced)
    except LookupError:
        raise OptionError(f"unknown encoding {forced!r} (try utf-8, utf-16-le, cp1252)") from None
    if name in ("utf-16", "utf-32"):  # byte order not said: the BOM says it, else LE
        name = bom_name if bom_name and bom_name.startswith(name) else f"{name}-le"
    try:
        # base64, rot13, zlib, idna, undefined ... are codecs, but cannot read a text file
        if not codecs.lookup(name)._is_text_encoding:
            raise LookupError(name)
        codecs.getincrementaldecoder(name)(errors="replace").decode(head[:64], final=False)
    except (LookupError, UnicodeError):
        raise OptionError(
            f"encoding {forced!r} cannot read a text export (try utf-8, utf-16-le, cp1252)"
        ) from None
    # A BOM of the forced encoding is still skipped.
    skip = bom_length if bom_name == name else 0
    return Encoding(name, skip > 0, skip, "forced by --encoding")


class TranscodingReader(io.RawIOBase):
    """A read-only binary stream of UTF-8, decoded chunk by chunk from an input in any encoding.

    Undecodable byte sequences become U+FFFD in the stream and their offsets are recorded
    (``error_offsets``); the state of each reader is its own, so several inputs may be decoded
    at once on different threads.

    Args:
        path: the input (opened read-only).
        encoding: its detected encoding; the BOM, if any, is skipped.
        on_bytes: called with the number of input bytes consumed (for progress bars).

    Attributes:
        error_offsets: byte offsets (in the input) of undecodable byte sequences.
    """

    def __init__(
        self,
        path: Path | Source,
        encoding: Encoding,
        on_bytes: Callable[[int], None] | None = None,
    ):
        super().__init__()
        self._raw: BinaryIO = as_source(path).open()
        skipped = self._raw.read(encoding.bom_length)
        self._offset = len(skipped)  # of the next byte to decode, in the input
        self._codec = encoding.name
        self._decoder = codecs.getincrementaldecoder(encoding.name)(errors="strict")
        self._utf8 = encoding.name == "utf-8"
        self._pending: list[bytes] = []  # UTF-8 ready to hand out, oldest first
        self._position = 0  # how much of the oldest piece was handed out already
        self._ready = 0  # bytes ready in all
        self._eof = False
        self._on_bytes = on_bytes
        self.error_offsets: list[int] = []

    @property
    def damage(self) -> str | None:
        """What went wrong decompressing the input (a member of a damaged archive), if anything."""
        return damage_of(self._raw)

    def readable(self) -> bool:
        return True

    def _decode(self, data: bytes, final: bool) -> str:
        """``data`` decoded; each undecodable sequence becomes U+FFFD, its offset recorded.

        ``self._offset`` is the input offset of ``data``'s first byte. A strict decoder
        raises at the first bad sequence with the bytes it was decoding (those it held back
        from the previous chunk, then ``data``): the good ones before it are decoded, the bad
        one replaced, and decoding goes on after it.
        """
        pieces: list[str] = []
        base = self._offset
        while True:
            try:
                pieces.append(self._decoder.decode(data, final))
                break
            except UnicodeDecodeError as error:
                whole = bytes(error.object)
                # the decoder saw what it held back, then data: where it starts in the input
                start = base - (len(whole) - len(data))
                self._decoder.reset()
                if error.start:
                    pieces.append(codecs.decode(whole[: error.start], self._codec, "replace"))
                self.error_offsets.append(start + error.start)
                pieces.append(REPLACEMENT)
                data = whole[error.end :]
                base = start + error.end
        return "".join(pieces)

    def _fill(self) -> None:
        chunk = self._raw.read(CHUNK_SIZE)
        final = not chunk
        held = getattr(self._decoder, "buffer", b"")
        held = held if isinstance(held, bytes) else b""
        errors_before = len(self.error_offsets)
        text = self._decode(chunk, final)
        self._offset += len(chunk)
        if self._on_bytes and chunk:
            self._on_bytes(len(chunk))
        if self._utf8 and len(self.error_offsets) == errors_before:
            # valid UTF-8 already: hand on the input bytes themselves (all but a character
            # cut at the chunk's end, which the decoder keeps for the next chunk)
            data = held + chunk
            kept = getattr(self._decoder, "buffer", b"")
            self._append(data[: len(data) - len(kept)] if kept else data)
        else:
            self._append(text.encode("utf-8"))
        self._eof = final

    def _append(self, data: bytes) -> None:
        if data:
            self._pending.append(data)
            self._ready += len(data)

    def read(self, size: int = -1) -> bytes:
        while not self._eof and (size < 0 or self._ready < size):
            self._fill()
        size = self._ready if size < 0 else min(size, self._ready)
        # hand out pieces without copying what stays behind (the parser reads in blocks)
        parts = []
        wanted = size
        while wanted:
            piece = self._pending[0]
            end = min(len(piece), self._position + wanted)
            parts.append(
                piece[self._position : end] if (self._position, end) != (0, len(piece)) else piece
            )
            wanted -= end - self._position
            if end == len(piece):
                self._pending.pop(0)
                self._position = 0
            else:
                self._position = end
        self._ready -= size
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


def decode_head(path: Path | Source, encoding: Encoding, size: int = HEAD_SIZE) -> str:
    """The first ``size`` bytes of the input decoded (for header and format detection)."""
    with as_source(path).open() as handle:
        handle.read(encoding.bom_length)
        data = handle.read(size)
    decoder = codecs.getincrementaldecoder(encoding.name)(errors="replace")
    return decoder.decode(data, final=False)
