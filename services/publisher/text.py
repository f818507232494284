"""X's weighted post length (twitter-text, v3 configuration) and truncation that respects it.

X does not count characters: it counts *weights*. With the v3 configuration (the one X uses):
code points 0-4351, 8192-8205, 8208-8223 and 8242-8247 weigh 1, every other code point 2; an emoji
sequence (ZWJ families, skin tones, flags, keycaps, tag sequences) weighs 2 as a whole; a link
weighs 23 however long it is (X wraps it in t.co); the text is NFC-normalised first; 280 is the
limit. The rules below re-implement twitter-text's `parseTweet` and its link extractor
(github.com/twitter/twitter-text, js/src/parseTweet.js, extractUrlsWithIndices.js); the
conformance vectors in tests/fixtures/conformance/twitter-text-validate.yml are the test.

Where twitter-text's emoji list is not reproduced exactly (it uses twemoji-parser's list), this
module errs towards counting *more*: a post measured here never turns out longer on X.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import regex

from services.publisher.tlds import TLDS

MAX_WEIGHTED_LENGTH = 280
URL_WEIGHT = 23
ELLIPSIS = "\u2026"

#: (first, last, weight) of the v3 configuration; everything else weighs 2.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_MAX_URL_LENGTH = 4096
_MAX_LABEL_LENGTH = 63
_MAX_TCO_SLUG_LENGTH = 40

# --- building blocks of twitter-text's link pattern (same character classes) ----------------------
_INVALID = "\ufffe\ufeff\uffff"
_DIRECTIONAL = "\u202a-\u202e\u061c\u200e\u200f\u2066\u2067\u2068\u2069"
_PUNCT = r"!'#%&()*+,\\\-./:;<=>?@\[\]^_{|}~$"
_SPACES = "\x09-\x0d\x20\x85\xa0\u1680\u180e\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_LATIN_ACCENTS = (
    "\xc0-\xd6\xd8-\xf6\xf8-\xff\u0100-\u024f\u0253\u0254\u0256\u0257\u0259\u025b\u0263\u0268"
    "\u026f\u0272\u0289\u028b\u02bb\u0300-\u036f\u1e00-\u1eff"
)
_CYRILLIC = "\u0400-\u04ff"
_DOMAIN_CHAR = f"[^{_PUNCT}{_SPACES}{_INVALID}{_DIRECTIONAL}]"
_SUBDOMAIN = f"(?:(?:{_DOMAIN_CHAR}(?:[_-]|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\\.)"
_DOMAIN_NAME = f"(?:(?:{_DOMAIN_CHAR}(?:-|{_DOMAIN_CHAR})*)?{_DOMAIN_CHAR}\\.)"
_TLD_ALTERNATION = "|".join(regex.escape(tld) for tld in sorted(TLDS, key=lambda t: (-len(t), t)))
_TLD = f"(?:(?:{_TLD_ALTERNATION})(?=[^0-9a-z@+-]|$)|xn--[\\-0-9a-z]+)"
_DOMAIN = f"(?:{_SUBDOMAIN}*{_DOMAIN_NAME}{_TLD})"
_PRECEDING = f"(?:[^a-z0-9@\uff20$#\uff03{_INVALID}]|[{_DIRECTIONAL}]|^)"
_PATH_CHAR = f"[a-z{_CYRILLIC}0-9!*';:=+,.$/%#\\[\\]\\-\u2013_~@|&{_LATIN_ACCENTS}]"
_BALANCED = f"\\((?:{_PATH_CHAR}+|(?:{_PATH_CHAR}*\\({_PATH_CHAR}+\\){_PATH_CHAR}*))\\)"
_PATH_END = f"(?:[+\\-a-z{_CYRILLIC}0-9=_#/{_LATIN_ACCENTS}]|(?:{_BALANCED}))"
_PATH = f"(?:(?:{_PATH_CHAR}*(?:{_BALANCED}{_PATH_CHAR}*)*{_PATH_END})|(?:@{_PATH_CHAR}+/))"
_QUERY_CHARS = r"[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,~|]"
_QUERY_END = r"[a-z0-9\-_&=#/]"

_URL_RE = regex.compile(
    f"(?P<before>{_PRECEDING})"
    f"(?P<url>(?P<protocol>https?://)?(?P<domain>{_DOMAIN})(?::[0-9]+)?"
    f"(?P<path>/{_PATH}*)?(?:\\?{_QUERY_CHARS}*{_QUERY_END})?)",
    regex.IGNORECASE | regex.VERSION0,
)
_ASCII_DOMAIN_RE = regex.compile(f"(?:[\\-a-z0-9{_LATIN_ACCENTS}]+\\.)+{_TLD}", regex.IGNORECASE)
_TCO_RE = regex.compile(f"^https?://t\\.co/([a-z0-9]+)(?:\\?{_QUERY_CHARS}*{_QUERY_END})?", regex.IGNORECASE)
_NO_PROTOCOL_BAD_BEFORE = regex.compile(r"[-_./]$")

# --- emoji sequences (what twemoji-parser finds) ------------------------------------------------
_EMOJI_ELEMENT = (
    r"\p{Extended_Pictographic}[\ufe0e\ufe0f]?\p{Emoji_Modifier}?"
    r"(?:[\U000e0020-\U000e007e]+\U000e007f)?\ufe0f?"
)
_EMOJI_RE = regex.compile(
    r"[#*0-9]\ufe0f?\u20e3"  # keycaps: 1️⃣
    r"|\p{Regional_Indicator}{1,2}"  # flags: 🇬🇧
    f"|{_EMOJI_ELEMENT}(?:\u200d{_EMOJI_ELEMENT})*"  # pictographs, skin tones, ZWJ sequences, 🏴 tags
)
_GRAPHEME_RE = regex.compile(r"\X")


@dataclass(frozen=True)
class Measure:
    """What X would say about a text: its weighted length and whether it may be posted."""

    weighted_length: int
    valid: bool


def char_weight(char: str) -> int:
    """Weight of one code point under the v3 configuration."""
    code = ord(char)
    return 1 if any(first <= code <= last for first, last in _LIGHT_RANGES) else 2


def _punycode_label_ok(label: str) -> bool:
    encoded = label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
    return 1 <= len(encoded) <= _MAX_LABEL_LENGTH


def _valid_url(url: str, protocol: str, domain: str) -> bool:
    """twitter-text's isValidUrl: every DNS label fits once punycoded, and the URL is not huge."""
    if domain.lower().startswith("xn--") and not _ASCII_DOMAIN_RE.search(domain):
        return False
    try:
        labels = domain.split(".")
        if not all(_punycode_label_ok(label) for label in labels):
            return False
        ascii_length = (
            sum(len(label) if label.isascii() else 4 + len(label.encode("punycode")) for label in labels)
            + len(labels)
            - 1
        )
    except UnicodeError:
        return False
    return len(protocol) + len(url) + ascii_length - len(domain) <= _MAX_URL_LENGTH


