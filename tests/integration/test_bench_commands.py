"""`streamkeep bench commands` for a few seconds: the contract's JSON keys, each acknowledged command in Kafka once."""

import json
import os
import subprocess
import sys

import pytest

from bench.check_acks import check_acks, read_ack_log
from infra.settings import REPOSITORY_ROOT, load_settings

pytestmark = pytest.mark.kafka

CONTRACT_KEYS = {"scenario", "unit", "rate", "p50_ms", "p99_ms", "peak_rss_mb", "wall_s", "baseline_rate", "ratio"}


def test_every_acknowledged_command_is_in_kafka_exactly_once(infra_env, tmp_path, monkeypatch):
    ack_log = tmp_path / "acks.txt"
    services = {**infra_env, "STREAMKEEP_BACKEND": "kafka"}
    env = {**os.environ, **services}
    bench = [sys.executable, "-m", "infra", "bench", "commands", "--duration", "3", "--concurrency", "4"]
    done = subprocess.run(
        [*bench, "--json", "--ack-log", str(ack_log)],
        env=env,
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    figures = json.loads(done.stdout)
    assert CONTRACT_KEYS <= figures.keys()
    assert (figures["scenario"], figures["unit"]) == ("commands", "commands")
    assert figures["baseline_rate"] > 0 and figures["peak_rss_mb"] > 0
    acks = read_ack_log(ack_log)
    assert len(acks) == figures["acknowledged"] > 0

    for key, value in services.items():
        monkeypatch.setenv(key, value)
    check = check_acks(load_settings(), acks)
    assert (check.missing, check.duplicated) == ([], [])


def test_tracing_on_is_measured_against_tracing_off_and_its_spans_leave_the_processes(infra_env):
    env = {**os.environ, **infra_env, "STREAMKEEP_BACKEND": "kafka"}
    bench = [sys.executable, "-m", "infra", "bench", "commands", "--duration", "2", "--concurrency", "4"]
    done = subprocess.run(
        [*bench, "--tracing-pairs", "1", "--tracing-exporter", "otlp", "--json"],
        env=env,
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    figures = json.loads(done.stdout)
    assert CONTRACT_KEYS <= figures.keys()
    assert figures["rate"] > 0 and figures["baseline_rate"] > 0
    [pair] = figures["settings"]["pairs"]
    assert pair["ratio"] == pytest.approx(figures["rate"] / figures["baseline_rate"], rel=0.02)
    assert {"api", "worker"} <= pair["cpu_ms_per_command_on"].keys()
    # The traced half did export its spans: the sink took them (and dropped them).
    assert figures["settings"]["exporter"] == "otlp" and figures["settings"]["exported_bytes"] > 0
