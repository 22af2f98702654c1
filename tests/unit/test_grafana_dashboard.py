"""Every query of the Grafana dashboard names only metrics our code registers."""

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import infra.observability.metrics
import infra.observability.stream_metrics  # noqa: F401  # registers the stream processors' metrics

DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "streamkeep.json"
# What a PromQL expression holds besides metric names: strings, label matchers, ranges, grouping clauses.
NOT_NAMES = re.compile(r'"[^"]*"|\{[^}]*\}|\[[^\]]*\]|\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)')
KEYWORDS = {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
# A whole word (not the `e3` of 1e3), not followed by "(": a function is no metric.
NAME = re.compile(r"(?<![\w.])[a-zA-Z_][\w:]*\b(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names in a PromQL expression."""
    names = set(NAME.findall(NOT_NAMES.sub(" ", expr)))
    return {name for name in names if name.lower() not in KEYWORDS}


def registered() -> set[str]:
    """The sample names a scrape of our registry can have: counters with `_total`, histograms with their series."""
    names = set()
    for family in REGISTRY.collect():
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        else:
            names.add(family.name)
    return names


def unknown_metrics(dashboard: dict) -> dict[str, set[str]]:
    known = registered()
    unknown = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            if missing := metric_names(target["expr"]) - known:
                unknown[f"{panel['title']} / {target['refId']}"] = missing
    return unknown


def test_every_panel_query_names_only_metrics_our_code_registers() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert unknown_metrics(dashboard) == {}


def test_the_dashboard_shows_the_api_and_the_stream_processors() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    shown = set().union(*(metric_names(t["expr"]) for p in dashboard["panels"] for t in p["targets"]))
    for needed in (
        "streamkeep_http_requests_total",
        "streamkeep_http_request_duration_seconds_bucket",
        "streamkeep_commands_total",
        "streamkeep_consumer_lag",
        "streamkeep_saga_instances",
        "streamkeep_saga_stuck_total",
        "streamkeep_projection_dead_letters_total",
        "streamkeep_command_transaction_duration_seconds_bucket",
    ):
        assert needed in shown


def test_a_query_naming_a_metric_nobody_registers_is_caught() -> None:
    misspelt = {"panels": [{"title": "lag", "targets": [{"refId": "A", "expr": "sum by (group) (streamkeep_lag)"}]}]}
    assert unknown_metrics(misspelt) == {"lag / A": {"streamkeep_lag"}}


def test_names_are_read_out_of_functions_groupings_matchers_and_ranges() -> None:
    expr = (
        "histogram_quantile(0.99, sum by (le, route) "
        '(rate(streamkeep_http_request_duration_seconds_bucket{route="/x"}[5m])))'
        " / on (route) group_left max without (instance) (streamkeep_consumer_lag offset 5m) > bool 1e3"
    )
    assert metric_names(expr) == {"streamkeep_http_request_duration_seconds_bucket", "streamkeep_consumer_lag"}
