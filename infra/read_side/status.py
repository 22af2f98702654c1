"""How each projection stands: checkpoint, lag behind its events topic, events/s, last error, dead letters."""

import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition

from infra.kafka.reader import read_to_end
from projections.catalogue import PROJECTIONS

# Offsets count transaction markers too, so lag is counted record by record up to this gap, estimated above it.
EXACT_LAG_UP_TO = 20_000


@dataclass(frozen=True)
class ProjectionReport:
    name: str
    checkpoint: dict[str, int]
    lag: int
    events_per_s: float
    last_error: str | None
    dead_letters: int

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def kafka_reports(bootstrap_servers: str, database_url: str, interval_s: float) -> list[ProjectionReport]:
    """One report per projection; events/s is measured over `interval_s`."""
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        before = _status(conn)
        time.sleep(interval_s)
        after = _status(conn)
        checkpoints = _checkpoints(conn)
    reports = []
    for name, projection in PROJECTIONS.items():
        topic = f"{projection.CONTEXT}.events"
        done = {p: o for (n, t, p), o in checkpoints.items() if n == name and t == topic}
        events, dead, error = after.get(name, (0, 0, None))
        rate = (events - before.get(name, (0, 0, None))[0]) / interval_s if interval_s > 0 else 0.0
        reports.append(
            ProjectionReport(
                name=name,
                checkpoint={f"{topic}/{p}": o for p, o in sorted(done.items())},
                lag=lag(bootstrap_servers, topic, done),
                events_per_s=round(rate, 1),
                last_error=error,
                dead_letters=dead,
            )
        )
    return reports


def lag(bootstrap_servers: str, topic: str, done: dict[int, int]) -> int:
    """Committed records in `topic` past the checkpoints `done` (partition -> last offset applied)."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap_servers,
            "group.id": f"streamkeep-lag-{uuid.uuid4()}",
            "isolation.level": "read_committed",
        }
    )
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        estimated, exact_from = 0, {}
        for partition in partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10)
            start = max(done.get(partition, -1) + 1, low)
            if high - start > EXACT_LAG_UP_TO:
                estimated += high - start
            elif high > start:
                exact_from[partition] = start
    finally:
        consumer.close()
    counted = sum(1 for _ in read_to_end(bootstrap_servers, topic, from_offsets=exact_from)) if exact_from else 0
    return estimated + counted


def _status(conn: psycopg.Connection[Any]) -> dict[str, tuple[int, int, str | None]]:
    rows = conn.execute("SELECT projection, events, dead_letters, last_error FROM projection_status").fetchall()
    conn.commit()
    return {name: (events, dead, error) for name, events, dead, error in rows}


def _checkpoints(conn: psycopg.Connection[Any]) -> dict[tuple[str, str, int], int]:
    rows = conn.execute('SELECT projection, topic, partition, "offset" FROM projection_checkpoints').fetchall()
    return {(name, topic, partition): offset for name, topic, partition, offset in rows}
