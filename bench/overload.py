"""The `overload` scenario: the command side's capacity in a closed loop, then an open loop at twice that against
`serve` + `worker --role commands`. What is accepted must stay fast, and the excess must be refused at once."""

import os
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

import httpx

from bench.check_acks import check_acks
from bench.commands import BODY_TEMPLATE, HOST, ORDER
from bench.load import LoadPlan, LoadResult, run_load
from bench.processes import NO_AUTH, BenchError, Service, free_port, peak_rss_mb, wait_until_taking_orders
from bench.report import BenchResult, Measurement, percentile
from infra.settings import Settings

WARM_UP_S = 2.0  # a broker or API just started is slower for its first seconds: not the capacity to double


@dataclass(frozen=True)
class OverloadOptions:
    capacity_s: float = 5.0  # closed loop that measures the capacity
    duration_s: float = 12.0  # open loop at `factor` times that capacity
    factor: float = 2.0
    concurrency: int = 64  # the closed loop's connections
    # The open loop's: more than the API's bound on commands in flight, or the load generator would queue instead.
    connections: int = 512
    max_in_flight: int | None = None  # STREAMKEEP_MAX_COMMANDS_IN_FLIGHT for the API; None: the setting's own
    check: bool = True  # read orders.events afterwards: each ack once, no refused command's event


@dataclass(frozen=True)
class Overload:
    """The two loads: the closed loop that measured the capacity and the open loop at `factor` times it."""

    capacity: LoadResult
    offered_rate: float
    overload: LoadResult
    worker_peak_rss_mb: float
    shed_counted: float  # streamkeep_http_shed_total in the API's /metrics at the end
    # The API's own time to answer a shed command, at the 99th percentile: the upper bound of the /metrics
    # histogram's bucket that holds it (a shed request matches no route: route="unmatched", and nothing else the
    # loads send is unmatched). From the client, the machine's own lag under the load adds to it.
    shed_api_p99_s: float

    @property
    def capacity_rate(self) -> float:
        return len(self.capacity.latencies_ms) / self.capacity.elapsed_s

    def figures(self) -> dict[str, float | int]:
        """What the excess became: refused quickly, and nothing else going wrong."""
        shed_ms = sorted(ms for _, ms in self.overload.shed)
        statuses = self.overload.statuses
        unanswered = sum(n for status, n in statuses.items() if status.startswith("error:"))
        unsent = sum(n for status, n in statuses.items() if status.startswith("unsent:"))
        return {
            "capacity_rate": round(self.capacity_rate, 1),
            "offered_rate": round(self.offered_rate, 1),
            "accepted": len(self.overload.acks),
            "shed": len(shed_ms),
            "shed_p50_ms": round(percentile(shed_ms, 0.50), 2),
            "shed_p99_ms": round(percentile(shed_ms, 0.99), 2),
            "slowest_answer_ms": round(self.overload.slowest_ms, 1),
            "unanswered": unanswered,  # connection errors, timeouts, answers never come
            "unsent": unsent,  # the load generator fell behind its own schedule: never sent
            "shed_counted": int(self.shed_counted),
            "shed_api_p99_ms_at_most": round(self.shed_api_p99_s * 1000, 1),
        }


def measure(env: dict[str, str], options: OverloadOptions, log_dir: Path) -> Overload:
    """Start the API and a command worker, measure the capacity, then offer `factor` times it."""
    env = {**os.environ, **env, "STREAMKEEP_BACKEND": "kafka", **NO_AUTH}
    if options.max_in_flight is not None:
        env["STREAMKEEP_MAX_COMMANDS_IN_FLIGHT"] = str(options.max_in_flight)
    port = free_port()
    with ExitStack() as running:
        worker = Service("worker", ["infra", "worker", "--role", "commands"], env, log_dir)
        running.callback(worker.stop)
        api = Service("api", ["infra", "serve", "--host", HOST, "--port", str(port)], env, log_dir)
        running.callback(api.stop)
        wait_until_taking_orders(f"http://{HOST}:{port}", ORDER, [api, worker])
        closed = LoadPlan(HOST, port, "/v1/orders", BODY_TEMPLATE, WARM_UP_S, options.concurrency)
        run_load(closed)
        capacity = run_load(replace(closed, duration_s=options.capacity_s))
        if not capacity.latencies_ms:
            raise BenchError(f"no command was acknowledged in the closed loop: {dict(capacity.statuses)}")
        offered = options.factor * len(capacity.latencies_ms) / capacity.elapsed_s
        open_loop = LoadPlan(
            HOST, port, "/v1/orders", BODY_TEMPLATE, options.duration_s, options.connections, rate=offered
        )
        overload = run_load(open_loop)
        for service in (api, worker):
            service.check_alive()
        metrics = httpx.get(f"http://{HOST}:{port}/metrics", timeout=10).text.splitlines()
        return Overload(
            capacity, offered, overload, peak_rss_mb(worker.pid), _shed_counted(metrics), shed_api_p99_s(metrics)
        )


def run(settings: Settings, options: OverloadOptions) -> BenchResult:
    if not settings.uses_kafka:
        raise BenchError('bench overload needs the kafka backend: run eval "$(streamkeep infra up)" first')
    started = time.monotonic()
    log_dir = Path(tempfile.mkdtemp(prefix="streamkeep-bench-"))
    result = measure({}, options, log_dir)
    figures: dict[str, float | int | str] = {**result.figures()}
    if options.check:
        check = check_acks(settings, set(result.overload.acks), refused=frozenset(i for i, _ in result.overload.shed))
        figures |= {
            "acks_missing": len(check.missing),
            "acks_duplicated": len(check.duplicated),
            "shed_with_events": len(check.refused_with_events),
        }
    return BenchResult(
        scenario="overload",
        unit="commands",
        measured=Measurement.of(result.overload),
        peak_rss_mb=result.worker_peak_rss_mb,
        wall_s=time.monotonic() - started,
        baseline=Measurement.of(result.capacity),
        settings={
            "capacity_s": options.capacity_s,
            "duration_s": options.duration_s,
            "factor": options.factor,
            "concurrency": options.concurrency,
            "connections": options.connections,
            "max_in_flight": options.max_in_flight or "default",
            "logs": str(log_dir),
        },
        figures=figures,
    )


def _shed_counted(lines: list[str]) -> float:
    metric = 'streamkeep_http_shed_total{reason="commands_in_flight"} '
    return sum(float(line.removeprefix(metric)) for line in lines if line.startswith(metric))


def shed_api_p99_s(lines: list[str]) -> float:
    """The smallest bucket bound of the unmatched POSTs' duration histogram that holds 99% of them (inf if none)."""
    metric = "streamkeep_http_request_duration_seconds_bucket"
    buckets: dict[float, float] = {}
    for line in lines:
        if line.startswith(metric) and 'route="unmatched"' in line and 'method="POST"' in line:
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[float(bound)] = buckets.get(float(bound), 0.0) + float(line.rsplit(" ", 1)[1])
    total = buckets.get(float("inf"), 0.0)
    return min((bound for bound, count in buckets.items() if total and count >= 0.99 * total), default=float("inf"))
