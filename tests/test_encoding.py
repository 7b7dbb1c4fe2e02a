"""Text encodings: what a user sees when an export arrives in any encoding.

Each test writes an export the way a tool would (Excel, the EAC download, PowerShell), reads it
through the real pipeline, and checks the detected encoding, the BOM flag and the values.
"""

from __future__ import annotations

import codecs
import io
import tempfile
from pathlib import Path

import pytest
from exports import extended_csv, extended_row, write_export
from hypothesis import given, settings
from hypothesis import strategies as st

import analyzer.encoding as encoding_module
import analyzer.files as files_module
from analyzer.encoding import SAMPLE_SIZE, TranscodingReader, detect_encoding, read_sample
from analyzer.errors import InputError, OptionError
from analyzer.ingest import IngestOptions, inspect_files, load_sources

SUBJECTS = [
    "Réunion du comité – ordre du jour",
    "Счёт на оплату №42",
    "会議の議題 😀",
    'Quoted "word", comma; semicolon',
    "two\nlines",
]


def subjects_export() -> str:
    rows = [
        extended_row(network_message_id=f"nm-{k}", message_subject=subject)
        for k, subject in enumerate(SUBJECTS)
    ]
    return extended_csv(*rows)


def subjects_of(case) -> list[str]:
    return case.events.column("message_subject").to_pylist()


@pytest.mark.parametrize(
    ("codec", "bom"),
    [
        ("utf-8", False),
        ("utf-8", True),
        ("utf-16-le", True),
        ("utf-16-le", False),  # what EAC downloads commonly are
        ("utf-16-be", True),
        ("utf-16-be", False),
        ("utf-32-le", True),
        ("utf-32-be", True),
    ],
)
def test_every_unicode_encoding_is_detected_and_read_exactly(tmp_path, codec, bom):
    path = write_export(tmp_path, "export.csv", subjects_export(), codec, bom)

    detected = detect_encoding(path)
    case = load_sources([path])

    assert (detected.name, detected.bom) == (codec, bom)
    record = case.inputs[0]
    assert (record.encoding, record.bom, record.format) == (codec, bom, "extended")
    assert record.rows_rejected == 0
    assert subjects_of(case) == SUBJECTS
    assert case.events.column("line").to_pylist() == [2, 3, 4, 5, 6]


def test_cp1252_with_accents_only_far_into_the_file_is_read_as_cp1252(tmp_path):
    # 2,000 plain ASCII rows (well beyond the 32 KiB head), then Excel-saved accented subjects
    plain = [extended_row(network_message_id=f"plain-{k}") for k in range(2000)]
    accented = [
        extended_row(network_message_id=f"accent-{k}", message_subject=f"Café n°{k} – 5 €")
        for k in range(300)
    ]
    path = write_export(tmp_path, "excel.csv", extended_csv(*plain, *accented), "cp1252")
    head, _ = read_sample(path)
    assert b"\xe9" not in head, "test precondition: no accent in the head sample"

    case = load_sources([path])

    record = case.inputs[0]
    assert (record.encoding, record.bom) == ("cp1252", False)
    assert record.rows_rejected == 0
    assert subjects_of(case)[-1] == "Café n°299 – 5 €"


def test_a_rare_accent_the_sample_misses_is_rejected_with_its_offset_never_replaced(tmp_path):
    rows = [extended_row(network_message_id=f"nm-{k}") for k in range(3000)]
    rows[1500] = extended_row(network_message_id="accented", message_subject="Crème brûlée")
    path = write_export(tmp_path, "excel.csv", extended_csv(*rows), "cp1252")
    data = path.read_bytes()
    head, windows = read_sample(path)
    assert b"\xe8" not in head + b"".join(windows), "test precondition: the sample misses it"

    case = load_sources([path])

    record = case.inputs[0]
    assert record.encoding == "utf-8"  # all the sample shows is ASCII
    assert record.rows_read == 3000
    assert record.rows_rejected == 1
    assert record.rejected[0].line == 1502
    assert "not valid in the file's encoding" in record.rejected[0].reason
    assert "--encoding" in record.rejected[0].reason
    offset = data.index("è".encode("cp1252"))
    assert f"first at byte offset {offset}" in " ".join(record.warnings)
    assert "accented" not in case.events.column("network_message_id").to_pylist()
    assert not any("\ufffd" in (s or "") for s in subjects_of(case))

    # the user follows the advice
    fixed = load_sources([path], IngestOptions(encoding="cp1252"))
    assert fixed.inputs[0].rows_rejected == 0
    assert "Crème brûlée" in subjects_of(fixed)


