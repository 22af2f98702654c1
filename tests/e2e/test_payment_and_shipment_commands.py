"""Payments against the scriptable gateway, shipments and stock reservations over HTTP, on both backends."""

import uuid

import httpx

from tests.platform import wait_for

PAYMENT = {"order_id": "0b9d6c9e-2f4a-4d8e-9a51-3c1e7f2a6b10", "amount_cents": 2500, "currency": "EUR"}


def post(platform: dict, path: str, body: object = None, **headers: str) -> httpx.Response:
    return httpx.post(f"{platform['base_url']}{path}", json=body, headers=headers, timeout=30)


def script(platform: dict, *answers: dict) -> None:
    answer = post(platform, "/v1/payments/gateway/script", {"answers": list(answers)})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"scripted": len(answers)}


def requested_payment(platform: dict, **headers: str) -> str:
    answer = post(platform, "/v1/payments", PAYMENT, **headers)
    assert answer.status_code == 201, answer.text
    assert answer.json()["version"] == 1
    assert answer.headers["location"] == f"/v1/payments/{answer.json()['payment_id']}"
    return answer.json()["payment_id"]


def settled_status(platform: dict, payment_id: str) -> str:
    """The payment's status once the gateway has answered: a capture tells it (and takes an authorised one)."""

    def answered() -> str | None:
        capture = post(platform, f"/v1/payments/{payment_id}/capture")
        if capture.status_code == 200:
            return "authorised"
        assert capture.status_code == 422, capture.text
        status = capture.json()["detail"].split(" is ")[1].split(" ")[0]
        return None if status == "requested" else status

    return wait_for(answered, 30, f"the gateway's answer to payment {payment_id}")


def test_the_gateway_approves_unless_scripted_and_a_captured_payment_can_be_refunded(any_platform: dict) -> None:
    script(any_platform)
    payment_id = requested_payment(any_platform)

    assert settled_status(any_platform, payment_id) == "authorised"
    refund = post(any_platform, f"/v1/payments/{payment_id}/refund", {"amount_cents": 500})
    too_much = post(any_platform, f"/v1/payments/{payment_id}/refund", {"amount_cents": 2001})
    assert (refund.status_code, refund.json()["version"]) == (200, 4)  # requested, authorised, captured, refunded
    assert (too_much.status_code, too_much.json()["rule"]) == (422, "refund-within-captured")


def test_a_scripted_gateway_error_declines_the_payment_and_one_error_leaves_the_gateway_asked(
    any_platform: dict,
) -> None:
    script(any_platform, {"outcome": "error", "reason": "acquirer down"})
    failed = requested_payment(any_platform)
    approved = requested_payment(any_platform)  # one error is below the breaker's threshold: the gateway is asked

    assert settled_status(any_platform, failed) == "declined"
    assert settled_status(any_platform, approved) == "authorised"


def test_scripted_answers_come_in_order_and_a_timed_out_payment_stays_requested(any_platform: dict) -> None:
    script(any_platform, {"outcome": "decline", "reason": "insufficient funds"}, {"outcome": "timeout"})
    declined = requested_payment(any_platform)
    timed_out = requested_payment(any_platform)
    approved = requested_payment(any_platform)

    assert settled_status(any_platform, declined) == "declined"
    assert settled_status(any_platform, approved) == "authorised"
    # The gateway answers in order: the later payment was answered, so this one's answer was "nothing".
    still = post(any_platform, f"/v1/payments/{timed_out}/void")
    assert (still.status_code, still.json()["rule"]) == (422, "payment-voidable")
    assert "requested" in still.json()["detail"]


def test_a_retried_payment_request_is_sent_to_the_gateway_once(any_platform: dict) -> None:
    script(any_platform, {"outcome": "approve", "authorisation_code": "A-1"}, {"outcome": "decline", "reason": "r"})
    key = {"Idempotency-Key": f"pay-{uuid.uuid4()}"}

    first = requested_payment(any_platform, **key)
    retry = requested_payment(any_platform, **key)
    other = requested_payment(any_platform)

    assert retry == first
    assert settled_status(any_platform, first) == "authorised"
    assert settled_status(any_platform, other) == "declined"  # the retry did not use up the scripted approval


def test_an_authorised_payment_can_be_voided_once(any_platform: dict) -> None:
    script(any_platform, {"outcome": "approve"})
    payment_id = requested_payment(any_platform)
    wait_for(
        lambda: post(any_platform, f"/v1/payments/{payment_id}/void").status_code == 200,
        30,
        "the approval, then the void",
    )

    again = post(any_platform, f"/v1/payments/{payment_id}/capture")
    assert (again.status_code, again.json()["rule"]) == (422, "payment-capturable")


