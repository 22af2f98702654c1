"""The `rebuild` and `replay` scenarios: throughput over a history of N events, each beside a baseline.

rebuild: `streamkeep rebuild order_summary --json` as a process; baseline: as many rows (up to 200,000) written
into a scratch table the way the rebuild writes them (COPY + merge), PostgreSQL alone. replay: `streamkeep replay
--format json` to a pipe; baseline: the same topic consumed with confluent-kafka and nothing else.
"""

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import psycopg
from confluent_kafka import Consumer, KafkaError, TopicPartition
from psycopg import AsyncConnection

from bench.history import TOPIC, ensure_history
from bench.processes import BenchError, child_pids, peak_rss_mb
from infra.kafka.event_stream import end_offsets
from infra.read_side.projection_writer import Target, create_tables, write_rows
from infra.settings import REPOSITORY_ROOT, Settings

BASELINE_BATCH = 5000


@dataclass(frozen=True)
class ThroughputResult:
    """A throughput scenario's figures in the contract's shape (no per-request latency: p50/p99 are null)."""

    scenario: str
    unit: str
    count: int
    rate: float
    peak_rss_mb: float
    wall_s: float
    baseline_rate: float | None
    settings: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "unit": self.unit,
            "rate": round(self.rate, 1),
            "p50_ms": None,
            "p99_ms": None,
            "peak_rss_mb": round(self.peak_rss_mb, 1),
            "wall_s": round(self.wall_s, 2),
            "baseline_rate": round(self.baseline_rate, 1) if self.baseline_rate else None,
            "ratio": round(self.rate / self.baseline_rate, 2) if self.baseline_rate else None,
            "count": self.count,
            "settings": self.settings,
        }


def rebuild(settings: Settings, events: int, baseline: bool, jobs: int | None = None) -> ThroughputResult:
    _require_kafka(settings)
    written = _history(settings, events)
    started = time.monotonic()
    args = ["rebuild", "order_summary", "--json", *(["--jobs", str(jobs)] if jobs else [])]
    summary, rss, share_rss = _run_measured(args, json_out=True)
    rows = _rows(settings.database_url)
    base = _upsert_baseline(settings.database_url, min(rows, 200_000)) if baseline else None
    return ThroughputResult(
        "rebuild",
        "events",
        summary["events"],
        summary["events"] / summary["wall_s"],
        rss,
        time.monotonic() - started,
        base,
        {
            "events": events,
            "written_now": written,
            "projection": "order_summary",
            "rows": rows,
            "processes": summary.get("processes", 1),
            "share_peak_rss_mb": round(share_rss, 1),
        },
    )


def replay(settings: Settings, events: int, baseline: bool) -> ThroughputResult:
    _require_kafka(settings)
    written = _history(settings, events)
    started = time.monotonic()
    lines, rss, share_rss, elapsed = _replay_to_pipe()
    base = _consume_baseline(settings.kafka_bootstrap_servers) if baseline else None
    return ThroughputResult(
        "replay",
        "events",
        lines,
        lines / elapsed,
        rss,
        time.monotonic() - started,
        base,
        {
            "events": events,
            "written_now": written,
            "format": "json",
            "topic": TOPIC,
            "share_peak_rss_mb": round(share_rss, 1),
        },
    )


def _require_kafka(settings: Settings) -> None:
    if not settings.uses_kafka:
        raise BenchError('this scenario needs the kafka backend: run eval "$(streamkeep infra up)" first')


def _history(settings: Settings, events: int) -> int:
    from infra.registry.deploy import connect_codec

    codec = connect_codec(settings.schema_registry_url, settings.schemas_dir, settings.event_store)
    return ensure_history(settings.kafka_bootstrap_servers, codec, events, settings.partitions)