def mixed_utf8_export() -> tuple[bytes, bytes]:
    """A UTF-8 export into which one row was pasted from a cp1252 file, and that row's bytes."""
    good = [
        extended_row(network_message_id="nm-1", message_subject="会議の議題 😀"),
        extended_row(network_message_id="nm-2", message_subject="Grüße aus München"),
        extended_row(network_message_id="nm-3", message_subject="Счёт на оплату"),
    ]
    pasted = extended_row(network_message_id="nm-pasted", message_subject="Café crème")
    text = extended_csv(good[0], good[1], "@@PASTED@@", good[2])
    data = text.encode("utf-8").replace(b"@@PASTED@@", pasted.encode("cp1252"))
    return data, "Café".encode("cp1252")


def test_undecodable_bytes_in_a_utf8_file_reject_only_their_rows(tmp_path):
    data, cafe = mixed_utf8_export()
    path = write_export(tmp_path, "mixed.csv", data)

    case = load_sources([path])

    record = case.inputs[0]
    assert record.encoding == "utf-8"
    assert (record.rows_read, record.rows_ingested, record.rows_rejected) == (4, 3, 1)
    assert record.rejected[0].line == 4
    assert "not valid in the file's encoding" in record.rejected[0].reason
    offset = data.index(cafe) + 3  # the é
    assert f"2 byte sequence(s) are not valid utf-8 (first at byte offset {offset})" in (
        " ".join(record.warnings)
    )
    assert subjects_of(case) == ["会議の議題 😀", "Grüße aus München", "Счёт на оплату"]


def test_forcing_an_encoding_overrides_detection(tmp_path):
    # valid UTF-8 to detection, but the user knows it was written by Excel in cp1252
    text = extended_csv(extended_row(message_subject="GrÃ¼ÃŸe"))
    path = write_export(tmp_path, "excel.csv", text, "cp1252")
    assert detect_encoding(path).name == "utf-8"

    case = load_sources([path], IngestOptions(encoding="windows-1252"))

    record = case.inputs[0]
    assert (record.encoding, record.rows_rejected) == ("cp1252", 0)
    assert subjects_of(case) == ["GrÃ¼ÃŸe"]
    assert detect_encoding(path, "cp1252").how == "forced by --encoding"


@pytest.mark.parametrize(
    ("codec", "subject"),
    [("cp1251", "Счёт на оплату"), ("cp932", "会議の議題"), ("cp1250", "Zażółć gęślą jaźń")],
)
def test_a_non_western_excel_export_is_read_right_with_its_encoding_forced(
    tmp_path, codec, subject
):
    rows = [extended_row(network_message_id=f"n{k}", message_subject=subject) for k in range(20)]
    path = write_export(tmp_path, "excel.csv", extended_csv(*rows), codec)

    case = load_sources([path], IngestOptions(encoding=codec))

    assert (case.inputs[0].encoding, case.inputs[0].rows_rejected) == (codec, 0)
    assert set(subjects_of(case)) == {subject}


def test_a_guessed_encoding_is_said_to_be_a_guess(tmp_path):
    # chardet is unsure of short Cyrillic cp1251 text; the cp1252 fallback must say so
    rows = [extended_row(network_message_id=f"n{k}", message_subject="Счёт") for k in range(3)]
    path = write_export(tmp_path, "excel.csv", extended_csv(*rows), "cp1251")

    [record] = inspect_files([path])

    assert record.encoding == "cp1252"
    assert record.encoding_detected_by.startswith("fallback (not UTF-8")
    assert any("re-run with --encoding" in w for w in record.warnings)


def test_a_forced_latin1_is_taken_at_its_word(tmp_path):
    path = write_export(
        tmp_path, "x.csv", extended_csv(extended_row(message_subject="Grüße")), "latin-1"
    )

    case = load_sources([path], IngestOptions(encoding="latin-1"))

    assert case.inputs[0].encoding == "iso8859-1"
    assert subjects_of(case) == ["Grüße"]


