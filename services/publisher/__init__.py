"""publisher: turns FeedItemDiscovered events into posts on the council's channels, within the
council's publishing policy, never twice for one item and channel account, and reports every
outcome (PostPublished, PostFailed, PostHeld, PostApproved, PostDropped) on `herald.posts`.

Modules: `text` and `lengths` (each network's way of counting), `render` and `routing` (item →
routes → post text), `config` and `accounts` (the YAML config: routes, policy, flow, accounts),
`policy` (quiet hours, blackouts, keywords, approval, cost caps: pure decisions), `channels/` (X,
Mastodon, Bluesky, Facebook, webhook, outbox behind one interface), `ledger` (intent before the
call, result after), `flow` (per-account queues, rate limits, spacing, urgent first), `posting`
(admission, sending, resolving unconfirmed intents), `held` and `views` (held posts, the admin
HTTP API), `retry` (how many tries, the backoff), `app` (the faust wiring). See docs/adr/0004.
"""
