"""Rebuilds against real Kafka and PostgreSQL: equal to the live models after a load with a worker killed,
queries answering throughout, resumable after kill -9, one at a time."""

import json
import random
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bench.processes import child_pids
from infra.read_side.rebuild import REBUILD_LOCK
from projections.catalogue import PROJECTIONS
from tests.conftest import settled
from tests.platform import StreamkeepProcess, free_port, run_cli, wait_for

pytestmark = pytest.mark.kafka

COMMANDS = 3000
LOAD_WITHIN_S = 240  # about 30 s here; a command side that stopped answering ends the load, not the CI run
SKUS = [f"SKU-L-{i}" for i in range(12)]
_ORDER = {
    "customer_id": "6f1c1f5e-6a7e-4a53-9a44-0f8f6f0b8a11",
    "currency": "EUR",
    "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_cents": 700}],
}


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


def _caught_up(env: dict[str, str]) -> list[dict]:
    return wait_for(
        lambda: (
            (r := _json(run_cli(["projections", "--json", "--interval", "0"], env)))
            and all(p["lag"] == 0 for p in r)
            and r
        ),
        120,
        "every projection to catch up",
        interval_s=1,
    )


def _command(client: httpx.Client, customers: list[str], placed: list[str], deadline: float) -> None:
    """One random command, retried through 503s as a client would, until the load's deadline."""
    roll = random.random()
    if roll < 0.6 or not placed:
        sku = random.choice(SKUS)
        body = {
            "customer_id": random.choice(customers),
            "currency": random.choice(["EUR", "USD"]),
            "lines": [{"sku": sku, "quantity": random.randint(1, 5), "unit_price_cents": random.randint(100, 5000)}],
        }
        request = ("/v1/orders", body, {"Idempotency-Key": str(uuid.uuid4())})
    elif roll < 0.8:
        request = (f"/v1/orders/{random.choice(placed)}/cancel", {"reason": "load"}, {})
    else:
        request = (f"/v1/inventory/{random.choice(SKUS)}/restock", {"quantity": random.randint(1, 50)}, {})
    for _ in range(20):
        if time.monotonic() > deadline:
            return
        response = client.post(request[0], json=request[1], headers=request[2], timeout=15)
        if response.status_code != 503:
            break
        time.sleep(0.5)
    if response.status_code == 201:
        placed.append(response.json()["order_id"])


