"""Herald: an event-driven system and its command-line tools."""
