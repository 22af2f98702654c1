"""Sagas under load: orders placed over HTTP, each followed until the read model shows it ended, by one observer.

The observer polls the orders still open with one query (`order_id = ANY(...)`) every `poll_s`, and stamps each
order with the moment of the poll that first saw it confirmed: a saga's latency is that moment minus its POST's
send time (the scheduled send time in an open loop), so it is late by up to one poll interval.
"""

import asyncio
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from uuid import UUID

import psycopg

from bench.load import REQUEST_TIMEOUT_S, read_answer
from bench.report import percentile

CONFIRMED = "confirmed"


@dataclass(frozen=True)
class SagaPlan:
    """Where to place orders and how: closed loop (each connection waits for its saga) or at a fixed rate."""

    host: str
    port: int
    database_url: str  # libpq URL of the database holding `table`
    table: str  # the read model with `order_id` and `status`
    skus: tuple[str, ...]  # each order has one line of one of these, at random
    duration_s: float
    concurrency: int
    rate: float | None = None  # orders/s for an open loop; None: `concurrency` sagas in flight
    max_orders: int | None = None  # stop placing after this many, even before `duration_s`
    timeout_s: float = 30.0  # how long an order placed may take to end before it is reported unfinished
    poll_s: float = 0.025
    customer_id: str = "6f1c1f5e-6a7e-4a53-9a44-0f8f6f0b8a11"
    quantity: int = 1

    def body(self, order_id: UUID) -> bytes:
        line = {"sku": random.choice(self.skus), "quantity": self.quantity, "unit_price_cents": 1250}
        order = {"order_id": str(order_id), "customer_id": self.customer_id, "currency": "EUR", "lines": [line]}
        return json.dumps(order).encode()


@dataclass
class SagaLoad:
    """Every order acknowledged with its send time, when each was seen confirmed, and how the others ended."""

    sent: dict[UUID, float] = field(default_factory=dict)
    visible: dict[UUID, float] = field(default_factory=dict)
    ended: dict[UUID, str] = field(default_factory=dict)  # orders that ended otherwise: rejected, cancelled
    statuses: Counter[str] = field(default_factory=Counter)  # HTTP answers
    post_ms: list[float] = field(default_factory=list)
    started: float = 0.0
    last_sent: float = 0.0
    polls: int = 0
    cpu_s: float = 0.0

    @property
    def unfinished(self) -> list[UUID]:
        return [order_id for order_id in self.sent if order_id not in self.visible and order_id not in self.ended]

    @property
    def placing_s(self) -> float:
        """Seconds from the first POST to the last (the drain follows)."""
        return max(self.last_sent - self.started, 0.0)

    @property
    def rate(self) -> float:
        """Sagas confirmed per second, from the first POST to the last confirmation seen."""
        if not self.visible:
            return 0.0
        return len(self.visible) / (max(self.visible.values()) - self.started)

    def latencies_ms(self) -> list[float]:
        return sorted((at - self.sent[order_id]) * 1000 for order_id, at in self.visible.items())

    def post_percentiles(self) -> tuple[float, float]:
        ordered = sorted(self.post_ms)
        return percentile(ordered, 0.50), percentile(ordered, 0.99)


class Observer:
    """One connection, one query per poll for the orders not yet ended; wakes whoever waits for an order."""

    def __init__(self, conn: psycopg.AsyncConnection, table: str, poll_s: float, load: SagaLoad) -> None:
        self._conn = conn
        self._sql = f"SELECT order_id, status FROM {table} WHERE order_id = ANY(%s) AND status <> 'placed'"
        self._poll_s = poll_s
        self._load = load
        self._open: dict[UUID, asyncio.Future[str]] = {}

    def watch(self, order_id: UUID) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._open[order_id] = future
        return future

    @property
    def open(self) -> int:
        return len(self._open)

    async def run(self) -> None:
        while True:
            at = time.perf_counter()
            if self._open:
                await self._poll(at)
            await asyncio.sleep(max(at + self._poll_s - time.perf_counter(), 0))

    async def _poll(self, at: float) -> None:
        rows = await (await self._conn.execute(self._sql, (list(self._open),))).fetchall()
        self._load.polls += 1
        for order_id, status in rows:
            if status == CONFIRMED:
                self._load.visible[order_id] = at
            else:
                self._load.ended[order_id] = status
            future = self._open.pop(order_id)
            if not future.done():
                future.set_result(status)


def run_sagas(plan: SagaPlan) -> SagaLoad:
    """Place orders for `duration_s` (or `max_orders`), then wait up to `timeout_s` for the last to end."""
    started_cpu = time.process_time()
    load = asyncio.run(_drive(plan))
    load.cpu_s = time.process_time() - started_cpu
    return load


