"""The `sagas` scenario: orders fulfilled end to end, POST /v1/orders to `confirmed` in the read model, by `serve` +
`worker` (every role) on Kafka, then by the same fulfilment as a DBOS Transact workflow on PostgreSQL."""

import os
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from rich.console import Console
from rich.table import Table

from bench import dbos_fulfilment
from bench.dbos_venv import dbos_python
from bench.processes import (
    NO_AUTH,
    BenchError,
    Service,
    cpu_seconds,
    free_port,
    kafka_pid,
    peak_rss_mb,
    postgres_cpu_seconds,
)
from bench.report import BenchResult, Measurement, percentile
from bench.saga_load import CONFIRMED, SagaLoad, SagaPlan, run_sagas
from infra.settings import Settings
from infra.worker import ROLES as WORKER_ROLES

HOST = "127.0.0.1"
# Restocked before every run, on both systems: far more than a run takes, so no saga is refused for stock.
RESTOCK = 1_000_000
# The worker folds every saga instance of its partitions before it takes part: about 2 minutes for 35,000 here.
SETTLE_TIMEOUT_S = 600.0
PROBE_WAIT_S = 10.0


@dataclass(frozen=True)
class SagasOptions:
    duration_s: float = 20.0
    concurrency: int = 64
    rate: float | None = None
    orders: int | None = None
    timeout_s: float = 30.0
    skus: int = 8
    baseline: bool = True
    # One worker per role (commands, sagas, projections), as a deployment runs them, or one with every role.
    roles_apart: bool = True

    @property
    def sku_names(self) -> tuple[str, ...]:
        return tuple(f"BENCH-SAGA-{n}" for n in range(1, self.skus + 1))


@dataclass(frozen=True)
class SystemRun:
    """One system's run: what the load saw and the CPU seconds each process used during it."""

    load: SagaLoad
    cpu_s: dict[str, float]

    def measurement(self) -> Measurement:
        latencies = self.load.latencies_ms()
        return Measurement(
            rate=self.load.rate,
            p50_ms=percentile(latencies, 0.50),
            p99_ms=percentile(latencies, 0.99),
            acknowledged=len(self.load.visible),
            statuses=dict(sorted(self.load.statuses.items())),
            client_cpu_s=self.load.cpu_s,
        )

    def figures(self) -> dict[str, Any]:
        """What is not in the contract's keys: counts, the POST's own latency, CPU per saga by process."""
        load, confirmed = self.load, len(self.load.visible)
        post_p50, post_p99 = load.post_percentiles()
        ended: dict[str, int] = {}
        for status in load.ended.values():
            ended[status] = ended.get(status, 0) + 1
        return {
            "placed": len(load.sent),
            "confirmed": confirmed,
            "ended_otherwise": ended,
            "unfinished": len(load.unfinished),
            "unfinished_sample": [str(order_id) for order_id in load.unfinished[:10]],
            "statuses": dict(sorted(load.statuses.items())),
            "post_p50_ms": round(post_p50, 2),
            "post_p99_ms": round(post_p99, 2),
            "placing_s": round(load.placing_s, 2),
            "polls": load.polls,
            "cpu_s": {name: round(seconds, 2) for name, seconds in self.cpu_s.items()},
            "cpu_ms_per_saga": {
                name: round(seconds * 1000 / confirmed, 3) if confirmed else None
                for name, seconds in self.cpu_s.items()
            },
        }


