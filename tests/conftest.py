"""Shared fixtures: where the real Kafka, registry and PostgreSQL are, and running Streamkeeps to talk to."""

import os
from collections.abc import Iterator

import httpx
import pytest

from tests.platform import RATE_LIMITS_OFF, StreamkeepProcess, free_port, infrastructure_env, wait_for, wait_ready

ORDER = {
    "customer_id": "6f1c1f5e-6a7e-4a53-9a44-0f8f6f0b8a11",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
}

# Every `serve` the suite starts runs without authentication, said in as many words, so the tests of everything
# else need no tokens; the tests of authentication give tokens and STREAMKEEP_NO_AUTH=false to their own.
os.environ["STREAMKEEP_NO_AUTH"] = "true"
# And without rate limits, for the apps tests build in process too: all of the suite's load comes from 127.0.0.1.
os.environ.update(RATE_LIMITS_OFF)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Saga tests last: a saga runner fulfils (or rejects) every order placed after it joins, and the other
    tests' orders must stay as those tests leave them. Its group starts at the end of orders.events."""
    items.sort(key=lambda item: item.get_closest_marker("sagas") is not None)


@pytest.fixture(scope="session")
def infra_env() -> dict[str, str]:
    """Services named by the environment, else testcontainers when Docker answers, else the local launcher."""
    return infrastructure_env()


@pytest.fixture(scope="session")
def kafka_platform(infra_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`streamkeep serve` and `streamkeep worker` as two processes, as in production."""
    logs = tmp_path_factory.mktemp("kafka-platform")
    port = free_port()
    env = {**infra_env, "STREAMKEEP_BACKEND": "kafka"}
    worker = StreamkeepProcess(["worker"], env, logs / "worker.log").start()
    api = StreamkeepProcess(["serve", "--port", str(port)], env, logs / "api.log").start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url)
        # The worker is ready once an order goes all the way round; the first may wait for partition loading.
        wait_for(
            lambda: httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=10).status_code == 201,
            120,
            "the worker to take commands",
        )
        yield {"backend": "kafka", "base_url": base_url, "env": env, "worker": worker, "api": api}
    finally:
        api.stop()
        worker.stop()


@pytest.fixture(scope="session")
def embedded_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """`streamkeep run` with nothing configured but its data folder."""
    workdir = tmp_path_factory.mktemp("embedded-platform")
    port = free_port()
    env = {
        "STREAMKEEP_BACKEND": "embedded",
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "STREAMKEEP_DATA_DIR": str(workdir / ".streamkeep"),
    }
    run = StreamkeepProcess(["run", "--port", str(port)], env, workdir / "run.log").start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, timeout_s=30)
        yield {"backend": "embedded", "base_url": base_url, "env": env, "run": run}
    finally:
        run.stop()


@pytest.fixture(params=["embedded", "kafka"])
def any_platform(request: pytest.FixtureRequest) -> dict:
    """The same test against both backends: they must give the same answers to the same commands."""
    platform = request.getfixturevalue(f"{request.param}_platform")
    settled(platform)
    return platform


def settled(platform: dict) -> None:
    """Wait out a rebalance another test caused (a worker killed, one joining): a probe order goes through."""
    wait_for(
        lambda: httpx.post(f"{platform['base_url']}/v1/orders", json=ORDER, timeout=10).status_code == 201,
        120,
        "the command side to settle",
    )
