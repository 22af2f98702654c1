"""Parsed Avro schemas as plain data: named types resolved, types described in words."""

import json
from dataclasses import dataclass
from typing import Any

from fastavro import parse_schema
from fastavro.schema import UnknownType

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})


class MalformedSchema(Exception):
    """Text that is not an Avro schema."""


@dataclass(frozen=True)
class AvroSchema:
    """One parsed schema: its top-level type and every named type it defines, by full name."""

    root: Any
    names: dict[str, Any]

    @property
    def class_version(self) -> int:
        """The domain event class version this schema was written for (attribute `class_version`, 1 without)."""
        return int(self.root.get("class_version", 1)) if isinstance(self.root, dict) else 1

    @property
    def full_name(self) -> str:
        return str(self.root.get("name", "")) if isinstance(self.root, dict) else str(self.root)

    def resolve(self, schema: Any) -> Any:
        """The definition behind a reference to a named type (a name, or {"type": name})."""
        if isinstance(schema, str) and schema in self.names:
            return self.names[schema]
        if isinstance(schema, dict) and isinstance(schema.get("type"), str) and schema["type"] in self.names:
            return self.names[schema["type"]]
        return schema


def parse(text: str | dict[str, Any]) -> AvroSchema:
    """Parse and validate a schema; fastavro qualifies every name with its namespace."""
    try:
        raw = json.loads(text) if isinstance(text, str) else text
        names: dict[str, Any] = {}
        root = parse_schema(raw, named_schemas=names)
    except json.JSONDecodeError as error:
        raise MalformedSchema(f"not JSON: {error.msg} at line {error.lineno} column {error.colno}") from None
    except UnknownType as error:
        raise MalformedSchema(f"not an Avro schema: unknown type {error.name}") from None
    except Exception as error:  # fastavro raises several types for a bad schema, all meaning the same here
        raise MalformedSchema(f"not an Avro schema: {error}") from None
    return AvroSchema(root, names)


def kind(schema: Any) -> str:
    """The Avro type of an already resolved schema: a primitive, record, enum, fixed, array, map or union."""
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        inner = schema.get("type")
        return kind(inner) if isinstance(inner, (dict, list)) else str(inner)
    return str(schema)


def describe(schema: Any, owner: AvroSchema) -> str:
    """A type in words, e.g. `string`, `array<orders.OrderLine>`, `union[null, string]`."""
    schema = owner.resolve(schema)
    what = kind(schema)
    if what == "union":
        return "union[" + ", ".join(describe(branch, owner) for branch in schema) + "]"
    if what == "array":
        return f"array<{describe(schema['items'], owner)}>"
    if what == "map":
        return f"map<{describe(schema['values'], owner)}>"
    if what in NAMED:
        return f"{what} {schema['name']}"
    return what


def short_name(full_name: str) -> str:
    return full_name.rsplit(".", 1)[-1]
