"""feed_ingest: watches the council's feeds and announces each new item once, ever.

Subscriptions come from `herald.feeds`; each feed is polled with conditional GET, parsed with
feedparser, and every item Herald has not seen before becomes a `FeedItemDiscovered` on
`herald.feed-items` (issue 3). The pipeline is lemon24/reader's: retrieve (`fetch`) → parse
(`parse`) → decide (`decide`, pure) → act (`app`).
"""
