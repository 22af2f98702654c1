"""The payment gateway's circuit breaker on both backends: errors in a row open it, the orders are compensated
(stock released, rejected as "gateway unavailable"), an order meanwhile is refused without asking the gateway,
and once the reset time has passed a probe that succeeds closes it: the next order is confirmed."""

import time
import uuid

import pytest

from sagas.fulfilment import payment_id_for
from tests.e2e.sagas_platform import (
    BREAKER_FAILURES,
    BREAKER_RESET_S,
    context_events,
    place,
    saga_finished,
    script,
    settled,
    stock,
    stocked,
)
from tests.platform import breaker_metric, wait_for

pytestmark = [pytest.mark.kafka, pytest.mark.sagas]
UNAVAILABLE = "payment declined (gateway unavailable)"


def test_a_failing_gateway_opens_the_breaker_sagas_compensate_and_a_probe_closes_it(fulfilment: dict) -> None:
    sku = stocked(fulfilment, quantity=20)
    refused_before = _metric(fulfilment, "streamkeep_circuit_breaker_rejections_total") or 0.0
    script(fulfilment, *[{"outcome": "error", "reason": "acquirer down"}] * BREAKER_FAILURES)

    failed = [place(fulfilment, {sku: 1}) for _ in range(BREAKER_FAILURES)]
    wait_for(lambda: _metric(fulfilment, "streamkeep_circuit_breaker_state") == 1.0, 60, "the breaker open")
    opened_at = time.monotonic()  # a moment after it opened

    # The script is used up (the gateway would approve), but the open breaker does not ask it.
    refused = place(fulfilment, {sku: 1})
    assert settled(fulfilment, refused, "rejected")["reason"] == UNAVAILABLE
    assert _metric(fulfilment, "streamkeep_circuit_breaker_rejections_total") == refused_before + 1
    for order_id in failed:
        assert settled(fulfilment, order_id, "rejected")["reason"] == UNAVAILABLE
        saga_finished(fulfilment, order_id, "compensated")
        payment = payment_id_for(uuid.UUID(order_id))
        assert context_events(fulfilment, "payments", payment) == [
            "payments.PaymentRequested",
            "payments.PaymentDeclined",
        ]
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the reservations released")

    # The reset time is a time: nothing to poll until it has passed.
    time.sleep(max(0.0, BREAKER_RESET_S - (time.monotonic() - opened_at)) + 0.5)
    confirmed = place(fulfilment, {sku: 2})

    assert settled(fulfilment, confirmed, "confirmed")
    assert _metric(fulfilment, "streamkeep_circuit_breaker_state") == 0.0
    for state in ("open", "half-open", "closed"):
        assert _metric(fulfilment, "streamkeep_circuit_breaker_transitions_total", state=state), state
    assert wait_for(lambda: stock(fulfilment, sku)["reserved"] == 0, 30, "the confirmed order's stock committed")
    assert stock(fulfilment, sku)["on_hand"] == 18


def _metric(platform: dict, name: str, **labels: str) -> float | None:
    return breaker_metric(platform["operations_url"], name, "payment-gateway", **labels)
