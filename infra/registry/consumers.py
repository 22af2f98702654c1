"""Each consumer's declared reads against the local schemas: names the projection or saga a schema change breaks."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.avro.message_mapping import EVENT_TYPES
from infra.avro.parsed_schema import AvroSchema, kind
from infra.avro.saga_mapping import OPERATOR_COMMANDS, SAGA_EVENT_TYPES
from infra.registry.local_files import LocalSchemas
from projections.catalogue import PROJECTIONS
from sagas import fulfilment

Reads = dict[str, tuple[str, ...]]  # record full name -> the field paths read ("lines.sku": sku of each line)

# What the mapping itself reads of every record of a kind, for whichever consumer it is decoded
# (infra/avro/message_mapping.py, saga_mapping.py, infra/saga_runner/inbox.py): the consumers' own lists leave it out.
DOMAIN_EVENT_ENVELOPE = ("aggregate_id", "version", "occurred_at")
SAGA_EVENT_ENVELOPE = ("saga_id", "version", "at", "cause_id")
OPERATOR_COMMAND_ENVELOPE = ("saga_id", "command_id")


def consumers() -> dict[str, Reads]:
    """Every consumer of records by the name the report gives it: each read model, and each saga."""
    found: dict[str, Reads] = {name: module.READS for name, module in PROJECTIONS.items()}
    found[f"{fulfilment.SAGA_TYPE} saga"] = fulfilment.READS
    return found


@dataclass(frozen=True)
class BrokenRead:
    """A field a consumer reads that the local schema of its record does not have (field None: no schema at all)."""

    consumer: str
    subject: str
    field: str | None
    schema_file: str

    @property
    def reason(self) -> str:
        if self.field is None:
            return f"{self.consumer} reads {self.subject} records, but {self.schema_file} no longer exists"
        return f"{self.consumer} reads {self.subject}.{self.field}, which {self.schema_file} no longer has"


def broken_reads(local: LocalSchemas, schemas_dir: Path) -> list[BrokenRead]:
    """Every declared read the local schemas cannot satisfy, one per consumer, record and field."""
    broken = []
    for consumer, reads in sorted(consumers().items()):
        for subject, fields in sorted(reads.items()):
            found = local.schemas.get(subject)
            schema_file = f"{schemas_dir.name}/{subject}.avsc"
            if found is None:
                broken.append(BrokenRead(consumer, subject, None, schema_file))
                continue
            for path in (*envelope(subject), *fields):
                if not has_field(found.schema, path):
                    broken.append(BrokenRead(consumer, subject, path, schema_file))
    return broken


def envelope(subject: str) -> tuple[str, ...]:
    if subject in EVENT_TYPES:
        return DOMAIN_EVENT_ENVELOPE
    if subject in SAGA_EVENT_TYPES:
        return SAGA_EVENT_ENVELOPE
    return OPERATOR_COMMAND_ENVELOPE if subject in OPERATOR_COMMANDS else ()


def has_field(schema: AvroSchema, path: str) -> bool:
    """Whether a dotted path names a field of the record, through arrays, maps and nullable unions on the way."""
    return _has(schema, schema.root, path.split("."))


def _has(schema: AvroSchema, node: Any, names: list[str]) -> bool:
    node = schema.resolve(node)
    if isinstance(node, dict) and isinstance(node.get("type"), (dict, list)):
        node = node["type"]  # {"type": {...}}: the same type, wrapped
    if not names:
        return True
    what = kind(node)
    if what == "union":
        return any(_has(schema, branch, names) for branch in node if branch != "null")
    if what == "array":
        return _has(schema, node["items"], names)
    if what == "map":
        return _has(schema, node["values"], names)
    if what in ("record", "error"):
        fields = {field["name"]: field["type"] for field in node["fields"]}
        return names[0] in fields and _has(schema, fields[names[0]], names[1:])
    return False