def test_bad_payment_requests_and_scripts_are_refused_with_the_field_named(any_platform: dict) -> None:
    negative = post(any_platform, "/v1/payments", {**PAYMENT, "amount_cents": -1})
    text = post(any_platform, "/v1/payments", {**PAYMENT, "amount_cents": "25"})
    odd_currency = post(any_platform, "/v1/payments", {**PAYMENT, "currency": "XXX"})
    unknown_answer = post(any_platform, "/v1/payments/gateway/script", {"answers": [{"outcome": "maybe"}]})
    unknown_payment = post(any_platform, f"/v1/payments/{uuid.uuid4()}/capture")

    assert (negative.status_code, negative.json()["field"]) == (422, "amount_cents")
    assert text.status_code == 422 and "amount_cents" in text.json()["detail"]
    assert (odd_currency.status_code, odd_currency.json()["rule"]) == (422, "currency-supported")
    assert unknown_answer.status_code == 422 and "outcome" in unknown_answer.json()["detail"]
    assert unknown_payment.status_code == 404
    assert unknown_payment.headers["content-type"] == "application/problem+json"


def test_a_shipment_is_scheduled_dispatched_and_then_cannot_be_cancelled(any_platform: dict) -> None:
    body = {"order_id": str(uuid.uuid4()), "lines": [{"sku": "SKU-1", "quantity": 2}]}
    scheduled = post(any_platform, "/v1/shipments", body)
    shipment_id = scheduled.json()["shipment_id"]

    dispatched = post(any_platform, f"/v1/shipments/{shipment_id}/dispatch", {"carrier": "DHL", "tracking_code": "T-1"})
    cancelled = post(any_platform, f"/v1/shipments/{shipment_id}/cancel", {"reason": "too late"})

    assert (scheduled.status_code, scheduled.json()["version"]) == (201, 1)
    assert (dispatched.status_code, dispatched.json()["version"]) == (200, 2)
    assert (cancelled.status_code, cancelled.json()["rule"]) == (422, "shipment-cancellable")


def test_bad_shipments_are_refused_and_unknown_ones_are_404(any_platform: dict) -> None:
    empty = post(any_platform, "/v1/shipments", {"order_id": str(uuid.uuid4()), "lines": []})
    unknown = post(any_platform, f"/v1/shipments/{uuid.uuid4()}/dispatch", {"carrier": "DHL", "tracking_code": "T"})
    no_carrier = post(any_platform, f"/v1/shipments/{uuid.uuid4()}/dispatch", {"tracking_code": "T"})

    assert (empty.status_code, empty.json()["rule"]) == (422, "shipment-has-lines")
    assert unknown.status_code == 404
    assert no_carrier.status_code == 422 and "carrier" in no_carrier.json()["detail"]


def test_stock_is_reserved_all_or_nothing_then_released_or_committed(any_platform: dict) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:8]}"
    first_order, second_order = str(uuid.uuid4()), str(uuid.uuid4())
    assert post(any_platform, f"/v1/inventory/{sku}/restock", {"quantity": 10}).status_code == 200

    reserved = post(any_platform, f"/v1/inventory/{sku}/reserve", {"order_id": first_order, "quantity": 6})
    again = post(any_platform, f"/v1/inventory/{sku}/reserve", {"order_id": first_order, "quantity": 6})
    too_many = post(any_platform, f"/v1/inventory/{sku}/reserve", {"order_id": second_order, "quantity": 5})
    released = post(any_platform, f"/v1/inventory/{sku}/release", {"order_id": first_order})
    now_fits = post(any_platform, f"/v1/inventory/{sku}/reserve", {"order_id": second_order, "quantity": 5})
    committed = post(any_platform, f"/v1/inventory/{sku}/commit", {"order_id": second_order})

    assert (reserved.status_code, reserved.json()["version"]) == (200, 3)
    assert (again.status_code, again.json()["version"]) == (200, 3)  # the same reservation twice is a no-op
    assert too_many.status_code == 422
    assert (released.status_code, now_fits.status_code, committed.status_code) == (200, 200, 200)
    assert committed.json()["version"] == 6


def test_orders_can_be_confirmed_or_rejected_once(any_platform: dict) -> None:
    order = {
        "customer_id": str(uuid.uuid4()),
        "currency": "EUR",
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 100}],
    }
    confirmed_id = post(any_platform, "/v1/orders", order).json()["order_id"]
    rejected_id = post(any_platform, "/v1/orders", order).json()["order_id"]

    confirmed = post(any_platform, f"/v1/orders/{confirmed_id}/confirm")
    rejected = post(any_platform, f"/v1/orders/{rejected_id}/reject", {"reason": "no stock"})
    cancel_confirmed = post(any_platform, f"/v1/orders/{confirmed_id}/cancel", {"reason": "x"})
    stray_field = post(any_platform, f"/v1/orders/{confirmed_id}/confirm", {"surprise": 1})

    assert (confirmed.status_code, confirmed.json()["version"]) == (200, 2)
    assert (rejected.status_code, rejected.json()["version"]) == (200, 2)
    assert cancel_confirmed.status_code == 422
    assert stray_field.status_code == 422