def extract_urls(text: str) -> list[tuple[int, int]]:
    """(start, end) of every link X would shorten to 23, in code-point offsets of `text`."""
    if "." not in text:
        return []
    spans: list[tuple[int, int]] = []
    position = 0
    while True:
        match = _URL_RE.search(text, position)
        if match is None:
            return spans
        position = match.end()
        url, protocol, domain, path = match["url"], match["protocol"], match["domain"], match["path"]
        start, end = match.start("url"), match.end("url")
        if not _valid_url(url, protocol or "https://", domain):
            continue
        if protocol:
            tco = _TCO_RE.match(url)
            if tco:
                if len(tco[1]) > _MAX_TCO_SLUG_LENGTH:
                    continue
                end = start + len(tco[0])
            spans.append((start, end))
            continue
        if _NO_PROTOCOL_BAD_BEFORE.search(match["before"]):
            continue
        # Without a protocol only ASCII domains count, each one found in the domain part.
        found = [(start + m.start(), start + m.end()) for m in _ASCII_DOMAIN_RE.finditer(domain)]
        if not found:
            continue
        if path:
            found[-1] = (found[-1][0], end)
        spans.extend(found)


def extract_emoji(text: str) -> list[tuple[int, int]]:
    """(start, end) of every emoji sequence, each of which weighs 2."""
    return [(m.start(), m.end()) for m in _EMOJI_RE.finditer(text)]


