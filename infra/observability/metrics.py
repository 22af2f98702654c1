"""Our Prometheus metrics and their exposition; with `serve --workers N` one scrape sums all N processes."""

import os
import shutil
import tempfile
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

# A `_created` series per label set doubles the scrape for nothing Prometheus's rate() needs.
disable_created_metrics()
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"  # prometheus-client's own setting: set, every process writes there

HTTP_REQUESTS = Counter(
    "streamkeep_http_requests_total",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "streamkeep_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method.",
    ["route", "method"],
)
COMMANDS = Counter(
    "streamkeep_commands_total",
    "Commands sent through the API, by context, type and outcome "
    "(accepted, rejected by a rule, conflict, not_found, timeout: no outcome in time).",
    ["context", "type", "outcome"],
)
RETRIES = Counter(
    "streamkeep_retries_total",
    "Retries scheduled after a transient failure toward a dependency, by operation (the retried function's name).",
    ["operation"],
)

SHED = Counter(
    "streamkeep_http_shed_total",
    "Requests refused with 503 before any work, by reason "
    "(commands_in_flight: the process had STREAMKEEP_MAX_COMMANDS_IN_FLIGHT commands in flight already).",
    ["reason"],
)
RATE_LIMITED = Counter(
    "streamkeep_http_rate_limited_total",
    "Requests refused with 429 because their principal (or client address) was over a rate limit, by policy.",
    ["policy"],
)


def exposition() -> tuple[bytes, str]:
    """The text a scrape gets: this process's metrics, or every process's that shares the multiprocess folder."""
    if os.environ.get(MULTIPROCESS_DIR):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def prepare_this_process() -> None:
    """Make the multiprocess folder this process was told of, if it is missing: every count would fail without it
    (and with it every request)."""
    folder = os.environ.get(MULTIPROCESS_DIR)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)


def share_between_processes() -> Path:
    """Before spawning processes that serve one port: a metrics folder for this run, empty, named in the
    environment they inherit. The operator's own PROMETHEUS_MULTIPROC_DIR is emptied instead of replaced: counts
    from an earlier run would be summed with this one's."""
    chosen = os.environ.get(MULTIPROCESS_DIR)
    if chosen:
        folder = Path(chosen)
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.glob("*.db"):
            stale.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix="streamkeep-metrics-"))
    os.environ[MULTIPROCESS_DIR] = str(folder)
    return folder


def drop_shared(folder: Path) -> None:
    """After the processes ended: remove a folder we made (one the operator named stays)."""
    if folder.name.startswith("streamkeep-metrics-"):
        shutil.rmtree(folder, ignore_errors=True)


# A process's own breaker (`serve --workers N`: each process has its own): one series per live process.
BREAKER_STATE = Gauge(
    "streamkeep_circuit_breaker_state",
    "A circuit breaker's state: 0 closed, 1 open (calls refused at once), 2 half-open (one probe call let through).",
    ["breaker"],
    multiprocess_mode="liveall",
)
BREAKER_TRANSITIONS = Counter(
    "streamkeep_circuit_breaker_transitions_total",
    "Circuit breaker state changes, by breaker and the state entered (closed, open, half-open).",
    ["breaker", "state"],
)
BREAKER_REJECTIONS = Counter(
    "streamkeep_circuit_breaker_rejections_total",
    "Calls a circuit breaker refused without asking its dependency (open, or a probe already under way).",
    ["breaker"],
)
