"""Connects the Kafka backend's adapters: topics, registered schemas, the read-model database."""

import asyncio

from infra.avro_codec import AvroCodec, connect_codec
from infra.postgres_read_models import PostgresReadModels
from infra.settings import Settings
from infra.topics import ensure_topics


async def connect_kafka_backend(settings: Settings) -> tuple[AvroCodec, PostgresReadModels]:
    """Create missing topics, register the schemas, open the read-model pool."""
    await asyncio.to_thread(ensure_topics, settings.kafka_bootstrap_servers, settings.partitions)
    codec = await asyncio.to_thread(connect_codec, settings.schema_registry_url, settings.schemas_dir)
    read_models = PostgresReadModels(settings.database_url)
    await read_models.open()
    return codec, read_models
