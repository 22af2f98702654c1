"""`streamkeep bench rebuild|replay|queries` on a small history: the contract's JSON keys and sensible figures."""

import json

import pytest

from tests.integration.test_bench_commands import CONTRACT_KEYS
from tests.platform import run_cli

pytestmark = pytest.mark.kafka


@pytest.mark.parametrize(
    ("scenario", "options"),
    [
        ("rebuild", ["--events", "500"]),
        ("replay", ["--events", "500"]),
        ("queries", ["--orders", "300", "--rate", "50", "--duration", "2"]),
    ],
)
def test_a_read_side_bench_prints_the_contracts_json(kafka_platform: dict, scenario: str, options: list[str]) -> None:
    result = run_cli(["bench", scenario, *options, "--json"], kafka_platform["env"], timeout_s=300)

    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(result.stdout)
    assert CONTRACT_KEYS <= figures.keys()
    assert figures["scenario"] == scenario
    assert figures["rate"] > 0 and figures["peak_rss_mb"] > 0 and figures["wall_s"] > 0
    if scenario == "queries":
        assert figures["statuses"].get("200", 0) > 0 and set(figures["statuses"]) == {"200"}
    else:
        # The history counts offsets in use (transaction markers too), so the events may be fewer than asked.
        assert figures["count"] >= max(figures["settings"].get("written_now", 0), 1)
        assert figures["baseline_rate"] > 0 and figures["ratio"] > 0
