"""PostgreSQL stopped under a mixed load: queries answer 503 problem+json with Retry-After at once (the breaker),
commands keep being accepted, and after the restart every acknowledged command's effect reaches the read models."""

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from infra.local import postgres as local_postgres
from infra.local.process import Settings
from tests.conftest import ORDER
from tests.integration import own_services
from tests.platform import StreamkeepProcess, breaker_metric, free_port, wait_for, wait_ready

pytestmark = pytest.mark.kafka
P99_LIMIT_MS = 50.0
LOAD_BEFORE_S = 2.0  # mixed load on a healthy platform before PostgreSQL stops
OUTAGE_S = 6.0  # PostgreSQL stays down this long under the load
RESET_S = 2  # the breaker's reset time here: probes during the outage, a quick close after it
SKUS = [f"OUTAGE-{uuid.uuid4().hex[:8]}-{n}" for n in range(3)]


@dataclass(frozen=True)
class Answered:
    kind: str  # "query" or "command"
    sent_at: float
    ms: float
    status: int
    body: dict
    headers: dict


@dataclass
class Load:
    answers: list[Answered]
    orders: dict[str, str]  # acknowledged order id -> its consistency token
    restocked: dict[str, int]  # acknowledged quantity per SKU
    stop: threading.Event


@pytest.fixture
def own_stack(infra_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[dict[str, str], Settings]]:
    with own_services.own_kafka_and_postgres(infra_env, tmp_path) as stack:
        yield stack


def test_queries_answer_503_fast_while_postgresql_is_down_commands_go_on_and_nothing_is_lost(
    own_stack: tuple[dict[str, str], Settings], tmp_path: Path
) -> None:
    env, postgres = own_stack
    env = {**env, "STREAMKEEP_BREAKER_RESET_S": str(RESET_S)}
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    worker = StreamkeepProcess(["worker"], env, tmp_path / "worker.log").start()
    api = StreamkeepProcess(["serve", "--port", str(port)], env, tmp_path / "api.log").start()
    load = Load([], {}, {sku: 0 for sku in SKUS}, threading.Event())
    try:
        wait_ready(base_url, timeout_s=120)
        for sku in SKUS:
            assert httpx.post(f"{base_url}/v1/inventory/{sku}/restock", json={"quantity": 1}, timeout=30).is_success
            load.restocked[sku] += 1
        first = httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=30).json()
        load.orders[first["order_id"]] = first["consistency_token"]
        readable = f"{base_url}/v1/orders/{first['order_id']}?after={first['consistency_token']}"
        wait_for(lambda: httpx.get(readable, timeout=10).status_code == 200, 60, "the first order projected")

        loop = threading.Thread(target=asyncio.run, args=(_mixed_load(base_url, load),))
        loop.start()
        time.sleep(LOAD_BEFORE_S)  # the load runs in its own thread meanwhile
        local_postgres.stop(postgres)
        down_at = time.monotonic()
        during_outage = _outage_view(base_url)
        time.sleep(max(0.0, OUTAGE_S - (time.monotonic() - down_at)))
        up_at = time.monotonic()
        own_services.start_postgres(postgres)
        wait_for(lambda: _queries_answer(load, after=time.monotonic()), 90, "queries answered 200 again")
        load.stop.set()
        loop.join(30)
        recovered_s = _first_200_after(load, up_at) - up_at

        commands = [a for a in load.answers if a.kind == "command"]
        queries = [a for a in load.answers if a.kind == "query"]
        assert commands and all(a.status in (200, 201) for a in commands), {a.status for a in commands}
        down = [a for a in queries if down_at <= a.sent_at and a.sent_at + a.ms / 1000 <= up_at]
        assert down and all(a.status == 503 for a in down), {a.status for a in down}
        for refusal in down:
            assert refusal.headers["content-type"] == "application/problem+json"
            assert int(refusal.headers["retry-after"]) >= 1
        refused_by_breaker = [a for a in down if "circuit breaker postgresql is open" in a.body.get("detail", "")]
        assert refused_by_breaker, "no query was refused by the open breaker"
        p99_down = _p99([a.ms for a in down])
        p99_open = _p99([a.ms for a in refused_by_breaker])
        print(
            f"\nPostgreSQL outage: {len(commands)} commands, all 2xx; {len(queries)} queries, {len(down)} while down"
            f" ({len(refused_by_breaker)} refused by the open breaker); query p99 while down {p99_down:.1f} ms,"
            f" while open {p99_open:.1f} ms, max {max(a.ms for a in down):.1f} ms; first 200 {recovered_s:.1f} s"
            " after the restart"
        )
        assert p99_down <= P99_LIMIT_MS

        assert during_outage["state"] in (1.0, 2.0), during_outage
        assert during_outage["readyz"].status_code == 200, "serve takes commands: ready, degraded"
        assert during_outage["readyz"].json()["open_breakers"] == ["postgresql"]
        assert "postgresql" in during_outage["readyz"].json()["degraded"]

        # Nothing acknowledged is lost: every order readable once its token is passed, every restock counted.
        with httpx.Client(base_url=base_url, timeout=30) as client:
            for order_id, token in load.orders.items():
                answer = client.get(f"/v1/orders/{order_id}", params={"after": token})
                assert answer.status_code == 200, (order_id, answer.text)
            for sku, quantity in load.restocked.items():
                stock = f"/v1/inventory/{sku}"
                wait_for(lambda s=stock, q=quantity: client.get(s).json()["on_hand"] == q, 60, sku)
        assert _state(base_url) == 0.0
    finally:
        load.stop.set()
        api.stop()
        worker.stop()


