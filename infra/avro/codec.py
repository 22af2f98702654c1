"""Avro in the Confluent wire format: magic byte 0, a 4-byte schema id, then the Avro body."""

import io
import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from confluent_kafka.schema_registry import SchemaRegistryClient
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from fastavro.read import SchemaResolutionError

from infra.avro.views import after_read

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")
# Set on a record read as written (Avro could not resolve it to the local schema): the class version of its
# writer schema (the schema's "class_version" attribute, 1 without one), for the domain's upcasters to start from.
WRITER_CLASS_VERSION = "class_version"
# One registry request. The client's default is no timeout at all, which would hang a decode (and so a worker)
# on a registry that stopped answering; one that answers does so in milliseconds, 10 s covers a slow one.
REGISTRY_TIMEOUT_S = 10


class UndecodableMessage(Exception):
    """Bytes that are not an Avro value in the Confluent wire format we can read."""


def load_local_schemas(schemas_dir: Path) -> dict[str, str]:
    """Every `.avsc` under schemas_dir, keyed by its record's full name (which is also its subject)."""
    schemas: dict[str, str] = {}
    for path in sorted(schemas_dir.glob("*.avsc")):
        text = path.read_text()
        record = json.loads(text)
        full_name = f"{record['namespace']}.{record['name']}" if record.get("namespace") else record["name"]
        schemas[full_name] = text
    return schemas


# Rewrites a schema's JSON before it is parsed: how a codec's view of the records differs from the plain one.
SchemaView = Callable[[dict[str, Any]], dict[str, Any]]


def _as_is(schema: dict[str, Any]) -> dict[str, Any]:
    return schema


class AvroCodec:
    """Encodes records with the local schemas and decodes any registered writer schema into them."""

    def __init__(
        self, registry: SchemaRegistryClient, local_schemas: dict[str, str], view: SchemaView = _as_is
    ) -> None:
        self._registry = registry
        self._view = view
        self._local = {name: parse_schema(view(json.loads(text))) for name, text in local_schemas.items()}
        self._local_text = local_schemas
        self._ids: dict[str, int] = {}
        self._writers: dict[int, tuple[str, Any]] = {}
        self._read_as_written: set[int] = set()
        # Per parsed schema (by identity: the codec keeps every one it parsed): what its view left to after the read.
        self._after_read: dict[int, list[tuple[str, Callable[[Any], Any]]]] = {}

    def viewed(self, view: SchemaView) -> "AvroCodec":
        """A decoding codec on the same registry whose schemas (local and writer) are first rewritten by `view`;
        schema ids already known are carried over, each parsed once more in the new view."""
        codec = AvroCodec(self._registry, self._local_text, view)
        codec._ids = dict(self._ids)
        codec._writers = {i: (name, codec._local[name]) for name, i in self._ids.items()}
        return codec

    def adopt(self, schema_ids: dict[str, int]) -> None:
        """Encode each record name with the schema id the registry gave its local schema."""
        for name, schema_id in schema_ids.items():
            self._ids[name] = schema_id
            self._writers[schema_id] = (name, self._local[name])

    def encode(self, name: str, record: dict[str, Any]) -> bytes:
        buffer = io.BytesIO()
        buffer.write(_HEADER.pack(MAGIC_BYTE, self._ids[name]))
        schemaless_writer(buffer, self._local[name], record)
        return buffer.getvalue()

    def schema(self, name: str) -> Any:
        """The parsed local schema of a record name (the reader schema decode() gives records in)."""
        return self._local[name]

    def decode(self, data: bytes | None) -> tuple[str, dict[str, Any]]:
        """Return (record full name, record) read with the local (newest) schema of that name."""
        if data is None or len(data) < _HEADER.size:
            raise UndecodableMessage("value too short for the Confluent wire format")
        magic, schema_id = _HEADER.unpack_from(data)
        if magic != MAGIC_BYTE:
            raise UndecodableMessage(f"magic byte {magic}, expected {MAGIC_BYTE}")
        name, writer = self._writer_schema(schema_id)
        reader = self._local.get(name, writer)
        # The same schema needs no resolution; passing it as reader anyway makes fastavro compare them per call.
        reader = None if reader is writer else reader
        try:
            return name, self._read(schema_id, data, writer, reader)
        except Exception as error:
            raise UndecodableMessage(f"Avro body does not match schema id {schema_id} ({name}): {error}") from error

    def _read(self, schema_id: int, data: bytes, writer: Any, reader: Any) -> dict[str, Any]:
        if schema_id not in self._read_as_written:
            try:
                resolved = schemaless_reader(_body(data), writer, reader)
                return self._finish(writer if reader is None else reader, resolved)  # type: ignore[arg-type]
            except SchemaResolutionError:
                self._read_as_written.add(schema_id)
        record: dict[str, Any] = schemaless_reader(_body(data), writer, writer)  # type: ignore[assignment]
        record[WRITER_CLASS_VERSION] = writer.get(WRITER_CLASS_VERSION, 1) if isinstance(writer, dict) else 1
        return self._finish(writer, record)

    def _finish(self, schema: Any, record: dict[str, Any]) -> dict[str, Any]:
        """Apply what the view left to after the read (nothing, for the plain view) to a record read with schema."""
        steps = self._after_read.get(id(schema))
        if steps is None:
            steps = self._after_read[id(schema)] = after_read(schema) if isinstance(schema, dict) else []
        for field, convert in steps:
            record[field] = convert(record[field])
        return record

    def _writer_schema(self, schema_id: int) -> tuple[str, Any]:
        if schema_id not in self._writers:
            try:
                text = self._registry.get_schema(schema_id).schema_str
            except Exception as error:
                raise UndecodableMessage(f"schema id {schema_id} is not in the registry: {error}") from error
            parsed = json.loads(text)
            name = f"{parsed['namespace']}.{parsed['name']}" if parsed.get("namespace") else parsed["name"]
            self._writers[schema_id] = (name, parse_schema(self._view(parsed)))
        return self._writers[schema_id]


def _body(data: bytes) -> io.BytesIO:
    """The Avro body after the header, without copying it (a BytesIO shares the bytes it starts with)."""
    body = io.BytesIO(data)
    body.seek(_HEADER.size)
    return body


def registry_client(registry_url: str) -> SchemaRegistryClient:
    """The codec's registry client: each request bounded; the client's own retries of 5xx and 429 (three, with
    full jitter) stay, as a writer schema not cached yet is worth waiting a little for."""
    return SchemaRegistryClient({"url": registry_url, "timeout": REGISTRY_TIMEOUT_S})


def reading_codec(registry_url: str, schemas_dir: Path) -> AvroCodec:
    """A codec for decoding only: writer schemas come from the registry by id, nothing is registered."""
    return AvroCodec(registry_client(registry_url), load_local_schemas(schemas_dir))
