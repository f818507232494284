"""notifier: tells the council's internal Social Media Forum what Herald did.

Reads `herald.posts`, `herald.directory.events` and broken/moved feeds on `herald.ops.feed-health`,
renders one alert per event (pure, `render.py`: its kind and facts), records a delivery-ledger
entry per target that wants it (`ledger.py`, decided by `decide.py`), and each target's lane
(`delivery.py`) delivers it through that target's adapter (`adapters/`, configured by `config.py`
and `targets.py`), worded by the target's templates (`templating.py`, `templates/`), telling
`herald.forum.alerts` what was sent. Digest targets' events are gathered per target and told once a
window (`digest.py` decides, `digest_book.py` keeps); feed items a target asks for become
announcements or reminders (`reminders.py`); quiet hours hold alerts in the ledger; every time
comes from one clock (`clock.py`).
"""
