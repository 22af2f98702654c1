"""The processes a benchmark measures: started apart from the load, waited for, and read for memory and CPU."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from infra.kafka.topics import commands_topic
from infra.local import kafka as local_kafka
from infra.local import postgres as local_postgres
from infra.local.process import Settings as LocalSettings
from infra.settings import REPOSITORY_ROOT, load_settings
from projections.consistency import InvalidToken, parse_token

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# A benchmark measures the platform, not a client's share of it: the load comes from one address at far more than
# the default limits allow. A limit set in the environment stays (to measure what limiting costs).
RATE_LIMITS_OFF = {"STREAMKEEP_RATE_LIMIT_COMMANDS": "off", "STREAMKEEP_RATE_LIMIT_QUERIES": "off"}
# The benches' own `serve` on 127.0.0.1 runs without authentication, said in as many words (a token check is a
# SHA-256 and a dict lookup per request: not what these scenarios measure).
NO_AUTH = {"STREAMKEEP_NO_AUTH": "true"}


class BenchError(Exception):
    """A benchmark cannot run or went wrong; the message says what to do."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Service:
    """One Python module run as a process from the repository root, its output in a log file."""

    def __init__(
        self,
        name: str,
        module_args: list[str],
        env: dict[str, str],
        log_dir: Path,
        python: str | Path = sys.executable,
        ready_url: str | None = None,
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self.ready_url = ready_url  # a /readyz of its own (a worker's operations listener), if it has one
        with self.log_path.open("ab") as log:
            # cwd is the repository root, so `-m` runs this checkout's code, not an installed copy.
            self.process = subprocess.Popen(
                [str(python), "-m", *module_args],
                env={**RATE_LIMITS_OFF, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPOSITORY_ROOT,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchError(f"{self.name} exited with code {self.process.returncode}; see {self.log_path}")


def wait_until_taking_orders(base_url: str, order: dict, services: list[Service], timeout_s: float = 180) -> None:
    """Until every /readyz (the API's, and a service's own if it has one) answers 200 and orders are acknowledged on
    every partition of orders.commands: each partition's owner has loaded it. One order is not enough: another
    member of the worker's group (the test suite's own worker, on the shared stack) may answer it while this worker
    still loads its partitions, or before this worker has joined at all; the worker's own /readyz says it has its
    partitions. An answer without a Kafka token (the baseline's) is enough on its own."""
    wanted = set(range(load_settings().partitions))
    seen: set[int] = set()
    deadline = time.monotonic() + timeout_s
    with httpx.Client(base_url=base_url, timeout=10) as client:
        while time.monotonic() < deadline:
            for service in services:
                service.check_alive()
            try:
                if client.get("/readyz").status_code == 200 and all(map(_ready, services)):
                    answer = client.post("/v1/orders", json=order)  # a new order id each time: any partition
                    if answer.status_code == 201:
                        partition = commands_partition(answer.json().get("consistency_token"))
                        if partition is None:
                            return
                        seen.add(partition)
                        if seen >= wanted:
                            return
                        continue
            except httpx.HTTPError:
                pass  # not listening yet
            time.sleep(0.5)
    logs = ", ".join(str(s.log_path) for s in services)
    taken = f" (acknowledged on partitions {sorted(seen)} only)" if seen else ""
    raise BenchError(f"{base_url} took no order on every partition within {timeout_s:g} s{taken}; see {logs}")


def _ready(service: Service) -> bool:
    return service.ready_url is None or httpx.get(service.ready_url, timeout=5).status_code == 200


def commands_partition(token: str | None) -> int | None:
    """The orders.commands partition a consistency token names (projections.consistency reads the format), or None."""
    try:
        position = parse_token(token or "")
    except InvalidToken:
        return None
    return position.partition if position.topic == commands_topic("orders") else None


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set size (VmHWM) so far."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise BenchError(f"no VmHWM for pid {pid}: peak memory is read from Linux's /proc")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def child_pids(pid: int) -> list[int]:
    """The process's children now (Linux's /proc), e.g. the share processes of a replay or a rebuild."""
    children = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue  # the thread ended meanwhile
    return children


def kafka_pid() -> dict[str, int]:
    """The local broker's pid when `streamkeep infra up` started it: its CPU is part of each command's cost."""
    pid = local_kafka.running_pid(LocalSettings.from_env())
    return {"kafka": pid} if pid else {}


def postgres_cpu_seconds() -> dict[int, float]:
    """CPU seconds so far of the local PostgreSQL's postmaster and of every process it forked (backends, WAL
    writer, checkpointer), by pid, when `streamkeep infra up` started it; empty otherwise."""
    postmaster = local_postgres.running_pid(LocalSettings.from_env())
    if not postmaster:
        return {}
    seconds = {}
    for pid in [postmaster, *child_pids(postmaster)]:
        try:
            seconds[pid] = cpu_seconds(pid)
        except OSError:
            continue  # a backend that ended meanwhile
    return seconds
