"""notifier: tells the council's internal Social Media Forum what Herald did.

Reads `herald.posts` (published / failed) and `herald.directory.events`, renders one alert per event
(pure, `render.py`), sends it by e-mail (SMTP) and/or a webhook per settings (`transports.py`), and
records what was sent on `herald.forum.alerts` (issue 3).
"""
