"""Shared fixtures: where the real Kafka, registry and PostgreSQL are, and a running Streamkeep to talk to."""

import os

import pytest

from tests.platform import infrastructure_env


@pytest.fixture(scope="session")
def infra_env() -> dict[str, str]:
    """Services named by the environment, else testcontainers when Docker answers, else the local launcher."""
    return infrastructure_env()


@pytest.fixture
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Streamkeep settings leak in from the shell: the embedded backend is the default."""
    for key in ("STREAMKEEP_BACKEND", "KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "DATABASE_URL"):
        monkeypatch.delenv(key, raising=False)
    assert "KAFKA_BOOTSTRAP_SERVERS" not in os.environ
