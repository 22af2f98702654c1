"""The fulfilment saga end to end on both backends: every path, checked in the read models and in what the backend
holds (the platform: tests/e2e/sagas_platform.py)."""

import uuid

import pytest

from sagas.fulfilment import payment_id_for, shipment_id_for
from tests.e2e.sagas_platform import (
    PAYMENT_TIMEOUT_S,
    context_events,
    place,
    post,
    saga_finished,
    script,
    sent_steps,
    settled,
    stock,
    stocked,
)
from tests.platform import wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.sagas]


def test_an_order_with_stock_and_an_approved_payment_is_confirmed_with_stock_committed_and_payment_captured(
    fulfilment: dict,
) -> None:
    first, second = stocked(fulfilment), stocked(fulfilment)
    script(fulfilment)
    order_id = place(fulfilment, {first: 2, second: 3})

    assert settled(fulfilment, order_id, "confirmed")["total_cents"] == 5000
    history = saga_finished(fulfilment, order_id, "completed")

    assert wait_for(lambda: stock(fulfilment, first)["on_hand"] == 8, 30, "the stock committed")
    assert (stock(fulfilment, first)["reserved"], stock(fulfilment, second)["on_hand"]) == (0, 7)
    order_uuid = uuid.UUID(order_id)
    assert context_events(fulfilment, "payments", payment_id_for(order_uuid)) == [
        "payments.PaymentRequested",
        "payments.PaymentAuthorised",
        "payments.PaymentCaptured",
    ]
    assert context_events(fulfilment, "shipping", shipment_id_for(order_uuid)) == ["shipping.ShipmentScheduled"]
    assert context_events(fulfilment, "orders", order_id) == ["orders.OrderPlaced", "orders.OrderConfirmed"]
    assert sorted(sent_steps(history)) == sorted(
        [
            f"reserve-stock:{first}",
            f"reserve-stock:{second}",
            "request-payment",
            "schedule-shipment",
            "confirm-order",
            f"commit-stock:{first}",
            f"commit-stock:{second}",
            "capture-payment",
        ]
    )
    assert [r.version for r in history] == list(range(1, len(history) + 1))


def test_an_order_out_of_stock_on_one_line_is_rejected_naming_the_sku_and_asks_for_no_payment(
    fulfilment: dict,
) -> None:
    plenty, scarce = stocked(fulfilment), stocked(fulfilment, quantity=1)
    order_id = place(fulfilment, {plenty: 2, scarce: 5})

    rejected = settled(fulfilment, order_id, "rejected")
    history = saga_finished(fulfilment, order_id, "compensated")

    assert f"out of stock: {scarce}" in rejected["reason"]
    assert wait_for(lambda: stock(fulfilment, plenty)["reserved"] == 0, 30, "the reservation released")
    assert stock(fulfilment, plenty)["on_hand"] == 10 and stock(fulfilment, scarce)["reserved"] == 0
    assert "request-payment" not in sent_steps(history)
    assert context_events(fulfilment, "payments", payment_id_for(uuid.UUID(order_id))) == []


def test_a_declined_payment_releases_the_stock_and_rejects_the_order_with_the_gateways_reason(
    fulfilment: dict,
) -> None:
    sku = stocked(fulfilment)
    script(fulfilment, {"outcome": "decline", "reason": "insufficient funds"})
    order_id = place(fulfilment, {sku: 4})

    rejected = settled(fulfilment, order_id, "rejected")
    saga_finished(fulfilment, order_id, "compensated")

    assert rejected["reason"] == "payment declined (insufficient funds)"
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservation released")
    assert stock(fulfilment, sku)["on_hand"] == 10
    payment = payment_id_for(uuid.UUID(order_id))
    assert context_events(fulfilment, "payments", payment) == ["payments.PaymentRequested", "payments.PaymentDeclined"]


def test_no_answer_before_the_deadline_rejects_the_order_and_an_authorisation_after_it_is_voided(
    fulfilment: dict,
) -> None:
    sku = stocked(fulfilment)
    # The gateway approves, but only after the saga's deadline has passed.
    script(fulfilment, {"outcome": "approve", "delay_s": PAYMENT_TIMEOUT_S + 3})
    order_id = place(fulfilment, {sku: 1})

    rejected = settled(fulfilment, order_id, "rejected")
    assert rejected["reason"] == f"payment not authorised within {PAYMENT_TIMEOUT_S} s"
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservation released")

    payment = payment_id_for(uuid.UUID(order_id))
    assert wait_for(
        lambda: (
            context_events(fulfilment, "payments", payment)
            == ["payments.PaymentRequested", "payments.PaymentAuthorised", "payments.PaymentVoided"]
        ),
        60,
        "the late authorisation voided",
    )
    history = saga_finished(fulfilment, order_id, "compensated")
    assert "void-payment" in sent_steps(history)
    assert [r.event.name for r in history if type(r.event).__name__ == "DeadlineReached"] == ["payment-authorised"]


def test_a_customer_cancel_while_the_payment_is_awaited_undoes_the_reservation_and_the_order_stays_cancelled(
    fulfilment: dict,
) -> None:
    sku = stocked(fulfilment)
    script(fulfilment, {"outcome": "timeout"})
    order_id = place(fulfilment, {sku: 3})
    wait_for(lambda: stock(fulfilment, sku)["reserved"] == 3, 30, "the stock reserved")

    cancel = post(fulfilment, f"/v1/orders/{order_id}/cancel", {"reason": "changed my mind"})

    assert cancel.status_code == 200, cancel.text
    history = saga_finished(fulfilment, order_id, "compensated")
    assert settled(fulfilment, order_id, "cancelled")
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservation released")
    assert "reject-order" not in sent_steps(history)
    assert context_events(fulfilment, "orders", order_id) == ["orders.OrderPlaced", "orders.OrderCancelled"]
    assert [r.event.event_type for r in history if type(r.event).__name__ == "EventObserved"] == ["OrderCancelled"]
