"""The notifier's pure decisions: alert ids, who wants what, backoff, give-up, ambiguity."""

from datetime import UTC, datetime, timedelta

import pytest

from services.notifier import decide
from services.notifier.config import RetryConfig, TargetConfig, Wants
from services.notifier.ledger import DeliveryEntry, DeliveryState
from services.notifier.render import Alert
from services.notifier.templating import DEFAULT_TEMPLATES

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
RETRY = RetryConfig(first_delay=2, max_delay=60, give_up_after=600)
ALERT = Alert(
    headline="Post FAILED",
    kind="plain",
    facts={"headline": "Post FAILED", "text": "x"},
    event_type="herald.post.failed.v1",
    event_id="e1",
    severity="error",
    channel="x",
)


def target(**wants: object) -> TargetConfig:
    return TargetConfig.model_validate({"name": "t", "kind": "slack", "url": {"env": "U"}, "wants": wants})


def entry(**changes: object) -> DeliveryEntry:
    base = DeliveryEntry.new(
        target="t",
        alert=ALERT.to_json(),
        partition=0,
        now=NOW,
        source_topic="herald.posts",
        source_key="i",
        source_value="{}",
    )
    return DeliveryEntry.from_json({**base.to_json(), **changes})


def test_alert_ids_derive_from_the_cause() -> None:
    assert decide.alert_id("e1", "slack") == decide.alert_id("e1", "slack")
    assert (
        len(
            {
                decide.alert_id("e1", "slack"),
                decide.alert_id("e2", "slack"),
                decide.alert_id("e1", "mail"),
                decide.alert_id("e1", "slack", "digest"),
            }
        )
        == 4
    )


def test_targets_hear_what_they_want() -> None:
    assert decide.wanted(target(), ALERT)
    assert decide.wanted(target(kinds=["herald.post.failed.v1"], channels=["x"], severity="error"), ALERT)
    assert not decide.wanted(target(kinds=["herald.post.published.v1"]), ALERT)
    assert not decide.wanted(target(channels=["mastodon"]), ALERT)
    assert not decide.wanted(target(feeds=["f1"]), ALERT)
    info = Alert(**{**ALERT.to_json(), "severity": "info"})
    assert not decide.wanted(target(severity="warning"), info)
    assert Wants().severity == "info"


def test_backoff_is_exponential_capped_and_jittered() -> None:
    assert [decide.backoff(n, RETRY, lambda: 1.0 - 1e-9) for n in (1, 2, 3)] == pytest.approx([2, 4, 8])
    assert decide.backoff(10, RETRY, lambda: 0.0) == 30.0  # capped at 60, half by jitter
    assert 30.0 <= decide.backoff(10, RETRY, lambda: 0.5) < 60.0


def test_a_transient_failure_is_retried_later_honouring_retry_after() -> None:
    tried = entry().sending(NOW)
    later = decide.after_failure(
        tried,
        failure="transient",
        reason="HTTP 503",
        retry_after=None,
        idempotent=False,
        retry=RETRY,
        now=NOW,
        jitter=lambda: 0.0,
    )
    assert later.state is DeliveryState.PENDING and later.next_at == (NOW + timedelta(seconds=1)).isoformat()
    assert not later.maybe_sent and later.last_error == "HTTP 503"
    waited = decide.after_failure(
        tried,
        failure="transient",
        reason="HTTP 429",
        retry_after=120,
        idempotent=False,
        retry=RETRY,
        now=NOW,
        jitter=lambda: 0.0,
    )
    assert waited.next_at == (NOW + timedelta(seconds=120)).isoformat()


def test_permanent_failures_and_the_give_up_age_end_in_dead() -> None:
    tried = entry().sending(NOW)
    refused = decide.after_failure(
        tried,
        failure="permanent",
        reason="HTTP 404",
        retry_after=None,
        idempotent=True,
        retry=RETRY,
        now=NOW,
        jitter=lambda: 0.0,
    )
    assert refused.state is DeliveryState.DEAD and refused.last_error == "HTTP 404"
    old = decide.after_failure(
        tried,
        failure="transient",
        reason="refused",
        retry_after=None,
        idempotent=True,
        retry=RETRY,
        now=NOW + timedelta(seconds=600),
        jitter=lambda: 0.0,
    )
    assert old.state is DeliveryState.DEAD and "gave up after 600s" in (old.last_error or "")


def test_an_ambiguous_failure_marks_a_possible_repeat_only_without_idempotency() -> None:
    tried = entry().sending(NOW)
    kwargs = dict(
        failure="ambiguous", reason="ReadTimeout", retry_after=None, retry=RETRY, now=NOW, jitter=lambda: 0.0
    )
    assert decide.after_failure(tried, idempotent=False, **kwargs).maybe_sent  # type: ignore[arg-type]
    assert not decide.after_failure(tried, idempotent=True, **kwargs).maybe_sent  # type: ignore[arg-type]
    marked = decide.as_sent(ALERT, decide.after_failure(tried, idempotent=False, **kwargs))  # type: ignore[arg-type]
    assert marked.possible_repeat and marked.headline == ALERT.headline  # the ledger's headline stays
    words = DEFAULT_TEMPLATES.headline(marked.kind, marked.facts, possible_repeat=marked.possible_repeat)
    assert words == "[possible repeat] Post FAILED"  # what every target's rendering shows
    assert decide.as_sent(ALERT, tried) == ALERT


def test_an_entry_left_sending_by_a_stop_is_resumed_as_ambiguous() -> None:
    stopped = entry().sending(NOW)
    assert decide.resume(stopped, idempotent=True).state is DeliveryState.PENDING
    assert not decide.resume(stopped, idempotent=True).maybe_sent
    assert decide.resume(stopped, idempotent=False).maybe_sent
    pending = entry()
    assert decide.resume(pending, idempotent=False) is pending
