"""`to_utf8`'s rules at their edges; whole feeds in each encoding are golden fixtures."""

from __future__ import annotations

import pytest

from services.feed_ingest.textenc import to_utf8

#: Bytes windows-1252 leaves undefined: a document holding one is not windows-1252.
CP1252_HOLES = [b"\x81", b"\x8d", b"\x8f", b"\x90", b"\x9d"]


@pytest.mark.parametrize("hole", CP1252_HOLES)
def test_bytes_windows_1252_cannot_read_fall_back_to_latin_1(hole: bytes):
    decoded = to_utf8(b"<rss><title>a" + hole + b"\xe9</title></rss>")
    assert decoded.encoding == "iso8859-1"
    assert decoded.body == "<rss><title>a\x81é</title></rss>".replace("\x81", hole.decode("latin-1")).encode()
    assert "may be garbled" in decoded.warnings[0]


def test_a_latin_1_header_is_honoured_literally_when_windows_1252_cannot_read_it():
    decoded = to_utf8(b"<rss>\x81\xe9</rss>", "text/xml; charset=ISO-8859-1")
    assert decoded.encoding == "iso8859-1" and decoded.warnings == ()


def test_ebcdic_prolog_names_the_code_page():
    body = '<?xml version="1.0" encoding="IBM500"?><rss>[!]</rss>'.encode("cp500")
    decoded = to_utf8(body, "application/xml; charset=utf-8")  # a server default, wrong
    assert decoded.encoding == "cp500"
    assert decoded.body == b'<?xml version="1.0" encoding="utf-8"?><rss>[!]</rss>'
    assert decoded.warnings == ("HTTP header says utf-8 but the document is cp500; read as cp500",)


def test_ebcdic_without_a_declared_encoding_is_read_as_cp037():
    decoded = to_utf8('<?xml version="1.0"?><rss>é</rss>'.encode("cp037"))
    assert decoded.body == '<?xml version="1.0"?><rss>é</rss>'.encode()
    assert decoded.warnings == ("EBCDIC with no encoding declared; read as cp037",)


def test_an_ebcdic_prolog_declaring_an_ascii_family_codec_is_not_believed():
    decoded = to_utf8('<?xml version="1.0" encoding="latin-1"?><rss>é</rss>'.encode("cp037"))
    assert decoded.encoding == "cp037" and "<rss>é</rss>" in decoded.body.decode()


@pytest.mark.parametrize("label", ["rot13", "base64", "unicode_escape", "idna", "undefined", "zlib"])
def test_codec_names_that_are_no_character_set_are_ignored(label: str):
    decoded = to_utf8(f'<?xml version="1.0" encoding="{label}"?><rss>\\x41\xe9</rss>'.encode("latin-1"))
    assert decoded.encoding == "cp1252" and "<rss>\\x41é</rss>" in decoded.body.decode()


def test_a_declared_codec_that_misreads_the_first_characters_is_skipped():
    decoded = to_utf8('<?xml version="1.0" encoding="utf-16"?><rss>é</rss>'.encode("latin-1"))
    assert decoded.encoding == "cp1252"
    assert decoded.warnings == ("XML declaration says utf-16 but the document is cp1252; read as cp1252",)


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf_16_without_a_bom_or_a_declaration_is_sniffed(codec: str):
    decoded = to_utf8("<rss><title>Köln</title></rss>".encode(codec))
    assert decoded.encoding == codec and decoded.body == "<rss><title>Köln</title></rss>".encode()
