"""Refuse XML that attacks its parser, before feedparser sees it (issue 5 §6). Pure, no I/O.

feedparser keeps "safe-looking" internal entities (any value without `&`), so one entity of 50 KB
referenced 100,000 times (the quadratic blowup) would still expand to gigabytes in its loose
parser; expat's own amplification limit only starts at 8 MB of output. Here, on the UTF-8 body
(`textenc.to_utf8` first), every `<!ENTITY` anywhere in the document is examined, in time linear
in the document and memory bounded by it:

- parameter entities (`<!ENTITY % …>`) and external entities (SYSTEM/PUBLIC: XXE) are refused;
- an entity whose value refers to another entity (the "billion laughs") is refused, except a
  single character reference such as `"&#169;"`;
- the total expansion (references × value length) may not exceed `MAX_EXPANSION` bytes;
- more than `MAX_ENTITIES` declarations, or one that cannot be read, is refused.

A DOCTYPE naming an external DTD (RSS 0.91's Netscape DTD) is fine: it is never fetched
(feedparser turns off external entity loading in expat and replaces the DOCTYPE).
"""

from __future__ import annotations

import re

from services.feed_ingest.errors import FeedError

MAX_ENTITIES = 64
MAX_ENTITY_VALUE = 4096
MAX_EXPANSION = 1024 * 1024

_DECL = re.compile(
    rb"""<!ENTITY\s+(?P<param>%\s+)?(?P<name>[^\s%"'>]{1,200})\s+"""
    rb"""(?:(?P<external>SYSTEM|PUBLIC)\b|"(?P<dq>[^"]{0,MAXV})"|'(?P<sq>[^']{0,MAXV})')""".replace(
        b"MAXV", str(MAX_ENTITY_VALUE).encode()
    )
)
_CHAR_REF = re.compile(rb"&#(?:[0-9]{1,7}|x[0-9a-fA-F]{1,6});")


def check_xml(body: bytes) -> None:
    """Raise `FeedError("unsafe_xml")` if the document declares dangerous entities."""
    position = body.find(b"<!ENTITY")
    if position < 0:
        return  # the common case: one scan of the bytes
    values: dict[bytes, int] = {}
    count = 0
    while position >= 0:
        count += 1
        if count > MAX_ENTITIES:
            _refuse(f"more than {MAX_ENTITIES} entity declarations")
        match = _DECL.match(body, position)
        if match is None:
            snippet = body[position : position + 60].decode("utf-8", "replace")
            _refuse(f"an entity declaration Herald cannot vet ({snippet!r}…)")
        name = match["name"].decode("utf-8", "replace")
        if match["param"]:
            _refuse(f"a parameter entity (%{name}) is declared")
        if match["external"]:
            _refuse(f"external entity {name!r} ({match['external'].decode()}) would read a file or URL (XXE)")
        value = match["dq"] if match["dq"] is not None else match["sq"]
        if b"&" in value and not _CHAR_REF.fullmatch(value) or b"%" in value:
            _refuse(f"entity {name!r} refers to other entities (an entity expansion bomb)")
        values[match["name"]] = len(value)
        position = body.find(b"<!ENTITY", match.end())
    expansion = 0
    for name, length in values.items():
        expansion += body.count(b"&" + name + b";") * length
        if expansion > MAX_EXPANSION:
            _refuse(f"entity references would expand to over {MAX_EXPANSION} bytes (quadratic blowup)")


def _refuse(why: str) -> None:
    raise FeedError("unsafe_xml", f"refused to parse the document: {why}")
