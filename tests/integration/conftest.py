"""Fixtures the integration tests share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.x_api import FakeXApi


@pytest.fixture
def fake_x(tmp_path: Path) -> Iterator[FakeXApi]:
    """The loopback X API over TLS (tests needing other rate-limit timing define their own)."""
    with FakeXApi(tmp_path) as fake:
        yield fake
