"""The `commands` scenario: POST /v1/orders against `serve` + `worker --role commands`, then against the baseline."""

import json
import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from bench.load import LoadPlan, LoadResult, run_load
from bench.otlp_sink import otlp_sink
from bench.processes import (
    NO_AUTH,
    BenchError,
    Service,
    cpu_seconds,
    free_port,
    kafka_pid,
    peak_rss_mb,
    wait_until_taking_orders,
)
from bench.report import BenchResult, Measurement
from infra.kafka.reader import read_to_end
from infra.kafka.topics import events_topic
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
    tracing_pairs: int = 0  # > 0: tracing on against tracing off, in this many alternating pairs, no baseline
    tracing_exporter: str = "discard"  # with tracing on: "discard" (in the process) or "otlp" (to a sink that drops)


# Tracing's standard settings: a run with tracing off has none of them, whatever the caller's environment says.
OTEL_SETTINGS = ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")


def run(settings: Settings, options: CommandsOptions) -> BenchResult:
    if not settings.uses_kafka:
        raise BenchError('bench commands needs the kafka backend: run eval "$(streamkeep infra up)" first')
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="streamkeep-bench-"))
    env = {**os.environ, "STREAMKEEP_BACKEND": "kafka", **NO_AUTH}
    if options.tracing_pairs:
        return _tracing_against_none(env, options, log_dir, started, settings.kafka_bootstrap_servers)
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
    port, operations_port = free_port(), free_port()
    with ExitStack() as running:
        worker = Service(
            "worker",
            ["infra", "worker", "--role", "commands", "--metrics-port", str(operations_port)],
            env,
            log_dir,
            ready_url=f"http://{HOST}:{operations_port}/readyz",
        )
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


def _tracing_against_none(
    env: dict[str, str], options: CommandsOptions, log_dir: Path, started: float, bootstrap_servers: str
) -> BenchResult:
    """Tracing on against tracing off, in pairs on fresh processes, each pair in the other order from the last
    (`halves`); the pair with the median ratio is reported, every pair in the settings. On, every span is made and
    ended, then either dropped in the process (the issue's measure: tracing's own cost) or exported over OTLP/HTTP
    to a sink that drops it (the export's cost too, before any backend's)."""
    off_env = {k: v for k, v in env.items() if k not in OTEL_SETTINGS}
    sink_port = free_port()
    if options.tracing_exporter == "otlp":
        on_env = {
            **off_env,
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://{HOST}:{sink_port}",
        }
    else:
        on_env = {**off_env, "OTEL_TRACES_EXPORTER": "discard"}
    pairs = []
    traced = False
    with otlp_sink(HOST, sink_port) as received:
        for index in range(options.tracing_pairs):
            measured = {}
            for half in halves(index):
                (directory := log_dir / f"pair{index}-{half}").mkdir()
                began = datetime.now(timezone.utc)
                measured[half] = _measure_streamkeep(on_env if half == "on" else off_env, options, directory)
                if half == "on":
                    traced = traced or _events_carry_trace_context(bootstrap_servers, began)
            pairs.append((measured["off"], measured["on"]))
    if options.tracing_exporter == "otlp" and received.requests == 0:
        raise BenchError("tracing was on but no span reached the sink; see the logs in " + str(log_dir))
    if not traced:
        raise BenchError("tracing was on but no event the run wrote carries a traceparent; see " + str(log_dir))
    ratios = [Measurement.of(on[0]).rate / max(Measurement.of(off[0]).rate, 1e-9) for off, on in pairs]
    median = sorted(range(len(pairs)), key=ratios.__getitem__)[len(pairs) // 2]
    (off_load, _, off_cpu), (on_load, on_rss, on_cpu) = pairs[median]
    return BenchResult(
        scenario="commands",
        unit="commands",
        measured=Measurement.of(on_load),
        peak_rss_mb=on_rss,
        wall_s=time.monotonic() - started,
        baseline=Measurement.of(off_load),
        settings={
            "duration_s": options.duration_s,
            "concurrency": options.concurrency,
            "rate": options.rate,
            "clients": options.clients,
            "compared": "tracing on (measured) against tracing off (baseline)",
            "exporter": options.tracing_exporter,
            "pairs": [
                {
                    "first": halves(index)[0],
                    "off_rate": round(Measurement.of(off[0]).rate, 1),
                    "on_rate": round(Measurement.of(on[0]).rate, 1),
                    "ratio": round(ratio, 3),
                    "cpu_ms_per_command_off": _per_command(off[2], off[0]),
                    "cpu_ms_per_command_on": _per_command(on[2], on[0]),
                }
                for index, ((off, on), ratio) in enumerate(zip(pairs, ratios, strict=True))
            ],
            "exported_bytes": received.bytes,
            "logs": str(log_dir),
        },
        cpu_s={f"off_{name}": seconds for name, seconds in off_cpu.items()}
        | {f"on_{name}": seconds for name, seconds in on_cpu.items()},
    )


def halves(index: int) -> tuple[str, str]:
    """The order of pair `index`'s runs: off first in even pairs, on first in odd ones, so that whatever favours
    a pair's first or second run falls on both sides alike (each run adds its orders to the history the next
    worker loads, and the broker cleans up after a run while the next one goes)."""
    return ("off", "on") if index % 2 == 0 else ("on", "off")


def _events_carry_trace_context(bootstrap_servers: str, since: datetime) -> bool:
    """Whether the events written to orders.events since `since` (a traced run began) carry a `traceparent`: the
    spans were made. From the run's start, not the last few seconds: stopping its processes can take longer."""
    records = read_to_end(bootstrap_servers, events_topic("orders"), since=since, timeout_s=30)
    try:
        return any(name == "traceparent" for record in records for name, _ in record.headers() or ())
    finally:
        records.close()


def _per_command(cpu: dict[str, float], load: LoadResult) -> dict[str, float]:
    acknowledged = max(len(load.latencies_ms), 1)
    return {name: round(seconds * 1000 / acknowledged, 3) for name, seconds in cpu.items()}
