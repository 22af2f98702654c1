"""`streamkeep infra up|down|status` against real Kafka, Apicurio Registry and PostgreSQL processes."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from infra.local import launcher, registry
from infra.local.process import Settings, pid_alive, port_open

pytestmark = pytest.mark.kafka

ROOT = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-c", "from infra.cli.local_infra import infra_app; infra_app()"]
EXPECTED_KEYS = {"KAFKA_BOOTSTRAP_SERVERS", "SCHEMA_REGISTRY_URL", "DATABASE_URL", "STREAMKEEP_BACKEND"}
EXPORT = re.compile(r"^export ([A-Z_][A-Z0-9_]*)=(.+)$")
AVRO = "application/vnd.schemaregistry.v1+json"


def cli(*args: str, env: dict[str, str] | None = None, timeout: float = 900) -> subprocess.CompletedProcess:
    env = dict(os.environ if env is None else env)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return subprocess.run([*CLI, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def parse_exports(stdout: str) -> dict[str, str]:
    env = {}
    for line in stdout.splitlines():
        match = EXPORT.match(line)
        assert match, f"not an export line: {line!r}"
        words = shlex.split(match.group(2))
        assert len(words) == 1, f"value is not one shell word: {line!r}"
        env[match.group(1)] = words[0]
    return env


@pytest.fixture(scope="module")
def shared_up() -> str:
    """The shared stack the other integration tests use; the first run may download jars."""
    result = cli("up")
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_up_prints_only_valid_export_lines(shared_up: str) -> None:
    env = parse_exports(shared_up)
    assert set(env) == EXPECTED_KEYS
    assert env["STREAMKEEP_BACKEND"] == "kafka"
    assert env["SCHEMA_REGISTRY_URL"].endswith("/apis/ccompat/v7")
    # The real consumer of this output is a shell's eval.
    shell = subprocess.run(
        ["bash", "-c", 'eval "$1" && echo "$KAFKA_BOOTSTRAP_SERVERS|$DATABASE_URL"', "_", shared_up],
        capture_output=True,
        text=True,
        check=True,
    )
    assert shell.stdout.strip() == f"{env['KAFKA_BOOTSTRAP_SERVERS']}|{env['DATABASE_URL']}"


def test_second_up_is_fast_and_changes_nothing(shared_up: str) -> None:
    pids_before = {row.name: row.pid for row in launcher.status()}
    started = time.monotonic()
    again = cli("up", timeout=60)
    elapsed = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    assert elapsed < 10, f"second up took {elapsed:.1f} s"
    assert again.stdout == shared_up
    assert {row.name: row.pid for row in launcher.status()} == pids_before


def test_status_shows_all_three_running(shared_up: str) -> None:
    rows = {row.name: row for row in launcher.status()}
    assert set(rows) == {"kafka", "registry", "postgres"}
    assert rows["kafka"].state == "running"
    assert rows["registry"].state == "running"
    assert rows["postgres"].state in {"running", "external"}
    table = cli("status", timeout=60)
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("running") >= 2


def test_registry_keeps_schemas_across_a_restart(shared_up: str) -> None:
    settings = Settings.from_env()
    if registry.running_pid(settings) is None:
        pytest.skip("the registry on this port was not started by streamkeep; not restarting it")
    base = registry.url(settings)
    subject = f"streamkeep-infra-test-{uuid.uuid4().hex[:8]}-value"
    schema = {"type": "record", "name": "Probe", "fields": [{"name": "n", "type": "long"}]}
    body = {"schema": json.dumps(schema)}
    try:
        created = httpx.post(f"{base}/subjects/{subject}/versions", json=body, headers={"Content-Type": AVRO})
        assert created.status_code == 200, created.text
        schema_id = created.json()["id"]

        registry.stop(settings)
        assert not registry.is_up(settings)
        restarted = cli("up", timeout=180)
        assert restarted.returncode == 0, restarted.stderr

        latest = httpx.get(f"{base}/subjects/{subject}/versions/latest")
        assert latest.status_code == 200, latest.text
        assert latest.json()["id"] == schema_id
        by_id = httpx.get(f"{base}/schemas/ids/{schema_id}")
        assert by_id.status_code == 200
        assert json.loads(by_id.json()["schema"]) == schema
    finally:
        httpx.delete(f"{base}/subjects/{subject}")
        httpx.delete(f"{base}/subjects/{subject}", params={"permanent": "true"})


# --- a second, private stack: `down` must leave no process of ours behind -------------------


def _free_port(pair: bool = False) -> int:
    """A free port (and, for Kafka, a free port + 1 for its controller)."""
    for _ in range(50):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port < 65535 and (not pair or _free(port + 1)):
            return port
    raise RuntimeError("no free port")


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if text in (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                found.append(int(proc.name))
        except OSError:
            continue
    return [pid for pid in found if pid_alive(pid)]


def test_down_on_a_separate_stack_leaves_no_process(shared_up: str) -> None:
    shared = Settings.from_env()
    workdir = Path(tempfile.mkdtemp(prefix="streamkeep-infra-test-"))
    workdir.chmod(0o755)  # as root, PostgreSQL runs as `postgres` and must reach its data dir
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        STREAMKEEP_CACHE_DIR=str(workdir / "cache"),
        STREAMKEEP_KAFKA_PORT=str(_free_port(pair=True)),
        STREAMKEEP_REGISTRY_PORT=str(_free_port()),
        STREAMKEEP_PG_PORT=str(_free_port()),
        STREAMKEEP_PG_DIR=str(workdir / "pg"),
    )
    # Reuse the shared stack's downloads instead of fetching 200 MB again.
    for rel in ("kafka/libs", "registry/app"):
        target = workdir / "cache" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(shared.cache_dir / rel, target_is_directory=True)
    try:
        started = cli("up", env=env, timeout=240)
        assert started.returncode == 0, started.stderr
        assert set(parse_exports(started.stdout)) == EXPECTED_KEYS
        run_dir = workdir / "cache" / "run"
        pids = {f.stem: int(f.read_text()) for f in run_dir.glob("*.pid")}
        assert set(pids) == {"kafka", "registry", "postgres"}
        assert all(pid_alive(pid) for pid in pids.values())

        stopped = cli("down", env=env, timeout=120)
        assert stopped.returncode == 0, stopped.stderr
        assert [name for name, pid in pids.items() if pid_alive(pid)] == []
        # Not just the main pids: no PostgreSQL backend, no JVM of this stack at all.
        assert _processes_mentioning(str(workdir)) == []
        assert list(run_dir.glob("*.pid")) == []
        for key in ("STREAMKEEP_KAFKA_PORT", "STREAMKEEP_REGISTRY_PORT", "STREAMKEEP_PG_PORT"):
            # Nothing listens any more (a bind test would trip over harmless TIME_WAIT sockets).
            assert not port_open(int(env[key])), f"{key} still answers"
        assert (workdir / "cache" / "kafka" / "data").is_dir()  # plain down keeps the data

        purged = cli("down", "--purge", env=env, timeout=60)
        assert purged.returncode == 0, purged.stderr
        assert not (workdir / "cache" / "kafka" / "data").exists()
        assert not (workdir / "pg").exists()
        assert (workdir / "cache" / "kafka" / "libs" / ".complete").exists()  # downloads are kept
    finally:
        cli("down", "--purge", env=env, timeout=120)
        shutil.rmtree(workdir, ignore_errors=True)
