"""A generated corpus of council-like RSS 2.0 feeds for the feed_ingest benchmark (issue 5).

Deterministic (seeded): the same arguments write the same bytes, so nginx's ETag and
Last-Modified stay put between the two passes and the second pass is all 304s. Each feed has
20 items with a permalink guid, title, link, HTML description, author, categories, an image
enclosure and an RFC 822 date: about 13 KB, like a real council news feed.

Importable helper; run alone (`python bench/corpus.py DIR`) it writes a corpus and says where.
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html import escape
from pathlib import Path

SITE = "https://www.example-county.gov.uk"
TOPICS = (
    "Bin collections",
    "Road closures",
    "Planning applications",
    "Library events",
    "School admissions",
    "Council tax",
    "Parks and open spaces",
    "Adult social care",
    "Recycling centres",
    "Public health",
    "Elections",
    "Flood warnings",
)
PLACES = (
    "Ashford",
    "Bramley",
    "Chalk Hill",
    "Dunmore",
    "Eastwick",
    "Fenby",
    "Greystone",
    "Holloway",
    "Ivybridge",
    "Kingsmead",
    "Littleport",
    "Marden",
)
VERBS = ("update on", "changes to", "consultation on", "new dates for", "funding for", "review of")
WORDS = (
    "residents council service week county ward parish cabinet budget scheme road works repair "
    "collection schedule centre library community health school transport housing grant meeting "
    "consultation volunteers park event notice decision report agenda planning footpath drainage"
).split()


@dataclass(frozen=True)
class Corpus:
    root: Path  # served as the web root
    feeds: int
    items_per_feed: int
    paths: tuple[str, ...]  # URL paths, e.g. "/feeds/0001.xml"
    total_bytes: int

    def urls(self, base: str) -> list[str]:
        return [base.rstrip("/") + path for path in self.paths]


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def feed_document(index: int, items: int, rng: random.Random, now: datetime) -> bytes:
    """One RSS 2.0 feed (feed `index`), newest item first."""
    topic = TOPICS[index % len(TOPICS)]
    entries = []
    for number in range(items, 0, -1):
        place = rng.choice(PLACES)
        title = f"{place}: {rng.choice(VERBS)} {topic.lower()} ({number})"
        link = f"{SITE}/news/{index:04d}/{number:03d}-{place.lower().replace(' ', '-')}"
        published = now - timedelta(hours=index % 24, minutes=7 * (items - number))
        description = (
            f"<p>{escape(_sentence(rng, rng.randint(6, 10)))} <strong>{escape(place)}</strong> "
            "&amp; nearby.</p>"
        )
        entries.append(
            "    <item>\n"
            f"      <title>{escape(title)}</title>\n"
            f"      <link>{link}</link>\n"
            f'      <guid isPermaLink="true">{link}</guid>\n'
            f"      <pubDate>{format_datetime(published)}</pubDate>\n"
            f"      <category>{escape(topic)}</category>\n"
            f"      <category>{escape(place)}</category>\n"
            f'      <enclosure url="{SITE}/images/{index:04d}/{number:03d}.jpg" length="48213" '
            'type="image/jpeg"/>\n'
            f"      <description>{escape(description)}</description>\n"
            "    </item>\n"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:atom="http://www.w3.org/2005/Atom">\n'
        "  <channel>\n"
        f"    <title>Example County Council: {escape(topic)} ({index:04d})</title>\n"
        f"    <link>{SITE}/news/{index:04d}</link>\n"
        f"    <description>News about {escape(topic.lower())} from Example County Council.</description>\n"
        "    <language>en-gb</language>\n"
        f"    <lastBuildDate>{format_datetime(now)}</lastBuildDate>\n"
        + "".join(entries)
        + "  </channel>\n</rss>\n"
    ).encode()


def write_corpus(root: Path, *, feeds: int = 1000, items: int = 20, seed: int = 5) -> Corpus:
    """Write `feeds` feed files under `root/feeds/`; return what was written."""
    rng = random.Random(seed)
    now = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
    directory = root / "feeds"
    directory.mkdir(parents=True, exist_ok=True)
    paths, total = [], 0
    for index in range(feeds):
        body = feed_document(index, items, rng, now)
        (directory / f"{index:04d}.xml").write_bytes(body)
        paths.append(f"/feeds/{index:04d}.xml")
        total += len(body)
    return Corpus(root=root, feeds=feeds, items_per_feed=items, paths=tuple(paths), total_bytes=total)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python bench/corpus.py DIR  (writes 1,000 feeds × 20 items under DIR/feeds/)")
    else:
        corpus = write_corpus(Path(sys.argv[1]))
        print(
            f"{corpus.feeds} feeds, {corpus.total_bytes / corpus.feeds / 1024:.1f} KB each, in {corpus.root}"
        )
