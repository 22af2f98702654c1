"""An HTTP/1.1 load generator: keep-alive connections on raw asyncio streams, closed-loop or at a fixed rate."""

import asyncio
import json
import multiprocessing
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace

from infra.http.shedding import TEMPORARY_REDUCED_CAPACITY

SHED = TEMPORARY_REDUCED_CAPACITY.encode()  # in the body of a 503 that refused a command before any work
REQUEST_TIMEOUT_S = 15.0  # above the command side's own 5 s bound, so its 503 arrives before we give up
DRAIN_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class LoadPlan:
    """What to send: POST `path` with `body_template` (`{id}` becomes a fresh UUID per request), or, with
    `get_ids`, GET `path` with `{id}` replaced by one of those ids at random."""

    host: str
    port: int
    path: str
    body_template: str
    duration_s: float
    connections: int
    rate: float | None = None  # commands/s for an open loop; None: each connection sends as fast as answered
    get_ids: tuple[str, ...] = ()

    @property
    def ok_status(self) -> int:
        return 200 if self.get_ids else 201


@dataclass
class LoadResult:
    """Latencies of the acknowledged (201) requests, every answer by status, what each 201 said, and which
    commands the API shed (503 before any work) and how fast."""

    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    acks: list[tuple[str, int]] = field(default_factory=list)
    shed: list[tuple[str, float]] = field(default_factory=list)  # (the `{id}` sent, ms to the refusal)
    slowest_ms: float = 0.0  # the slowest answer of any status
    elapsed_s: float = 0.0
    client_cpu_s: float = 0.0

    def merge(self, other: "LoadResult") -> None:
        self.latencies_ms += other.latencies_ms
        self.statuses.update(other.statuses)
        self.acks += other.acks
        self.shed += other.shed
        self.slowest_ms = max(self.slowest_ms, other.slowest_ms)
        self.elapsed_s = max(self.elapsed_s, other.elapsed_s)
        self.client_cpu_s += other.client_cpu_s


def run_load(plan: LoadPlan, clients: int = 1) -> LoadResult:
    """Run the plan from `clients` separate processes (so the load has its own GILs) and merge their results."""
    shares = [_share(plan, clients, i) for i in range(clients)]
    merged = LoadResult()
    with ProcessPoolExecutor(clients, mp_context=multiprocessing.get_context("spawn")) as pool:
        for result in pool.map(_run_in_process, [share for share in shares if share.connections]):
            merged.merge(result)
    return merged


def _share(plan: LoadPlan, clients: int, index: int) -> LoadPlan:
    connections = plan.connections // clients + (1 if index < plan.connections % clients else 0)
    rate = plan.rate * connections / plan.connections if plan.rate else None
    return replace(plan, connections=connections, rate=rate)


def _run_in_process(plan: LoadPlan) -> LoadResult:
    started_cpu = time.process_time()
    result = asyncio.run(_drive(plan))
    result.client_cpu_s = time.process_time() - started_cpu
    return result


async def _drive(plan: LoadPlan) -> LoadResult:
    result = LoadResult()
    started = time.perf_counter()
    deadline = started + plan.duration_s
    # Open loop: a schedule of send times; latency counts from the scheduled time, so a slow server
    # is charged for the queueing it causes (no coordinated omission).
    schedule: asyncio.Queue[float] | None = asyncio.Queue() if plan.rate else None
    pacer = asyncio.create_task(_pace(schedule, plan.rate, started, deadline)) if schedule and plan.rate else None
    workers = [asyncio.create_task(_connection(plan, deadline, schedule, result)) for _ in range(plan.connections)]
    # Answers still owed at the end are waited for, boundedly; what never comes is counted as lost.
    _, unfinished = await asyncio.wait(workers, timeout=plan.duration_s + DRAIN_TIMEOUT_S)
    if unfinished:
        result.statuses["error:unanswered"] += len(unfinished)
    for task in [*workers, *([pacer] if pacer else [])]:
        task.cancel()
    result.elapsed_s = time.perf_counter() - started
    return result


async def _pace(schedule: asyncio.Queue[float], rate: float, started: float, deadline: float) -> None:
    sent = 0
    while (due := started + sent / rate) < deadline:
        now = time.perf_counter()
        if due > now:
            await asyncio.sleep(due - now)
        schedule.put_nowait(due)
        sent += 1


async def _connection(
    plan: LoadPlan, deadline: float, schedule: asyncio.Queue[float] | None, result: LoadResult
) -> None:
    stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while True:
        if schedule is None:
            if time.perf_counter() >= deadline:
                break
            sent_at = time.perf_counter()
        else:
            try:
                sent_at = await asyncio.wait_for(schedule.get(), max(deadline - time.perf_counter(), 0) + 0.05)
            except TimeoutError:
                break
            if time.perf_counter() >= deadline:
                # The server fell behind the schedule: what is still queued at the end is never sent.
                result.statuses["unsent:behind-schedule"] += 1
                continue
        request_id = str(uuid.uuid4())
        try:
            stream = stream or await asyncio.open_connection(plan.host, plan.port)
            exchange = _exchange(plan, request_id, *stream)
            status, body, keep_alive = await asyncio.wait_for(exchange, REQUEST_TIMEOUT_S)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
            result.statuses[f"error:{type(error).__name__}"] += 1
            _close(stream)
            stream = None
            continue
        result.statuses[str(status)] += 1
        latency_ms = (time.perf_counter() - sent_at) * 1000
        result.slowest_ms = max(result.slowest_ms, latency_ms)
        if status == plan.ok_status:
            result.latencies_ms.append(latency_ms)
        elif status == 503 and SHED in body:
            result.shed.append((request_id, latency_ms))
        if status == 201:
            answer = json.loads(body)
            result.acks.append((answer["order_id"], answer["version"]))
        if not keep_alive:
            _close(stream)
            stream = None
    _close(stream)


async def _exchange(
    plan: LoadPlan, request_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
) -> tuple[int, bytes, bool]:
    if plan.get_ids:
        path = plan.path.replace("{id}", random.choice(plan.get_ids))
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {plan.host}:{plan.port}\r\n\r\n".encode())
        return await read_answer(reader)
    body = plan.body_template.replace("{id}", request_id).encode()
    writer.write(
        f"POST {plan.path} HTTP/1.1\r\nHost: {plan.host}:{plan.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    return await read_answer(reader)


async def read_answer(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    headers = head.lower()
    start = headers.find(b"content-length:")
    if start < 0:
        raise ValueError("answer without Content-Length")  # our servers never chunk small JSON
    length = int(headers[start + 15 : headers.index(b"\r\n", start)])
    return status, await reader.readexactly(length), b"connection: close" not in headers


def _close(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
    if stream is not None:
        stream[1].close()
