"""`streamkeep replay` against real Kafka: a time window is exact, one aggregate comes in version order."""

import json
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest

from domain.inventory import stock_item_id
from tests.conftest import ORDER, settled
from tests.platform import StreamkeepProcess, run_cli, wait_for

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


@pytest.mark.parametrize("output", ["json", "table"])
def test_follow_prints_an_event_written_after_it_started_and_keeps_following(
    kafka_platform: dict, tmp_path: Path, output: str
) -> None:
    settled(kafka_platform)
    base_url, env = kafka_platform["base_url"], kafka_platform["env"]
    order_id = _place(base_url)
    out = tmp_path / "follow.out"
    args = ["replay", "--context", "orders", "--aggregate", order_id, "--format", output, "--follow"]
    # Buffered as a user's shell would leave it (empty: unset for Python), so only our flushing shows lines.
    follower = StreamkeepProcess(args, {**env, "PYTHONUNBUFFERED": ""}, out).start()

    def printed() -> list[str]:
        return [line for line in out.read_text().splitlines() if order_id in line]

    try:
        wait_for(lambda: len(printed()) == 1, 60, "the order's first event")
        cancel = httpx.post(f"{base_url}/v1/orders/{order_id}/cancel", json={"reason": "followed"}, timeout=10)
        assert cancel.status_code == 200, cancel.text

        lines = wait_for(lambda: (p := printed()) and len(p) == 2 and p, 60, "the cancellation, followed")

        assert "orders.OrderPlaced" in lines[0] and "orders.OrderCancelled" in lines[1]
        if output == "json":
            assert [json.loads(line)["version"] for line in lines] == [1, 2]
        assert follower.process is not None and follower.process.poll() is None, "still following"
    finally:
        follower.stop()
