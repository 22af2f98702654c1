"""Registering the local schemas as a deploy does: each subject gets its compatibility level, then its schema."""

from pathlib import Path
from typing import Any

from infra.local_schemas import read_local_schemas
from infra.schema_levels import load_levels
from infra.schema_registry import Registry


def register_all(registry: Registry, schemas_dir: Path) -> list[dict[str, Any]]:
    """Register every local schema under its subject with the level from compatibility.toml."""
    local = read_local_schemas(schemas_dir)
    levels = load_levels(schemas_dir)
    existing = set(registry.subjects())
    rows = []
    for subject, schema in sorted(local.schemas.items()):
        level = levels.of(subject)
        # The level is set first so the registry applies it to this registration too; a registry may
        # refuse a level for a subject it does not know yet, so a new subject gets it right after.
        if subject in existing:
            registry.set_compatibility(subject, level)
        schema_id = registry.register(subject, schema.text)
        if subject not in existing:
            registry.set_compatibility(subject, level)
        rows.append({"subject": subject, "schema_id": schema_id, "compatibility": level})
    return rows
