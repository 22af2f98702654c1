"""`schemas check`: local schemas against the registry's versions and against the events Kafka already holds."""

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro import schemaless_reader

from infra.avro_schema import AvroSchema, MalformedSchema, parse
from infra.local_schemas import LocalSchemas, read_local_schemas
from infra.message_mapping import EVENT_TYPES, record_to_event
from infra.schema_compat import directions, read_problems
from infra.schema_history import StoredEvent, stored_events
from infra.schema_levels import CompatibilityLevels, load_levels
from infra.schema_registry import Registry, UnknownSubject
from infra.settings import Settings

SAMPLES_PER_SCHEMA_ID = 5


@dataclass(frozen=True)
class Failure:
    subject: str
    reason: str

    def __str__(self) -> str:
        return f"{self.subject}: {self.reason}"


@dataclass
class WriterSchema:
    """One schema id seen in the stored events, and what became of reading its events."""

    schema_id: int
    subject: str = ""
    events: int = 0
    decoded: int = 0
    readable: bool = True


@dataclass
class CheckReport:
    failures: list[Failure] = field(default_factory=list)
    local_schemas: int = 0
    registry_versions: int = 0
    stored_events: int | None = None  # None: the stored history was not checked
    writers: dict[int, WriterSchema] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.failures

    def as_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "failures": [{"subject": f.subject, "reason": f.reason} for f in self.failures],
            "local_schemas": self.local_schemas,
            "registry_versions": self.registry_versions,
            "stored_events": self.stored_events,
            "writer_schemas": [vars(w) for w in sorted(self.writers.values(), key=lambda w: w.schema_id)],
        }


def check_local_files(local: LocalSchemas, report: CheckReport) -> None:
    report.local_schemas = len(local.schemas)
    report.failures.extend(Failure(line.split(":", 1)[0], line.split(": ", 1)[1]) for line in local.problems)


def check_registry(local: LocalSchemas, registry: Registry, levels: CompatibilityLevels, report: CheckReport) -> None:
    """Each local schema against the registered versions its subject's level asks for."""
    for subject, schema in sorted(local.schemas.items()):
        level = levels.of(subject)
        backward, forward, transitive = directions(level)
        try:
            versions = registry.versions(subject)
        except UnknownSubject:
            continue  # a new subject: its first version is compatible with nothing before it
        for number in versions if transitive else versions[-1:]:
            if not (backward or forward):
                break
            old = registry.version(subject, number)
            report.registry_versions += 1
            registered = f"version {number} (schema id {old.schema_id})"
            if backward:
                for problem in read_problems(old.schema, schema.schema):
                    why = f"{problem.explain()}: data written with {registered} cannot be read ({level})"
                    report.failures.append(Failure(subject, why))
            if forward:
                for problem in read_problems(schema.schema, old.schema):
                    why = f"{problem.explain(new_is_reader=False)}: readers of {registered} cannot read it ({level})"
                    report.failures.append(Failure(subject, why))


def check_history(
    local: LocalSchemas, registry: Registry, events: Iterable[StoredEvent], report: CheckReport, full: bool = False
) -> None:
    """Each writer schema of the stored events must resolve to the local schema, and its events must map to
    domain events: a sample of each schema id's events is decoded, or every event with `full`."""
    _History(local, registry, report).check(events, full)


class _History:
    def __init__(self, local: LocalSchemas, registry: Registry, report: CheckReport) -> None:
        self.local, self.registry, self.report = local, registry, report
        self._parsed: dict[int, AvroSchema] = {}  # schema ids never change in a registry

    def check(self, events: Iterable[StoredEvent], full: bool) -> None:
        self.report.stored_events = 0
        for event in events:
            self.report.stored_events += 1
            if event.schema_id is None:
                self._fail(event.topic, f"event at {event.where} is not in the Confluent wire format")
                continue
            writer = self.report.writers.get(event.schema_id)
            if writer is None:
                writer = self.report.writers[event.schema_id] = self._first_look(event, event.schema_id)
            writer.events += 1
            if writer.readable and (full or writer.decoded < SAMPLES_PER_SCHEMA_ID):
                self._decode(event, writer)

    def _first_look(self, event: StoredEvent, schema_id: int) -> WriterSchema:
        writer = WriterSchema(schema_id, readable=False)
        try:
            schema = self._writer_schema(schema_id)
        except (UnknownSubject, MalformedSchema) as error:
            self._fail(event.topic, f"events stored with schema id {schema_id}: {error}")
            return writer
        writer.subject = schema.full_name
        reader = self.local.schemas.get(writer.subject)
        if reader is None:
            why = f"events stored with schema id {schema_id} in {event.topic} have no local schema"
            self._fail(writer.subject, why)
            return writer
        problems = read_problems(schema, reader.schema)
        for problem in problems:
            self._fail(writer.subject, f"{problem.explain()}: events stored with schema id {schema_id} cannot be read")
        writer.readable = not problems
        return writer

    def _decode(self, event: StoredEvent, writer: WriterSchema) -> None:
        """Read the event as the code does: Avro resolution to the local schema, then the mapping to a domain event."""
        reader = self.local.schemas[writer.subject].schema
        try:
            body = io.BytesIO(event.value[5:])
            record = schemaless_reader(body, self._writer_schema(writer.schema_id).root, reader.root)
            if writer.subject in EVENT_TYPES:
                record_to_event(writer.subject, record)  # type: ignore[arg-type]
        except Exception as error:  # whatever the failure, the code cannot read this stored event
            writer.readable = False
            error_text = f"{type(error).__name__}: {error}"
            why = f"event at {event.where} (schema id {writer.schema_id}) cannot be read: {error_text}"
            self._fail(writer.subject, why)
            return
        writer.decoded += 1

    def _writer_schema(self, schema_id: int) -> AvroSchema:
        if schema_id not in self._parsed:
            self._parsed[schema_id] = parse(self.registry.schema_text(schema_id))
        return self._parsed[schema_id]

    def _fail(self, subject: str, reason: str) -> None:
        self.report.failures.append(Failure(subject, reason))


def run_check(settings: Settings, registry: Registry, schemas_dir: Path, full: bool = False) -> CheckReport:
    """The whole gate: the files, the registry's versions, and (on the kafka backend) the stored events."""
    local = read_local_schemas(schemas_dir)
    report = CheckReport()
    check_local_files(local, report)
    check_registry(local, registry, load_levels(schemas_dir), report)
    if settings.uses_kafka:
        check_history(local, registry, stored_events(settings.kafka_bootstrap_servers), report, full)
    return report
