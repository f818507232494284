"""Which character encoding a feed is really in, and the same document as UTF-8. Pure, no I/O.

Council CMSs get this wrong in every way: windows-1252 bytes declared as UTF-8 in the HTTP header,
UTF-8 bytes under a `charset=iso-8859-1` server default, no declaration at all. feedparser follows
RFC 3023 (the HTTP charset wins), which turns the second case into "CafÃ©". The rules here, in
order: a byte-order mark; UTF-16/32 sniffed from the first bytes; bytes that are valid UTF-8 are
UTF-8 (text in a legacy 8-bit encoding is virtually never valid UTF-8 once it has non-ASCII
characters); else the HTTP charset, then the XML declaration, then windows-1252 (WHATWG: the
`iso-8859-1` and `us-ascii` labels mean windows-1252), then latin-1, which never fails.

The result is re-encoded as UTF-8 with the XML declaration saying so, so feedparser and the XML
guard see one consistent document; each disagreement becomes a parse warning.
"""

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
_SNIFF = (
    (b"<\x00\x00\x00", "utf-32-le"),
    (b"\x00\x00\x00<", "utf-32-be"),
    (b"<\x00?\x00", "utf-16-le"),
    (b"\x00<\x00?", "utf-16-be"),
)
_XML_DECL_ENCODING = re.compile(
    rb"""\A(\s*<\?xml\b[^>]{0,200}?\bencoding\s*=\s*)(["'])([A-Za-z0-9._:-]{1,40})\2"""
)
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


def _codec(label: str | None) -> str | None:
    """Python's codec name for a label, or None if unknown."""
    if not label:
        return None
    label = _WHATWG.get(label.lower(), label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def to_utf8(body: bytes, content_type: str | None = None) -> Decoded:
    """The document as UTF-8, with what it was in and what was mis-declared."""
    header = http_charset(content_type)
    for bom, name in _BOMS:
        if body.startswith(bom):
            return _finish(body[len(bom) :].decode(name, "replace"), name, [])
    for prefix, name in _SNIFF:
        if body.startswith(prefix):
            return _finish(body.decode(name, "replace"), name, [])
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
    tried: list[str] = []
    for label in (header, declared, "cp1252", "latin-1"):
        name = _codec(label)
        if name is None or name in tried or name == "utf-8":
            continue
        tried.append(name)
        try:
            text = body.decode(name)
        except (UnicodeDecodeError, LookupError):
            continue
        for source, given in (("HTTP header", header), ("XML declaration", declared)):
            if given and _codec(given) != name:
                warnings.append(f"{source} says {given} but the document is {name}; read as {name}")
        if header is None and declared is None:
            warnings.append(f"no encoding declared; read as {name}")
        return _finish(text, name, warnings)
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _finish(text: str, encoding: str, warnings: list[str]) -> Decoded:
    return _finish_utf8(text.encode("utf-8"), encoding, warnings)


def _finish_utf8(body: bytes, encoding: str, warnings: list[str]) -> Decoded:
    match = _XML_DECL_ENCODING.match(body[:300])
    if match and match.group(3).lower() not in (b"utf-8", b"utf8"):
        body = match.group(1) + match.group(2) + b"utf-8" + match.group(2) + body[match.end() :]
    return Decoded(body, encoding, tuple(dict.fromkeys(warnings)))
