"""Any Confluent-compatible schema registry, through confluent-kafka's client, with errors a user can act on."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from infra.avro.codec import REGISTRY_TIMEOUT_S
from infra.avro.parsed_schema import AvroSchema, parse

Version = int | str  # a version number, or "latest"


class RegistryUnavailable(Exception):
    """The registry does not answer (down, unreachable, or failing)."""


class UnknownSubject(LookupError):
    """No such subject, or no such version of it."""


class RegistryRefused(Exception):
    """The registry answered, and said no (e.g. a schema incompatible under the subject's level)."""


@dataclass(frozen=True)
class SubjectVersion:
    subject: str
    version: int
    schema_id: int
    text: str
    references: list[dict[str, Any]] = field(default_factory=list)

    @property
    def schema(self) -> AvroSchema:
        return parse(self.text)


class Registry:
    """The registry calls Streamkeep makes; every failure becomes one of the three errors above."""

    def __init__(self, url: str) -> None:
        self.url = url
        # Few, short retries: a registry that is down should be reported in seconds, not after a minute.
        config = {"url": url, "timeout": REGISTRY_TIMEOUT_S, "max.retries": 1, "retries.wait.ms": 200}
        self._client = SchemaRegistryClient(config)

    @property
    def client(self) -> SchemaRegistryClient:
        """The underlying client, for the codec that decodes stored events."""
        return self._client

    def subjects(self) -> list[str]:
        with self._answers():
            return sorted(self._client.get_subjects())

    def versions(self, subject: str) -> list[int]:
        with self._answers(subject):
            return sorted(self._client.get_versions(subject))

    def version(self, subject: str, version: Version = "latest") -> SubjectVersion:
        with self._answers(subject, version):
            found = self._client.get_version(subject, version)
        references = [{"name": r.name, "subject": r.subject, "version": r.version} for r in found.schema.references]
        return SubjectVersion(subject, found.version, found.schema_id, found.schema.schema_str, references)

    def schema_text(self, schema_id: int) -> str:
        with self._answers(f"schema id {schema_id}"):
            return str(self._client.get_schema(schema_id).schema_str)

    def compatibility(self, subject: str) -> str:
        """The subject's level, or the registry's global one when the subject has none of its own."""
        try:
            with self._answers(subject):
                return str(self._client.get_compatibility(subject))
        except UnknownSubject:
            with self._answers():
                return str(self._client.get_compatibility())

    def own_compatibility(self, subject: str) -> str | None:
        """The level set on the subject itself; None when it has none (the registry's global level applies)."""
        try:
            with self._answers(subject):
                return str(self._client.get_compatibility(subject))
        except UnknownSubject:
            return None

    def set_compatibility(self, subject: str, level: str) -> None:
        with self._answers(subject):
            self._client.set_compatibility(subject, level)

    def registered_id(self, subject: str, text: str) -> int | None:
        """The schema id if this schema is already one of the subject's versions, else None."""
        try:
            with self._answers(subject):
                return int(self._client.lookup_schema(subject, Schema(text, "AVRO")).schema_id)
        except UnknownSubject:  # no such subject, or the schema is not among its versions
            return None

    def accepts(self, subject: str, text: str) -> bool:
        """The registry's own verdict: may this schema be registered under the subject's current level?"""
        with self._answers(subject):
            return bool(self._client.test_compatibility(subject, Schema(text, "AVRO")))

    def register(self, subject: str, text: str) -> int:
        with self._answers(subject):
            return int(self._client.register_schema(subject, Schema(text, "AVRO")))

    @contextmanager
    def _answers(self, subject: str | None = None, version: Version | None = None) -> Iterator[None]:
        try:
            yield
        except SchemaRegistryError as error:
            if error.http_status_code == 404 and subject is not None:
                # Confluent's codes: 40401 subject, 40402 version, 40403 schema id; Apicurio uses the same.
                if error.error_code == 40402 and version is not None:
                    raise UnknownSubject(f"subject {subject} has no version {version}") from None
                raise UnknownSubject(f"unknown subject {subject}") from None
            if error.http_status_code >= 500 or error.http_status_code < 0:
                raise RegistryUnavailable(f"schema registry at {self.url} failed: {error.error_message}") from None
            raise RegistryRefused(f"schema registry refused: {error.error_message}") from None
        except Exception as error:  # the client's transport errors: connection refused, timeouts, bad host
            raise RegistryUnavailable(f"schema registry at {self.url} does not answer ({error})") from None
