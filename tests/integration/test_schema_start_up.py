"""`serve` and `worker` register the schemas at start-up as `streamkeep schemas register` does: levels included,
and refusing (in one line per schema, registering nothing) what a deploy would refuse."""

import asyncio
import dataclasses
import uuid

import pytest

from infra.bootstrap import connect_kafka_backend
from infra.registry.client import Registry
from infra.settings import load_settings
from tests.integration.test_schemas_cli import schemas_copy, streamkeep

pytestmark = pytest.mark.kafka


def start_up(env: dict[str, str]) -> None:
    """What `streamkeep worker` does first (`serve` and `run` register through the same function)."""
    settings = dataclasses.replace(
        load_settings(),
        backend="kafka",
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        schema_registry_url=env["SCHEMA_REGISTRY_URL"],
        database_url=env["DATABASE_URL"],
    )

    async def connect() -> None:
        _, read_models = await connect_kafka_backend(settings)
        await read_models.close()

    asyncio.run(connect())


def test_a_start_up_sets_each_subjects_level_from_compatibility_toml(infra_env):
    registry = Registry(infra_env["SCHEMA_REGISTRY_URL"])
    start_up(infra_env)  # the subjects exist, whatever ran before
    registry.set_compatibility("orders.OrderPlaced", "NONE")
    registry.set_compatibility("streamkeep.CommandOutcome", "BACKWARD")
    start_up(infra_env)
    assert registry.compatibility("orders.OrderPlaced") == "BACKWARD_TRANSITIVE"
    assert registry.compatibility("streamkeep.CommandOutcome") == "FULL"
    assert registry.compatibility("orders.OrderCancelled") == "BACKWARD"


@pytest.mark.parametrize("command", [["worker"], ["serve", "--port", "1"]])
def test_a_start_up_refuses_an_incompatible_schema_in_one_line_and_registers_nothing(infra_env, tmp_path, command):
    registry = Registry(infra_env["SCHEMA_REGISTRY_URL"])
    before = registry.versions("orders.OrderPlaced")
    folder = schemas_copy(tmp_path, lambda fields: fields.append({"name": "gift_note", "type": "string"}))
    env = {**infra_env, "STREAMKEEP_BACKEND": "kafka", "STREAMKEEP_SCHEMAS_DIR": str(folder)}
    result = streamkeep(env, *command)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    # Log lines aside (JSON, e.g. serve's warning that the suite runs it without auth): the refusal's lines alone.
    lines = [line for line in result.stderr.splitlines() if not line.startswith("{")]
    assert lines and all(line.startswith("streamkeep: orders.OrderPlaced: field 'gift_note' added") for line in lines)
    assert registry.versions("orders.OrderPlaced") == before


def test_processes_starting_together_on_subjects_without_a_level_all_come_up(infra_env):
    # serve and worker start at once on a fresh registry: both find no level and both set it. Apicurio refused
    # the second ("A rule named 'COMPATIBILITY' already exists") and the worker died in a fresh CI run.
    from concurrent.futures import ThreadPoolExecutor

    from infra.registry.deploy import register_all
    from infra.registry.levels import load_levels
    from infra.registry.local_files import read_local_schemas
    from tests.platform import ROOT

    registry = Registry(infra_env["SCHEMA_REGISTRY_URL"])
    local, levels = read_local_schemas(ROOT / "schemas"), load_levels(ROOT / "schemas")
    prefix = f"streamkeep-race-{uuid.uuid4().hex[:8]}."
    try:
        with ThreadPoolExecutor(4) as pool:
            rows = list(pool.map(lambda _: register_all(registry, local, levels, prefix), range(4)))
        assert all(r == rows[0] for r in rows)
        for row in rows[0]:
            assert registry.own_compatibility(row["subject"]) == row["compatibility"]
    finally:
        for subject in [s for s in registry.subjects() if s.startswith(prefix)]:
            registry.client.delete_subject(subject)
            registry.client.delete_subject(subject, permanent=True)
