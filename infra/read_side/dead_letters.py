"""Poison events go to `<topic>.dlq` with the reason and their original position, so a projection can go on."""

from collections.abc import Sequence
from typing import Any

from confluent_kafka import Producer

from infra.read_side.projection_writer import PositionedEvent


def dead_letter_topic(topic: str) -> str:
    return f"{topic}.dlq"


class DeadLetters:
    """Produces dead letters and waits until Kafka has them, before the batch's checkpoint may commit."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._producer = Producer({"bootstrap.servers": bootstrap_servers, "acks": "all", "enable.idempotence": True})

    def send(self, failures: Sequence[tuple[PositionedEvent, str]], raw: dict[tuple[str, int, int], Any]) -> None:
        """Send one dead letter per failure; `raw` holds each failed message's key and value by position."""
        for positioned, reason in failures:
            key, value = raw.get((positioned.topic, positioned.partition, positioned.offset), (None, None))
            self._producer.produce(
                dead_letter_topic(positioned.topic),
                key=key,
                value=value,
                headers=[
                    ("dlq.reason", reason.encode()),
                    ("dlq.topic", positioned.topic.encode()),
                    ("dlq.partition", str(positioned.partition).encode()),
                    ("dlq.offset", str(positioned.offset).encode()),
                ],
            )
        if self._producer.flush(30) != 0:
            raise RuntimeError("dead letters were not acknowledged by Kafka within 30 s")
