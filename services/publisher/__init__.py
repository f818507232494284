"""publisher: turns FeedItemDiscovered events into posts on the council's channels (X, or the dry-run
outbox while no X credentials are set), never twice for one item and channel account, and reports
every outcome as PostPublished/PostFailed on `herald.posts`.

Modules: `text` (X's weighted length), `render` (item → post text), `routing` (which channel
accounts an item goes to), `channels` (X and the outbox behind one interface), `ledger` (the
posting ledger: intent before the call, result after), `delivery` (retries and backoff), `app`
(the faust wiring).
"""
