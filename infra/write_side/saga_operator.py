"""Operators' actions on saga instances, on Kafka: `fulfilment.RetrySaga` / `AbortSaga` to `fulfilment.commands`."""

import asyncio
from datetime import datetime, timezone
from uuid import UUID, uuid4

from confluent_kafka import KafkaError, KafkaException, Producer

from commands.ports import CommandBackendUnavailable
from infra.avro.codec import AvroCodec
from infra.avro.saga_mapping import OPERATOR_RECORDS
from infra.kafka.topics import saga_commands_topic


class KafkaSagaOperator:
    """Sends an operator's request keyed by the saga id (so it reaches the runner that owns the instance), and
    answers once Kafka has it; the instance records what it made of it in its own history."""

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

    async def operate_saga(self, saga_id: UUID, action: str, by: str) -> None:
        record = {"command_id": uuid4(), "saga_id": saga_id, "issued_at": datetime.now(timezone.utc), "by": by}
        value = self._codec.encode(OPERATOR_RECORDS[action], record)
        await asyncio.to_thread(self._write, str(saga_id).encode(), value)

    def _write(self, key: bytes, value: bytes) -> None:
        errors: list[KafkaError | None] = []
        try:
            self._producer.produce(
                saga_commands_topic(), key=key, value=value, on_delivery=lambda e, _m: errors.append(e)
            )
        except (BufferError, KafkaException) as error:
            raise CommandBackendUnavailable(f"cannot send the saga command to Kafka: {error}") from error
        if self._producer.flush(self._timeout_s) != 0 or not errors or errors[0] is not None:
            raise CommandBackendUnavailable("Kafka did not take the saga command in time")

    def close(self) -> None:
        self._producer.flush(5)
