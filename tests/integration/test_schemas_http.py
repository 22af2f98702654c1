"""`GET /v1/schemas/...` on a running platform: the CLI's data over HTTP, problems for unknown subjects and outages."""

import dataclasses
import json

import httpx
import pytest
from fastapi.testclient import TestClient

from infra.api import create_app
from infra.settings import load_settings
from tests.platform import free_port

pytestmark = pytest.mark.kafka


def get(platform: dict, path: str, **params: str) -> httpx.Response:
    return httpx.get(f"{platform['base_url']}/v1/schemas{path}", params=params, timeout=30)


def test_subjects_with_their_role_and_level(kafka_platform):
    subjects = {row["subject"]: row for row in get(kafka_platform, "").json()}
    placed = subjects["orders.OrderPlaced"]
    assert (placed["kind"], placed["type"], placed["topic"]) == ("event", "Order.Placed", "orders.events")
    assert placed["version"] >= 1 and placed["schema_id"] > 0 and placed["compatibility"]


def test_a_subject_its_versions_and_one_of_them(kafka_platform):
    subject = get(kafka_platform, "/orders.OrderPlaced").json()
    assert subject["versions"] and subject["versions"] == sorted(subject["versions"])
    latest = get(kafka_platform, "/orders.OrderPlaced/versions/latest").json()
    assert latest["version"] == subject["versions"][-1]
    assert [f["name"] for f in latest["schema"]["fields"]][-1] == "channel"


def test_a_diff_between_the_registry_and_the_local_file(kafka_platform):
    response = get(kafka_platform, "/orders.OrderPlaced/diff", **{"from": "latest", "to": "local"})
    assert response.status_code == 200, response.text
    assert response.json()["to"] == "local" and response.json()["changes"] == []


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/orders.NoSuchEvent", {}, 404),
        ("/orders.OrderPlaced/versions/999", {}, 404),
        ("/orders.OrderPlaced/versions/first", {}, 422),
        ("/orders.OrderPlaced/diff", {"from": "1"}, 422),
        # A name the registry refuses to look up (a control character): the caller's mistake, not an outage.
        ("/%C2%B5%0D", {}, 422),
    ],
)
def test_unknown_subjects_and_bad_versions_are_problems(kafka_platform, path, params, status):
    response = get(kafka_platform, path, **params)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


def test_a_registry_that_is_down_is_a_503_with_retry_after(tmp_path):
    settings = dataclasses.replace(
        load_settings(),
        backend="embedded",
        data_dir=tmp_path / ".streamkeep",
        schema_registry_url=f"http://127.0.0.1:{free_port()}/apis/ccompat/v7",
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/v1/schemas/orders.OrderPlaced")
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert "does not answer" in json.loads(response.text)["detail"]