def test_a_forced_encoding_still_skips_its_own_bom(tmp_path):
    path = write_export(tmp_path, "export.csv", subjects_export(), "utf-16-le", bom=True)

    case = load_sources([path], IngestOptions(encoding="utf-16"))

    assert (case.inputs[0].encoding, case.inputs[0].bom) == ("utf-16-le", True)
    assert subjects_of(case) == SUBJECTS


def test_an_unknown_forced_encoding_is_a_clear_error(tmp_path):
    path = write_export(tmp_path, "export.csv", subjects_export())

    with pytest.raises(OptionError, match=r"unknown encoding 'klingon' .*utf-16-le"):
        load_sources([path], IngestOptions(encoding="klingon"))


@pytest.mark.parametrize("codec", ["base64", "rot13", "hex", "zlib", "idna", "undefined"])
def test_a_forced_codec_that_cannot_read_text_is_a_clear_error(tmp_path, codec):
    path = write_export(tmp_path, "export.csv", subjects_export())

    with pytest.raises(OptionError, match=f"encoding '{codec}' cannot read a text export"):
        load_sources([path], IngestOptions(encoding=codec))


@pytest.mark.parametrize("bom", [True, False])
def test_forcing_utf32_without_byte_order_reads_little_endian(tmp_path, bom):
    path = write_export(tmp_path, "export.csv", subjects_export(), "utf-32-le", bom)

    case = load_sources([path], IngestOptions(encoding="utf-32"))

    assert (case.inputs[0].encoding, case.inputs[0].bom) == ("utf-32-le", bom)
    assert subjects_of(case) == SUBJECTS


def test_a_binary_file_is_named_and_not_read_as_text(tmp_path):
    path = write_export(tmp_path, "export.csv", bytes(range(256)) * 40)

    record = inspect_files([path])[0]

    assert "looks like a binary file" in record.error


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"%PDF-1.7\n", "is a PDF document"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is a PNG image"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "save it as CSV"),
        (b"SQLite format 3\x00", "is an SQLite database"),
        (bytes(4000), "almost nothing but NUL bytes"),
    ],
)
def test_a_file_is_binary_by_what_it_is(tmp_path, head, what):
    path = write_export(tmp_path, "export.csv", head + b"Date,Sender\r\n" * 10)

    with pytest.raises(InputError) as raised:
        detect_encoding(path)

    assert str(raised.value).startswith(f"{path}: ")
    assert what in str(raised.value)


@pytest.mark.parametrize("codec", ["utf-8", "utf-16-le", "cp1252"])
def test_nul_and_control_characters_in_subjects_never_make_an_export_binary(tmp_path, codec):
    # an attacker chooses the subject: NULs and control characters in the first rows (more
    # than one in 32 KiB, dozens in the first 4 KiB) must not hide the tenant's evidence
    hostile = "Facture réglée " + "\x00" * 200 + "\x1b[2J\x07\x08" * 30
    rows = [
        extended_row(network_message_id=f"nm-{k}", message_subject=f"{hostile}{k}")
        for k in range(40)
    ]
    path = write_export(tmp_path, "export.csv", extended_csv(*rows), codec)

    detected = detect_encoding(path)
    case = load_sources([path])

    assert detected.name == codec
    record = case.inputs[0]
    assert (record.rows_read, record.rows_ingested, record.rows_rejected) == (40, 40, 0)
    assert subjects_of(case)[3] == f"{hostile}3"
    assert (
        "40 row(s) hold NUL or other control characters in their text (first at line 2); "
        "kept as exported (text a sender wrote can hold them)"
    ) in record.warnings


