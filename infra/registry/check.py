"""`schemas check`: local schemas against the registry's versions and against the events Kafka already holds."""

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastavro.validation import ValidationError, validate

from commands.messages import Envelope
from infra.avro.codec import AvroCodec
from infra.avro.message_mapping import EVENT_TYPES, event_to_record, record_to_event
from infra.avro.parsed_schema import AvroSchema, MalformedSchema, parse
from infra.avro.saga_mapping import SAGA_EVENT_TYPES, record_to_saga_event
from infra.registry.client import Registry, UnknownSubject
from infra.registry.compatibility import directions, read_problems
from infra.registry.consumers import broken_reads
from infra.registry.history import StoredEvent, stored_events
from infra.registry.levels import CompatibilityLevels, load_levels
from infra.registry.local_files import LocalSchemas, read_local_schemas

SAMPLES_PER_SCHEMA_ID = 5
AVRO = "Avro resolution"


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
    read_by: str = AVRO  # or the domain's upcasters, where Avro cannot resolve the writer


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


def check_local_files(local: LocalSchemas, report: CheckReport, schemas_dir: Path) -> None:
    """Every file parses, an event's schema declares the class version its domain event class has, and every
    field a projection or saga says it reads is there (the line names the consumer that would break)."""
    report.local_schemas = len(local.schemas)
    report.failures.extend(Failure(file_name, why) for file_name, why in local.problems)
    for subject, schema in sorted(local.schemas.items()):
        declared, code = schema.schema.class_version, _code_version(subject)
        if subject in EVENT_TYPES and declared != code:
            why = f"the schema says class_version {declared}, {EVENT_TYPES[subject].__qualname__} is version {code}"
            report.failures.append(Failure(subject, why))
    report.failures.extend(Failure(broken.subject, broken.reason) for broken in broken_reads(local, schemas_dir))


def _code_version(subject: str) -> int:
    return int(getattr(EVENT_TYPES.get(subject), "class_version", 1))


def check_registry(
    local: LocalSchemas, registry: Registry, levels: CompatibilityLevels, report: CheckReport, prefix: str = ""
) -> None:
    """Each local schema against the registered versions its subject's level asks for; `prefix` names a
    namespace of subjects (`<prefix><record name>`, e.g. a staging copy) to check against instead."""
    for subject, schema in sorted(local.schemas.items()):
        level = levels.of(subject)
        backward, forward, transitive = directions(level)
        if not (backward or forward):
            continue  # NONE
        try:
            versions = registry.versions(prefix + subject)
        except UnknownSubject:
            continue  # a new subject: its first version is compatible with nothing before it
        for number in versions if transitive else versions[-1:]:
            old = registry.version(prefix + subject, number)
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
        self._unresolved: dict[int, list[str]] = {}  # schema id -> why Avro alone cannot read its events
        # The code's own decoder, over the local schemas under check.
        self._codec = AvroCodec(registry.client, {s: local.schemas[s].text for s in local.schemas})

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
        if problems and schema.class_version < _code_version(writer.subject):
            # Avro alone cannot read it, but the code reads it as written and upcasts it: decoding decides.
            writer.read_by = f"upcasters from class version {schema.class_version}"
            writer.readable = True
            self._unresolved[schema_id] = [p.explain() for p in problems]
            return writer
        self._unreadable(writer, [p.explain() for p in problems])
        writer.readable = not problems
        return writer

    def _unreadable(self, writer: WriterSchema, reasons: list[str], suffix: str = "") -> None:
        for reason in reasons:
            self._fail(
                writer.subject, f"{reason}: events stored with schema id {writer.schema_id} cannot be read{suffix}"
            )

    def _decode(self, event: StoredEvent, writer: WriterSchema) -> None:
        """Read the event as the code does: the codec (Avro resolution, else as written), then mapping and upcasters."""
        try:
            name, record = self._codec.decode(event.value)
            if name in EVENT_TYPES:
                domain_event = record_to_event(name, record)
                if writer.schema_id in self._unresolved:
                    self._fits_local_schema(name, domain_event, record)
            elif name in SAGA_EVENT_TYPES:
                record_to_saga_event(name, record)
        except Exception as error:  # whatever the failure, the code cannot read this stored event
            writer.readable = False
            error_text = f"{type(error).__name__}: {error}"
            if writer.schema_id in self._unresolved:
                # Avro's reasons say what changed; the upcasters' error says why they did not bridge it.
                suffix = f" (nor by the {writer.read_by}: {error_text} at {event.where})"
                self._unreadable(writer, self._unresolved[writer.schema_id], suffix)
            else:
                self._fail(
                    writer.subject,
                    f"event at {event.where} (schema id {writer.schema_id}) cannot be read: {error_text}",
                )
            return
        writer.decoded += 1

    def _fits_local_schema(self, name: str, domain_event: Any, record: dict[str, Any]) -> None:
        """An upcast event must also be what the local schema describes, or the code and the schema disagree."""
        envelope = Envelope(record["command_id"], record["occurred_at"], record["correlation_id"])
        try:
            validate(event_to_record(domain_event, envelope)[1], self.local.schemas[name].schema.root)
        except ValidationError as error:
            reasons = "; ".join(map(str, error.errors))
            raise ValueError(f"the upcast event does not fit the local schema: {reasons}") from None

    def _writer_schema(self, schema_id: int) -> AvroSchema:
        if schema_id not in self._parsed:
            self._parsed[schema_id] = parse(self.registry.schema_text(schema_id))
        return self._parsed[schema_id]

    def _fail(self, subject: str, reason: str) -> None:
        self.report.failures.append(Failure(subject, reason))


def run_check(
    registry: Registry, schemas_dir: Path, kafka: str | None, full: bool = False, prefix: str = ""
) -> CheckReport:
    """The whole gate: the files, the registry's versions (under `prefix`), and the events stored in the
    Kafka at `kafka` (bootstrap servers; None: no stored history to check)."""
    local = read_local_schemas(schemas_dir)
    report = CheckReport()
    check_local_files(local, report, schemas_dir)
    check_registry(local, registry, load_levels(schemas_dir), report, prefix)
    if kafka is not None:
        check_history(local, registry, stored_events(kafka), report, full)
    return report
