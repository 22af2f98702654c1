"""Before registering anything, a deploy asks the registry's own verdict on each new schema, where it can."""

from pathlib import Path

from infra.avro.parsed_schema import parse
from infra.registry.check import Failure
from infra.registry.deploy import registry_refusals
from infra.registry.levels import CompatibilityLevels
from infra.registry.local_files import LocalSchema, LocalSchemas

TEXT = '{"type": "record", "name": "Probe", "namespace": "orders", "fields": []}'
LOCAL = LocalSchemas({"orders.Probe": LocalSchema(Path("orders.Probe.avsc"), TEXT, parse(TEXT))})


class RegistryThatRefuses:
    """The two answers registry_refusals asks of a Registry: the subject's level, and its verdict."""

    def __init__(self, level: str | None) -> None:
        self.level, self.asked = level, []

    def own_compatibility(self, subject: str) -> str | None:
        return self.level

    def accepts(self, subject: str, text: str) -> bool:
        self.asked.append(subject)
        return False


def test_a_refusal_under_the_level_the_deploy_keeps_is_reported_for_the_record_name():
    registry = RegistryThatRefuses("BACKWARD")
    [failure] = registry_refusals(registry, LOCAL, CompatibilityLevels(), ["orders.Probe"], prefix="staging.")
    assert registry.asked == ["staging.orders.Probe"]
    assert failure == Failure(
        "orders.Probe", "the schema registry refuses it: incompatible with the registered versions under BACKWARD"
    )


def test_a_subject_whose_level_the_deploy_changes_is_left_to_our_check():
    registry = RegistryThatRefuses("NONE")
    assert registry_refusals(registry, LOCAL, CompatibilityLevels(), ["orders.Probe"]) == []
    assert registry.asked == []


def test_schemas_already_registered_are_not_asked_about():
    registry = RegistryThatRefuses("BACKWARD")
    assert registry_refusals(registry, LOCAL, CompatibilityLevels(), []) == []
