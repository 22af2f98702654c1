"""What `GET /v1/schemas/...` answers, as the served OpenAPI documents it; the contract tests hold each answer to it.

Documentation only, like projections/query_answers.py: infra/registry/catalog.py builds the answers.
"""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubjectRole(_Answer):
    """What a subject is to Streamkeep; all three empty for a subject of no message of ours."""

    kind: str
    type: str
    topic: str


class SubjectRow(SubjectRole):
    subject: str
    version: int
    schema_id: int
    compatibility: str


class SubjectDetail(SubjectRole):
    subject: str
    versions: list[int]
    compatibility: str


class SchemaReference(_Answer):
    name: str
    subject: str
    version: int


class VersionDetail(_Answer):
    subject: str
    version: int
    schema_id: int
    references: list[SchemaReference]
    # The Avro schema itself: a record's object, or a union's list, or a primitive's name.
    schema_: Any = Field(alias="schema")


class FieldChange(_Answer):
    field: str
    change: str
    before: str
    after: str


class SchemaDiff(_Answer):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    subject: str
    from_: int | str = Field(alias="from", description="A version number, or 'local' for the .avsc file.")
    to: int | str
    changes: list[FieldChange]