@dataclass(frozen=True)
class SagasResult:
    streamkeep: SystemRun
    baseline: SystemRun | None
    peak_rss_mb: float
    wall_s: float
    settings: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        contract = BenchResult(
            scenario="sagas",
            unit="sagas",
            measured=self.streamkeep.measurement(),
            peak_rss_mb=self.peak_rss_mb,
            wall_s=self.wall_s,
            baseline=self.baseline.measurement() if self.baseline else None,
        ).as_json()
        keys = ("scenario", "unit", "rate", "p50_ms", "p99_ms", "peak_rss_mb", "wall_s", "baseline_rate", "ratio")
        figures = {key: contract[key] for key in keys}
        figures |= self.streamkeep.figures()
        figures["baseline_p50_ms"] = contract["baseline_p50_ms"]
        figures["baseline_p99_ms"] = contract["baseline_p99_ms"]
        figures["baseline"] = self.baseline.figures() if self.baseline else None
        figures["settings"] = self.settings
        return figures

    def print_table(self, console: Console) -> None:
        figures = self.as_json()
        base = figures["baseline"] or {}
        table = Table(title="streamkeep bench sagas (POST /v1/orders -> confirmed in the read model)")
        table.add_column("")
        table.add_column("streamkeep (kafka)", justify="right")
        table.add_column("baseline (DBOS Transact, PostgreSQL)", justify="right")

        def row(label: str, mine: object, theirs: object) -> None:
            table.add_row(label, str(mine), "-" if theirs is None else str(theirs))

        row("sagas/s", f"{figures['rate']:,.1f}", figures["baseline_rate"])
        row("p50 / p99 ms", f"{figures['p50_ms']:.0f} / {figures['p99_ms']:.0f}", _pair(figures, "baseline_"))
        row("placed / confirmed", f"{figures['placed']:,} / {figures['confirmed']:,}", _counts(base))
        row("unfinished", figures["unfinished"], base.get("unfinished"))
        row("POST p50 / p99 ms", _pair(figures, "post_"), _pair(base, "post_") if base else None)
        mine, theirs = figures["cpu_ms_per_saga"], base.get("cpu_ms_per_saga", {})
        for name in dict.fromkeys([*mine, *theirs]):
            table.add_row(f"CPU ms/saga: {name}", _ms(mine.get(name)), _ms(theirs.get(name)))
        console.print(table)
        ratio = f"{figures['ratio']}x the baseline" if figures["ratio"] is not None else "no baseline"
        console.print(f"{ratio}; worker peak RSS {self.peak_rss_mb:.0f} MB; wall {self.wall_s:.0f} s")
        console.print(f"settings: {', '.join(f'{k}={v}' for k, v in self.settings.items())}")


def _pair(figures: dict[str, Any], prefix: str) -> str | None:
    p50, p99 = figures.get(f"{prefix}p50_ms"), figures.get(f"{prefix}p99_ms")
    return None if p50 is None else f"{p50:.0f} / {p99:.0f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _counts(figures: dict[str, Any]) -> str | None:
    return f"{figures['placed']:,} / {figures['confirmed']:,}" if figures else None


def run(settings: Settings, options: SagasOptions) -> SagasResult:
    if not settings.uses_kafka:
        raise BenchError('bench sagas needs the kafka backend: run eval "$(streamkeep infra up)" first')
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="streamkeep-bench-"))
    env = {**os.environ, "STREAMKEEP_BACKEND": "kafka", "STREAMKEEP_SAGAS": "on", **NO_AUTH}
    streamkeep, peak_rss = _measure_streamkeep(settings, env, options, log_dir)
    baseline = _measure_dbos(settings, env, options, log_dir) if options.baseline else None
    return SagasResult(
        streamkeep=streamkeep,
        baseline=baseline,
        peak_rss_mb=peak_rss,
        wall_s=time.monotonic() - started,
        settings={
            "duration_s": options.duration_s,
            "concurrency": options.concurrency,
            "rate": options.rate,
            "orders": options.orders,
            "timeout_s": options.timeout_s,
            "skus": options.skus,
            "roles_apart": options.roles_apart,
            "logs": str(log_dir),
        },
    )


def _measure_streamkeep(
    settings: Settings, env: dict[str, str], options: SagasOptions, log_dir: Path
) -> tuple[SystemRun, float]:
    port = free_port()
    with ExitStack() as running:
        workers = {}
        for role in WORKER_ROLES if options.roles_apart else (None,):
            name = f"worker-{role}" if role else "worker"
            workers[name] = Service(name, ["infra", "worker", *(["--role", role] if role else [])], env, log_dir)
            running.callback(workers[name].stop)
        api = Service("api", ["infra", "serve", "--host", HOST, "--port", str(port)], env, log_dir)
        running.callback(api.stop)  # callbacks run last-in first-out: the API stops before its workers
        services = [api, *workers.values()]
        system = _Target(port, settings.database_url, "order_summary", services)
        pids = {"api": api.pid} | {name: worker.pid for name, worker in workers.items()}
        measured = _drive(system, options, pids | kafka_pid())
        return measured, max(peak_rss_mb(worker.pid) for worker in workers.values())