def _load(base_url: str, worker: StreamkeepProcess) -> list[str]:
    customers = [str(uuid.uuid4()) for _ in range(40)]
    placed: list[str] = []
    done = threading.Event()
    deadline = time.monotonic() + LOAD_WITHIN_S

    def client_loop(share: int) -> None:
        with httpx.Client(base_url=base_url) as client:
            for _ in range(share):
                _command(client, customers, placed, deadline)

    def killer() -> None:
        # kill -9 the second projection worker twice while commands flow, starting it again each time.
        for _ in range(2):
            time.sleep(3)
            if done.is_set():
                return
            worker.kill()
            worker.start()

    threads = 8
    with ThreadPoolExecutor(threads + 1) as pool:
        chaos = pool.submit(killer)
        for future in [pool.submit(client_loop, COMMANDS // threads) for _ in range(threads)]:
            future.result()
        done.set()
        chaos.result()
    return placed


def _probe(base_url: str, order_id: str, sku: str, customer: str, stop: threading.Event, seen: list) -> None:
    """Read the three query routes in a loop, with commands still coming in, so swaps happen under writes."""
    with httpx.Client(base_url=base_url) as client:
        while not stop.is_set():
            client.post(f"/v1/inventory/{sku}/restock", json={"quantity": 1}, timeout=15)
            for path in (f"/v1/orders/{order_id}", f"/v1/inventory/{sku}", f"/v1/customers/{customer}/orders"):
                response = client.get(path, timeout=10)
                body = response.json() if response.status_code == 200 else None
                empty = body is None or body == {} or body.get("orders") == []
                seen.append((path, response.status_code, empty))


def test_after_a_load_with_kill_9_every_rebuild_equals_the_live_model_and_queries_answer_throughout(
    kafka_platform: dict, tmp_path: Path
) -> None:
    settled(kafka_platform)
    env = kafka_platform["env"]
    second = StreamkeepProcess(["worker", "--role", "projections"], env, tmp_path / "projections.log").start()
    try:
        placed = _load(kafka_platform["base_url"], second)
        assert len(placed) > COMMANDS // 3, f"{len(placed)} orders placed within {LOAD_WITHIN_S} s"
        _caught_up(env)
    finally:
        second.stop()
    order = httpx.get(f"{kafka_platform['base_url']}/v1/orders/{placed[0]}", timeout=10).json()

    stop, seen = threading.Event(), []
    probe = threading.Thread(
        target=_probe, args=(kafka_platform["base_url"], placed[0], SKUS[0], order["customer_id"], stop, seen)
    )
    probe.start()
    try:
        # Two processes where the rows allow it (each a share of the partitions); daily_sales is built by one.
        summaries = [
            _json(run_cli(["rebuild", name, "--diff", "--json", "--jobs", "2"], env, 600)) for name in PROJECTIONS
        ]
    finally:
        stop.set()
        probe.join(30)

    for summary in summaries:
        assert summary["rows_differ"] == 0, summary
        context = PROJECTIONS[summary["projection"]].CONTEXT
        if context not in ("orders", "inventory"):
            # Payments, shipping and the saga: this load writes none of it, their topics hold only what other
            # tests left there (on a fresh stack, perhaps events in one partition only).
            continue
        assert summary["events"] >= COMMANDS // 4 or context == "inventory"
        assert summary["processes"] == (1 if summary["projection"] == "daily_sales" else 2), summary
    failures = [s for s in seen if s[1] != 200 or s[2]]
    assert len(seen) > 30, "the probe ran during the rebuilds"
    assert failures == []
    # The swapped-in tables are the live ones now: the worker goes on writing into them.
    after = httpx.post(f"{kafka_platform['base_url']}/v1/orders/{placed[1]}/cancel", json={"reason": "x"}, timeout=10)
    if after.status_code == 200:
        token = after.json()["consistency_token"]
        read = httpx.get(f"{kafka_platform['base_url']}/v1/orders/{placed[1]}", params={"after": token}, timeout=10)
        assert read.json()["status"] == "cancelled"


def test_a_rebuild_past_a_stopped_projection_worker_diffs_at_one_position_and_moves_the_live_model_on(
    kafka_platform: dict, tmp_path: Path
) -> None:
    settled(kafka_platform)
    env, base_url = kafka_platform["env"], kafka_platform["base_url"]
    # Commands go on, projections stop: the live read model falls behind what the rebuild will read.
    commands_only = StreamkeepProcess(["worker", "--role", "commands"], env, tmp_path / "commands.log").start()
    kafka_platform["worker"].kill()
    try:
        unseen = [
            wait_for(
                lambda: (
                    (r := httpx.post(f"{base_url}/v1/orders", json=_ORDER, timeout=10)).status_code == 201
                    and r.json()["order_id"]
                ),
                90,
                "the commands-only worker to take an order",
            )
            for _ in range(5)
        ]
        assert all(httpx.get(f"{base_url}/v1/orders/{o}", timeout=10).status_code == 404 for o in unseen)

        summary = _json(run_cli(["rebuild", "order_summary", "--diff", "--json"], env, 600))

        # Compared at one position (the live model brought to the rebuild's), the two agree; the swapped-in
        # table holds the orders the stopped worker never projected.
        assert summary["rows_differ"] == 0, summary
        assert all(httpx.get(f"{base_url}/v1/orders/{o}", timeout=10).status_code == 200 for o in unseen)
    finally:
        kafka_platform["worker"].start()
        commands_only.stop()
    # The restarted worker resumes past the moved checkpoint: a new order is projected, the old ones once.
    placed = wait_for(
        lambda: (r := httpx.post(f"{base_url}/v1/orders", json=_ORDER, timeout=10)).status_code == 201 and r.json(),
        90,
        "the restarted worker to take an order",
    )
    read = httpx.get(f"{base_url}/v1/orders/{placed['order_id']}", params={"after": placed["consistency_token"]})
    assert read.status_code == 200
    assert all(httpx.get(f"{base_url}/v1/orders/{o}", timeout=10).json()["version"] == 1 for o in unseen)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_a_rebuild_killed_half_way_resumes_and_finishes_equal_to_the_live_model(
    kafka_platform: dict, tmp_path: Path, jobs: str
) -> None:
    env = kafka_platform["env"]
    port = free_port()
    args = ["rebuild", "order_summary", "--batch", "50", "--jobs", jobs, "--metrics-port", str(port)]
    rebuild = StreamkeepProcess(args, env, tmp_path / "rebuild.log").start()
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:

        def resumable() -> bool:
            row = conn.execute(
                "SELECT count(*) FROM projection_checkpoints WHERE projection = 'order_summary__next'"
            ).fetchone()
            return bool(row and row[0])

        wait_for(resumable, 60, "the rebuild's first committed batch", interval_s=0.05)
    # Its progress, scraped while it runs.
    applied, total = wait_for(lambda: _progress(port), 30, "the rebuild's progress in its /metrics", interval_s=0.05)
    assert 0 < applied <= total
    assert rebuild.process is not None
    shares = set(child_pids(rebuild.process.pid))
    if jobs == "2":
        assert len(shares) >= 2, "the share processes were building when the rebuild was killed"
    rebuild.kill()
    # Share processes die with the rebuild: none may go on writing beside the next one.
    wait_for(lambda: not any(Path(f"/proc/{pid}").exists() for pid in shares), 10, "the share processes to end")

    summary = _json(run_cli(["rebuild", "order_summary", "--diff", "--json", "--jobs", jobs], env, 600))

    assert summary["rows_differ"] == 0
    full = _json(run_cli(["rebuild", "order_summary", "--json"], env, 600))
    assert summary["events"] < full["events"], "the second run resumed where the killed one stopped"


def _progress(port: int) -> tuple[float, float] | None:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    values = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.labels.get("projection") == "order_summary"
    }
    applied, total = values.get("streamkeep_rebuild_events_applied"), values.get("streamkeep_rebuild_events_total")
    return (applied, total) if applied else None


def test_only_one_rebuild_of_a_projection_runs_at_a_time(kafka_platform: dict) -> None:
    env = kafka_platform["env"]
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s, hashtext('daily_sales'))", (REBUILD_LOCK,))
        result = run_cli(["rebuild", "daily_sales"], env)

    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == "streamkeep: a rebuild of daily_sales is already running"


def test_in_place_rebuilds_the_live_rows_to_what_they_were_and_a_diff_then_finds_none(kafka_platform: dict) -> None:
    settled(kafka_platform)
    env = kafka_platform["env"]
    _caught_up(env)

    def table() -> dict:
        with psycopg.connect(env["DATABASE_URL"]) as conn:
            return {row[0]: row for row in conn.execute("SELECT * FROM daily_sales ORDER BY 1").fetchall()}

    before = table()

    summary = _json(run_cli(["rebuild", "daily_sales", "--in-place", "--json"], env, 600))

    assert summary["mode"] == "in-place"
    assert summary["events"] > 0
    # Sums are where an event applied twice or skipped would show; nothing was sent meanwhile.
    assert table() == before
    assert _json(run_cli(["rebuild", "daily_sales", "--diff", "--json"], env, 600))["rows_differ"] == 0
