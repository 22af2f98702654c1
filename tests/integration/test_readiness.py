"""While PostgreSQL is down a worker's /readyz turns 503 naming it, and serve's stays 200 reporting it degraded
(serve still takes commands); both are as before once it is back."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.local import postgres as local_postgres
from infra.local.process import Settings
from tests.conftest import ORDER
from tests.integration import own_services
from tests.platform import StreamkeepProcess, free_port, wait_for, wait_ready

pytestmark = pytest.mark.kafka
CHECKS_ANSWER_WITHIN_S = 5.0  # the checks time out after 2 s each, run together


@pytest.fixture
def own_stack(infra_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[dict[str, str], Settings]]:
    with own_services.own_kafka_and_postgres(infra_env, tmp_path) as stack:
        yield stack


def test_readyz_names_postgresql_while_it_is_down_and_recovers_after_a_restart(
    own_stack: tuple[dict[str, str], Settings], tmp_path: Path
) -> None:
    env, postgres = own_stack
    api_port, worker_port = free_port(), free_port()
    worker = StreamkeepProcess(["worker", "--metrics-port", str(worker_port)], env, tmp_path / "worker.log").start()
    api = StreamkeepProcess(["serve", "--port", str(api_port)], env, tmp_path / "api.log").start()
    api_url = f"http://127.0.0.1:{api_port}"
    readyz = {"serve": f"{api_url}/readyz", "worker": f"http://127.0.0.1:{worker_port}/readyz"}
    try:
        for url in readyz.values():
            wait_ready(url.removesuffix("/readyz"), timeout_s=120)

        local_postgres.stop(postgres)
        url = readyz["worker"]
        refusal = wait_for(lambda: _refused(url), 30, "the worker's /readyz to turn 503")
        assert refusal.headers["content-type"] == "application/problem+json"
        assert int(refusal.headers["retry-after"]) > 0
        body = refusal.json()
        assert body["failing"] == ["postgresql"], body
        assert "postgresql" in body["detail"], body
        started = time.monotonic()
        assert httpx.get(url, timeout=30).status_code == 503
        assert time.monotonic() - started < CHECKS_ANSWER_WITHIN_S, "the worker's /readyz hung"
        assert httpx.get(url.replace("/readyz", "/livez"), timeout=5).status_code == 200
        # serve takes commands without PostgreSQL: ready, with PostgreSQL named as degraded.
        started = time.monotonic()
        answer = httpx.get(readyz["serve"], timeout=30)
        assert time.monotonic() - started < CHECKS_ANSWER_WITHIN_S, "serve's /readyz hung"
        assert answer.status_code == 200, answer.text
        assert list(answer.json()["degraded"]) == ["postgresql"], answer.json()

        # Commands need no PostgreSQL; the projection of this one waits for it, and must not lose it.
        placed = httpx.post(f"{api_url}/v1/orders", json=ORDER, timeout=30)
        assert placed.status_code == 201, placed.text
        wait_for(lambda: "PostgreSQL did not take a batch" in worker.log_path.read_text(), 60, "a projection retry")
        metrics = f"http://127.0.0.1:{worker_port}/metrics"
        wait_for(lambda: _retries_of(metrics, "read_side.projection_runner._until_taken") >= 1, 30, "a retry counted")

        own_services.start_postgres(postgres)
        for name, url in readyz.items():
            wait_for(lambda url=url: _undegraded(url), 60, f"{name}'s /readyz to be 200 with nothing degraded")
        order = f"{api_url}/v1/orders/{placed.json()['order_id']}"
        wait_for(lambda: httpx.get(order, timeout=10).status_code == 200, 60, "the order placed meanwhile projected")
    finally:
        api.stop()
        worker.stop()


def _retries_of(metrics_url: str, operation: str) -> float:
    wanted = f'streamkeep_retries_total{{operation="{operation}"}} '
    lines = httpx.get(metrics_url, timeout=10).text.splitlines()
    return sum(float(line.removeprefix(wanted)) for line in lines if line.startswith(wanted))


def _undegraded(url: str) -> bool:
    answer = httpx.get(url, timeout=10)
    return answer.status_code == 200 and "degraded" not in answer.json()


def _refused(url: str) -> httpx.Response | None:
    answer = httpx.get(url, timeout=30)
    return answer if answer.status_code == 503 else None
