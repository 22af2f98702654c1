"""Where a saga's time goes: each step of the fulfilment instances started in the last N seconds, as the moment
(median and p90, ms) it happened after the instance started, from the instances' own events in Kafka.

    python -m bench.saga_timeline --since 60

An instance's `at` is when the saga runner read the message that led to it, so `reply X` minus `sent X` is one
round trip through a command processor (and the gateway, for the payment): the saga's transaction, the command's,
and both reads. The first line, from order_summary, is how long the runner took to start after the order was
placed; the confirmation becomes visible in order_summary after `reply confirm-order`, once projected.
"""

import argparse
import statistics
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from uuid import UUID

import psycopg

from bench.report import percentile
from infra.avro.codec import reading_codec
from infra.avro.saga_mapping import record_to_saga_event
from infra.kafka.reader import read_to_end
from infra.kafka.topics import saga_events_topic
from infra.settings import load_settings
from sagas.history import CommandSent, FulfilmentStarted, Recorded, ReplyReceived, StatusChanged


def instances_since(since: datetime) -> dict[UUID, list[Recorded]]:
    settings = load_settings()
    codec = reading_codec(settings.schema_registry_url, settings.schemas_dir)
    partitions = list(range(settings.partitions))
    by_saga: dict[UUID, list[Recorded]] = defaultdict(list)
    for message in read_to_end(settings.kafka_bootstrap_servers, saga_events_topic(), partitions, timeout_s=None):
        record = record_to_saga_event(*codec.decode(message.value()))
        by_saga[record.saga_id].append(record)
    return {saga_id: records for saga_id, records in by_saga.items() if _started(records) >= since}


def _started(records: list[Recorded]) -> datetime:
    first = next((r for r in records if isinstance(r.event, FulfilmentStarted)), None)
    return first.at if first else datetime.min.replace(tzinfo=timezone.utc)


def _mark(event: object) -> str | None:
    """A step's label; per-SKU steps are counted together."""
    if isinstance(event, CommandSent):
        return f"sent {event.step.partition(':')[0]}"
    if isinstance(event, ReplyReceived):
        return f"reply {event.step.partition(':')[0]}"
    if isinstance(event, StatusChanged):
        return f"status {event.status} / {event.step}"
    return None


def timeline(instances: dict[UUID, list[Recorded]]) -> dict[str, list[float]]:
    """Each step's moments after its instance started, in ms; the first of each label per instance."""
    moments: dict[str, list[float]] = defaultdict(list)
    for records in instances.values():
        start, seen = _started(records), set()
        for record in records:
            label = _mark(record.event)
            if label is not None and label not in seen:
                seen.add(label)
                moments[label].append((record.at - start).total_seconds() * 1000)
    return moments


def start_delays_ms(instances: dict[UUID, list[Recorded]], database_url: str) -> list[float]:
    """OrderPlaced's own time (order_summary.placed_at) to the instance's start."""
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT order_id, placed_at FROM order_summary WHERE order_id = ANY(%s)", (list(instances),)
        ).fetchall()
    return sorted((_started(instances[order_id]) - placed).total_seconds() * 1000 for order_id, placed in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--since", type=float, default=60.0, help="instances started in the last N seconds")
    args = parser.parse_args()
    instances = instances_since(datetime.now(timezone.utc) - timedelta(seconds=args.since))
    print(f"{len(instances)} instances")
    if not instances:
        return
    delays = start_delays_ms(instances, load_settings().database_url)
    if delays:
        print(f"{statistics.median(delays):8.1f} {percentile(delays, 0.9):8.1f}  order placed -> saga started")
    moments = timeline(instances)
    for label, values in sorted(moments.items(), key=lambda item: statistics.median(item[1])):
        values.sort()
        print(f"{statistics.median(values):8.1f} {percentile(values, 0.9):8.1f}  {label}  (n={len(values)})")


if __name__ == "__main__":
    main()
