"""`streamkeep serve --workers 2`: two API processes on one port, each with its own Kafka clients, answer commands
and read-your-writes queries alike."""

from pathlib import Path

import httpx
import pytest

from bench.processes import child_pids
from tests.conftest import ORDER, settled
from tests.platform import StreamkeepProcess, free_port, wait_for, wait_ready

pytestmark = pytest.mark.kafka


def test_two_api_processes_share_the_port_and_each_answers_with_its_own_outcomes(
    kafka_platform: dict, tmp_path: Path
) -> None:
    settled(kafka_platform)
    port = free_port()
    api = StreamkeepProcess(
        ["serve", "--port", str(port), "--workers", "2"], kafka_platform["env"], tmp_path / "api.log"
    ).start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base_url)
        assert api.process is not None
        # Two server processes (uvicorn's spawn also starts a resource tracker, which is not one).
        servers = [c for c in child_pids(api.process.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(servers) == 2, api.log_tail()

        answers = []
        for _ in range(30):
            # A new connection each time, so the kernel hands them to both processes.
            with httpx.Client(base_url=base_url, timeout=15) as client:
                placed = client.post("/v1/orders", json=ORDER)
                assert placed.status_code == 201, placed.text
                body = placed.json()
                read = client.get(f"/v1/orders/{body['order_id']}", params={"after": body["consistency_token"]})
                answers.append((read.status_code, read.json().get("order_id"), body["order_id"]))
    finally:
        api.stop()

    assert all(status == 200 and seen == sent for status, seen, sent in answers), answers
    assert "Traceback" not in api.log_tail(200)


def test_one_scrape_of_two_api_processes_counts_every_command_and_request_exactly(
    kafka_platform: dict, tmp_path: Path
) -> None:
    settled(kafka_platform)
    shared = tmp_path / "metrics"
    shared.mkdir()
    (shared / "counter_1.db").write_bytes(b"left by an earlier run")  # serve must empty the folder it is given
    port = free_port()
    env = {**kafka_platform["env"], "PROMETHEUS_MULTIPROC_DIR": str(shared)}
    api = StreamkeepProcess(["serve", "--port", str(port), "--workers", "2"], env, tmp_path / "api.log").start()
    base_url = f"http://127.0.0.1:{port}"
    placed, cancelled, refused = 20, 5, 5
    try:
        wait_ready(base_url)
        orders = [_answer(base_url, "/v1/orders", ORDER, 201)["order_id"] for _ in range(placed)]
        for order_id in orders[:cancelled]:
            _answer(base_url, f"/v1/orders/{order_id}/cancel", {"reason": "changed my mind"}, 200)
        for order_id in orders[:refused]:  # a cancelled order cannot be cancelled again: rule order-cancellable
            _answer(base_url, f"/v1/orders/{order_id}/cancel", {"reason": "again"}, 422)

        # Each process keeps its counts in a file of its own, made at its first request: until both have one, ask.
        wait_for(
            lambda: _answered(base_url) and len(list(shared.glob("counter_*.db"))) == 2, 60, "both processes to count"
        )
        # Whichever process answers the scrape, it sums both.
        scrapes = [_scrape(base_url) for _ in range(6)]
    finally:
        api.stop()

    for samples in scrapes:
        assert samples[("streamkeep_commands_total", "orders", "PlaceOrder", "accepted")] == placed
        assert samples[("streamkeep_commands_total", "orders", "CancelOrder", "accepted")] == cancelled
        assert samples[("streamkeep_commands_total", "orders", "CancelOrder", "rejected")] == refused
        assert samples[("streamkeep_http_requests_total", "/v1/orders", "POST", "201")] == placed
        assert samples[("streamkeep_http_requests_total", "/v1/orders/{order_id}/cancel", "POST", "422")] == refused
        assert samples[("streamkeep_http_request_duration_seconds_count", "/v1/orders", "POST")] == placed


def _answer(base_url: str, path: str, body: dict, status: int) -> dict:
    # A new connection each time, so the kernel hands them to both processes.
    with httpx.Client(base_url=base_url, timeout=15) as client:
        answer = client.post(path, json=body)
    assert answer.status_code == status, answer.text
    return answer.json()


def _answered(base_url: str) -> bool:
    with httpx.Client(base_url=base_url, timeout=15) as client:
        return client.get("/livez").status_code == 200


def _scrape(base_url: str) -> dict[tuple[str, ...], float]:
    """The scraped samples, keyed by name and label values in the order the labels were declared."""
    from prometheus_client.parser import text_string_to_metric_families

    with httpx.Client(base_url=base_url, timeout=15) as client:
        text = client.get("/metrics").text
    order = {"context": 0, "type": 1, "outcome": 2, "route": 0, "method": 1, "status": 2}
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if "le" in sample.labels:
                continue
            values = sorted(sample.labels.items(), key=lambda item: order.get(item[0], 9))
            samples[(sample.name, *(value for _, value in values))] = sample.value
    return samples