async def _drive(plan: SagaPlan) -> SagaLoad:
    load = SagaLoad()
    async with await psycopg.AsyncConnection.connect(plan.database_url, autocommit=True) as conn:
        observer = Observer(conn, plan.table, plan.poll_s, load)
        watching = asyncio.create_task(observer.run())
        load.started = time.perf_counter()
        stop_placing = load.started + plan.duration_s
        budget = _OrderBudget(plan.max_orders)
        if plan.rate:
            await _open_loop(plan, load, observer, stop_placing, budget)
        else:
            await _closed_loop(plan, load, observer, stop_placing, budget)
        # Orders still open are waited for, boundedly; what has not ended then is reported unfinished.
        drain_until = time.perf_counter() + plan.timeout_s
        while observer.open and time.perf_counter() < drain_until:
            await asyncio.sleep(plan.poll_s)
        watching.cancel()
    return load


class _OrderBudget:
    """How many orders may still be placed (unbounded without a maximum)."""

    def __init__(self, maximum: int | None) -> None:
        self._left = maximum

    def take(self) -> bool:
        if self._left is None:
            return True
        if self._left <= 0:
            return False
        self._left -= 1
        return True


async def _closed_loop(
    plan: SagaPlan, load: SagaLoad, observer: Observer, stop_placing: float, budget: _OrderBudget
) -> None:
    async def client() -> None:
        connection = _Connection(plan)
        try:
            while time.perf_counter() < stop_placing and budget.take():
                order_id, sent_at = await connection.place(load)
                if order_id is None:
                    await asyncio.sleep(plan.poll_s)  # a refused or failed POST: do not spin on it
                    continue
                load.sent[order_id] = sent_at
                try:
                    await asyncio.wait_for(asyncio.shield(observer.watch(order_id)), plan.timeout_s)
                except TimeoutError:
                    pass  # reported unfinished; the connection moves on
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(plan.concurrency)))


async def _open_loop(
    plan: SagaPlan, load: SagaLoad, observer: Observer, stop_placing: float, budget: _OrderBudget
) -> None:
    assert plan.rate
    schedule: asyncio.Queue[float | None] = asyncio.Queue()

    async def sender() -> None:
        connection = _Connection(plan)
        try:
            while (due := await schedule.get()) is not None:
                if time.perf_counter() >= stop_placing:
                    # The sender fell behind the schedule: what is still queued at the end is never sent.
                    load.statuses["unsent:behind-schedule"] += 1
                    continue
                order_id, _ = await connection.place(load)
                if order_id is not None:
                    load.sent[order_id] = due  # charged from the schedule: a slow POST is part of the saga
                    observer.watch(order_id)
        finally:
            connection.close()

    senders = [asyncio.create_task(sender()) for _ in range(plan.concurrency)]
    placed = 0
    while (due := load.started + placed / plan.rate) < stop_placing and budget.take():
        await asyncio.sleep(max(due - time.perf_counter(), 0))
        schedule.put_nowait(due)
        placed += 1
    for _ in senders:
        schedule.put_nowait(None)
    await asyncio.wait(senders, timeout=REQUEST_TIMEOUT_S + 5)


# uvicorn closes a keep-alive connection idle for 5 s; a closed-loop connection waits that long for a slow saga,
# so one idle longer than this is replaced before it is used rather than found closed by the POST.
IDLE_REOPEN_S = 4.0


class _Connection:
    """One keep-alive HTTP/1.1 connection that places orders, reopened after a failure or a long idle."""

    def __init__(self, plan: SagaPlan) -> None:
        self._plan = plan
        self._stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._used_at = 0.0

    async def place(self, load: SagaLoad) -> tuple[UUID | None, float]:
        """POST one new order; its id and send time when answered 201, else (None, send time)."""
        order_id = uuid.uuid4()
        body = self._plan.body(order_id)
        head = (
            f"POST /v1/orders HTTP/1.1\r\nHost: {self._plan.host}:{self._plan.port}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        sent_at = load.last_sent = time.perf_counter()
        if sent_at - self._used_at > IDLE_REOPEN_S:
            self.close()
        try:
            self._stream = self._stream or await asyncio.open_connection(self._plan.host, self._plan.port)
            reader, writer = self._stream
            writer.write(head + body)
            status, _, keep_alive = await asyncio.wait_for(read_answer(reader), REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            load.statuses[f"error:{type(error).__name__}"] += 1
            self.close()
            return None, sent_at
        self._used_at = time.perf_counter()
        load.statuses[str(status)] += 1
        if not keep_alive:
            self.close()
        if status != 201:
            return None, sent_at
        load.post_ms.append((time.perf_counter() - sent_at) * 1000)
        return order_id, sent_at

    def close(self) -> None:
        if self._stream is not None:
            self._stream[1].close()
            self._stream = None
