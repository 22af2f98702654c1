"""/livez, /readyz and /metrics: checks that fail or hang are named within their timeout; requests are counted by
route template; a `serve --workers` metrics folder starts empty."""

import asyncio
import contextlib
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from infra.http.operations import router
from infra.http.request_metrics import RequestMetrics
from infra.observability import metrics
from infra.observability.checks import Readiness, loaded
from infra.resilience.breakers import Breaker
from infra.settings import BreakerSettings


async def _answers() -> None:
    return None


async def _refuses() -> None:
    raise ConnectionRefusedError("connection refused")


async def _hangs() -> None:
    await asyncio.sleep(60)


def _client(checks: dict) -> TestClient:
    app = FastAPI()
    app.state.readiness = Readiness(checks, timeout_s=0.2)
    app.add_middleware(RequestMetrics)
    app.include_router(router)

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thing_id": thing_id}

    return TestClient(app)


def test_readyz_is_200_when_every_dependency_answers() -> None:
    answer = _client({"kafka": _answers, "postgresql": _answers}).get("/readyz")

    assert answer.status_code == 200
    assert answer.json()["checks"] == {"kafka": "ok", "postgresql": "ok"}


def test_readyz_names_each_failing_dependency_in_a_503_problem_with_retry_after() -> None:
    checks = {"kafka": _answers, "postgresql": _refuses, "schema-registry": _hangs}

    answer = _client(checks).get("/readyz")

    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    assert int(answer.headers["retry-after"]) > 0
    body = answer.json()
    assert body["failing"] == ["postgresql", "schema-registry"]
    assert body["reasons"]["postgresql"] == "ConnectionRefusedError: connection refused"
    assert body["reasons"]["schema-registry"] == "no answer within 0.2 s"


def test_readyz_says_why_a_process_is_not_loaded_yet_while_livez_and_healthz_answer() -> None:
    client = _client({"partitions": loaded(lambda: False, "still loading partitions")})

    assert client.get("/readyz").json()["reasons"] == {"partitions": "still loading partitions"}
    assert client.get("/livez").status_code == 200
    assert client.get("/healthz").status_code == 200


def test_requests_are_counted_by_route_template_method_and_status() -> None:
    def count(route: str, status: str) -> float:
        labels = {"route": route, "method": "GET", "status": status}
        return REGISTRY.get_sample_value("streamkeep_http_requests_total", labels) or 0.0

    before = count("/v1/things/{thing_id}", "200"), count("unmatched", "404")
    client = _client({})

    client.get("/v1/things/a")
    client.get("/v1/things/b")
    client.get("/no/such/path")

    assert count("/v1/things/{thing_id}", "200") - before[0] == 2
    assert count("unmatched", "404") - before[1] == 1
    assert (
        REGISTRY.get_sample_value(
            "streamkeep_http_requests_total", {"route": "/v1/things/a", "method": "GET", "status": "200"}
        )
        is None
    )
    assert "streamkeep_http_request_duration_seconds_bucket" in client.get("/metrics").text


def test_a_metrics_folder_named_by_the_operator_is_emptied_and_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "counter_1.db").write_bytes(b"an earlier run's")
    monkeypatch.setenv(metrics.MULTIPROCESS_DIR, str(tmp_path))

    folder = metrics.share_between_processes()
    metrics.drop_shared(folder)

    assert folder == tmp_path and folder.exists() and not list(folder.iterdir())


def test_a_metrics_folder_of_our_own_is_made_for_the_run_and_removed_after(monkeypatch: pytest.MonkeyPatch) -> None:
    # setenv first, so that the folder share_between_processes names is taken out of the environment afterwards
    # (a delenv of an unset name records nothing to undo): later tests' processes must not inherit it.
    monkeypatch.setenv(metrics.MULTIPROCESS_DIR, "")
    monkeypatch.delenv(metrics.MULTIPROCESS_DIR)

    folder = metrics.share_between_processes()
    assert folder.is_dir() and not list(folder.iterdir())
    metrics.drop_shared(folder)

    assert not folder.exists()


def test_the_workers_listener_port_is_a_setting_that_is_off_unless_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from infra.settings import SettingsError, load_settings

    monkeypatch.delenv("STREAMKEEP_METRICS_PORT", raising=False)
    assert load_settings().metrics_port is None
    monkeypatch.setenv("STREAMKEEP_METRICS_PORT", "9464")
    assert load_settings().metrics_port == 9464
    monkeypatch.setenv("STREAMKEEP_METRICS_PORT", "70000")
    with pytest.raises(SettingsError, match="STREAMKEEP_METRICS_PORT"):
        load_settings()


def test_an_api_process_makes_the_metrics_folder_it_was_told_of_when_it_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "removed-since"
    monkeypatch.setenv(metrics.MULTIPROCESS_DIR, str(missing))

    metrics.prepare_this_process()

    assert missing.is_dir()


def test_readyz_leaves_out_an_excluded_check_without_running_it() -> None:
    # serve's Kubernetes readiness probe: PostgreSQL down must not take the commands out of the Service.
    asked: list[str] = []

    async def postgres_down() -> None:
        asked.append("postgresql")
        raise ConnectionRefusedError("connection refused")

    answer = _client({"kafka": _answers, "postgresql": postgres_down}).get("/readyz", params={"exclude": "postgresql"})

    assert answer.status_code == 200
    assert answer.json()["checks"] == {"kafka": "ok"}
    assert asked == []


def test_readyz_refuses_to_exclude_a_check_it_does_not_have() -> None:
    answer = _client({"kafka": _answers, "postgresql": _answers}).get("/readyz?exclude=postgres")

    assert answer.status_code == 400
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "no check named postgres; the checks are kafka, postgresql"


def test_readyz_reports_degraded_dependencies_and_open_breakers_without_failing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("infra.resilience.breakers._IN_THIS_PROCESS", {})  # this test's breakers only
    breaker = Breaker("postgresql", BreakerSettings(failures=1, reset_s=60))
    with contextlib.suppress(ConnectionRefusedError), breaker.calling():
        raise ConnectionRefusedError("down")
    app = _client({}).app
    app.state.readiness = Readiness({"kafka": _answers}, timeout_s=0.2, reported={"postgresql": _refuses})

    answer = TestClient(app).get("/readyz")

    assert answer.status_code == 200
    body = answer.json()
    assert body["degraded"] == {"postgresql": "ConnectionRefusedError: connection refused"}
    assert body["open_breakers"] == ["postgresql"]
    assert body["breakers"] == {"postgresql": "open"}


def test_a_failing_readyz_names_the_open_breakers_in_its_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("infra.resilience.breakers._IN_THIS_PROCESS", {})
    breaker = Breaker("payment-gateway", BreakerSettings(failures=1, reset_s=60))
    with contextlib.suppress(ConnectionRefusedError), breaker.calling():
        raise ConnectionRefusedError("down")

    body = _client({"kafka": _refuses}).get("/readyz").json()

    assert body["failing"] == ["kafka"]
    assert body["open_breakers"] == ["payment-gateway"]
