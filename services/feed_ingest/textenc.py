"""Which character encoding a feed is really in, and the same document as UTF-8. Pure, no I/O.

Council CMSs get this wrong in every way: windows-1252 bytes declared as UTF-8 in the HTTP header,
UTF-8 bytes under a `charset=iso-8859-1` server default, no declaration at all. feedparser follows
RFC 3023 (the HTTP charset wins), which turns the second case into "CafÃ©". The rules here, in
order: a byte-order mark; UTF-16/32 sniffed from the first bytes; EBCDIC sniffed from "<?xm"
(XML 1.0 Appendix F), then the code page its declaration names; bytes that are valid UTF-8 are
UTF-8 (text in a legacy 8-bit encoding is virtually never valid UTF-8 once it has non-ASCII
characters); else the HTTP charset, then the XML declaration, then windows-1252 (WHATWG: the
`iso-8859-1` and `us-ascii` labels mean windows-1252), then latin-1, which never fails.

No detector guesses an undeclared encoding: on feed-sized documents charset-normalizer read
windows-1252 as cp1250, EUC-JP as cp949 and KOI8-R as cp932. An undeclared body that is neither
UTF-8 nor windows-1252 (Shift-JIS, say) is read as latin-1 with a warning that says so.

The result is re-encoded as UTF-8 with the XML declaration saying so, so feedparser and the XML
guard see one consistent document; each disagreement becomes a parse warning."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: Unmarked UTF-32/16 (XML 1.0 Appendix F), by where the NULs of a leading "<" fall: "<?" as
#: the appendix has it, or any other ASCII character after "<" (a document with no declaration).
_SNIFF = (
    (re.compile(rb"<\x00\x00\x00"), "utf-32-le"),
    (re.compile(rb"\x00\x00\x00<"), "utf-32-be"),
    (re.compile(rb"<\x00[\x01-\x7f]\x00"), "utf-16-le"),
    (re.compile(rb"\x00<\x00[\x01-\x7f]"), "utf-16-be"),
)
#: "<?xm" in EBCDIC (Appendix F).
_EBCDIC_XML = b"\x4c\x6f\xa7\x94"
_XML_DECL_ENCODING = re.compile(
    rb"""\A(\s*<\?xml\b[^>]{0,200}?\bencoding\s*=\s*)(["'])([A-Za-z0-9._:-]{1,40})\2"""
)
#: What reading an undeclared document as a last resort means.
_UNDECLARED = {
    "iso8859-1": "no encoding declared and the bytes are neither UTF-8 nor windows-1252; read as "
    "latin-1, so the text may be garbled (the feed should declare its charset)",
    "cp037": "EBCDIC with no encoding declared; read as cp037",
}
_CHARSET = re.compile(r"""charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_WHATWG = {
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "ascii": "cp1252",
    "us-ascii": "cp1252",
}


@dataclass(frozen=True)
class Decoded:
    body: bytes  # UTF-8, declaration (if any) saying utf-8
    encoding: str  # what the bytes were found to be
    warnings: tuple[str, ...] = ()


def http_charset(content_type: str | None) -> str | None:
    match = _CHARSET.search(content_type or "")
    return match.group(1).lower() if match else None


def declared_encoding(body: bytes) -> str | None:
    match = _XML_DECL_ENCODING.match(body[:300])
    return match.group(3).decode("ascii").lower() if match else None


#: Python codecs that are no character set a document could be in (escapes, domain names, and
#: one that refuses everything); codecs that are no text encoding (rot13, base64…) fail below.
_NOT_CHARSETS = {"unicode-escape", "raw-unicode-escape", "idna", "punycode", "undefined"}


def _codec(label: str | None) -> str | None:
    """Python's codec name for a charset label, or None if it names no character set."""
    if not label:
        return None
    label = _WHATWG.get(label.lower(), label)
    try:
        name = codecs.lookup(label).name
        b"".decode(name)  # LookupError for bytes-to-bytes and text-to-text codecs
    except (LookupError, UnicodeError, ValueError):
        return None
    return None if name in _NOT_CHARSETS else name


def to_utf8(body: bytes, content_type: str | None = None) -> Decoded:
    """The document as UTF-8, with what it was in and what was mis-declared. Never raises."""
    header = http_charset(content_type)
    for bom, name in _BOMS:
        if body.startswith(bom):
            return _finish(body[len(bom) :].decode(name, "replace"), name, [])
    for prefix, name in _SNIFF:
        if prefix.fullmatch(body[:4]):
            return _finish(body.decode(name, "replace"), name, [])
    if body.startswith(_EBCDIC_XML):
        return _ebcdic(body, header)
    declared = declared_encoding(body)
    warnings: list[str] = []
    if body.isascii():
        return _finish_utf8(body, "ascii", warnings)
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    else:
        for source, label in (("HTTP header", header), ("XML declaration", declared)):
            if label and _codec(label) not in (None, "utf-8"):
                warnings.append(f"{source} says {label} but the document is UTF-8; read as UTF-8")
        return _finish_utf8(body, "utf-8", warnings)
    labels = {"HTTP header": header, "XML declaration": declared}
    start = b"<" if body.lstrip()[:1] == b"<" else b""
    return _first_that_reads(body, [_codec(header), _codec(declared), "cp1252"], "iso8859-1", labels, start)


def _ebcdic(body: bytes, header: str | None) -> Decoded:
    """XML 1.0 Appendix F: `4C 6F A7 94` is "<?xm" in an EBCDIC code page. Every EBCDIC page
    spells the declaration's letters, digits, `=`, quotes and `<?` alike, so it is read through
    cp037 and the code page it names is then used for the whole document."""
    declared = declared_encoding(body[:300].decode("cp037").encode("ascii", "replace"))
    labels = {"HTTP header": header, "XML declaration": declared}
    return _first_that_reads(body, [_codec(header), _codec(declared)], "cp037", labels, b"<?xm")


def _first_that_reads(
    body: bytes, candidates: list[str | None], fallback: str, labels: dict[str, str | None], start: bytes
) -> Decoded:
    """The document in the first candidate codec that decodes it strictly and reads its first
    characters as the bytes showed them (`start`: "<" for an ASCII-family body, "<?xm" for
    EBCDIC), else in `fallback`, a single-byte code page that maps every byte."""
    for name in dict.fromkeys(candidates):
        if name is None or name in ("utf-8", fallback):
            continue
        try:
            text = body.decode(name)
        except (UnicodeError, LookupError):
            continue
        if text.lstrip().startswith(start.decode("ascii")):
            return _finish(text, name, _mismatches(labels, name))
    return _finish(body.decode(fallback, "replace"), fallback, _mismatches(labels, fallback))


def _mismatches(labels: dict[str, str | None], name: str) -> list[str]:
    """A warning for each declaration the document was not read by, or for declaring nothing."""
    if not any(labels.values()):
        return [_UNDECLARED.get(name, f"no encoding declared; read as {name}")]
    return [
        f"{source} says {label} but the document is {name}; read as {name}"
        for source, label in labels.items()
        if label and name not in (_codec(label), _lookup(label))
    ]


def _lookup(label: str) -> str | None:
    """Python's own codec name for a label (no WHATWG mapping: "iso-8859-1" is iso8859-1)."""
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _finish(text: str, encoding: str, warnings: list[str]) -> Decoded:
    return _finish_utf8(text.encode("utf-8"), encoding, warnings)


def _finish_utf8(body: bytes, encoding: str, warnings: list[str]) -> Decoded:
    match = _XML_DECL_ENCODING.match(body[:300])
    if match and match.group(3).lower() not in (b"utf-8", b"utf8"):
        body = match.group(1) + match.group(2) + b"utf-8" + match.group(2) + body[match.end() :]
    return Decoded(body, encoding, tuple(dict.fromkeys(warnings)))
