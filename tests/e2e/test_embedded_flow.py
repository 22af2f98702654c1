"""The same walk as on Kafka, on the embedded backend: `streamkeep run` with nothing configured."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.platform import StreamkeepProcess, free_port, wait_ready

ORDER = {
    "customer_id": "6f1c1f5e-6a7e-4a53-9a44-0f8f6f0b8a11",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}],
}
EMBEDDED = {"STREAMKEEP_BACKEND": "embedded", "KAFKA_BOOTSTRAP_SERVERS": ""}


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture
def streamkeep_run(workdir: Path) -> Iterator[tuple[StreamkeepProcess, str]]:
    port = free_port()
    process = StreamkeepProcess(
        ["run", "--port", str(port)],
        {**EMBEDDED, "STREAMKEEP_DATA_DIR": str(workdir / ".streamkeep")},
        workdir / "run.log",
    ).start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url, timeout_s=30)
        yield process, base_url
    finally:
        process.stop()


def test_an_order_posted_over_http_is_readable_over_http_and_survives_a_restart(
    streamkeep_run: tuple[StreamkeepProcess, str], workdir: Path
) -> None:
    process, base_url = streamkeep_run

    placed = httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=10)
    assert placed.status_code == 201, placed.text
    body = placed.json()
    assert body["version"] == 1
    assert placed.headers["location"] == f"/v1/orders/{body['order_id']}"

    order = httpx.get(f"{base_url}{placed.headers['location']}", timeout=10).json()
    assert (order["status"], order["total_cents"], order["lines"]) == ("placed", 2500, ORDER["lines"])

    process.kill()
    process.start()
    wait_ready(base_url, timeout_s=30)
    assert httpx.get(f"{base_url}/v1/orders/{body['order_id']}", timeout=10).json() == order
    assert (workdir / ".streamkeep" / "events.sqlite").exists()


def test_replay_prints_the_stored_events_as_json_lines(
    streamkeep_run: tuple[StreamkeepProcess, str], workdir: Path
) -> None:
    _, base_url = streamkeep_run
    first = httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=10).json()
    httpx.post(f"{base_url}/v1/orders", json=ORDER, timeout=10)

    result = _streamkeep(workdir, "replay", "--aggregate", first["order_id"])

    assert result.returncode == 0, result.stderr
    [line] = [json.loads(text) for text in result.stdout.splitlines()]
    assert line["type"] == "orders.OrderPlaced"
    assert line["aggregate_id"] == first["order_id"]
    assert line["version"] == 1
    assert line["data"]["lines"] == ORDER["lines"]
    assert {"topic", "partition", "offset", "timestamp"} <= set(line)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"customer_id": ', 400, None),
        (json.dumps({"currency": "EUR", "lines": ORDER["lines"]}).encode(), 422, "customer_id"),
        (json.dumps({**ORDER, "customer_id": "not-a-uuid"}).encode(), 422, "customer_id"),
        (
            json.dumps({**ORDER, "lines": [{"sku": "A", "quantity": 1.5, "unit_price_cents": 1}]}).encode(),
            422,
            "lines[0].quantity",
        ),
        (json.dumps({**ORDER, "colour": "red"}).encode(), 422, "colour"),
        (json.dumps({**ORDER, "lines": []}).encode(), 422, "lines"),
    ],
)
def test_bad_input_is_a_problem_naming_the_field_and_stores_nothing(
    streamkeep_run: tuple[StreamkeepProcess, str], workdir: Path, body: bytes, status: int, field: str | None
) -> None:
    _, base_url = streamkeep_run

    response = httpx.post(
        f"{base_url}/v1/orders", content=body, headers={"content-type": "application/json"}, timeout=10
    )

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status
    if field:
        assert field in problem["detail"] or problem.get("field") == field
    assert _streamkeep(workdir, "replay").stdout == ""


def test_cli_errors_are_one_line_and_non_zero(workdir: Path) -> None:
    result = _streamkeep(workdir, "worker")

    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "kafka backend" in result.stderr
    assert "Traceback" not in result.stderr


def _streamkeep(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **EMBEDDED, "STREAMKEEP_DATA_DIR": str(workdir / ".streamkeep")}
    return subprocess.run(
        [sys.executable, "-m", "infra", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )


def test_a_two_megabyte_body_is_refused_with_413_and_stores_nothing(
    streamkeep_run: tuple[StreamkeepProcess, str], workdir: Path
) -> None:
    _, base_url = streamkeep_run
    huge = json.dumps({**ORDER, "lines": [ORDER["lines"][0]] * 40_000}).encode()
    assert len(huge) > 2_000_000

    response = httpx.post(
        f"{base_url}/v1/orders", content=huge, headers={"content-type": "application/json"}, timeout=30
    )

    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
    assert _streamkeep(workdir, "replay").stdout == ""
