"""Test support: find or start the infrastructure, and run Streamkeep processes the way a user does."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

RATE_LIMITS_OFF = {"STREAMKEEP_RATE_LIMIT_COMMANDS": "off", "STREAMKEEP_RATE_LIMIT_QUERIES": "off"}
SERVICE_KEYS = ("KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent


def infrastructure_env() -> dict[str, str]:
    if all(os.environ.get(k) for k in SERVICE_KEYS):
        return {k: os.environ[k] for k in SERVICE_KEYS}
    if _docker_answers():
        return _testcontainers_env()
    from infra.local.launcher import up

    return {k: v for k, v in up().items() if k in SERVICE_KEYS}


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:  # no engine, no socket, no permission: all mean "not here"
        return False
    return True


def _testcontainers_env() -> dict[str, str]:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.waiting_utils import wait_for_logs
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft().start()
    postgres = PostgresContainer("postgres:15", dbname="streamkeep").start()
    registry = DockerContainer("apicurio/apicurio-registry:3.0.9").with_exposed_ports(8080).start()
    wait_for_logs(registry, "Installed features", timeout=120)
    registry_url = f"http://{registry.get_container_host_ip()}:{registry.get_exposed_port(8080)}/apis/ccompat/v7"
    return {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.get_bootstrap_server(),
        "SCHEMA_REGISTRY_URL": registry_url,
        "DATABASE_URL": postgres.get_connection_url(driver=None),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StreamkeepProcess:
    """One `streamkeep ...` process started as a user would, that a test may kill -9 and start again."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.args = args
        # The suite's platforms run without the fulfilment saga unless a test asks for it: orders placed by the
        # command-side tests stay as those tests leave them. Nor with rate limits: every test calls from 127.0.0.1,
        # and the load tests send far more than a client's default share (tests/e2e/test_rate_limits.py sets them).
        self.env = {**os.environ, "STREAMKEEP_SAGAS": "off", **RATE_LIMITS_OFF, **env}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> "StreamkeepProcess":
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "infra", *self.args], env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT
        )
        return self

    def kill(self) -> None:
        """kill -9: no chance to flush, commit or say goodbye."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def wait_for(check, timeout_s: float, what: str, interval_s: float = 0.2):  # type: ignore[no-untyped-def]
    """Poll check() until it returns something truthy; fail the test with `what` after timeout_s."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except Exception as error:  # the thing polled may not be up yet
            last_error = error
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what} (last error: {last_error})")


def wait_ready(base_url: str, timeout_s: float = 90) -> None:
    wait_for(lambda: httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200, timeout_s, f"{base_url}/readyz")


@contextmanager
def serve_with_tokens(platform_env: dict[str, str], tokens_setting: str, log_path: Path) -> Iterator[str]:
    """A second `serve` that admits only the tokens of STREAMKEEP_API_TOKENS, beside a platform whose worker decides
    its commands; its base URL once ready."""
    port = free_port()
    env = {**platform_env, "STREAMKEEP_NO_AUTH": "false", "STREAMKEEP_API_TOKENS": tokens_setting}
    api = StreamkeepProcess(["serve", "--port", str(port)], env, log_path).start()
    try:
        wait_ready(f"http://127.0.0.1:{port}")
        yield f"http://127.0.0.1:{port}"
    finally:
        api.stop()


def run_cli(args: list[str], env: dict[str, str], timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    """One `streamkeep ...` command run to its end, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", "infra", *args],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )


def sagas_start_from_now(env: dict[str, str]) -> None:
    """Before a saga platform starts on a stack other runs have used: the saga group (idle) resumes at today's end
    of orders.events, so it does not fulfil the orders the command-side tests placed since it last ran.

    A group new to the stack starts there anyway; one with a live member is keeping up already and is left as is.
    """
    from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, KafkaException, TopicPartition
    from confluent_kafka.admin import AdminClient

    from infra.kafka.topics import events_topic
    from infra.saga_runner.runner import GROUP_ID

    bootstrap, topic, group = env["KAFKA_BOOTSTRAP_SERVERS"], events_topic("orders"), f"{GROUP_ID}-fulfilment"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    partitions = admin.list_topics(topic, timeout=30).topics[topic].partitions
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": f"{group}-probe"})
    try:
        highs = {p: reader.get_watermark_offsets(TopicPartition(topic, p), 30)[1] for p in partitions}
        ends = [TopicPartition(topic, p, high) for p, high in highs.items()]
    finally:
        reader.close()
    try:
        admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions(group, ends)])[group].result(30)
    except KafkaException as error:
        if "NON_EMPTY_GROUP" not in str(error) and "UNKNOWN_MEMBER" not in str(error):
            raise


def breaker_metric(base_url: str, name: str, breaker: str, **labels: str) -> float | None:
    """One circuit breaker's sample of a metric in a process's /metrics (None when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    wanted = {"breaker": breaker, **labels}
    for family in text_string_to_metric_families(httpx.get(f"{base_url}/metrics", timeout=10).text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in wanted.items()):
                return float(sample.value)
    return None