def _spawn(args: list[str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "STREAMKEEP_BACKEND": "kafka"}
    return subprocess.Popen(
        [sys.executable, "-m", "infra", *args],
        env=env,
        cwd=REPOSITORY_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )


def _watch_rss(process: subprocess.Popen[bytes], peak: list[float]) -> None:
    """Sample the process's VmHWM until it exits (it cannot be read after) into peak[0], and the largest VmHWM
    among its own child processes (replay's and rebuild's shares) into peak[1]."""
    while process.poll() is None:
        try:
            peak[0] = max(peak[0], peak_rss_mb(process.pid))
        except (OSError, BenchError):
            return
        for child in child_pids(process.pid):
            try:
                peak[1] = max(peak[1], peak_rss_mb(child))
            except (OSError, BenchError):
                continue  # ended meanwhile
        time.sleep(0.2)


def _run_measured(args: list[str], json_out: bool) -> tuple[dict[str, Any], float, float]:
    process = _spawn(args)
    peak = [0.0, 0.0]
    watcher = threading.Thread(target=_watch_rss, args=(process, peak), daemon=True)
    watcher.start()
    out, _ = process.communicate()
    watcher.join(5)
    if process.returncode != 0:
        raise BenchError(f"streamkeep {' '.join(args)} exited with {process.returncode}")
    return json.loads(out), peak[0], peak[1]


def _replay_to_pipe() -> tuple[int, float, float, float]:
    """Run replay, count its lines as they come; returns (lines, peak RSS MB, largest share's peak RSS MB,
    seconds from first byte asked)."""
    started = time.monotonic()
    process = _spawn(["replay", "--format", "json"])
    peak = [0.0, 0.0]
    watcher = threading.Thread(target=_watch_rss, args=(process, peak), daemon=True)
    watcher.start()
    assert process.stdout is not None
    lines = 0
    while chunk := process.stdout.read(1 << 20):
        lines += chunk.count(b"\n")
    process.wait()
    elapsed = time.monotonic() - started
    watcher.join(5)
    if process.returncode != 0:
        raise BenchError(f"streamkeep replay exited with {process.returncode}")
    return lines, peak[0], peak[1], elapsed


def _rows(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM order_summary").fetchone()
        return int(row[0]) if row else 0


def _upsert_baseline(database_url: str, rows: int) -> float:
    """PostgreSQL alone: order_summary rows written the way a rebuild writes them (COPY to a staging table,
    merged by the projection's upsert), a transaction per batch, into a scratch table."""
    return asyncio.run(_write_scratch(database_url, rows))


async def _write_scratch(database_url: str, rows: int) -> float:
    from projections import order_summary

    target = Target(order_summary, "bench_upsert_baseline", "bench_upsert_baseline")
    at = datetime.now(timezone.utc)
    lines = [{"sku": "SKU-1", "quantity": 2, "unit_price_cents": 1250}]
    async with await AsyncConnection.connect(database_url) as conn:
        await conn.execute(f"DROP TABLE IF EXISTS {target.table}")
        await create_tables(conn, target)
        await conn.commit()
        started = time.monotonic()
        for start in range(0, rows, BASELINE_BATCH):
            batch = [
                {
                    "order_id": uuid.uuid4(),
                    "customer_id": uuid.uuid4(),
                    "status": "placed",
                    "currency": "EUR",
                    "total_cents": 2500,
                    "lines": lines,
                    "version": 1,
                    "placed_at": at,
                    "updated_at": at,
                    "reason": None,
                }
                for _ in range(min(BASELINE_BATCH, rows - start))
            ]
            await write_rows(conn, target, batch)
            await conn.commit()
        elapsed = time.monotonic() - started
        await conn.execute(f"DROP TABLE {target.table}")
        await conn.commit()
    return rows / elapsed if elapsed else 0.0


def _consume_baseline(bootstrap: str) -> float:
    """confluent-kafka alone: the topic read to its end read_committed, nothing decoded or printed."""
    ends = end_offsets(bootstrap, TOPIC)
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": f"bench-{uuid.uuid4()}",
            "isolation.level": "read_committed",
            "enable.partition.eof": True,
            "enable.auto.commit": False,
        }
    )
    consumer.assign([TopicPartition(TOPIC, p, 0) for p in ends])
    remaining, count = set(ends), 0
    started = time.monotonic()
    while remaining:
        for message in consumer.consume(1000, 1.0):
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    remaining.discard(message.partition())
                continue
            count += 1
    elapsed = time.monotonic() - started
    consumer.close()
    return count / elapsed if elapsed else 0.0
