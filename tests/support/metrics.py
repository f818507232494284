"""Reading a worker's `/metrics` page (the Prometheus text format) in tests."""

from __future__ import annotations

import re


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the first sample named `name` carrying `labels` (others may be there too), or
    None when there is none."""
    for line in text.splitlines():
        match = re.fullmatch(r"(\w+)(?:\{(.*)\})? (\S+)", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(match.group(3))
    return None
