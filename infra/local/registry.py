"""Apicurio Registry 3.0.9 (Confluent-compatible API) with durable KafkaSQL storage on the local Kafka."""

from __future__ import annotations

import shutil
import tarfile
from pathlib import Path

import httpx

from infra.local import kafka
from infra.local import process as p
from infra.local.process import InfraError, Settings

NAME = "registry"
VERSION = "3.0.9"
ARTIFACT = f"io.apicurio:apicurio-registry-app:{VERSION}:tar.gz:all"
RUNNER = f"apicurio-registry-app-{VERSION}-runner.jar"
READY_TIMEOUT = 90.0
HEAP = ["-Xms128m", "-Xmx384m"]
# KafkaSQL keeps every registry write in these topics and replays them on start.
# Apicurio would create them itself, but with the broker's 7-day retention: the
# schemas (and their ids, which event payloads reference) would silently vanish.
JOURNAL_TOPICS = ("kafkasql-journal", "kafkasql-snapshots")
FOREVER = {"retention.ms": "-1", "retention.bytes": "-1", "cleanup.policy": "delete"}


def home(s: Settings) -> Path:
    return s.cache_dir / "registry"


def app_dir(s: Settings) -> Path:
    return home(s) / "app"


def log_file(s: Settings) -> Path:
    return home(s) / "logs" / "registry.log"


def url(s: Settings) -> str:
    return f"http://127.0.0.1:{s.registry_port}/apis/ccompat/v7"


def running_pid(s: Settings) -> int | None:
    # The jar path is unique to this cache dir: a stale pid file never hits a stranger.
    return p.read_pid(s, NAME, str(app_dir(s) / RUNNER))


def is_up(s: Settings) -> bool:
    return p.port_open(s.registry_port)


def ensure_app(s: Settings) -> None:
    """Fetch the Quarkus app from Maven Central and unpack it once into the cache."""
    if (app_dir(s) / RUNNER).exists():
        return
    mvn = p.require_mvn("Apicurio Registry")
    p.say(f"downloading Apicurio Registry {VERSION} from Maven Central (first run only)...")
    download = home(s) / "download"
    p.run(
        [mvn, "-q", "-B", "dependency:copy", f"-Dartifact={ARTIFACT}", f"-DoutputDirectory={download}"],
        "Maven (Apicurio Registry)",
        timeout=900,
    )
    tmp = home(s) / "app.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(download / f"apicurio-registry-app-{VERSION}-all.tar.gz") as tar:
        tar.extractall(tmp, filter="data")
    shutil.rmtree(app_dir(s), ignore_errors=True)
    tmp.rename(app_dir(s))  # atomic: a half-extracted app never looks complete
    shutil.rmtree(download, ignore_errors=True)  # ~100 MB; it is also in ~/.m2


def ensure_journal_topics(s: Settings) -> None:
    """Create the KafkaSQL topics with infinite retention, or fix the retention of existing ones."""
    from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic

    admin = AdminClient({"bootstrap.servers": kafka.url(s), "log_level": 0})
    existing = admin.list_topics(timeout=10).topics
    missing = [t for t in JOURNAL_TOPICS if t not in existing]
    try:
        if missing:
            # One partition: the journal is a totally ordered log.
            futures = admin.create_topics(
                [NewTopic(t, num_partitions=1, replication_factor=1, config=FOREVER) for t in missing]
            )
            for f in futures.values():
                f.result(timeout=30)
        present = [t for t in JOURNAL_TOPICS if t in existing]
        if present:
            entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in FOREVER.items()]
            futures = admin.incremental_alter_configs(
                [ConfigResource(ConfigResource.Type.TOPIC, t, incremental_configs=entries) for t in present]
            )
            for f in futures.values():
                f.result(timeout=30)
    except Exception as exc:
        raise InfraError(
            f"streamkeep infra up: could not prepare the registry's journal topics on Kafka: {exc}"
        ) from None


def start(s: Settings) -> int | None:
    """Start the registry unless something already answers on its port; needs Kafka ready."""
    if is_up(s):
        return running_pid(s)
    java = p.require_java("Apicurio Registry")
    ensure_app(s)
    ensure_journal_topics(s)
    snapshots = home(s) / "snapshots"
    snapshots.mkdir(parents=True, exist_ok=True)
    p.say(f"starting Apicurio Registry on {url(s)} (log: {log_file(s)})")
    pid = p.spawn(
        [
            java,
            *HEAP,
            "-Djava.awt.headless=true",
            "-Dquarkus.http.host=127.0.0.1",
            f"-Dquarkus.http.port={s.registry_port}",
            # Durable storage: the default is an in-memory H2 database, lost on every restart.
            "-Dapicurio.storage.kind=kafkasql",
            f"-Dapicurio.kafkasql.bootstrap.servers={kafka.url(s)}",
            f"-Dapicurio.storage.snapshot.location={snapshots}",
            "-jar",
            str(app_dir(s) / RUNNER),
        ],
        log_file(s),
        cwd=app_dir(s),
    )
    p.write_pid(s, NAME, pid)
    return pid


def _answers(s: Settings) -> bool:
    try:
        return httpx.get(f"{url(s)}/subjects", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _journal_loaded(s: Settings) -> bool:
    """True once the last start has replayed the KafkaSQL journal.

    Apicurio answers HTTP before that, with subjects missing: a client then sees 404s for schemas
    that are safe in Kafka. Its log is the only place that tells.
    """
    try:
        text = log_file(s).read_text(errors="replace")
    except FileNotFoundError:
        return False
    started = text.rfind("Bootstrap servers:")
    return started >= 0 and text.find("KafkaSQL storage bootstrapped", started) >= 0


def wait_ready(s: Settings, pid: int | None) -> None:
    if not p.wait_until(lambda: _answers(s) and (pid is None or _journal_loaded(s)), READY_TIMEOUT, pid=pid):
        raise InfraError(
            f"streamkeep infra up: Apicurio Registry did not become ready on {url(s)} within "
            f"{READY_TIMEOUT:.0f} s; see {log_file(s)}"
        )


def stop(s: Settings) -> None:
    pid = running_pid(s)
    if pid is not None:
        p.say(f"stopping Apicurio Registry (pid {pid})")
        p.terminate(pid)
    p.remove_pid(s, NAME)


def purge(s: Settings) -> None:
    """The schemas themselves live in Kafka's topics (purged with Kafka); keep the unpacked app."""
    shutil.rmtree(home(s) / "snapshots", ignore_errors=True)
    shutil.rmtree(log_file(s).parent, ignore_errors=True)
