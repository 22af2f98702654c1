"""The Faust stream processors that project each `<context>.events` topic into the PostgreSQL read models."""

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust
import psycopg
import stamina
from faust.transport.drivers import aiokafka as faust_aiokafka

from infra.avro.codec import AvroCodec, UndecodableMessage
from infra.avro.saga_mapping import record_to_projected
from infra.kafka.event_headers import command_offset_of
from infra.kafka.topics import events_topic
from infra.observability import tracing
from infra.observability.stream_metrics import PROJECTION_CHECKPOINT_LAG, PROJECTION_DEAD_LETTERS
from infra.read_side.dead_letters import DeadLetters
from infra.read_side.projection_writer import Applied, PositionedEvent, Target
from infra.read_side.read_models import BeforeCommit, PostgresReadModels
from projections.catalogue import PROJECTIONS, reading

log = logging.getLogger(__name__)
APP_ID = "streamkeep-projections"
BATCH_SIZE = 1000
BATCH_WITHIN_S = 0.05
RETRY_MAX_S = 5.0  # the longest wait between two tries of a batch PostgreSQL did not take
PROJECTED_CONTEXTS = tuple(sorted({projection.CONTEXT for projection in PROJECTIONS.values()}))


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

    async def seek_to_committed(self) -> Any:
        # Faust calls this once a rebalance has settled. The PostgreSQL checkpoints, not the group's offsets, say
        # where each partition resumes: a group rewound (or committed ahead) re-reads nothing twice, skips nothing.
        committed = dict(await super().seek_to_committed())
        positions = await self.app.resume_positions(self.assignment())
        for tp, offset in sorted(positions.items()):
            log.info("projections resume %s/%s at offset %s (group had %s)", *tp, offset, committed.get(tp))
            committed[tp] = offset
        # Seek in the consumer's own thread. aiokafka's fetcher is not thread-safe: a seek from this loop (as
        # Faust's own `_seek` does) raced its fetched_records, whose KeyError crashed the fetcher and stopped the
        # worker, commands and all, when a second projections worker joined or left.
        await self.seek_wait(positions)
        return committed


class _Transport(faust_aiokafka.Transport):
    Consumer = _CommittedReadsConsumer


class _ProjectionApp(faust.App):
    resume_positions: Callable[[set[Any]], Awaitable[dict[Any, int]]]

    def _new_transport(self) -> Any:
        return _Transport(self.conf.broker_consumer, self)


def create_projection_app(bootstrap_servers: str, codec: AvroCodec, read_models: PostgresReadModels) -> faust.App:
    """A Faust app with one agent per context; each batch commits its rows and checkpoints in one transaction."""
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
    app.resume_positions = functools.partial(resume_positions, read_models)
    dead_letters = DeadLetters(bootstrap_servers)
    for context in PROJECTED_CONTEXTS:
        _add_agent(app, context, codec, read_models, dead_letters)
    return app


async def resume_positions(read_models: PostgresReadModels, assigned: set[Any]) -> dict[Any, int]:
    """Where each assigned events partition resumes: just past the oldest checkpoint among the projections that
    read it, or its first offset when one of them has none yet."""
    done = {name: await read_models.checkpoints(name) for name in PROJECTIONS}
    positions = {}
    for tp in assigned:
        readers = [p.NAME for p in reading(tp.topic.removesuffix(".events"))] if tp.topic.endswith(".events") else []
        if readers:
            positions[tp] = min(done[name].get((tp.topic, tp.partition), -1) for name in readers) + 1
    return positions


def _add_agent(
    app: faust.App, context: str, codec: AvroCodec, read_models: PostgresReadModels, dead_letters: DeadLetters
) -> None:
    targets = [Target.live(projection) for projection in reading(context)]
    topic = app.topic(events_topic(context), key_type=bytes, value_type=bytes)
    lag_by_partition: dict[Any, int] = {}

    async def project(stream: Any) -> None:
        async for events in stream.take_events(BATCH_SIZE, within=BATCH_WITHIN_S):
            started_ns = time.time_ns()
            messages = [e.message for e in events]
            batch = [_positioned(codec, m) for m in messages]
            raw = {(m.topic, m.partition, m.offset): (m.key, m.value) for m in messages}

            apply = functools.partial(read_models.apply_batch, targets, batch, _sender(dead_letters, raw))
            results = await _until_taken(apply, messages[0].topic)
            _count(app, messages, results, lag_by_partition)
            tracing.record_batch(messages[0].topic, APP_ID, (m.headers for m in messages), started_ns, len(messages))

    app.agent(topic, name=f"project-{context}-events")(project)


