"""Herald's shared contracts (event envelope, payload models, topic catalogue) and the plumbing
every service imports (settings, Kafka helpers). Nothing here opens a connection at import time."""

__version__ = "0.1.0"
