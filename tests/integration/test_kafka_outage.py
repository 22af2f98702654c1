"""When Kafka cannot be reached, commands get 503 with Retry-After (never a 500) and the API stays up."""

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.local import kafka as local_kafka
from infra.local.process import Settings
from tests.conftest import ORDER
from tests.integration import own_services
from tests.platform import StreamkeepProcess, free_port, wait_for, wait_ready

pytestmark = pytest.mark.kafka


@pytest.fixture
def own_kafka(infra_env: dict[str, str], tmp_path: Path) -> Iterator[Settings]:
    """A second, throwaway broker this test may stop, beside the shared one (registry and PostgreSQL are shared)."""
    with own_services.own_kafka(tmp_path) as own:
        yield own


def test_commands_get_503_with_retry_after_while_kafka_is_down(
    own_kafka: Settings, infra_env: dict[str, str], tmp_path: Path
) -> None:
    # Commands only: a projection on this second Kafka would write checkpoints of the shared read models.
    env = {**infra_env, "KAFKA_BOOTSTRAP_SERVERS": local_kafka.url(own_kafka), "STREAMKEEP_COMMAND_TIMEOUT_S": "3"}
    port = free_port()
    worker = StreamkeepProcess(["worker", "--role", "commands"], env, tmp_path / "worker.log").start()
    api = StreamkeepProcess(["serve", "--port", str(port)], env, tmp_path / "api.log").start()
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url)
        wait_for(
            lambda: httpx.post(f"{url}/v1/orders", json=ORDER, timeout=10).status_code == 201, 120, "a first order"
        )

        local_kafka.stop(own_kafka)
        refused = httpx.post(f"{url}/v1/orders", json=ORDER, timeout=30)

        assert refused.status_code == 503, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert int(refused.headers["retry-after"]) > 0
        assert httpx.get(f"{url}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"{url}/livez", timeout=5).status_code == 200
        not_ready = httpx.get(f"{url}/readyz", timeout=10)
        assert not_ready.status_code == 503 and "kafka" in not_ready.json()["failing"], not_ready.text

        # The same processes, untouched, take commands again once Kafka is back.
        local_kafka.wait_ready(own_kafka, local_kafka.start(own_kafka))
        answers: list[str] = []

        def accepted() -> bool:
            answer = httpx.post(f"{url}/v1/orders", json=ORDER, timeout=10)
            answers.append(f"{answer.status_code} {answer.text[:200]}")
            return answer.status_code == 201

        try:
            wait_for(accepted, 120, "a command to go through after Kafka came back")
        except AssertionError as error:
            raise AssertionError(f"{error}; answers: {answers[-3:]}; api log:\n{api.log_tail(20)}") from None
    finally:
        api.stop()
        worker.stop()
