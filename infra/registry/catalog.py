"""What `streamkeep schemas` and `/v1/schemas` show: subjects with their role, one version, a diff of two."""

import json
from pathlib import Path
from typing import Any

from infra.avro.message_mapping import COMMAND_CLASSES, EVENT_TYPES, OUTCOME
from infra.avro.parsed_schema import AvroSchema
from infra.avro.saga_mapping import OPERATOR_COMMANDS, SAGA_EVENT_TYPES
from infra.kafka.topics import commands_topic, events_topic, saga_commands_topic, saga_events_topic
from infra.registry.client import Registry, UnknownSubject, Version
from infra.registry.diff import diff
from infra.registry.local_files import read_local_schemas

LOCAL = "local"  # a version name meaning the `.avsc` in the schemas folder, not yet registered


def role(subject: str) -> dict[str, str]:
    """What a subject is to Streamkeep: kind (event, command, outcome), the class it maps to, its topic."""
    if subject in EVENT_TYPES:
        cls = EVENT_TYPES[subject]
        return {"kind": "event", "type": cls.__qualname__, "topic": events_topic(_context(subject))}
    if subject in COMMAND_CLASSES:
        command = COMMAND_CLASSES[subject].__name__
        return {"kind": "command", "type": command, "topic": commands_topic(_context(subject))}
    if subject == OUTCOME:
        return {"kind": "outcome", "type": "Outcome", "topic": "<context>.outcomes"}
    if subject in SAGA_EVENT_TYPES:
        return {"kind": "saga event", "type": SAGA_EVENT_TYPES[subject].__name__, "topic": saga_events_topic()}
    if subject in OPERATOR_COMMANDS:
        return {"kind": "saga command", "type": subject.rsplit(".", 1)[1], "topic": saga_commands_topic()}
    return {"kind": "", "type": "", "topic": ""}


def _context(subject: str) -> str:
    return subject.split(".", 1)[0]


def overview(registry: Registry) -> list[dict[str, Any]]:
    """Every subject with its latest version, schema id, compatibility level and role."""
    rows = []
    for subject in registry.subjects():
        latest = registry.version(subject)
        rows.append(
            {
                "subject": subject,
                "version": latest.version,
                "schema_id": latest.schema_id,
                "compatibility": registry.compatibility(subject),
                **role(subject),
            }
        )
    return rows


def subject_detail(registry: Registry, subject: str) -> dict[str, Any]:
    return {
        "subject": subject,
        "versions": registry.versions(subject),
        "compatibility": registry.compatibility(subject),
        **role(subject),
    }


def version_detail(registry: Registry, subject: str, version: Version = "latest") -> dict[str, Any]:
    found = registry.version(subject, version)
    return {
        "subject": subject,
        "version": found.version,
        "schema_id": found.schema_id,
        "references": found.references,
        "schema": json.loads(found.text),
    }


def parse_version(text: str) -> Version:
    """A version as users write it: a number, `latest`, or `local` (the schema file not yet registered)."""
    if text in ("latest", LOCAL):
        return text
    if text.isdigit() and int(text) > 0:
        return int(text)
    raise ValueError(f"version must be a positive number, 'latest' or '{LOCAL}', not {text!r}")


def versions_diff(registry: Registry, subject: str, old: Version, new: Version, schemas_dir: Path) -> dict[str, Any]:
    """The field-level changes from version `old` to version `new` of a subject."""
    before, old_number = _schema_at(registry, subject, old, schemas_dir)
    after, new_number = _schema_at(registry, subject, new, schemas_dir)
    return {
        "subject": subject,
        "from": old_number,
        "to": new_number,
        "changes": [c.as_dict() for c in diff(before, after)],
    }


def _schema_at(registry: Registry, subject: str, version: Version, schemas_dir: Path) -> tuple[AvroSchema, Any]:
    if version == LOCAL:
        local = read_local_schemas(schemas_dir).schemas
        if subject not in local:
            raise UnknownSubject(f"no readable local schema {subject} in {schemas_dir}")
        return local[subject].schema, LOCAL
    found = registry.version(subject, version)
    return found.schema, found.version
