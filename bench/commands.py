"""The `commands` scenario: POST /v1/orders against `serve` + `worker --role commands`, then against the baseline."""

import json
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.load import LoadPlan, LoadResult, run_load
from bench.processes import (
    BenchError,
    Service,
    cpu_seconds,
    free_port,
    kafka_pid,
    peak_rss_mb,
    wait_until_taking_orders,
)
from bench.report import BenchResult, Measurement
from infra.settings import Settings

ORDER = {
    "customer_id": "6f1c1f5e-6a7e-4a53-9a44-0f8f6f0b8a11",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
}
# A fresh order id per request, so every command places a new order (no conflicts to skew the figures).
BODY_TEMPLATE = json.dumps({"order_id": "{id}", **ORDER})
HOST = "127.0.0.1"


@dataclass(frozen=True)
class CommandsOptions:
    duration_s: float = 20.0
    concurrency: int = 64
    rate: float | None = None
    clients: int = 1
    baseline: bool = True
    ack_log: Path | None = None


def run(settings: Settings, options: CommandsOptions) -> BenchResult:
    if not settings.uses_kafka:
        raise BenchError('bench commands needs the kafka backend: run eval "$(streamkeep infra up)" first')
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="streamkeep-bench-"))
    env = {**os.environ, "STREAMKEEP_BACKEND": "kafka"}
    load, peak_rss, cpu = _measure_streamkeep(env, options, log_dir)
    if options.ack_log is not None:
        options.ack_log.write_text("".join(f"{order_id} {version}\n" for order_id, version in load.acks))
    baseline = None
    if options.baseline:
        baseline_load, baseline_cpu = _measure_baseline(env, options, log_dir)
        baseline = Measurement.of(baseline_load)
        cpu |= baseline_cpu
    return BenchResult(
        scenario="commands",
        unit="commands",
        measured=Measurement.of(load),
        peak_rss_mb=peak_rss,
        wall_s=time.monotonic() - started,
        baseline=baseline,
        settings={
            "duration_s": options.duration_s,
            "concurrency": options.concurrency,
            "rate": options.rate,
            "clients": options.clients,
            "logs": str(log_dir),
        },
        cpu_s=cpu,
    )


def _measure_streamkeep(
    env: dict[str, str], options: CommandsOptions, log_dir: Path
) -> tuple[LoadResult, float, dict[str, float]]:
    port = free_port()
    with ExitStack() as running:
        worker = Service("worker", ["infra", "worker", "--role", "commands"], env, log_dir)
        running.callback(worker.stop)
        api = Service("api", ["infra", "serve", "--host", HOST, "--port", str(port)], env, log_dir)
        running.callback(api.stop)  # callbacks run last-in first-out: the API stops before its worker
        load, cpu = _drive(port, [api, worker], options)
        return load, peak_rss_mb(worker.pid), cpu


def _measure_baseline(
    env: dict[str, str], options: CommandsOptions, log_dir: Path
) -> tuple[LoadResult, dict[str, float]]:
    port = free_port()
    with ExitStack() as running:
        api = Service("baseline", ["bench.baseline", "--host", HOST, "--port", str(port)], env, log_dir)
        running.callback(api.stop)
        load, cpu = _drive(port, [api], options)
        return load, {"baseline": cpu["baseline"], "baseline_load": cpu["load"]}


def _drive(port: int, services: list[Service], options: CommandsOptions) -> tuple[LoadResult, dict[str, float]]:
    """Wait until an order goes through, then load; CPU seconds are counted over the load alone."""
    wait_until_taking_orders(f"http://{HOST}:{port}", ORDER, services)
    pids = {service.name: service.pid for service in services} | kafka_pid()
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    plan = LoadPlan(HOST, port, "/v1/orders", BODY_TEMPLATE, options.duration_s, options.concurrency, options.rate)
    load = run_load(plan, options.clients)
    for service in services:
        service.check_alive()
    cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    return load, cpu | {"load": load.client_cpu_s}