def measure(text: str) -> Measure:
    """twitter-text's parseTweet (weighted length and validity) for the v3 configuration."""
    normalized = text if text.isascii() else unicodedata.normalize("NFC", text)
    urls = dict(extract_urls(normalized))
    emoji = dict(extract_emoji(normalized))
    if normalized.isascii():  # every other character weighs 1 and none is invalid: count, don't walk
        return _ascii_measure(len(normalized), urls, emoji)
    weight = 0
    valid = True
    index = 0
    while index < len(normalized):
        if index in urls:
            weight += URL_WEIGHT
            next_index = urls[index]
        elif index in emoji:
            weight += 2
            next_index = emoji[index]
        else:
            weight += char_weight(normalized[index])
            next_index = index + 1
        if valid and normalized[index] in _INVALID:
            valid = False
        index = next_index
    return Measure(weighted_length=weight, valid=valid and 0 < weight <= MAX_WEIGHTED_LENGTH)


def _ascii_measure(length: int, urls: dict[int, int], emoji: dict[int, int]) -> Measure:
    """`measure`'s walk for an ASCII text, by its spans alone (most council posts are ASCII)."""
    weight = index = 0
    for start in sorted(urls.keys() | emoji.keys()):
        if start < index:
            continue  # inside a span already counted, as the walk skips it
        weight += start - index
        weight, index = (weight + URL_WEIGHT, urls[start]) if start in urls else (weight + 2, emoji[start])
    weight += length - index
    return Measure(weighted_length=weight, valid=0 < weight <= MAX_WEIGHTED_LENGTH)


def weighted_length(text: str) -> int:
    return measure(text).weighted_length


def fits(text: str, limit: int = MAX_WEIGHTED_LENGTH) -> bool:
    result = measure(text)
    return result.valid and result.weighted_length <= limit


def graphemes(text: str) -> list[str]:
    """User-perceived characters (extended grapheme clusters, UAX #29)."""
    return _GRAPHEME_RE.findall(text)


def truncate(
    text: str,
    suffix: str = "",
    *,
    limit: int = MAX_WEIGHTED_LENGTH,
    fits_fn: Callable[[str], bool] | None = None,
) -> str | None:
    """The longest start of `text` that, with an ellipsis and then `suffix`, fits in `limit`.

    `text` is cut at a word boundary (whitespace) when any word fits, else between graphemes (a
    title in a script without spaces); never inside a grapheme, and `suffix` (the link) is never
    cut. Returns `text + suffix` unchanged when it fits, and None when not even the ellipsis does.
    `fits_fn` replaces X's rule with another channel's (Mastodon, Bluesky: see `lengths`).
    """
    if fits_fn is not None:
        return _truncate(text, suffix, fits_fn)
    return _truncate(text, suffix, lambda candidate: fits(candidate, limit))


def _truncate(text: str, suffix: str, fits: Callable[[str], bool]) -> str | None:
    if fits(text + suffix):
        return text + suffix
    words = regex.split(r"(\s+)", text)
    # Whole words first: the longest prefix ending before a run of whitespace.
    cuts = [len("".join(words[:i])) for i in range(1, len(words), 2)]
    for cut in reversed(cuts):
        head = text[:cut].rstrip()
        if head and fits(head + ELLIPSIS + suffix):
            return head + ELLIPSIS + suffix
    # No whole word fits: cut between graphemes of the first word (binary search on the count).
    clusters = graphemes(text)
    low, high = 0, len(clusters)
    while low < high:
        middle = (low + high + 1) // 2
        if fits("".join(clusters[:middle]).rstrip() + ELLIPSIS + suffix):
            low = middle
        else:
            high = middle - 1
    head = "".join(clusters[:low]).rstrip()
    if head:
        return head + ELLIPSIS + suffix
    return ELLIPSIS + suffix if fits(ELLIPSIS + suffix) else None
