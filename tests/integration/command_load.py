"""Load for crash tests: clients that retry like careful users, and what Kafka must hold afterwards."""

import asyncio
import random
import time
import uuid
from collections import Counter

import httpx

from infra.kafka.reader import read_to_end
from infra.registry.deploy import connect_codec
from infra.settings import REPOSITORY_ROOT
from tests.conftest import ORDER

RETRY_FOR_S = 90
Answer = tuple[str, str, int, dict, int]  # order id, kind, status, body, attempts


async def send_until_answered(
    client: httpx.AsyncClient, body: dict, headers: dict, path: str = "/v1/orders"
) -> tuple[httpx.Response, int]:
    """Retry with the same Idempotency-Key through 503s and dropped connections, as a careful client would."""
    deadline = time.monotonic() + RETRY_FOR_S
    attempts = 0
    while True:
        attempts += 1
        try:
            answer = await client.post(path, json=body, headers=headers)
            if answer.status_code != 503:
                return answer, attempts
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"no definitive answer for {body.get('order_id')} within {RETRY_FOR_S} s")
        await asyncio.sleep(0.5)


async def client_loop(base_url: str, stop_at: float, answers: list[Answer]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        while time.monotonic() < stop_at:
            order_id = str(uuid.uuid4())
            kind = random.choices(["valid", "rule-broken", "conflict"], weights=[8, 1, 1])[0]
            body = {**ORDER, "order_id": order_id}
            if kind == "rule-broken":
                body["lines"] = [{"sku": "SKU-1", "quantity": 0, "unit_price_cents": 100}]
            headers = {"Idempotency-Key": f"crash-{order_id}"}
            if kind == "conflict":
                headers["If-Match"] = "7"  # the order does not exist: version 0
            answer, attempts = await send_until_answered(client, body, headers)
            answers.append((order_id, kind, answer.status_code, answer.json(), attempts))


async def paying_client_loop(base_url: str, stop_at: float, payments: list[tuple[str, int]]) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=15) as client:
        while time.monotonic() < stop_at:
            payment_id = str(uuid.uuid4())
            body = {"payment_id": payment_id, "order_id": str(uuid.uuid4()), "amount_cents": 100, "currency": "EUR"}
            headers = {"Idempotency-Key": f"crash-pay-{payment_id}"}
            answer, _ = await send_until_answered(client, body, headers, "/v1/payments")
            payments.append((payment_id, answer.status_code))


def assert_orders_in_kafka_exactly_once(env: dict, answers: list[Answer]) -> None:
    """Every acknowledged order is in orders.events once, no version twice, no refused command left an event."""
    codec = connect_codec(env["SCHEMA_REGISTRY_URL"], REPOSITORY_ROOT / "schemas")
    stored: Counter[tuple[str, int]] = Counter()
    for message in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], "orders.events"):
        if not dict(message.headers() or ()).get("event_type"):
            continue  # not written by a command processor (the poison test's records)
        record = codec.decode(message.value())[1]
        stored[(str(record["aggregate_id"]), record["version"])] += 1

    duplicates = {key: n for key, n in stored.items() if n > 1}
    assert duplicates == {}, f"versions stored more than once: {list(duplicates)[:5]}"
    acknowledged = [(order_id, body) for order_id, kind, status, body, _ in answers if status == 201]
    refused = [(order_id, kind, status) for order_id, kind, status, _, _ in answers if status in (409, 422)]
    print(f"{len(answers)} commands, {len(acknowledged)} acknowledged, {len(refused)} refused")
    # Each kill stalls its partitions for a session timeout and a reload, so a loaded machine acks few.
    assert len(acknowledged) > 50, "the load was too small to mean anything"
    for order_id, body in acknowledged:
        assert body["order_id"] == order_id
        assert stored[(order_id, 1)] == 1, f"acknowledged order {order_id} is not in Kafka exactly once"
    for order_id, kind, status in refused:
        assert kind != "valid", f"a valid order {order_id} was refused with {status}"
        assert stored[(order_id, 1)] == 0, f"refused command for {order_id} left an event"
    assert {kind for _, kind, status, *_ in answers if status == 201} == {"valid"}
