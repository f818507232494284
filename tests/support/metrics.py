"""Reading a worker's `/metrics` page (the Prometheus text format) in tests, with
prometheus_client's own parser."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

Samples = dict[str, list[tuple[dict[str, str], float]]]


def samples(text: str) -> Samples:
    """Every sample on the page: name → [(labels, value)]."""
    found: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of the first sample named `name` carrying `labels` (others may be there too), or
    None when there is none."""
    for found, value in samples(text).get(name, []):
        if all(found.get(key) == wanted for key, wanted in labels.items()):
            return value
    return None
