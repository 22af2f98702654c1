"""`streamkeep serve --workers 2`: two API processes on one port, each with its own Kafka clients, answer commands
and read-your-writes queries alike."""

from pathlib import Path

import httpx
import pytest

from bench.processes import child_pids
from tests.conftest import ORDER, settled
from tests.platform import StreamkeepProcess, free_port, wait_ready

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
