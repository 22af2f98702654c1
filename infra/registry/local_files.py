"""The `.avsc` files of a schemas folder, parsed one by one so that a broken file is reported, not fatal."""

from dataclasses import dataclass, field
from pathlib import Path

from infra.avro.parsed_schema import AvroSchema, MalformedSchema, parse


@dataclass(frozen=True)
class LocalSchema:
    path: Path
    text: str
    schema: AvroSchema

    @property
    def subject(self) -> str:
        # Record-name strategy: the subject is the record's full name.
        return self.schema.full_name


@dataclass
class LocalSchemas:
    schemas: dict[str, LocalSchema] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (file name, why it cannot be used)


def read_local_schemas(schemas_dir: Path) -> LocalSchemas:
    if not schemas_dir.is_dir():
        raise FileNotFoundError(f"schemas folder {schemas_dir} does not exist")
    found = LocalSchemas()
    for path in sorted(schemas_dir.glob("*.avsc")):
        try:
            local = LocalSchema(path, path.read_text(), parse(path.read_text()))
        except MalformedSchema as error:
            found.problems.append((path.name, str(error)))
            continue
        if path.stem != local.subject:
            why = f"holds record {local.subject}; the file must be named {local.subject}.avsc"
            found.problems.append((path.name, why))
            continue
        found.schemas[local.subject] = local
    return found
