"""`streamkeep schemas` against the real registry and the events Kafka holds: the CI gate, diffs, bad input."""

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.registry.client import Registry
from tests.conftest import settled
from tests.platform import ROOT, free_port
from tests.schema_history import order_placed_history

pytestmark = pytest.mark.kafka

SCHEMAS = ROOT / "schemas"


def streamkeep(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infra", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
        cwd=ROOT,
    )


@pytest.fixture
def env(kafka_platform: dict) -> dict[str, str]:
    """The platform's settings, once its topics hold events (the fixture's first order went all the way round)."""
    settled(kafka_platform)
    return kafka_platform["env"]


def schemas_copy(tmp_path: Path, edit=None) -> Path:  # type: ignore[no-untyped-def]
    """The repository's schemas folder, with OrderPlaced passed through `edit`."""
    folder = tmp_path / "schemas"
    shutil.copytree(SCHEMAS, folder)
    if edit is not None:
        path = folder / "orders.OrderPlaced.avsc"
        schema = json.loads(path.read_text())
        edit(schema["fields"])
        path.write_text(json.dumps(schema))
    return folder


def field_named(fields: list[dict], name: str) -> dict:
    return next(f for f in fields if f["name"] == name)


def stored_order_placed_ids(env: dict[str, str]) -> set[int]:
    report = json.loads(streamkeep(env, "schemas", "check", "--json").stdout)
    return {w["schema_id"] for w in report["writer_schemas"] if w["subject"] == "orders.OrderPlaced"}


