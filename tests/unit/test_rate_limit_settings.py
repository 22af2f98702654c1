"""The rate-limit and overload settings: what they accept, `off`, and the one-line refusal of anything else."""

import pytest

from infra.http.rate_limits import policies_of
from infra.settings import SettingsError, load_settings

NAMES = (
    "STREAMKEEP_RATE_LIMIT_COMMANDS",
    "STREAMKEEP_RATE_LIMIT_QUERIES",
    "STREAMKEEP_RATE_LIMIT_STORAGE",
    "STREAMKEEP_MAX_COMMANDS_IN_FLIGHT",
)


@pytest.fixture(autouse=True)
def unset(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_by_default_both_classes_are_limited_in_memory_and_commands_in_flight_bounded() -> None:
    settings = load_settings()

    policies = policies_of(settings)
    assert {name: policy.policy_field() for name, policy in policies.items()} == {
        "commands": b'"commands";q=200;w=1',
        "queries": b'"queries";q=1000;w=1',
    }
    assert settings.rate_limit_storage == "memory://"
    assert settings.max_commands_in_flight == 64


@pytest.mark.parametrize(
    "rate, field", [("5/minute", b'"commands";q=5;w=60'), ("10 per hour", b'"commands";q=10;w=3600')]
)
def test_a_rate_is_written_in_the_limits_notation(monkeypatch: pytest.MonkeyPatch, rate: str, field: bytes) -> None:
    monkeypatch.setenv("STREAMKEEP_RATE_LIMIT_COMMANDS", rate)

    assert policies_of(load_settings())["commands"].policy_field() == field


def test_off_switches_a_class_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMKEEP_RATE_LIMIT_QUERIES", "off")

    assert set(policies_of(load_settings())) == {"commands"}


@pytest.mark.parametrize(
    "name, value",
    [
        ("STREAMKEEP_RATE_LIMIT_COMMANDS", "lots"),
        ("STREAMKEEP_RATE_LIMIT_COMMANDS", "0/second"),
        ("STREAMKEEP_RATE_LIMIT_QUERIES", "5/second;100/minute"),
        ("STREAMKEEP_RATE_LIMIT_STORAGE", "postgresql://db"),
        ("STREAMKEEP_MAX_COMMANDS_IN_FLIGHT", "0"),
    ],
)
def test_a_value_we_cannot_use_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(SettingsError, match=name):
        load_settings()
