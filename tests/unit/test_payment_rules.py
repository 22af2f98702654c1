"""Given-when-then on the payment aggregate's rules and the simulated gateway's script."""

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest
from eventsourcing.domain import Snapshot

from domain.errors import RuleBroken
from domain.gateway import GatewayAnswer, GatewayScript
from domain.payments import Payment

AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)
LATER = AT + timedelta(minutes=5)


def a_payment_that_is(status: str, amount_cents: int = 2500) -> Payment:
    payment = Payment.request(uuid4(), uuid4(), amount_cents, "EUR", AT)
    if status == "declined":
        payment.decline("insufficient funds", AT)
    if status in ("authorised", "captured", "voided", "refunded"):
        payment.authorise("AUTH-1", AT)
    if status == "voided":
        payment.void(AT)
    if status in ("captured", "refunded"):
        payment.capture(AT)
    if status == "refunded":
        payment.refund(amount_cents, AT)
    payment.collect_events()
    assert payment.status == status
    return payment


def test_requesting_a_payment_records_it_under_the_callers_id() -> None:
    payment_id, order_id = uuid4(), uuid4()

    payment = Payment.request(payment_id, order_id, 2500, "EUR", AT)

    [requested] = payment.collect_events()
    assert isinstance(requested, Payment.Requested)
    assert (requested.originator_id, requested.timestamp) == (payment_id, AT)
    assert (requested.order_id, requested.amount_cents, requested.currency) == (order_id, 2500, "EUR")
    assert payment.status == "requested"


@pytest.mark.parametrize("amount_cents", [0, -1])
def test_a_payment_is_for_a_positive_amount(amount_cents: int) -> None:
    with pytest.raises(RuleBroken) as broken:
        Payment.request(uuid4(), uuid4(), amount_cents, "EUR", AT)
    assert (broken.value.rule, broken.value.field) == ("amount-positive", "amount_cents")


def test_a_payment_is_in_a_currency_we_take() -> None:
    with pytest.raises(RuleBroken) as broken:
        Payment.request(uuid4(), uuid4(), 100, "XXX", AT)
    assert broken.value.rule == "currency-supported"


def test_an_approval_authorises_a_requested_payment() -> None:
    payment = a_payment_that_is("requested")

    payment.authorise("AUTH-42", LATER)

    [authorised] = payment.collect_events()
    assert isinstance(authorised, Payment.Authorised)
    assert (authorised.authorisation_code, authorised.timestamp) == ("AUTH-42", LATER)
    assert (payment.status, payment.authorisation_code) == ("authorised", "AUTH-42")


def test_an_approval_carries_the_gateways_code() -> None:
    with pytest.raises(RuleBroken) as broken:
        a_payment_that_is("requested").authorise("", LATER)
    assert broken.value.rule == "authorisation-code-given"


def test_a_refusal_declines_a_requested_payment() -> None:
    payment = a_payment_that_is("requested")

    payment.decline("insufficient funds", LATER)

    [declined] = payment.collect_events()
    assert isinstance(declined, Payment.Declined)
    assert declined.reason == "insufficient funds"
    assert payment.status == "declined"


@pytest.mark.parametrize("status", ["authorised", "declined", "captured", "voided", "refunded"])
def test_only_a_requested_payment_takes_the_gateways_answer(status: str) -> None:
    payment = a_payment_that_is(status)

    with pytest.raises(RuleBroken) as authorising:
        payment.authorise("AUTH-2", LATER)
    with pytest.raises(RuleBroken) as declining:
        payment.decline("late", LATER)

    assert authorising.value.rule == declining.value.rule == "payment-awaiting-answer"


def test_an_authorised_payment_is_captured_in_full() -> None:
    payment = a_payment_that_is("authorised", amount_cents=2500)

    payment.capture(LATER)

    [captured] = payment.collect_events()
    assert isinstance(captured, Payment.Captured)
    assert captured.amount_cents == 2500
    assert (payment.status, payment.captured_cents) == ("captured", 2500)


@pytest.mark.parametrize("status", ["requested", "declined", "captured", "voided", "refunded"])
def test_only_an_authorised_payment_can_be_captured(status: str) -> None:
    with pytest.raises(RuleBroken) as broken:
        a_payment_that_is(status).capture(LATER)
    assert broken.value.rule == "payment-capturable"


