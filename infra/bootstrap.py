"""Connects the Kafka backend's adapters: topics, registered schemas, the read-model database."""

import asyncio

from infra.avro.codec import AvroCodec
from infra.kafka.topics import ensure_topics
from infra.read_side.read_models import PostgresReadModels
from infra.registry.deploy import connect_codec
from infra.settings import Settings


async def connect_kafka_backend(
    settings: Settings, codec: AvroCodec | None = None
) -> tuple[AvroCodec, PostgresReadModels]:
    """Create missing topics, register the schemas (as `schemas register` does; not when given a codec whose
    schemas are registered), open the read-model pool."""
    await asyncio.to_thread(ensure_topics, settings.kafka_bootstrap_servers, settings.partitions)
    codec = codec or await asyncio.to_thread(
        connect_codec, settings.schema_registry_url, settings.schemas_dir, settings.event_store
    )
    read_models = PostgresReadModels(settings.database_url, settings.breakers)
    await read_models.open()
    return codec, read_models