def _measure_dbos(settings: Settings, env: dict[str, str], options: SagasOptions, log_dir: Path) -> SystemRun:
    try:
        dbos_fulfilment.recreate_database(settings.database_url)
    except psycopg.Error as error:
        raise BenchError(f"cannot make the baseline's database {dbos_fulfilment.DATABASE}: {error}") from error
    python = dbos_python(log_dir)
    port = free_port()
    with ExitStack() as running:
        args = ["bench.dbos_fulfilment", "--host", HOST, "--port", str(port), "--database-url", settings.database_url]
        dbos = Service("dbos", args, env, log_dir, python=python)
        running.callback(dbos.stop)
        database = dbos_fulfilment.dbos_conninfo(settings.database_url)
        system = _Target(port, database, dbos_fulfilment.ORDERS_TABLE, [dbos])
        return _drive(system, options, {"dbos": dbos.pid})


@dataclass(frozen=True)
class _Target:
    """A system under test: its HTTP port, the database and table the observer reads, its processes."""

    port: int
    database_url: str
    table: str
    services: list[Service]

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def check_alive(self) -> None:
        for service in self.services:
            service.check_alive()


def _drive(system: _Target, options: SagasOptions, pids: dict[str, int]) -> SystemRun:
    """Restock, wait until a probe order is confirmed, then load; CPU seconds are counted over the load alone."""
    _restock_and_settle(system, options.sku_names)
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    postgres_before = postgres_cpu_seconds()
    plan = SagaPlan(
        HOST,
        system.port,
        system.database_url,
        system.table,
        options.sku_names,
        options.duration_s,
        options.concurrency,
        options.rate,
        options.orders,
        options.timeout_s,
    )
    load = run_sagas(plan)
    system.check_alive()
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    if postgres_before:
        postgres_after = postgres_cpu_seconds()
        cpu["postgres"] = sum(seconds - postgres_before.get(pid, 0.0) for pid, seconds in postgres_after.items())
    return SystemRun(load, cpu | {"load": load.cpu_s})


def _restock_and_settle(system: _Target, skus: tuple[str, ...]) -> None:
    """Every SKU restocked, then probe orders until one is confirmed: every processor, the saga runner (whose
    group starts at the end of orders.events when new) and the projection are then taking part."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    with httpx.Client(base_url=system.base_url, timeout=10) as client:
        for sku in skus:
            _until(deadline, system, lambda sku=sku: _ok(client, f"/v1/inventory/{sku}/restock", {"quantity": RESTOCK}))
        while time.monotonic() < deadline:
            order_id = str(uuid.uuid4())
            line = {"sku": skus[0], "quantity": 1, "unit_price_cents": 1250}
            order = {"order_id": order_id, "customer_id": str(uuid.uuid4()), "currency": "EUR", "lines": [line]}
            if not _ok(client, "/v1/orders", order):
                time.sleep(0.5)
                continue
            if _confirmed_within(system, order_id, min(PROBE_WAIT_S, max(deadline - time.monotonic(), 0))):
                return
    logs = ", ".join(str(service.log_path) for service in system.services)
    raise BenchError(f"no probe order was confirmed within {SETTLE_TIMEOUT_S:g} s; see {logs}")


def _ok(client: httpx.Client, path: str, body: dict[str, Any]) -> bool:
    try:
        return client.post(path, json=body).status_code in (200, 201)
    except httpx.HTTPError:
        return False  # not listening yet, or the worker still loading


def _until(deadline: float, system: _Target, done: Any) -> None:
    while time.monotonic() < deadline:
        system.check_alive()
        if done():
            return
        time.sleep(0.5)
    raise BenchError(f"{system.base_url} did not take a restock within {SETTLE_TIMEOUT_S:g} s")


def _confirmed_within(system: _Target, order_id: str, wait_s: float) -> bool:
    deadline = time.monotonic() + wait_s
    sql = f"SELECT status FROM {system.table} WHERE order_id = %s"
    with psycopg.connect(system.database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            system.check_alive()
            try:
                row = conn.execute(sql, (order_id,)).fetchone()
            except psycopg.errors.UndefinedTable:
                row = None  # the projection has not made its table yet
            if row is not None and row[0] == CONFIRMED:
                return True
            time.sleep(0.1)
    return False
