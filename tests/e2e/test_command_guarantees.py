"""Optimistic concurrency and idempotency keys, on both backends, checked against what the event store holds."""

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import httpx

from tests.conftest import ORDER

ROOT = Path(__file__).resolve().parents[2]


def stored_events(platform: dict, order_id: str) -> list[dict]:
    """The order's events as `streamkeep replay` prints them (read_committed on Kafka)."""
    result = subprocess.run(
        [sys.executable, "-m", "infra", "replay", "--aggregate", order_id],
        env={**os.environ, **platform["env"]},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


async def post_all(base_url: str, requests: list[tuple[dict, dict]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=base_url, timeout=30, limits=limits) as client:
        return await asyncio.gather(
            *(client.post("/v1/orders", json=body, headers=headers) for body, headers in requests)
        )


def test_fifty_racing_commands_with_one_expected_version_let_exactly_one_through(any_platform: dict) -> None:
    order_id = str(uuid.uuid4())
    body = {**ORDER, "order_id": order_id}

    answers = asyncio.run(post_all(any_platform["base_url"], [(body, {"If-Match": "0"})] * 50))

    statuses = sorted(a.status_code for a in answers)
    assert statuses == [201] + [409] * 49, statuses
    for conflict in (a for a in answers if a.status_code == 409):
        assert conflict.headers["content-type"] == "application/problem+json"
        assert conflict.json()["current_version"] == 1
    assert [e["version"] for e in stored_events(any_platform, order_id)] == [1]


def test_a_stale_expected_version_is_a_conflict_naming_the_current_one(any_platform: dict) -> None:
    body = {**ORDER, "order_id": str(uuid.uuid4())}

    answer = httpx.post(f"{any_platform['base_url']}/v1/orders", json=body, headers={"If-Match": "3"}, timeout=30)

    assert answer.status_code == 409
    assert answer.json()["current_version"] == 0
    assert "expected version 3" in answer.json()["detail"]
    assert stored_events(any_platform, body["order_id"]) == []


def test_twenty_racing_retries_with_one_idempotency_key_make_one_order_and_twenty_identical_answers(
    any_platform: dict,
) -> None:
    key = f"checkout-{uuid.uuid4()}"

    answers = asyncio.run(post_all(any_platform["base_url"], [(ORDER, {"Idempotency-Key": key})] * 20))

    assert {a.status_code for a in answers} == {201}
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies), bodies
    events = stored_events(any_platform, bodies[0]["order_id"])
    assert [(e["type"], e["version"]) for e in events] == [("orders.OrderPlaced", 1)]


def test_a_retry_after_the_first_answer_gets_the_same_answer(any_platform: dict) -> None:
    key = f"checkout-{uuid.uuid4()}"
    url = f"{any_platform['base_url']}/v1/orders"

    first = httpx.post(url, json=ORDER, headers={"Idempotency-Key": key}, timeout=30)
    again = httpx.post(url, json=ORDER, headers={"Idempotency-Key": key}, timeout=30)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]


def test_reusing_a_key_for_a_different_request_is_refused_and_writes_nothing(any_platform: dict) -> None:
    key = f"checkout-{uuid.uuid4()}"
    url = f"{any_platform['base_url']}/v1/orders"
    first = httpx.post(url, json=ORDER, headers={"Idempotency-Key": key}, timeout=30)

    other = {**ORDER, "lines": [{"sku": "SKU-2", "quantity": 1, "unit_price_cents": 5}]}
    reused = httpx.post(url, json=other, headers={"Idempotency-Key": key}, timeout=30)

    assert first.status_code == 201
    assert reused.status_code == 422
    assert reused.json()["rule"] == "idempotency-key-reused"
    assert len(stored_events(any_platform, first.json()["order_id"])) == 1


def test_many_orders_at_once_across_partitions_each_get_exactly_one_event(any_platform: dict) -> None:
    bodies = [{**ORDER, "order_id": str(uuid.uuid4())} for _ in range(40)]

    answers = asyncio.run(post_all(any_platform["base_url"], [(b, {}) for b in bodies]))

    assert [a.status_code for a in answers] == [201] * 40
    for body, answer in zip(bodies, answers, strict=True):
        assert answer.json()["order_id"] == body["order_id"]
        assert answer.json()["version"] == 1
    sample = bodies[::10]
    for body in sample:
        assert [e["version"] for e in stored_events(any_platform, body["order_id"])] == [1]
