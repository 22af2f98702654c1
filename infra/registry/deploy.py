"""Registering the local schemas, as a deploy and every start-up do: all are checked, then each gets its level."""

from pathlib import Path
from typing import Any

import stamina

from infra.avro.codec import AvroCodec, load_local_schemas, registry_client
from infra.registry.check import CheckReport, Failure, check_local_files, run_check
from infra.registry.client import Registry, RegistryRefused
from infra.registry.levels import CompatibilityLevels, load_levels
from infra.registry.local_files import LocalSchemas, read_local_schemas


class SchemasRefused(Exception):
    """Some local schema may not be registered, so none was: one line per refusal."""

    def __init__(self, failures: list[Failure]) -> None:
        super().__init__("\n".join(map(str, failures)))
        self.failures = failures


def deploy_schemas(registry: Registry, schemas_dir: Path, kafka: str | None, prefix: str = "") -> list[dict[str, Any]]:
    """Check every local schema as `schemas check` does, then register all with their levels, or none (SchemasRefused).

    When every schema is registered already (a restart), registering changes nothing, so only the files are
    checked: the registry's versions and the events stored in the Kafka at `kafka` are read when one is new."""
    local = read_local_schemas(schemas_dir)
    known = {name: registry.registered_id(prefix + name, schema.text) for name, schema in local.schemas.items()}
    levels = load_levels(schemas_dir)
    if None in known.values():
        report = run_check(registry, schemas_dir, kafka, prefix=prefix)
        refused = {failure.subject for failure in report.failures}
        new = [name for name, schema_id in sorted(known.items()) if schema_id is None and name not in refused]
        report.failures.extend(registry_refusals(registry, local, levels, new, prefix))
    else:
        check_local_files(local, report := CheckReport(), schemas_dir)
    if report.failures:
        raise SchemasRefused(report.failures)
    return register_all(registry, local, levels, prefix, known)


def registry_refusals(
    registry: Registry, local: LocalSchemas, levels: CompatibilityLevels, new: list[str], prefix: str = ""
) -> list[Failure]:
    """The registry's own verdict on each new schema, asked before anything is registered, so that it cannot
    refuse one half-way through. It judges under the subject's current level: where this deploy changes the
    level, our check (under the new level) is the only judge."""
    failures = []
    for name in new:
        subject, level = prefix + name, levels.of(name)
        if registry.own_compatibility(subject) == level and not registry.accepts(subject, local.schemas[name].text):
            why = f"the schema registry refuses it: incompatible with the registered versions under {level}"
            failures.append(Failure(name, why))
    return failures


def register_all(
    registry: Registry,
    local: LocalSchemas,
    levels: CompatibilityLevels,
    prefix: str = "",
    known: dict[str, int | None] | None = None,
) -> list[dict[str, Any]]:
    """Give every subject its level from compatibility.toml and register its local schema; `known` holds the
    ids of schemas already registered, which are left as they are (a restart then writes nothing)."""
    known = known or {}
    rows = []
    for name, schema in sorted(local.schemas.items()):
        subject, level = prefix + name, levels.of(name)
        # The level first, so the registry applies it to this registration too (Confluent's registry,
        # Karapace and Apicurio all take a level for a subject that has no version yet).
        give_level(registry, subject, level)
        schema_id = known.get(name) or registry.register(subject, schema.text)
        rows.append({"subject": subject, "record": name, "schema_id": schema_id, "compatibility": level})
    return rows


# Apicurio's "already exists", a moment after another process created the rule: read again and, if the level
# differs, set again. Three tries, as a start-up race has only so many racers.
@stamina.retry(on=RegistryRefused, attempts=3, timeout=None, wait_initial=0.2, wait_max=1.0, wait_jitter=0.2)
def give_level(registry: Registry, subject: str, level: str) -> None:
    """Set the subject's level unless it has it. `serve` and `worker` start together on a fresh registry and
    race here: Apicurio refuses the second to create the rule ("already exists"), which is fine when the
    first set the same level; read it again and, if it differs, set it again."""
    if registry.own_compatibility(subject) != level:
        registry.set_compatibility(subject, level)


def connect_codec(registry_url: str, schemas_dir: Path, kafka: str | None = None) -> AvroCodec:
    """A codec whose local schemas are registered as `streamkeep schemas register` does it: all checked first
    (against the events stored in the Kafka at `kafka` too, if given), each subject given its level."""
    registry = Registry(registry_url)
    rows = deploy_schemas(registry, schemas_dir, kafka)
    codec = AvroCodec(registry_client(registry_url), load_local_schemas(schemas_dir))
    codec.adopt({row["record"]: row["schema_id"] for row in rows})
    return codec
