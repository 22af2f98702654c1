"""The simulated payment gateway's topic: scripts from the API and payment requests from the payments processor."""

import asyncio
from datetime import datetime, timezone
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Producer

from commands.messages import Envelope
from commands.ports import CommandBackendUnavailable
from domain.gateway import GatewayAnswer
from domain.payments import Payment
from infra.avro.codec import AvroCodec
from infra.kafka.topics import GATEWAY_TOPIC

SCRIPTED = "payments.GatewayScripted"
REQUESTED = "payments.GatewayRequested"


def gateway_requests(events: list[Any], envelope: Envelope) -> list[tuple[str, dict[str, Any]]]:
    """The gateway records a command's events call for: one request per payment requested."""
    return [
        (
            REQUESTED,
            {
                "payment_id": event.originator_id,
                "order_id": event.order_id,
                "amount_cents": event.amount_cents,
                "currency": event.currency,
                "command_id": envelope.command_id,
                "correlation_id": envelope.correlation_id,
                "requested_at": event.timestamp,
                "reply_to": envelope.reply_to,
            },
        )
        for event in events
        if isinstance(event, Payment.Requested)
    ]


def scripted_record(answers: list[GatewayAnswer], at: datetime) -> dict[str, Any]:
    return {"scripted_at": at, "answers": [answer.as_dict() for answer in answers]}


class KafkaGatewayScript:
    """Writes the gateway's script to its topic, after every request already there and before any that follows."""

    def __init__(self, bootstrap_servers: str, codec: AvroCodec, timeout_s: float) -> None:
        self._codec = codec
        self._timeout_s = timeout_s
        self._producer = Producer(
            {
                "bootstrap.servers": bootstrap_servers,
                "enable.idempotence": True,
                "acks": "all",
                "message.timeout.ms": int(timeout_s * 1000),
            }
        )

    async def script(self, answers: list[GatewayAnswer]) -> None:
        value = self._codec.encode(SCRIPTED, scripted_record(answers, datetime.now(timezone.utc)))
        await asyncio.to_thread(self._write, value)

    def _write(self, value: bytes) -> None:
        errors: list[KafkaError] = []
        try:
            self._producer.produce(GATEWAY_TOPIC, value=value, partition=0, on_delivery=lambda e, _m: errors.append(e))
        except (BufferError, KafkaException) as error:
            raise CommandBackendUnavailable(f"cannot send the gateway script to Kafka: {error}") from error
        # Answered only once stored: a payment requested after this answer is sure to meet the script.
        if self._producer.flush(self._timeout_s) != 0 or errors[0] is not None:
            raise CommandBackendUnavailable("Kafka did not take the gateway script in time")

    def close(self) -> None:
        self._producer.flush(5)
