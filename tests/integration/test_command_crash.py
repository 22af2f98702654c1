"""kill -9 the command processor again and again under load; then check what Kafka holds, read_committed."""

import asyncio
import random
import time

import httpx
import pytest

from infra.kafka.reader import read_to_end
from infra.registry.deploy import connect_codec
from infra.settings import REPOSITORY_ROOT
from tests.conftest import ORDER
from tests.integration.command_load import (
    Answer,
    assert_orders_in_kafka_exactly_once,
    client_loop,
    paying_client_loop,
)
from tests.platform import wait_for

pytestmark = pytest.mark.kafka

LOAD_SECONDS = 40
CLIENTS = 8
PAYING_CLIENTS = 2
KILLS = 4
# The gateway declines every third request, then approves: each answer must follow the script in request order, once.
GATEWAY_SCRIPT = [
    {"outcome": "decline", "reason": f"scripted {n}"} if n % 3 == 0 else {"outcome": "approve"} for n in range(1000)
]


async def kill_repeatedly(worker, stop_at: float) -> int:  # type: ignore[no-untyped-def]
    kills = 0
    await asyncio.sleep(LOAD_SECONDS / (KILLS + 1))
    while time.monotonic() < stop_at and kills < KILLS:
        worker.kill()
        kills += 1
        await asyncio.sleep(random.uniform(0.5, 2.0))
        worker.start()
        await asyncio.sleep(LOAD_SECONDS / (KILLS + 1))
    return kills


async def load_with_kills(base_url: str, worker) -> tuple[list, list, int]:  # type: ignore[no-untyped-def]
    stop_at = time.monotonic() + LOAD_SECONDS
    answers: list[Answer] = []
    payments: list[tuple[str, int]] = []
    clients = [client_loop(base_url, stop_at, answers) for _ in range(CLIENTS - PAYING_CLIENTS)]
    paying = [paying_client_loop(base_url, stop_at, payments) for _ in range(PAYING_CLIENTS)]
    results = await asyncio.gather(kill_repeatedly(worker, stop_at), *clients, *paying)
    return answers, payments, results[0]


def test_every_acknowledged_command_is_in_kafka_exactly_once_despite_kill_minus_nine(kafka_platform: dict) -> None:
    base_url, env = kafka_platform["base_url"], kafka_platform["env"]
    scripted = httpx.post(f"{base_url}/v1/payments/gateway/script", json={"answers": GATEWAY_SCRIPT}, timeout=30)
    assert scripted.status_code == 200, scripted.text

    answers, payments, kills = asyncio.run(load_with_kills(base_url, kafka_platform["worker"]))
    wait_for(lambda: httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=10).status_code == 201, 120, "recovery")

    assert kills == KILLS
    assert_orders_in_kafka_exactly_once(env, answers)
    retried = [answer[0] for answer in answers if answer[-1] > 1]
    assert retried, "no request had to be retried: the kills did not disturb anything, so this proves nothing"
    acknowledged = [answer for answer in answers if answer[2] == 201]
    print(f"{len(answers)} commands, {len(acknowledged)} acknowledged, {len(retried)} retried through {kills} kills")
    assert_each_payment_answered_once_by_the_script(env, payments)


def assert_each_payment_answered_once_by_the_script(env: dict, payments: list[tuple[str, int]]) -> None:
    """The gateway adapter was killed with the worker: still every request got the next scripted answer, once."""
    codec = connect_codec(env["SCHEMA_REGISTRY_URL"], REPOSITORY_ROOT / "schemas")
    requested = [payment_id for payment_id, status in payments if status == 201]
    assert len(requested) > 20, "too few payments to mean anything"

    def answers_in_kafka() -> dict[str, list[str]] | None:
        answered: dict[str, list[str]] = {}
        for message in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], "payments.events"):
            name, record = codec.decode(message.value())
            if name in ("payments.PaymentAuthorised", "payments.PaymentDeclined"):
                answered.setdefault(str(record["aggregate_id"]), []).append(name)
        return answered if all(payment_id in answered for payment_id in requested) else None

    answered = wait_for(answers_in_kafka, 60, "the gateway to answer every payment request")
    twice = {payment_id: names for payment_id, names in answered.items() if len(names) > 1}
    assert twice == {}, f"payments answered more than once: {list(twice.items())[:3]}"
    # The k-th request after the script got the k-th scripted answer, whatever the kills interrupted.
    in_request_order, scripted_at = [], None
    for message in read_to_end(env["KAFKA_BOOTSTRAP_SERVERS"], "payments.gateway"):
        name, record = codec.decode(message.value())
        if name == "payments.GatewayScripted" and len(record["answers"]) == len(GATEWAY_SCRIPT):
            scripted_at, in_request_order = message.offset(), []
        elif name == "payments.GatewayRequested" and scripted_at is not None:
            in_request_order.append(str(record["payment_id"]))
    expected = {"approve": "payments.PaymentAuthorised", "decline": "payments.PaymentDeclined"}
    assert len(in_request_order) >= len(requested)
    for k, payment_id in enumerate(in_request_order):
        outcome = GATEWAY_SCRIPT[k]["outcome"] if k < len(GATEWAY_SCRIPT) else "approve"
        assert answered[payment_id] == [expected[outcome]], f"request {k} ({payment_id})"
    print(f"{len(requested)} payments acknowledged, each answered once, in script order")