def test_check_passes_on_the_repository_schemas_and_the_stored_events(env):
    result = streamkeep(env, "schemas", "check", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["passed"] and report["failures"] == []
    assert report["local_schemas"] == len(list(SCHEMAS.glob("*.avsc")))
    assert report["stored_events"] > 0
    placed = [w for w in report["writer_schemas"] if w["subject"] == "orders.OrderPlaced"]
    assert placed and all(w["readable"] and w["decoded"] > 0 for w in placed)
    plain = streamkeep(env, "schemas", "check")
    assert plain.returncode == 0 and "compatible" in plain.stdout


def test_a_field_added_without_a_default_fails_naming_the_stored_schema_ids(env, tmp_path):
    folder = schemas_copy(tmp_path, lambda fields: fields.append({"name": "gift_note", "type": "string"}))
    result = streamkeep(env, "schemas", "check", "--schemas-dir", str(folder))
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    for schema_id in stored_order_placed_ids(env):
        expected = (
            f"orders.OrderPlaced: field 'gift_note' added without a default: "
            f"events stored with schema id {schema_id} cannot be read"
        )
        assert any(line.startswith(expected) for line in lines)
    registry_line = r"orders\.OrderPlaced: field 'gift_note' added without a default: data written with version \d+"
    assert any(re.match(registry_line, line) for line in lines)
    assert all(line.startswith("orders.OrderPlaced: field 'gift_note'") for line in lines)
    assert "Traceback" not in result.stderr


def test_a_type_changed_from_string_to_int_fails_with_both_types(env, tmp_path):
    folder = schemas_copy(tmp_path, lambda fields: field_named(fields, "currency_code").update(type="int"))
    result = streamkeep(env, "schemas", "check", "--schemas-dir", str(folder))
    assert result.returncode == 1
    assert result.stdout.splitlines()
    for line in result.stdout.splitlines():
        assert line.startswith("orders.OrderPlaced: field 'currency_code' changed type from string to int: ")
    assert any(
        line.endswith("cannot be read") and "events stored with schema id" in line
        for line in result.stdout.splitlines()
    )


def test_a_field_added_with_a_default_passes(env, tmp_path):
    def add_gift_note(fields: list[dict]) -> None:
        fields.append({"name": "gift_note", "type": ["null", "string"], "default": None})

    result = streamkeep(env, "schemas", "check", "--schemas-dir", str(schemas_copy(tmp_path, add_gift_note)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_full_decodes_every_stored_event(env):
    report = json.loads(streamkeep(env, "schemas", "check", "--full", "--json").stdout)
    assert report["passed"]
    assert sum(w["decoded"] for w in report["writer_schemas"]) == report["stored_events"]


def test_register_refuses_an_incompatible_schema_and_registers_nothing(env, tmp_path):
    """All or nothing: a new subject that sorts before the refused one, and is fine, is not registered either."""
    registry = Registry(env["SCHEMA_REGISTRY_URL"])
    before = registry.versions("orders.OrderPlaced")
    folder = schemas_copy(tmp_path, lambda fields: fields.append({"name": "gift_note", "type": "string"}))
    probe = f"Probe{uuid.uuid4().hex[:8]}"
    (folder / f"inventory.{probe}.avsc").write_text(
        json.dumps({"type": "record", "name": probe, "namespace": "inventory", "fields": []})
    )
    try:
        result = streamkeep(env, "schemas", "register", "--schemas-dir", str(folder))
        subjects = registry.subjects()
    finally:
        if f"inventory.{probe}" in registry.subjects():
            registry.client.delete_subject(f"inventory.{probe}")
            registry.client.delete_subject(f"inventory.{probe}", permanent=True)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    refused = "orders.OrderPlaced: field 'gift_note' added without a default"
    assert lines and all(line.startswith(refused) for line in lines)
    assert "Traceback" not in result.stderr
    assert registry.versions("orders.OrderPlaced") == before
    assert f"inventory.{probe}" not in subjects


def test_register_sets_each_subjects_compatibility_level(env):
    result = streamkeep(env, "schemas", "register", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    levels = {row["subject"]: row["compatibility"] for row in json.loads(result.stdout)}
    assert levels["orders.OrderPlaced"] == "BACKWARD_TRANSITIVE"
    assert levels["streamkeep.CommandOutcome"] == "FULL"
    assert levels["orders.OrderCancelled"] == "BACKWARD"
    listed = {row["subject"]: row for row in json.loads(streamkeep(env, "schemas", "list", "--json").stdout)}
    assert listed["orders.OrderPlaced"]["compatibility"] == "BACKWARD_TRANSITIVE"
    assert listed["streamkeep.CommandOutcome"]["compatibility"] == "FULL"
    assert (listed["orders.OrderPlaced"]["kind"], listed["orders.OrderPlaced"]["topic"]) == ("event", "orders.events")
    assert listed["orders.PlaceOrder"]["topic"] == "orders.commands"


@pytest.fixture
def three_versions(env) -> Iterator[str]:
    """OrderPlaced v1, v2 and v3 registered in order under a subject of this test's own, deleted afterwards."""
    with order_placed_history(env["SCHEMA_REGISTRY_URL"], f"streamkeep-test-{uuid.uuid4().hex[:8]}") as subject:
        yield subject


def test_diff_of_known_versions_lists_the_field_changes(env, three_versions):
    def changes(old: str, new: str) -> list[tuple[str, str, str, str]]:
        result = streamkeep(env, "schemas", "diff", three_versions, old, new, "--json")
        assert result.returncode == 0, result.stderr
        return [(c["field"], c["change"], c["before"], c["after"]) for c in json.loads(result.stdout)["changes"]]

    assert changes("1", "2") == [("channel", "added", "", 'string, default "web"')]
    assert changes("2", "3") == [
        ("currency_code", "name", "currency", "currency_code"),
        ("currency_code", "aliases", "", "currency"),
    ]
    assert changes("3", "latest") == []
    table = streamkeep(env, "schemas", "diff", three_versions, "1", "latest")
    assert "channel" in table.stdout and "currency_code" in table.stdout and 'default "web"' in table.stdout


def test_show_prints_the_schema_with_its_id(env):
    result = streamkeep(env, "schemas", "show", "orders.OrderPlaced", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["schema"]["name"] == "OrderPlaced" and shown["schema_id"] > 0 and shown["references"] == []
    assert "schema id" in streamkeep(env, "schemas", "show", "orders.OrderPlaced").stdout


def one_clear_line(result: subprocess.CompletedProcess[str], expected: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr


def test_an_unknown_subject_is_one_line(env):
    one_clear_line(streamkeep(env, "schemas", "show", "orders.NoSuchEvent"), "unknown subject orders.NoSuchEvent")
    one_clear_line(streamkeep(env, "schemas", "diff", "orders.NoSuchEvent", "1", "2"), "unknown subject")
    one_clear_line(streamkeep(env, "schemas", "show", "orders.OrderPlaced", "--version", "999"), "has no version 999")
    one_clear_line(streamkeep(env, "schemas", "diff", "orders.OrderPlaced", "1", "first"), "version must be")


def test_a_registry_that_is_down_is_one_line(env):
    down = {**env, "SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{free_port()}/apis/ccompat/v7"}
    for command in (["list"], ["show", "orders.OrderPlaced"], ["check"], ["register"]):
        one_clear_line(streamkeep(down, "schemas", *command), "does not answer")


def test_kafka_that_is_down_fails_the_check_in_one_line(env):
    down = {**env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}"}
    one_clear_line(streamkeep(down, "schemas", "check"), "Kafka at")


def test_a_malformed_schema_file_is_one_line_per_file(env, tmp_path):
    folder = schemas_copy(tmp_path)
    (folder / "orders.Broken.avsc").write_text('{"type": "record", "name": "Broken", "fields": [')
    (folder / "orders.Typo.avsc").write_text(
        '{"type": "record", "name": "Typo", "namespace": "orders", "fields": [{"name": "a", "type": "strng"}]}'
    )
    result = streamkeep(env, "schemas", "check", "--schemas-dir", str(folder))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stdout.splitlines() == [
        "orders.Broken.avsc: not JSON: Expecting value at line 1 column 49",
        "orders.Typo.avsc: not an Avro schema: unknown type orders.strng",
    ]


def test_a_schema_whose_class_version_is_not_the_codes_fails(env, tmp_path):
    folder = schemas_copy(tmp_path)
    path = folder / "orders.OrderPlaced.avsc"
    path.write_text(path.read_text().replace('"class_version": 3', '"class_version": 2'))
    result = streamkeep(env, "schemas", "check", "--schemas-dir", str(folder))
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "orders.OrderPlaced: the schema says class_version 2, Order.Placed is version 3"
    ]


def test_a_field_a_consumer_reads_taken_away_fails_naming_each_consumer(infra_env, tmp_path):
    # The registry alone: the embedded backend has no stored history to read, so the lines are the consumers'.
    folder = schemas_copy(tmp_path, lambda fields: fields.remove(field_named(fields, "currency_code")))
    env = {**infra_env, "STREAMKEEP_BACKEND": "embedded"}
    result = streamkeep(env, "schemas", "check", "--schemas-dir", str(folder))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"orders.OrderPlaced: {consumer} reads orders.OrderPlaced.currency_code, which"
        " schemas/orders.OrderPlaced.avsc no longer has"
        for consumer in ("customer_orders", "daily_sales", "fulfilment saga", "order_summary")
    ]