async def _mixed_load(base_url: str, load: Load) -> None:
    """Two clients placing orders and restocking, four reading orders and stock, each pausing between requests."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(_commands(client, load) for _ in range(2)), *(_queries(client, load) for _ in range(4)))


async def _commands(client: httpx.AsyncClient, load: Load) -> None:
    while not load.stop.is_set():
        sku = random.choice(SKUS)
        if random.random() < 0.5:
            answer = await _timed(client.post(f"/v1/inventory/{sku}/restock", json={"quantity": 2}), "command", load)
            if answer.is_success:
                load.restocked[sku] += 2
        else:
            answer = await _timed(client.post("/v1/orders", json=ORDER), "command", load)
            if answer.is_success:
                load.orders[answer.json()["order_id"]] = answer.json()["consistency_token"]
        await asyncio.sleep(0.05)


async def _queries(client: httpx.AsyncClient, load: Load) -> None:
    while not load.stop.is_set():
        if random.random() < 0.5:
            order_id = random.choice(list(load.orders))
            await _timed(client.get(f"/v1/orders/{order_id}"), "query", load)
        else:
            await _timed(client.get(f"/v1/inventory/{random.choice(SKUS)}"), "query", load)
        await asyncio.sleep(0.02)


async def _timed(request, kind: str, load: Load) -> httpx.Response:  # type: ignore[no-untyped-def]
    sent_at = time.monotonic()
    answer = await request
    ms = (time.monotonic() - sent_at) * 1000
    body = answer.json() if answer.headers.get("content-type", "").endswith("json") else {}
    load.answers.append(Answered(kind, sent_at, ms, answer.status_code, body, dict(answer.headers)))
    return answer


def _outage_view(base_url: str) -> dict:
    """Once the breaker has opened: its state in /metrics and serve's /readyz."""
    wait_for(lambda: _state(base_url) in (1.0, 2.0), 10, "the breaker open")
    return {
        "state": _state(base_url),
        "readyz": httpx.get(f"{base_url}/readyz", timeout=10),
    }


def _state(base_url: str) -> float | None:
    return breaker_metric(base_url, "streamkeep_circuit_breaker_state", "postgresql")


def _queries_answer(load: Load, after: float) -> bool:
    return any(a.kind == "query" and a.status == 200 and a.sent_at >= after - 1 for a in load.answers[-20:])


def _first_200_after(load: Load, moment: float) -> float:
    return min(a.sent_at for a in load.answers if a.kind == "query" and a.status == 200 and a.sent_at >= moment)


def _p99(values: list[float]) -> float:
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, int(len(ranked) * 0.99))]
