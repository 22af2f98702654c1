"""The Faust stream processor that projects `<context>.events` into the PostgreSQL read models."""

import logging
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from infra.avro_codec import AvroCodec, UndecodableMessage
from infra.message_mapping import record_to_event
from infra.postgres_read_models import PositionedEvent, PostgresReadModels
from infra.topics import CONTEXTS, events_topic

log = logging.getLogger(__name__)
APP_ID = "streamkeep-projections"
BATCH_SIZE = 1000
BATCH_WITHIN_S = 0.05


class _CommittedReadsConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    # Faust reads committed records only under its own exactly_once, which we do not use: the
    # checkpoint lives in PostgreSQL. Events of aborted command transactions must never be projected.
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        consumer._isolation_level = "read_committed"
        return consumer


class _CommittedReadsConsumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> Any:
        return _CommittedReadsConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _CommittedReadsConsumer


class _ProjectionApp(faust.App):
    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def create_projection_app(bootstrap_servers: str, codec: AvroCodec, read_models: PostgresReadModels) -> faust.App:
    """A Faust app whose one agent applies batches of events with their checkpoint in one transaction."""
    app = _ProjectionApp(
        APP_ID,
        broker=f"kafka://{bootstrap_servers}",
        web_enabled=False,
        topic_disable_leader=True,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        producer_acks=-1,
        # A killed worker's partitions move to a live one after 10 s rather than Faust's default 60 s.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.5,
    )
    topics = app.topic(*[events_topic(c) for c in CONTEXTS], key_type=bytes, value_type=bytes)

    @app.agent(topics, name="project-events")
    async def project_events(stream: Any) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):
            batch = [p for p in (_positioned(codec, e.message) for e in events) if p is not None]
            if batch:
                await read_models.apply_batch(batch)

    return app


def _positioned(codec: AvroCodec, message: Any) -> PositionedEvent | None:
    try:
        event = record_to_event(*codec.decode(message.value))
    except (UndecodableMessage, KeyError, TypeError) as error:
        # Dead-lettering poison events arrives with the read-side work; until then they are logged and passed.
        log.error("cannot project %s/%s@%s: %s", message.topic, message.partition, message.offset, error)
        return None
    return PositionedEvent(message.topic, message.partition, message.offset, event)
