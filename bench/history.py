"""Makes sure `orders.events` holds at least N events, writing synthetic placed (and some cancelled) orders."""

import uuid
from datetime import datetime, timezone

from confluent_kafka import Producer

from commands.messages import Envelope
from domain.orders import Order
from domain.values import OrderLine
from infra.avro.codec import AvroCodec
from infra.avro.message_mapping import event_to_record
from infra.kafka.event_stream import end_offsets
from infra.kafka.topics import ensure_topics

TOPIC = "orders.events"
CANCEL_EVERY = 4  # one order in four is cancelled: rows are written twice, as in real use


def stored_events(bootstrap: str) -> int:
    """Offsets in use (close to the event count; transaction markers also take offsets)."""
    return sum(end_offsets(bootstrap, TOPIC).values())


def ensure_history(bootstrap: str, codec: AvroCodec, events: int, partitions: int) -> int:
    """Write synthetic events until the topic holds `events`; returns how many were written."""
    ensure_topics(bootstrap, partitions)
    missing = events - stored_events(bootstrap)
    if missing <= 0:
        return 0
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "enable.idempotence": True,
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
            # No compression: Faust's aiokafka reads lz4, snappy and zstd only with extra libraries we do not ship.
        }
    )
    written = placed = 0
    at = datetime.now(timezone.utc)
    envelope = Envelope(uuid.uuid4(), at, uuid.uuid4())
    lines = [OrderLine("SKU-1", 2, 1250), OrderLine("SKU-2", 1, 499)]
    while written < missing:
        order = Order.place(order_id=uuid.uuid4(), customer_id=uuid.uuid4(), currency="EUR", lines=lines, at=at)
        # Counted in orders, not events: counting events cancelled one order in three, not one in four.
        if placed % CANCEL_EVERY == 0:
            order.cancel("bench", at)
        placed += 1
        for event in order.collect_events()[: missing - written]:
            name, record = event_to_record(event, envelope)
            _produce(producer, str(order.id).encode(), codec.encode(name, record), name)
            written += 1
    if producer.flush(120) != 0:
        raise RuntimeError("Kafka did not take the synthetic events within 120 s")
    return written


def _produce(producer: Producer, key: bytes, value: bytes, name: str) -> None:
    while True:
        try:
            producer.produce(TOPIC, key=key, value=value, headers=[("event_type", name.encode())])
            return
        except BufferError:  # the local queue is full: let it drain
            producer.poll(0.5)