def _count(app: faust.App, messages: list[Any], results: dict[str, Applied], lag_by_partition: dict[Any, int]) -> None:
    """A committed batch's dead letters, and how far its projections' checkpoints now are behind the partitions'
    high watermarks, which the consumer has from its fetches (no request of ours). Offsets count transaction
    markers: one follows every committed transaction, so the one past the last event applied is not lag (exact
    at rest and one transaction behind; above that, a marker per transaction more is counted)."""
    last = {message.tp: message.offset for message in messages}  # a batch is in offset order per partition
    for tp, offset in last.items():
        highwater = app.consumer.highwater(tp)
        if highwater is not None:
            lag_by_partition[tp] = max(0, highwater - (offset + 1) - 1)
    for name, applied in results.items():
        PROJECTION_CHECKPOINT_LAG.labels(name).set(sum(lag_by_partition.values()))
        if applied.failures:
            PROJECTION_DEAD_LETTERS.labels(name).inc(len(applied.failures))


# Never given up (see _until_taken); PoolTimeout, a lost or refused connection and a server shutting down are all
# OperationalErrors, while a row PostgreSQL refuses is handled inside the batch (projection_writer.py).
@stamina.retry(
    on=psycopg.OperationalError, attempts=None, timeout=None, wait_initial=0.1, wait_max=RETRY_MAX_S, wait_jitter=0.1
)
async def _until_taken(apply: Callable[[], Awaitable[dict[str, Applied]]], topic: str) -> dict[str, Applied]:
    """Apply a batch, trying again while PostgreSQL is away. Given up, the batch would be lost to this worker (Faust
    restarts a crashed agent at the next batch) and the checkpoint would pass it with the batches after it; tried
    again, it is applied once (rows and checkpoint commit together, so a retry of a batch that did commit skips)."""
    try:
        return await apply()
    except psycopg.OperationalError as error:  # connection lost or refused, pool timed out, server shutting down
        log.warning("PostgreSQL did not take a batch, trying again: %s", error, extra={"topic": topic})
        raise


def _sender(dead_letters: DeadLetters, raw: dict[tuple[str, int, int], Any]) -> BeforeCommit:
    async def send(failures: list[tuple[PositionedEvent, str]]) -> None:
        # One letter per message, whichever of the context's projections refused it.
        unique = {(p.topic, p.partition, p.offset): (p, reason) for p, reason in reversed(failures)}
        for (topic, partition, offset), (_, reason) in unique.items():
            at = {"topic": topic, "partition": partition, "offset": offset}
            log.error("dead-lettered %s/%s@%s: %s", topic, partition, offset, reason, extra=at)
        await asyncio.to_thread(dead_letters.send, list(unique.values()), raw)

    return send


def _positioned(codec: AvroCodec, message: Any) -> PositionedEvent:
    command_offset = command_offset_of(message.headers)
    return decode_event(codec, message.topic, message.partition, message.offset, message.value, command_offset)


def decode_event(
    codec: AvroCodec, topic: str, partition: int, offset: int, value: bytes | None, command_offset: int = -1
) -> PositionedEvent:
    """The event at a position (a domain event, or a saga instance's on its saga's topic), or, for a poison record,
    why it is not one."""
    position = (topic, partition, offset)
    try:
        return PositionedEvent(*position, record_to_projected(*codec.decode(value)), command_offset=command_offset)
    except UndecodableMessage as error:
        return PositionedEvent(*position, None, f"undecodable: {error}", command_offset)
    except KeyError as error:
        return PositionedEvent(*position, None, f"unknown event type or field: {error}", command_offset)
    except (TypeError, ValueError) as error:
        return PositionedEvent(*position, None, f"record does not make an event: {error}", command_offset)
