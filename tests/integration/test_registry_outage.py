"""The schema registry out of reach: the schema routes answer a clear 503 (at once, once the breaker has opened)
and answer again after it is back; `serve` and `worker` refuse to start without it, in one line."""

import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.integration.tcp_relay import TcpRelay
from tests.integration.test_postgres_outage import P99_LIMIT_MS
from tests.platform import StreamkeepProcess, free_port, run_cli, wait_for, wait_ready

pytestmark = pytest.mark.kafka
SUBJECT = "/v1/schemas/orders.OrderPlaced"


def test_the_schema_routes_answer_503_while_the_registry_is_out_of_reach_and_recover_after(
    infra_env: dict[str, str], tmp_path: Path
) -> None:
    registry = urlsplit(infra_env["SCHEMA_REGISTRY_URL"])
    with TcpRelay(registry.hostname or "127.0.0.1", registry.port or 80) as relay:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = {
            "STREAMKEEP_BACKEND": "embedded",
            "KAFKA_BOOTSTRAP_SERVERS": "",
            "STREAMKEEP_DATA_DIR": str(tmp_path / "data"),
            "SCHEMA_REGISTRY_URL": registry._replace(netloc=f"127.0.0.1:{relay.port}").geturl(),
            "STREAMKEEP_BREAKER_RESET_S": "1",
        }
        platform = StreamkeepProcess(["run", "--port", str(port)], env, tmp_path / "run.log").start()
        try:
            wait_ready(base_url)
            assert httpx.get(f"{base_url}{SUBJECT}", timeout=30).status_code == 200

            relay.cut()
            first = httpx.get(f"{base_url}{SUBJECT}", timeout=30)
            assert first.status_code == 503
            assert first.headers["content-type"] == "application/problem+json"
            assert first.json()["title"] == "Schema registry unavailable"
            assert "does not answer" in first.json()["detail"]
            assert int(first.headers["retry-after"]) >= 1
            opened = wait_for(lambda: _refused_by_breaker(base_url), 30, "the registry's breaker open")
            assert int(opened.headers["retry-after"]) >= 1
            assert httpx.get(f"{base_url}/readyz", timeout=10).json()["open_breakers"] == ["schema-registry"]
            with httpx.Client(timeout=30) as client:
                answers = [_timed_get(client, f"{base_url}{SUBJECT}") for _ in range(100)]
            assert {answer.status_code for answer, _ in answers} == {503}
            # Those the open breaker refused (the rest are its probes, each a request the registry client retries).
            refused = sorted(ms for answer, ms in answers if "breaker" in answer.json()["detail"])
            p99 = refused[int(len(refused) * 0.99) - 1]
            print(
                f"\nschema routes, registry out of reach: {len(refused)} of 100 refused by the breaker,"
                f" p99 {p99:.1f} ms"
            )
            assert len(refused) >= 90 and p99 <= P99_LIMIT_MS

            relay.restore()
            wait_for(lambda: httpx.get(f"{base_url}{SUBJECT}", timeout=30).status_code == 200, 30, "the routes back")
            assert "open_breakers" not in httpx.get(f"{base_url}/readyz", timeout=10).json()
        finally:
            platform.stop()


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "1"]])
def test_a_start_up_without_the_registry_stops_at_once_in_one_line(infra_env: dict[str, str], command) -> None:
    env = {**infra_env, "STREAMKEEP_BACKEND": "kafka", "SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{free_port()}"}
    started = time.monotonic()
    result = run_cli(command, env, timeout_s=60)
    assert result.returncode == 1, result.stderr
    assert time.monotonic() - started < 30
    assert "Traceback" not in result.stderr
    # Log lines aside (JSON, e.g. serve's warning that the suite runs it without auth): the refusal's line alone.
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("{")]
    assert len(lines) == 1 and lines[0].startswith("streamkeep: schema registry at http://127.0.0.1:"), lines
    assert "does not answer" in lines[0]


def _refused_by_breaker(base_url: str) -> httpx.Response | None:
    answer = httpx.get(f"{base_url}{SUBJECT}", timeout=30)
    return answer if "circuit breaker schema-registry is open" in answer.json().get("detail", "") else None


def _timed_get(client: httpx.Client, url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    answer = client.get(url)
    return answer, (time.monotonic() - started) * 1000
