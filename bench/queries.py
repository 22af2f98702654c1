"""The `queries` scenario: GET /v1/orders/{id} at a fixed rate against `streamkeep serve`, with N orders stored."""

import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

from bench.history import ensure_history, stored_events
from bench.load import LoadPlan, run_load
from bench.processes import NO_AUTH, BenchError, Service, child_pids, cpu_seconds, free_port, peak_rss_mb
from bench.report import BenchResult, Measurement
from infra.settings import Settings

HOST = "127.0.0.1"
SAMPLE = 20_000  # order ids the load picks from at random


@dataclass(frozen=True)
class QueriesOptions:
    orders: int = 1_000_000
    rate: float = 2000.0
    duration_s: float = 20.0
    concurrency: int = 64
    clients: int = 1
    workers: int = 1  # API processes: `serve --workers`


def run(settings: Settings, options: QueriesOptions) -> BenchResult:
    if not settings.uses_kafka:
        raise BenchError('bench queries needs the kafka backend: run eval "$(streamkeep infra up)" first')
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="streamkeep-bench-"))
    env = {**os.environ, "STREAMKEEP_BACKEND": "kafka", **NO_AUTH}
    rows = _fill(settings, options.orders, env, log_dir)
    ids = _sample_ids(settings.database_url)
    port = free_port()
    with ExitStack() as running:
        args = ["infra", "serve", "--host", HOST, "--port", str(port), "--workers", str(options.workers)]
        api = Service("api", args, env, log_dir)
        running.callback(api.stop)
        _wait_answering(f"http://{HOST}:{port}/v1/orders/{ids[0]}", api)
        # With several workers, the requests are served by the child processes.
        servers = [api.pid, *child_pids(api.pid)]
        before = {pid: cpu_seconds(pid) for pid in servers}
        plan = LoadPlan(HOST, port, "/v1/orders/{id}", "", options.duration_s, options.concurrency, options.rate, ids)
        load = run_load(plan, options.clients)
        api.check_alive()
        api_cpu = sum(cpu_seconds(pid) - cpu_before for pid, cpu_before in before.items())
        cpu = {"api": api_cpu, "load": load.client_cpu_s}
        rss = max(peak_rss_mb(pid) for pid in servers)
    return BenchResult(
        scenario="queries",
        unit="queries",
        measured=Measurement.of(load),
        peak_rss_mb=rss,
        wall_s=time.monotonic() - started,
        baseline=None,
        settings={
            "orders": rows,
            "rate": options.rate,
            "duration_s": options.duration_s,
            "workers": options.workers,
            "logs": str(log_dir),
        },
        cpu_s=cpu,
    )


def _rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS order_summary (order_id uuid)")  # a fresh database has none yet
        row = conn.execute("SELECT count(*) FROM order_summary").fetchone()
        return int(row[0]) if row else 0


def _fill(settings: Settings, orders: int, env: dict[str, str], log_dir: Path) -> int:
    """At least `orders` rows in order_summary: synthetic history written, then projected by a rebuild."""
    rows = _rows(settings.database_url)
    if rows >= orders:
        return rows
    from infra.registry.deploy import connect_codec

    codec = connect_codec(settings.schema_registry_url, settings.schemas_dir, settings.event_store)
    bootstrap = settings.kafka_bootstrap_servers
    # One order in four also has a cancellation: 5 events per 4 orders. What the topic already holds may be a
    # different mix (the tests', an older writer's), so the rows the rebuild makes decide whether to write more.
    events = orders * 5 // 4 + 1
    for _ in range(3):
        ensure_history(bootstrap, codec, events, settings.partitions)
        rebuild = Service("rebuild", ["infra", "rebuild", "order_summary"], env, log_dir)
        if rebuild.process.wait() != 0:
            raise BenchError(f"the rebuild that fills order_summary failed; see {rebuild.log_path}")
        rows = _rows(settings.database_url)
        if rows >= orders:
            return rows
        events = stored_events(bootstrap) + (orders - rows) * 5 // 4 + 1
    raise BenchError(f"order_summary holds {rows} orders after writing history, not {orders}")


def _sample_ids(database_url: str) -> tuple[str, ...]:
    with psycopg.connect(database_url) as conn:
        found = conn.execute(
            "SELECT order_id::text FROM order_summary TABLESAMPLE SYSTEM (5) LIMIT %s", (SAMPLE,)
        ).fetchall()
        if len(found) < SAMPLE // 10:  # a small table: a 5% sample of its pages may be none of them
            found = conn.execute("SELECT order_id::text FROM order_summary LIMIT %s", (SAMPLE,)).fetchall()
    if not found:
        raise BenchError("order_summary is empty")
    return tuple(order_id for (order_id,) in found)


def _wait_answering(url: str, api: Service, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        api.check_alive()
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise BenchError(f"{url} did not answer 200 within {timeout_s:g} s; see {api.log_path}")
