"""`streamkeep replay` against real Kafka: a time window is exact, one aggregate comes in version order."""

import json
import time
import uuid
from datetime import datetime, timezone

import httpx
import pytest

from domain.inventory import stock_item_id
from tests.conftest import ORDER, settled
from tests.platform import run_cli

pytestmark = pytest.mark.kafka


def _replay(env: dict[str, str], *args: str) -> list[dict]:
    result = run_cli(["replay", *args], env)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _place(base_url: str) -> str:
    response = httpx.post(f"{base_url}/v1/orders", json={**ORDER, "customer_id": str(uuid.uuid4())}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["order_id"]


def _now() -> datetime:
    # Kafka keeps milliseconds: step clear of the boundary so no event shares its millisecond.
    time.sleep(0.05)
    moment = datetime.now(timezone.utc)
    time.sleep(0.05)
    return moment


def test_since_until_returns_exactly_the_events_in_the_window(kafka_platform: dict) -> None:
    settled(kafka_platform)
    base_url = kafka_platform["base_url"]
    before = [_place(base_url) for _ in range(3)]
    start = _now()
    inside = [_place(base_url) for _ in range(4)]
    end = _now()
    after = [_place(base_url) for _ in range(3)]

    lines = _replay(kafka_platform["env"], "--since", start.isoformat(), "--until", end.isoformat())

    assert sorted(line["aggregate_id"] for line in lines) == sorted(inside)
    assert not {line["aggregate_id"] for line in lines} & set(before + after)
    assert all(start <= datetime.fromisoformat(line["timestamp"]) < end for line in lines)


def test_since_alone_reads_to_todays_end_and_a_future_window_is_empty(kafka_platform: dict) -> None:
    settled(kafka_platform)
    start = _now()
    inside = [_place(kafka_platform["base_url"]) for _ in range(2)]

    lines = _replay(kafka_platform["env"], "--since", start.isoformat(), "--type", "OrderPlaced")

    assert sorted(line["aggregate_id"] for line in lines) == sorted(inside)
    assert _replay(kafka_platform["env"], "--since", "2100-01-01T00:00:00Z") == []


def test_aggregate_returns_one_stock_items_events_in_version_order(kafka_platform: dict) -> None:
    settled(kafka_platform)
    base_url = kafka_platform["base_url"]
    sku, other = f"SKU-R-{uuid.uuid4().hex[:8]}", f"SKU-O-{uuid.uuid4().hex[:8]}"
    for quantity in range(1, 6):
        for each in (sku, other):  # another item's events in between
            response = httpx.post(f"{base_url}/v1/inventory/{each}/restock", json={"quantity": quantity}, timeout=10)
            assert response.status_code == 200, response.text

    lines = _replay(kafka_platform["env"], "--context", "inventory", "--aggregate", str(stock_item_id(sku)))

    assert [line["version"] for line in lines] == [1, 2, 3, 4, 5, 6]
    assert {line["aggregate_id"] for line in lines} == {str(stock_item_id(sku))}
    assert [line["type"] for line in lines] == ["inventory.StockItemRegistered"] + ["inventory.StockRestocked"] * 5
    assert [line["data"]["quantity"] for line in lines[1:]] == [1, 2, 3, 4, 5]


def test_into_folds_the_events_through_a_projection_and_bad_options_are_one_line(kafka_platform: dict) -> None:
    settled(kafka_platform)
    order_id = _place(kafka_platform["base_url"])
    cancelled = httpx.post(
        f"{kafka_platform['base_url']}/v1/orders/{order_id}/cancel", json={"reason": "r"}, timeout=10
    )
    assert cancelled.status_code == 200

    [row] = _replay(kafka_platform["env"], "--aggregate", order_id, "--into", "order_summary")

    assert (row["order_id"], row["status"], row["version"]) == (order_id, "cancelled", 2)
    for bad in (["--since", "yesterday"], ["--into", "nope"], ["--context", "billing"], ["--aggregate", "x"]):
        result = run_cli(["replay", *bad], kafka_platform["env"])
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
