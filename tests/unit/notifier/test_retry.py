from services.notifier.render import Alert
from services.notifier.transports import RetryPolicy, TransportError, deliver, send_alert

ALERT = Alert(headline="h", text="t\n", event_type="herald.post.published.v1", event_id="e1")


class Flaky:
    """A transport (our own protocol, not a library) failing a set number of times."""

    name = "flaky"

    def __init__(self, failures: int, permanent: bool = False) -> None:
        self.failures = failures
        self.permanent = permanent
        self.calls = 0

    async def send(self, alert: Alert) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise TransportError(f"boom {self.calls}", permanent=self.permanent)


async def no_sleep(seconds: float) -> None:
    pauses.append(seconds)


pauses: list[float] = []


async def test_retries_with_backoff_then_succeeds() -> None:
    pauses.clear()
    transport = Flaky(failures=2)
    assert await deliver(transport, ALERT, RetryPolicy(attempts=4, first_delay=0.5), sleep=no_sleep) is None
    assert transport.calls == 3
    assert pauses == [0.5, 1.0]


async def test_gives_up_after_the_last_attempt_with_the_reason() -> None:
    pauses.clear()
    transport = Flaky(failures=10)
    failure = await deliver(transport, ALERT, RetryPolicy(attempts=3, first_delay=1), sleep=no_sleep)
    assert failure == "boom 3 (attempt 3 of 3)"
    assert pauses == [1, 2]


async def test_permanent_failures_are_not_retried() -> None:
    transport = Flaky(failures=1, permanent=True)
    assert (
        await deliver(transport, ALERT, RetryPolicy(attempts=3), sleep=no_sleep) == "boom 1 (attempt 1 of 3)"
    )
    assert transport.calls == 1


class Reports:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    async def __call__(self, kind: str, message: str) -> None:
        self.seen.append((kind, message))


async def test_with_no_transport_the_alert_is_logged(caplog) -> None:
    reports = Reports()
    with caplog.at_level("INFO", logger="services.notifier.transports"):
        assert await send_alert(ALERT, [], report=reports) == ["log"]
    assert "forum alert (log only): h" in caplog.text
    assert reports.seen == []


async def test_a_failing_transport_is_reported_and_left_out() -> None:
    reports = Reports()
    good, bad = Flaky(failures=0), Flaky(failures=9)
    bad.name = "webhook"
    used = await send_alert(
        ALERT, [bad, good], RetryPolicy(attempts=2, first_delay=0), report=reports, sleep=no_sleep
    )
    assert used == ["flaky"]
    assert reports.seen == [("forum_webhook_failed", "alert about e1: boom 2 (attempt 2 of 2)")]


async def test_when_every_transport_fails_nobody_was_told() -> None:
    reports = Reports()
    used = await send_alert(
        ALERT, [Flaky(failures=9)], RetryPolicy(attempts=1), report=reports, sleep=no_sleep
    )
    assert used == []
    assert len(reports.seen) == 1
