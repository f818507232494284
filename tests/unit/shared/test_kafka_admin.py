"""The admin helpers' guards (their broker work is exercised by every integration test's namespace)."""

from __future__ import annotations

import asyncio

import pytest

from shared.kafka_admin import delete_namespace


def test_deleting_a_namespace_needs_one_or_it_would_delete_every_topic() -> None:
    with pytest.raises(ValueError, match="without a namespace"):
        asyncio.run(delete_namespace("127.0.0.1:1", ""))  # refused before any connection
