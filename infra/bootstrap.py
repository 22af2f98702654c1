"""Connects the Kafka backend's adapters: topics, registered schemas, the read-model database."""

import asyncio

from infra.avro_codec import AvroCodec
from infra.postgres_read_models import PostgresReadModels
from infra.schema_deploy import connect_codec
from infra.settings import Settings
from infra.topics import ensure_topics


async def connect_kafka_backend(
    settings: Settings, codec: AvroCodec | None = None
) -> tuple[AvroCodec, PostgresReadModels]:
    """Create missing topics, register the schemas (as `schemas register` does; not when given a codec whose
    schemas are registered), open the read-model pool."""
    await asyncio.to_thread(ensure_topics, settings.kafka_bootstrap_servers, settings.partitions)
    codec = codec or await asyncio.to_thread(
        connect_codec, settings.schema_registry_url, settings.schemas_dir, settings.event_store
    )
    read_models = PostgresReadModels(settings.database_url)
    await read_models.open()
    return codec, read_models
