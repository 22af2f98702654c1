"""The query API on both backends: read-your-writes, pagination, stock levels, and problems instead of errors."""

import uuid

import httpx
import pytest

from tests.conftest import ORDER


def _url(platform: dict, path: str) -> str:
    return f"{platform['base_url']}{path}"


def _place(platform: dict, customer_id: str) -> dict:
    response = httpx.post(_url(platform, "/v1/orders"), json={**ORDER, "customer_id": customer_id}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()


def _problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return response.json()


def test_a_read_after_a_commands_token_includes_that_command(any_platform: dict) -> None:
    placed = _place(any_platform, str(uuid.uuid4()))
    cancel = httpx.post(
        _url(any_platform, f"/v1/orders/{placed['order_id']}/cancel"), json={"reason": "test"}, timeout=10
    )
    assert cancel.status_code == 200, cancel.text

    # No polling: the first answer must already hold the cancellation.
    order = httpx.get(
        _url(any_platform, f"/v1/orders/{placed['order_id']}"),
        params={"after": cancel.json()["consistency_token"]},
        timeout=10,
    )

    assert order.status_code == 200, order.text
    assert (order.json()["status"], order.json()["version"]) == ("cancelled", 2)


def test_a_customers_orders_come_newest_first_a_page_at_a_time(any_platform: dict) -> None:
    customer = str(uuid.uuid4())
    placed = [_place(any_platform, customer) for _ in range(5)]
    token = placed[-1]["consistency_token"]

    pages, cursor = [], None
    while True:
        params = {"limit": 2, "after": token, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(_url(any_platform, f"/v1/customers/{customer}/orders"), params=params, timeout=10)
        assert page.status_code == 200, page.text
        pages.append([order["order_id"] for order in page.json()["orders"]])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break

    assert [len(p) for p in pages] == [2, 2, 1]
    assert [order_id for page in pages for order_id in page] == [p["order_id"] for p in reversed(placed)]


def test_a_customer_without_orders_has_an_empty_page(any_platform: dict) -> None:
    page = httpx.get(_url(any_platform, f"/v1/customers/{uuid.uuid4()}/orders"), timeout=10)
    assert page.status_code == 200
    assert page.json()["orders"] == [] and page.json()["next_cursor"] is None


def test_stock_levels_show_a_restock_read_after_its_token(any_platform: dict) -> None:
    sku = f"SKU-Q-{uuid.uuid4().hex[:8]}"
    restock = httpx.post(_url(any_platform, f"/v1/inventory/{sku}/restock"), json={"quantity": 25}, timeout=10)
    assert restock.status_code == 200, restock.text

    level = httpx.get(
        _url(any_platform, f"/v1/inventory/{sku}"), params={"after": restock.json()["consistency_token"]}, timeout=10
    )

    assert level.status_code == 200, level.text
    assert {k: level.json()[k] for k in ("sku", "on_hand", "reserved", "available")} == {
        "sku": sku,
        "on_hand": 25,
        "reserved": 0,
        "available": 25,
    }


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v1/orders/{uuid}", {}, 404),
        ("/v1/inventory/NO-SUCH-SKU-{uuid}", {}, 404),
        ("/v1/orders/not-a-uuid", {}, 422),
        ("/v1/customers/not-a-uuid/orders", {}, 422),
        ("/v1/customers/{uuid}/orders", {"limit": 0}, 422),
        ("/v1/customers/{uuid}/orders", {"limit": 101}, 422),
        ("/v1/customers/{uuid}/orders", {"limit": "ten"}, 422),
        ("/v1/customers/{uuid}/orders", {"cursor": "garbage"}, 422),
        ("/v1/orders/{uuid}", {"after": "not-a-token"}, 422),
        ("/v1/inventory/SKU-1", {"after": "orders.events:x:1"}, 422),
    ],
)
def test_bad_or_unknown_is_a_problem_never_a_500(any_platform: dict, path: str, params: dict, status: int) -> None:
    response = httpx.get(_url(any_platform, path.format(uuid=uuid.uuid4())), params=params, timeout=10)
    _problem(response, status)


def test_a_token_the_read_model_cannot_reach_in_time_is_a_503_with_retry_after(any_platform: dict) -> None:
    placed = _place(any_platform, str(uuid.uuid4()))
    unreachable = placed["consistency_token"].rsplit(":", 1)[0] + ":999999999"

    response = httpx.get(
        _url(any_platform, f"/v1/orders/{placed['order_id']}"), params={"after": unreachable}, timeout=30
    )

    _problem(response, 503)
    assert int(response.headers["retry-after"]) >= 1