def test_detection_reads_a_bounded_sample_of_a_large_file(tmp_path, monkeypatch):
    # 50 MB of cp1252 rows: detection must get to chardet, and still read at most 64 KiB
    row = extended_row(message_subject="Café crème").encode("cp1252") + b"\r\n"
    path = tmp_path / "large.csv"
    with open(path, "wb") as handle:
        block = row * (1024 * 1024 // len(row))
        while handle.tell() < 50 * 1024 * 1024:
            handle.write(block)
    bytes_read: list[int] = []
    chardet_sample_sizes: list[int] = []

    class CountingFile(io.BufferedReader):
        def read(self, size=-1):
            data = super().read(size)
            bytes_read.append(len(data))
            return data

    real_open = files_module._open_regular
    opened = []

    def counting_open(file):
        handle = real_open(file)
        opened.append(handle)  # its raw file is read through the counting buffer
        assert handle.mode == "rb", f"detection opened {file} with mode {handle.mode!r}"
        return CountingFile(handle.raw)

    real_detect = encoding_module.chardet.detect

    def spying_detect(sample):
        chardet_sample_sizes.append(len(sample))
        return real_detect(sample)

    monkeypatch.setattr(files_module, "_open_regular", counting_open)
    monkeypatch.setattr(encoding_module.chardet, "detect", spying_detect)

    detected = detect_encoding(path)

    assert detected.name == "cp1252"
    assert 0 < sum(bytes_read) <= SAMPLE_SIZE
    assert chardet_sample_sizes and max(chardet_sample_sizes) <= SAMPLE_SIZE + 16
    assert SAMPLE_SIZE == 64 * 1024


@pytest.mark.parametrize("chunk_size", [1, 3, 7, 4096])
@pytest.mark.parametrize("codec", ["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "cp1252"])
def test_transcoding_is_exact_whatever_the_chunk_boundaries(
    tmp_path, monkeypatch, codec, chunk_size
):
    text = "Date,Subject\r\n2022-01-01,Ünïcödé € – ok\r\n" + (
        "2022-01-02,会議 😀\r\n" if codec != "cp1252" else "2022-01-02,naïve\r\n"
    )
    path = write_export(tmp_path, "export.csv", text, codec, bom=codec != "cp1252")
    monkeypatch.setattr(encoding_module, "CHUNK_SIZE", chunk_size)

    reader = TranscodingReader(path, detect_encoding(path))
    try:
        out = b"".join(iter(lambda: reader.read(5), b""))
    finally:
        reader.close()

    assert out.decode("utf-8") == text
    assert reader.error_offsets == []


@pytest.mark.parametrize("chunk_size", [1, 2, 5, 4096])
def test_undecodable_byte_offsets_are_exact_across_chunk_boundaries(
    tmp_path, monkeypatch, chunk_size
):
    data = "Date,Subject\n2022,日本\n".encode() + b"2022,\xff\xfe\n2022,ok \xe9\n"
    path = write_export(tmp_path, "export.csv", data)
    monkeypatch.setattr(encoding_module, "CHUNK_SIZE", chunk_size)
    utf8 = encoding_module.Encoding("utf-8", False, 0, "test")

    reader = TranscodingReader(path, utf8)
    try:
        out = reader.read()
    finally:
        reader.close()

    assert reader.error_offsets == [data.index(b"\xff"), data.index(b"\xfe"), data.index(b"\xe9")]
    lines = out.decode("utf-8").splitlines()
    assert lines[1:] == ["2022,日本", "2022,\ufffd\ufffd", "2022,ok \ufffd"]


def test_inspect_says_how_each_file_is_encoded(tmp_path):
    paths = [
        write_export(tmp_path, "a.csv", subjects_export(), "utf-16-le"),
        write_export(tmp_path, "b.csv", subjects_export(), "utf-8", bom=True),
    ]

    records = inspect_files(paths)

    assert [(r.encoding, r.bom) for r in records] == [("utf-16-le", False), ("utf-8", True)]


@settings(max_examples=150, deadline=None)
@given(
    data=st.binary(max_size=64),
    codec=st.sampled_from(["utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "cp1252", "cp932"]),
    chunk_size=st.integers(min_value=1, max_value=9),
)
def test_any_bytes_decode_as_the_codec_replaces_them_at_any_chunk_size(data, codec, chunk_size):
    # the per-reader error state gives what Python's own "replace" gives, offsets included
    expected = data.decode(codec, "replace")
    offsets: list[int] = []

    def record(error):
        offsets.append(error.start)
        return "\ufffd", error.end

    codecs.register_error("test-offsets", record)
    data.decode(codec, "test-offsets")
    with tempfile.TemporaryDirectory() as folder:
        path = write_export(Path(folder), "x.bin", data)
        original = encoding_module.CHUNK_SIZE
        encoding_module.CHUNK_SIZE = chunk_size
        try:
            reader = TranscodingReader(path, encoding_module.Encoding(codec, False, 0, "test"))
            out = reader.read()
            reader.close()
        finally:
            encoding_module.CHUNK_SIZE = original

    assert out.decode("utf-8") == expected
    assert reader.error_offsets == offsets
