"""The idempotency ledger: first answers are owed to retries; a key reused for another request is refused."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

from commands import idempotency
from commands.idempotency import IdempotencyLedger, Remembered
from commands.messages import Envelope
from commands.outcomes import ACCEPTED, REJECTED, Outcome

AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
ROUTE = "POST /v1/orders"


def keyed_envelope(key: str, body: dict) -> Envelope:
    scoped = idempotency.scoped_key(ROUTE, key)
    request_hash = idempotency.request_hash(ROUTE, body)
    return Envelope(
        idempotency.command_id_for(scoped, request_hash), AT, uuid4(), idempotency_key=scoped, request_hash=request_hash
    )


def test_identical_retries_are_the_same_command_and_a_changed_body_is_another() -> None:
    first, retry, changed = (
        keyed_envelope("k", {"a": 1}),
        keyed_envelope("k", {"a": 1}),
        keyed_envelope("k", {"a": 2}),
    )

    assert first.command_id == retry.command_id
    assert changed.command_id != first.command_id
    assert idempotency.aggregate_id_for(first.idempotency_key) == idempotency.aggregate_id_for(changed.idempotency_key)


def test_a_retry_gets_the_first_answer() -> None:
    ledger = IdempotencyLedger()
    envelope = keyed_envelope("k", {"a": 1})
    answer = Outcome(envelope.command_id, ACCEPTED, uuid4(), 1, "orders.events:0:7")
    ledger.remember(envelope, answer, AT)

    assert ledger.answer_for(keyed_envelope("k", {"a": 1})) == answer


def test_a_key_reused_for_another_request_is_refused_naming_the_header() -> None:
    ledger = IdempotencyLedger()
    first = keyed_envelope("k", {"a": 1})
    ledger.remember(first, Outcome(first.command_id, ACCEPTED, uuid4(), 1), AT)
    reuse = keyed_envelope("k", {"a": 2})

    refusal = ledger.answer_for(reuse)

    assert refusal is not None
    assert (refusal.status, refusal.rule, refusal.field) == (REJECTED, idempotency.KEY_REUSED, "Idempotency-Key")
    assert refusal.command_id == reuse.command_id  # only the reusing caller is answered with it


def test_commands_without_a_key_are_never_remembered() -> None:
    ledger = IdempotencyLedger()
    envelope = Envelope(uuid4(), AT, uuid4())
    ledger.remember(envelope, Outcome(envelope.command_id, ACCEPTED, uuid4(), 1), AT)

    assert ledger.answer_for(envelope) is None
    assert len(ledger) == 0


def test_history_keeps_the_first_answer_and_answers_expire_after_the_window() -> None:
    ledger = IdempotencyLedger()
    first = Outcome(uuid4(), ACCEPTED, uuid4(), 1)
    later = Outcome(first.command_id, ACCEPTED, first.aggregate_id, 1, "token")
    ledger.remember_entry("POST /v1/orders k", Remembered(first, "h", AT))
    ledger.remember_entry("POST /v1/orders k", Remembered(later, "h", AT))
    envelope = Envelope(first.command_id, AT, uuid4(), idempotency_key="POST /v1/orders k", request_hash="h")

    assert ledger.answer_for(envelope) == first
    ledger.forget_before(AT + idempotency.WINDOW + timedelta(seconds=1))
    assert ledger.answer_for(envelope) is None


def test_unusable_keys_are_explained() -> None:
    assert idempotency.key_problem("") is not None
    assert idempotency.key_problem("x" * 256) is not None
    assert idempotency.key_problem("tab\there") is not None
    assert idempotency.key_problem("checkout-42") is None
