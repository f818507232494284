"""The ledger's decisions, with plain data."""

from __future__ import annotations

from services.publisher.ledger import Decision, LedgerEntry, LedgerState, decide, ledger_key


def test_new_item_is_posted() -> None:
    assert decide(None) is Decision.POST


def test_posted_item_is_not_posted_again() -> None:
    entry = LedgerEntry.intent("t", attempts=0).posted(post_id="1", post_url=None, dry_run=False, attempts=1)
    assert decide(entry) is Decision.ALREADY_POSTED


def test_intent_without_result_is_never_posted_blindly() -> None:
    assert decide(LedgerEntry.intent("t", attempts=0)) is Decision.UNCONFIRMED


def test_final_failure_is_final() -> None:
    entry = LedgerEntry.intent("t", attempts=0).failed(
        error_code="duplicate", reason="dup", retryable=False, attempts=1
    )
    assert decide(entry) is Decision.ALREADY_FAILED


def test_retryable_failure_is_tried_again_unless_it_may_have_gone_out() -> None:
    intent = LedgerEntry.intent("t", attempts=0)
    assert (
        decide(intent.failed(error_code="http_500", reason="x", retryable=True, attempts=4)) is Decision.POST
    )
    maybe = intent.failed(
        error_code="network", reason="timeout", retryable=True, attempts=4, maybe_posted=True
    )
    assert decide(maybe) is Decision.UNCONFIRMED


def test_entries_round_trip_through_json() -> None:
    entry = LedgerEntry.intent("t", attempts=2).posted(post_id="9", post_url="u", dry_run=True, attempts=3)
    again = LedgerEntry.from_json(entry.to_json())
    assert again == entry and again.state is LedgerState.POSTED


def test_key_names_item_channel_and_account() -> None:
    assert ledger_key("item-1", "x", "corporate") == "item-1|x:corporate"
