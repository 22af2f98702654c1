"""`streamkeep bench sagas` for a few seconds: the contract's JSON keys, and every order placed confirmed in both
Streamkeep (order_summary) and the DBOS Transact baseline (its own orders table)."""

import json
import os
import subprocess
import sys

import pytest

from infra.settings import REPOSITORY_ROOT
from tests.platform import sagas_start_from_now

pytestmark = [pytest.mark.kafka, pytest.mark.sagas]

CONTRACT_KEYS = {"scenario", "unit", "rate", "p50_ms", "p99_ms", "peak_rss_mb", "wall_s", "baseline_rate", "ratio"}
SYSTEM_KEYS = {"placed", "confirmed", "unfinished", "statuses", "cpu_s", "cpu_ms_per_saga"}


# The first run on a machine also makes the DBOS baseline's virtualenv from PyPI (its subprocess allows 900 s).
@pytest.mark.timeout(1200)
def test_every_order_placed_is_confirmed_in_both_systems(infra_env):
    env = {**os.environ, **infra_env, "STREAMKEEP_BACKEND": "kafka"}
    sagas_start_from_now(env)  # the bench's saga runner then fulfils only its own orders, as the other saga tests
    bench = [sys.executable, "-m", "infra", "bench", "sagas", "--duration", "3", "--concurrency", "4", "--skus", "2"]
    # The first run also makes the baseline's virtualenv (a few minutes from PyPI); later runs reuse it.
    done = subprocess.run(
        [*bench, "--timeout", "20", "--json"], env=env, cwd=REPOSITORY_ROOT, capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, done.stderr[-2000:]

    figures = json.loads(done.stdout)
    assert CONTRACT_KEYS <= figures.keys()
    assert (figures["scenario"], figures["unit"]) == ("sagas", "sagas")
    assert figures["rate"] > 0 and figures["baseline_rate"] > 0 and figures["peak_rss_mb"] > 0
    # Both rates are rounded in the JSON, the ratio is not made from the rounded ones.
    assert figures["ratio"] == pytest.approx(figures["rate"] / figures["baseline_rate"], rel=0.02, abs=0.01)
    assert 0 < figures["p50_ms"] <= figures["p99_ms"]
    baseline = figures["baseline"]
    for system in (figures, baseline):
        assert SYSTEM_KEYS <= system.keys()
        assert system["placed"] > 0
        assert (system["confirmed"], system["unfinished"], system["ended_otherwise"]) == (system["placed"], 0, {})
    # A worker per role, as a deployment runs them (the bench's default).
    assert {"api", "worker-commands", "worker-sagas", "worker-projections", "load"} <= figures["cpu_s"].keys()
    assert {"dbos", "load"} <= baseline["cpu_s"].keys()