def test_an_authorised_payment_is_voided() -> None:
    payment = a_payment_that_is("authorised")

    payment.void(LATER)

    [voided] = payment.collect_events()
    assert isinstance(voided, Payment.Voided)
    assert payment.status == "voided"


@pytest.mark.parametrize("status", ["requested", "declined", "captured", "voided", "refunded"])
def test_only_an_authorised_payment_that_is_not_captured_can_be_voided(status: str) -> None:
    with pytest.raises(RuleBroken) as broken:
        a_payment_that_is(status).void(LATER)
    assert broken.value.rule == "payment-voidable"


def test_a_captured_payment_is_refunded_in_parts_up_to_what_was_captured() -> None:
    payment = a_payment_that_is("captured", amount_cents=2500)

    payment.refund(1000, LATER)
    payment.refund(1500, LATER)

    assert [(type(e), e.amount_cents) for e in payment.collect_events()] == [
        (Payment.Refunded, 1000),
        (Payment.Refunded, 1500),
    ]
    assert (payment.status, payment.refunded_cents) == ("refunded", 2500)


def test_a_refund_cannot_exceed_what_is_left_of_the_capture() -> None:
    payment = a_payment_that_is("captured", amount_cents=2500)
    payment.refund(2000, LATER)

    with pytest.raises(RuleBroken) as broken:
        payment.refund(501, LATER)

    assert (broken.value.rule, broken.value.field) == ("refund-within-captured", "amount_cents")


def test_a_refund_is_for_a_positive_amount() -> None:
    with pytest.raises(RuleBroken) as broken:
        a_payment_that_is("captured").refund(0, LATER)
    assert broken.value.rule == "amount-positive"


@pytest.mark.parametrize("status", ["requested", "authorised", "declined", "voided", "refunded"])
def test_only_a_captured_payment_can_be_refunded(status: str) -> None:
    with pytest.raises(RuleBroken) as broken:
        a_payment_that_is(status).refund(1, LATER)
    assert broken.value.rule == "payment-refundable"


def test_a_payment_is_rebuilt_from_its_events_and_from_a_snapshot() -> None:
    original = Payment.request(uuid4(), uuid4(), 2500, "EUR", AT)
    original.authorise("AUTH-1", AT)
    original.capture(AT)
    original.refund(500, LATER)

    rebuilt = None
    for event in original.collect_events():
        rebuilt = event.mutate(rebuilt)

    assert rebuilt == original == Snapshot.take(original).mutate(None)
    assert (rebuilt.version, rebuilt.status, rebuilt.refunded_cents) == (4, "captured", 500)


def test_the_gateway_approves_when_nothing_is_scripted() -> None:
    script = GatewayScript()

    assert script.next_answer("AUTH-1") == GatewayAnswer.approve("AUTH-1")


def test_the_gateway_gives_the_scripted_answers_in_order_then_approves() -> None:
    script = GatewayScript()
    script.script([GatewayAnswer.decline("card expired"), GatewayAnswer.timeout(), GatewayAnswer.approve()])

    answers = [script.next_answer(f"AUTH-{n}") for n in range(4)]

    assert answers == [
        GatewayAnswer.decline("card expired"),
        GatewayAnswer.timeout(),
        GatewayAnswer.approve("AUTH-2"),
        GatewayAnswer.approve("AUTH-3"),
    ]
    assert script.pending == []


def test_a_new_script_replaces_the_answers_still_pending() -> None:
    script = GatewayScript([GatewayAnswer.timeout(), GatewayAnswer.timeout()])

    script.script([GatewayAnswer.approve("FIXED")])

    assert script.pending == [GatewayAnswer.approve("FIXED")]
    assert script.next_answer("AUTH-1") == GatewayAnswer.approve("FIXED")


def test_a_gateway_answer_survives_its_dict_form() -> None:
    for answer in (GatewayAnswer.approve("A"), GatewayAnswer.decline("no"), GatewayAnswer.timeout()):
        assert GatewayAnswer.from_dict(answer.as_dict()) == answer


def test_a_gateway_answer_is_one_the_gateway_can_give() -> None:
    with pytest.raises(RuleBroken) as broken:
        GatewayAnswer.from_dict({"outcome": "maybe"})
    assert (broken.value.rule, broken.value.field) == ("gateway-answer-known", "outcome")
