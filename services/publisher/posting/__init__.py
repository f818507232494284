"""The posting workflow (issue 4): admit → (hold | queue) → per-account worker → intent → call →
result → event. I/O lives here; the decisions it follows are pure functions in `routing`, `render`,
`policy`, `ledger` and `flow`.

At-least-once, never twice, never lost — how the pieces fit:

1. `admission`, in the FEED_ITEMS handler: each route target's ledger entry is written (`queued`
   or `held`) and acknowledged by the broker before the item's offset can be committed, so once
   Kafka forgets the item, the ledger remembers it; a redelivered item meets its entry and is
   acknowledged or resumed, never posted again.
2. `sending`, one worker per `kind:account` lane (`lanes`, `flow`): the policy checked again, an
   `intent` written durably before the call, the result after; 429s wait for the reset, transient
   errors back off (`retry`), permanent ones fail with the API's reason.
3. `unconfirmed`: an intent without a result is looked for on the account; found → posted, else
   retried with the same idempotency key (Mastodon) or held for a person (X). Never blind.
4. `sweep`, on a timer: lanes rebuilt from the ledger after a restart or a rebalance, held posts
   released when their time comes, untold outcomes told (the ledger is the outbox, the sweep its
   relay: outcome events are at-least-once, like every Herald event).
5. `decisions`: PostDecisionRequested (approve → queued, urgent, policy skipped; drop → dropped),
   from the CLI or the admin HTTP API.

`outcomes` records each result and sends its event; `entries` reads a ledger entry; `poster`
wires them together behind `Poster`, which the app drives.
"""

from services.publisher.posting.poster import Poster

__all__ = ["Poster"]
