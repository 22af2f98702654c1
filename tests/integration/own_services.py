"""Throwaway Kafka and PostgreSQL servers a test may stop and start, beside the shared ones the session uses."""

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest

from infra.local import kafka as local_kafka
from infra.local import postgres as local_postgres
from infra.local.process import Settings
from tests.platform import free_port


@contextmanager
def own_kafka(tmp_path: Path) -> Iterator[Settings]:
    """A second broker on a free port, with the shared launcher's jars (not another download)."""
    shared = Settings.from_env()
    if not local_kafka.libs_dir(shared).exists():
        pytest.skip("the local launcher's Kafka jars are not here (services came from elsewhere)")
    own = replace(shared, cache_dir=tmp_path / "kafka-cache", kafka_port=free_port(), controller_port=free_port())
    local_kafka.home(own).mkdir(parents=True)
    os.symlink(local_kafka.libs_dir(shared), local_kafka.libs_dir(own))
    local_kafka.wait_ready(own, local_kafka.start(own))
    try:
        yield own
    finally:
        local_kafka.stop(own)
        shutil.rmtree(own.cache_dir, ignore_errors=True)


@contextmanager
def own_postgres(tmp_path: Path) -> Iterator[Settings]:
    """A second PostgreSQL cluster on a free port, from the same Debian binaries as the shared one."""
    try:
        local_postgres.bindir()
    except Exception:
        pytest.skip("no PostgreSQL server binaries here (services came from elsewhere)")
    # As root the server runs as `postgres`, which cannot traverse pytest's private tmp folders.
    root = Path(tempfile.mkdtemp(prefix="streamkeep-test-pg-", dir="/var/tmp"))
    root.chmod(0o755)
    own = replace(Settings.from_env(), cache_dir=tmp_path / "pg-cache", pg_port=free_port(), pg_root=root / "pg")
    start_postgres(own)
    try:
        yield own
    finally:
        local_postgres.stop(own)
        shutil.rmtree(root, ignore_errors=True)


def start_postgres(own: Settings) -> None:
    """Start (or start again) a cluster made by own_postgres, and wait until it takes connections."""
    local_postgres.start(own)
    local_postgres.wait_ready(own, started=True)


@contextmanager
def own_kafka_and_postgres(infra_env: dict[str, str], tmp_path: Path) -> Iterator[tuple[dict[str, str], Settings]]:
    """Kafka and PostgreSQL of the test's own (the registry is the shared one): stopping PostgreSQL disturbs no
    other test, and the worker's projections start from an empty history. Yields the environment and PostgreSQL."""
    with own_kafka(tmp_path) as kafka, own_postgres(tmp_path) as postgres:
        env = {
            **infra_env,
            "KAFKA_BOOTSTRAP_SERVERS": local_kafka.url(kafka),
            "DATABASE_URL": local_postgres.url(postgres),
        }
        yield env, postgres
