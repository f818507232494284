"""How an alert reaches each kind of target: one small adapter per family over httpx (SMTP for
e-mail), each with a pure render function giving the platform's documented payload shape within
its limits.

An adapter's `send(alert, alert_id)` returns when the target accepted the alert, or raises
`DeliveryError` saying whether the alert certainly did not arrive (`transient`, `permanent`) or may
have (`ambiguous`: the request went out and no answer came). `idempotent` says whether sending the
same alert id again is safe (Matrix txnId, e-mail Message-ID, the generic webhook's
Idempotency-Key); the delivery loop uses it to decide what an ambiguous outcome allows
(docs/adr/0009). Reasons are one line and name no secret (no token, no webhook path).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal, Protocol

from services.notifier.render import Alert, withhold_addresses
from services.notifier.templating import TemplateProblem, Templates

Failure = Literal["transient", "permanent", "ambiguous"]


class DeliveryError(Exception):
    """The target did not (certainly) accept the alert."""

    def __init__(self, reason: str, failure: Failure, *, retry_after: float | None = None) -> None:
        """`reason` goes to logs and herald.ops.errors: addresses a server quotes back (a refused
        recipient, say) are withheld here, once for every adapter."""
        reason = withhold_addresses(reason)
        super().__init__(reason)
        self.reason = reason
        self.failure = failure
        self.retry_after = retry_after


@contextmanager
def rendering(target: str) -> Iterator[None]:
    """A template that fails on this alert (start-up rendered every kind once, but a target's own
    template may still fail on some facts) is a permanent failure: the same alert would fail
    again, so it is given up (ops error, dead letter) instead of retried for ever."""
    try:
        yield
    except TemplateProblem as exc:
        raise DeliveryError(f"{target}: template failed: {exc}", "permanent") from None


class Adapter(Protocol):
    name: str
    kind: str
    internal: bool
    idempotent: bool
    templates: Templates  # the target's words (its directory over the defaults)

    async def send(self, alert: Alert, alert_id: str) -> None: ...

    async def close(self) -> None: ...
