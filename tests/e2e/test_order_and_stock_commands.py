"""Cancelling orders and restocking SKUs over HTTP, on both backends, with the same answers."""

import uuid

import httpx

from tests.conftest import ORDER
from tests.platform import wait_for


def post(platform: dict, path: str, body: object, **headers: str) -> httpx.Response:
    return httpx.post(f"{platform['base_url']}{path}", json=body, headers=headers, timeout=30)


def placed_order(platform: dict) -> str:
    answer = post(platform, "/v1/orders", ORDER)
    assert answer.status_code == 201, answer.text
    return answer.json()["order_id"]


def test_a_placed_order_can_be_cancelled_once_and_the_read_model_shows_it(any_platform: dict) -> None:
    order_id = placed_order(any_platform)

    cancelled = post(any_platform, f"/v1/orders/{order_id}/cancel", {"reason": "changed my mind"})
    again = post(any_platform, f"/v1/orders/{order_id}/cancel", {"reason": "really"})

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["version"] == 2
    assert again.status_code == 422
    assert again.json()["rule"] == "order-cancellable"
    shown = wait_for(
        lambda: (
            (r := httpx.get(f"{any_platform['base_url']}/v1/orders/{order_id}", timeout=5)).json()["status"]
            == "cancelled"
            and r.json()
        ),
        30,
        "the cancellation in the read model",
    )
    assert shown["version"] == 2


def test_cancelling_with_a_stale_expected_version_is_a_conflict(any_platform: dict) -> None:
    order_id = placed_order(any_platform)

    answer = post(any_platform, f"/v1/orders/{order_id}/cancel", {"reason": "x"}, **{"If-Match": "5"})

    assert answer.status_code == 409
    assert answer.json()["current_version"] == 1


def test_cancelling_an_unknown_order_is_404(any_platform: dict) -> None:
    answer = post(any_platform, f"/v1/orders/{uuid.uuid4()}/cancel", {"reason": "x"})

    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


def test_restocking_makes_a_sku_known_then_adds_to_it(any_platform: dict) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:8]}"

    first = post(any_platform, f"/v1/inventory/{sku}/restock", {"quantity": 10})
    second = post(any_platform, f"/v1/inventory/{sku}/restock", {"quantity": 5}, **{"If-Match": "2"})
    stale = post(any_platform, f"/v1/inventory/{sku}/restock", {"quantity": 5}, **{"If-Match": "2"})

    assert (first.status_code, first.json()["version"]) == (200, 2)  # registered, restocked
    assert (second.status_code, second.json()["version"]) == (200, 3)
    assert stale.status_code == 409


def test_bad_restocks_are_refused_with_the_field_named(any_platform: dict) -> None:
    zero = post(any_platform, "/v1/inventory/SKU-1/restock", {"quantity": 0})
    huge = post(any_platform, "/v1/inventory/SKU-1/restock", {"quantity": 10**12})
    text = post(any_platform, "/v1/inventory/SKU-1/restock", {"quantity": "5"})
    bad_sku = post(any_platform, "/v1/inventory/%20bad%20sku/restock", {"quantity": 5})

    assert (zero.status_code, zero.json()["field"]) == (422, "quantity")
    assert huge.status_code == 422
    assert text.status_code == 422 and "quantity" in text.json()["detail"]
    assert bad_sku.status_code == 422 and "sku" in bad_sku.json()["detail"]


def test_numbers_wider_than_a_command_carries_are_invalid_requests_not_server_errors(any_platform: dict) -> None:
    line = ORDER["lines"][0]
    price = post(any_platform, "/v1/orders", {**ORDER, "lines": [{**line, "unit_price_cents": -(2**65)}]})
    quantity = post(any_platform, "/v1/orders", {**ORDER, "lines": [{**line, "quantity": 2**40}]})
    version = post(any_platform, "/v1/inventory/SKU-1/restock", {"quantity": 5}, **{"If-Match": str(2**64)})

    assert price.status_code == 422 and "lines[0].unit_price_cents" in price.json()["detail"]
    assert quantity.status_code == 422 and "lines[0].quantity" in quantity.json()["detail"]
    assert (version.status_code, version.json()["field"]) == (400, "If-Match")
